"""In-memory users and notes, safe to share between worker threads."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from typing import Any

__all__ = ["NoteStore", "UserStore"]


class UserStore:
    """Users with salted PBKDF2 password hashes.

    :param passwords: initial ``{username: password}``.
    """

    def __init__(self, passwords: dict[str, str]) -> None:
        self._hashes: dict[str, tuple[bytes, bytes]] = {}
        for name, password in passwords.items():
            self.add(name, password)

    @staticmethod
    def _hash(password: str, salt: bytes) -> bytes:
        return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, 100_000)

    def add(self, name: str, password: str) -> None:
        """Create or replace a user.

        :param name: the username.
        :param password: the password.
        """
        salt = os.urandom(16)
        self._hashes[name] = (salt, self._hash(password, salt))

    def check(self, name: str, password: str) -> bool:
        """Whether *password* is right for *name* (constant-time comparison).

        :param name: the username.
        :param password: the password to check.
        """
        salt, expected = self._hashes.get(name, (b"\0" * 16, b""))
        # Hash even for unknown users so timing does not reveal which names exist.
        return hmac.compare_digest(self._hash(password, salt), expected) and bool(expected)


class NoteStore:
    """Notes by owner, numbered from 1."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._notes: dict[int, dict[str, Any]] = {}
        self._next = 1

    def add(self, owner: str, text: str) -> dict[str, Any]:
        """Store a note and return it.

        :param owner: the username.
        :param text: the note.
        """
        with self._lock:
            note = {"id": self._next, "owner": owner, "text": text}
            self._notes[self._next] = note
            self._next += 1
            return dict(note)

    def get(self, owner: str, note_id: int) -> dict[str, Any] | None:
        """The note *note_id* if *owner* owns it.

        :param owner: the username.
        :param note_id: the note's number.
        """
        with self._lock:
            note = self._notes.get(note_id)
            return dict(note) if note and note["owner"] == owner else None

    def delete(self, owner: str, note_id: int) -> bool:
        """Delete a note of *owner*; whether it existed.

        :param owner: the username.
        :param note_id: the note's number.
        """
        with self._lock:
            note = self._notes.get(note_id)
            if note is None or note["owner"] != owner:
                return False
            del self._notes[note_id]
            return True

    def for_owner(self, owner: str) -> list[dict[str, Any]]:
        """All notes of *owner*, oldest first.

        :param owner: the username.
        """
        with self._lock:
            return [dict(n) for n in self._notes.values() if n["owner"] == owner]
