"""Who is calling: credentials from a TLS client certificate or a bearer JWT.

Both paths end in the same credentials dict (:class:`Credentials`), which
the authorization checks and ``export_whoami`` read:

* ``SSL`` -- the client certificate the TLS layer verified.  Its subject
  and issuer become slash-separated distinguished names in certificate
  order, the form grid software uses (``/O=Grid/OU=Users/CN=Alice``), and
  the subject DN is looked up in a table of registered users
  (``rpc_users``) for the user name, group and properties.
* ``JWT`` -- an ``Authorization: Bearer`` token, verified with the
  service's keys (each pinned to one algorithm, so a token cannot choose
  how a key is read), its ``exp`` and ``nbf`` checked against the injected
  clock and its ``aud`` against the service's audience.  The user name,
  group and properties come from claims.

Groups may carry properties of their own (``rpc_groups``), which members
receive in addition to their personal ones.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from ..errors import RequestError

try:
    import jwt
    from jwt.algorithms import get_default_algorithms
except ImportError:  # the "rpc" extra is optional; certificate-only services work without it
    jwt = None  # type: ignore[assignment]

__all__ = [
    "AUTHENTICATION_METHODS",
    "DEFAULT_CLAIMS",
    "SUPPORTED_ALGORITHMS",
    "AuthenticationError",
    "Credentials",
    "JWTKey",
    "JWTVerifier",
    "authenticate",
    "bearer_token",
    "credentials_from_certificate",
    "credentials_from_claims",
    "distinguished_name",
]

#: The authentication methods a service may enable, in ``DEFAULT_AUTHENTICATION``.
AUTHENTICATION_METHODS = frozenset({"SSL", "JWT"})

#: Which claim holds what, unless the ``rpc_jwt_claims`` setting says otherwise.
DEFAULT_CLAIMS: Mapping[str, str] = {
    "username": "sub",
    "group": "group",
    "properties": "properties",
}

_HMAC_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
#: The JWT algorithms a :class:`JWTKey` may be pinned to.
SUPPORTED_ALGORITHMS = frozenset(
    {*_HMAC_HASHES, "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"}
)
_MIN_RSA_BITS = 2048

# RFC 9110 section 11.2 token68, the syntax of a bearer token (RFC 6750 section 2.1).
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")

# getpeercert() spells attributes with OpenSSL's long names; DNs use the short ones.
_SHORT_NAMES = {
    "commonName": "CN",
    "countryName": "C",
    "domainComponent": "DC",
    "emailAddress": "emailAddress",
    "givenName": "GN",
    "localityName": "L",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "postalCode": "postalCode",
    "serialNumber": "serialNumber",
    "stateOrProvinceName": "ST",
    "streetAddress": "street",
    "surname": "SN",
    "title": "title",
    "userId": "UID",
}
# Escaped so that a value holding a separator cannot pose as another attribute.
_DN_SPECIALS = re.compile(r"([\\/+])")


class Credentials(TypedDict):
    """What the service knows about the caller.

    ``method`` is ``"SSL"`` or ``"JWT"``; ``username`` is ``None`` for a
    certificate that is valid but not registered, or a token without a
    user-name claim; ``DN`` is the certificate subject (``None`` for tokens);
    ``issuer`` the certificate's issuer DN or the token's ``iss`` claim.
    """

    method: str
    username: str | None
    DN: str | None
    issuer: str | None
    group: str | None
    properties: list[str]


class AuthenticationError(RequestError):
    """Credentials were presented but cannot be accepted (always a 401).

    :param reason: a short message for the client (never the key or token).
    :param challenge: the ``WWW-Authenticate`` value to send with the 401.
    """

    def __init__(self, reason: str, challenge: str = "Bearer") -> None:
        super().__init__(reason, 401)
        self.challenge = challenge


def distinguished_name(name: Iterable[Iterable[Sequence[str]]]) -> str:
    """Format a certificate name as a slash-separated DN.

    :param name: a ``subject`` or ``issuer`` as :meth:`ssl.SSLSocket.getpeercert`
        returns it: relative names, each a sequence of ``(attribute, value)``.
    :returns: e.g. ``/DC=org/O=Grid/CN=Alice``; attributes of one
        multi-valued relative name are joined with ``+``, and ``\\``, ``/``
        and ``+`` inside values are escaped with a backslash.
    """
    parts = []
    for rdn in name:
        pairs = [
            _SHORT_NAMES.get(attribute, attribute) + "=" + _DN_SPECIALS.sub(r"\\\1", value)
            for attribute, value in rdn
        ]
        if pairs:
            parts.append("+".join(pairs))
    return "".join("/" + part for part in parts)


def _properties_of(
    personal: object, group: str | None, groups: Mapping[str, Sequence[str]], where: str
) -> list[str]:
    if isinstance(personal, str) or not isinstance(personal, list | tuple):
        raise TypeError(f"{where}: properties must be a list of strings")
    found = list(personal)
    if group is not None:
        found.extend(p for p in groups.get(group, ()) if p not in found)
    return found


def credentials_from_certificate(
    certificate: Mapping[str, Any] | None,
    users: Mapping[str, Mapping[str, Any]] | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> Credentials | None:
    """Credentials for a verified client certificate.

    :param certificate: the peer certificate as :meth:`ssl.SSLSocket.getpeercert`
        returns it, or ``None`` when the client sent none.
    :param users: registered users by subject DN: ``{"username": ...,
        "group": ..., "properties": [...]}``, optionally with ``"issuer"``
        to accept the DN only from that CA.
    :param groups: properties each group grants.
    :returns: ``None`` without a certificate; credentials without a user name
        for one that is not registered.
    :raises TypeError: the matching ``users`` entry is malformed.
    """
    if not certificate or not certificate.get("subject"):
        return None
    dn = distinguished_name(certificate["subject"])
    issuer = distinguished_name(certificate.get("issuer", ()))
    entry = (users or {}).get(dn)
    if entry is not None and entry.get("issuer") not in (None, issuer):
        entry = None  # the DN is registered, but as issued by another CA
    if entry is None:
        return Credentials(
            method="SSL", username=None, DN=dn, issuer=issuer, group=None, properties=[]
        )
    username = entry.get("username")
    group = entry.get("group")
    if not isinstance(username, str) or not username:
        raise TypeError(f"rpc_users[{dn!r}] needs a non-empty 'username'")
    if group is not None and not isinstance(group, str):
        raise TypeError(f"rpc_users[{dn!r}]: 'group' must be a string")
    properties = _properties_of(
        entry.get("properties", []), group, groups or {}, f"rpc_users[{dn!r}]"
    )
    return Credentials(
        method="SSL", username=username, DN=dn, issuer=issuer, group=group, properties=properties
    )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header.

    :param authorization: the header value, or ``None``.
    :returns: ``None`` when the header is absent or uses another scheme.
    :raises AuthenticationError: the header says ``Bearer`` but holds no
        well-formed token.
    """
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    if not _TOKEN68.fullmatch(token):
        raise AuthenticationError("malformed bearer token", 'Bearer error="invalid_request"')
    return token


def _require_jwt() -> Any:
    if jwt is None:
        raise ImportError('JWT authentication needs PyJWT: pip install "crosswind[rpc]"')
    return jwt


@dataclass(frozen=True)
class JWTKey:
    """A key that verifies tokens signed with one algorithm.

    :param algorithm: e.g. ``"HS256"`` or ``"RS256"``.
    :param key: the shared secret (``HS*``, at least as long as the hash) or
        the public key (PEM text or a ``cryptography`` key object).
    :param kid: when set, the key verifies only tokens whose header names it.
    :raises ValueError: unsupported algorithm, unusable or too short key.
    """

    algorithm: str
    key: Any = field(repr=False)  # a secret must not reach a log through repr()
    kid: str | None = None

    def __post_init__(self) -> None:
        if self.algorithm not in SUPPORTED_ALGORITHMS:
            raise ValueError(
                f"unsupported JWT algorithm {self.algorithm!r}; "
                f"use one of {sorted(SUPPORTED_ALGORITHMS)}"
            )
        key = self.key
        if self.algorithm in _HMAC_HASHES:
            secret = key.encode("utf-8") if isinstance(key, str) else key
            if not isinstance(secret, bytes):
                raise ValueError(f"an {self.algorithm} key must be a str or bytes secret")
            size = _HMAC_HASHES[self.algorithm]().digest_size
            if len(secret) < size:  # RFC 7518 section 3.2
                raise ValueError(f"an {self.algorithm} secret must be at least {size} bytes")
        prepared = self._algorithm_object().prepare_key(key)
        if self.algorithm not in _HMAC_HASHES and hasattr(prepared, "private_bytes"):
            prepared = prepared.public_key()  # verifying needs only the public half
        bits = getattr(prepared, "key_size", None)
        if self.algorithm[:2] in ("RS", "PS") and bits is not None and bits < _MIN_RSA_BITS:
            raise ValueError(f"RSA keys must have at least {_MIN_RSA_BITS} bits, not {bits}")
        object.__setattr__(self, "_prepared", prepared)

    def _algorithm_object(self) -> Any:
        _require_jwt()
        try:
            return get_default_algorithms()[self.algorithm]
        except KeyError:
            raise ValueError(f"PyJWT cannot do {self.algorithm} here") from None

    @property
    def prepared(self) -> Any:
        """The key in the form PyJWT verifies with."""
        return self._prepared  # type: ignore[attr-defined]


def _as_key(entry: JWTKey | Sequence[Any]) -> JWTKey:
    if isinstance(entry, JWTKey):
        return entry
    if isinstance(entry, list | tuple) and len(entry) in (2, 3):
        return JWTKey(*entry)
    # The type only: the entry itself may be a secret that must not reach a log.
    raise TypeError(
        f"a JWT key must be a JWTKey or an (algorithm, key[, kid]) tuple, not {type(entry).__name__}"
    )


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthenticationError("invalid token", 'Bearer error="invalid_token"')
    return float(value)


class JWTVerifier:
    """Verifies bearer tokens for one service.

    :param keys: the accepted keys (:class:`JWTKey` or ``(algorithm, key[,
        kid])`` tuples).
    :param audience: the ``aud`` value(s) this service answers to; tokens
        must carry one of them.
    :param clock: POSIX seconds, for ``exp``, ``nbf`` and ``iat``.
    :param issuer: when set, the required ``iss`` value(s).
    :param leeway: seconds of clock skew tolerated on the time claims.
    :raises ValueError: no keys, or no audience.
    """

    def __init__(
        self,
        keys: Iterable[JWTKey | Sequence[Any]],
        *,
        audience: str | Sequence[str],
        clock: Callable[[], float],
        issuer: str | Sequence[str] | None = None,
        leeway: float = 0.0,
    ) -> None:
        _require_jwt()
        if isinstance(keys, JWTKey):
            keys = [keys]
        self.keys = [_as_key(entry) for entry in keys]
        if not self.keys:
            raise ValueError("JWT verification needs at least one key")
        # Without an audience, a token minted for any other service sharing the
        # issuer's key would be accepted here.
        if not audience:
            raise ValueError("JWT verification needs an audience (the rpc_jwt_audience setting)")
        self.audience = [audience] if isinstance(audience, str) else list(audience)
        self.issuer = [issuer] if isinstance(issuer, str) else issuer
        self.clock = clock
        self.leeway = float(leeway)

    def verify(self, token: str) -> dict[str, Any]:
        """Check *token*'s signature and claims and return its claims.

        :param token: the compact-serialized JWT.
        :raises AuthenticationError: forged, malformed, expired, not yet
            valid, or meant for another audience or issuer.
        """
        invalid = AuthenticationError("invalid token", 'Bearer error="invalid_token"')
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise invalid from None
        algorithm, kid = header.get("alg"), header.get("kid")
        candidates = [
            key
            for key in self.keys
            if key.algorithm == algorithm and (key.kid is None or key.kid == kid)
        ]
        claims = None
        for key in candidates:
            try:
                claims = jwt.decode(
                    token,
                    key.prepared,
                    algorithms=[key.algorithm],
                    audience=self.audience,
                    issuer=self.issuer,
                    options={
                        # Time claims are checked below against the injected clock.
                        "verify_exp": False,
                        "verify_nbf": False,
                        "verify_iat": False,
                        "require": ["exp", "aud", *(["iss"] if self.issuer else [])],
                        "enforce_minimum_key_length": True,
                    },
                )
                break
            except jwt.InvalidSignatureError:
                continue
            except (jwt.InvalidAudienceError, jwt.InvalidIssuerError):
                raise AuthenticationError(
                    "token is not meant for this service", 'Bearer error="invalid_token"'
                ) from None
            except jwt.InvalidTokenError:
                raise invalid from None
        if claims is None:
            raise invalid
        self._check_times(claims)
        return claims

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = self.clock()
        expires = _numeric_date(claims, "exp")
        not_before = _numeric_date(claims, "nbf")
        issued = _numeric_date(claims, "iat")
        if expires is not None and expires <= now - self.leeway:
            raise AuthenticationError(
                "token has expired", 'Bearer error="invalid_token", error_description="expired"'
            )
        if (not_before is not None and not_before > now + self.leeway) or (
            issued is not None and issued > now + self.leeway
        ):
            raise AuthenticationError("token is not yet valid", 'Bearer error="invalid_token"')


def credentials_from_claims(
    claims: Mapping[str, Any],
    claim_names: Mapping[str, str] | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> Credentials:
    """Credentials for a verified token.

    :param claims: the token's claims.
    :param claim_names: which claim holds the ``username``, ``group`` and
        ``properties`` (see :data:`DEFAULT_CLAIMS`).  Properties may be a
        list of strings or one space-separated string, like OAuth scopes.
    :param groups: properties each group grants.
    :raises AuthenticationError: a claim has the wrong type.
    """
    names = {**DEFAULT_CLAIMS, **(claim_names or {})}
    username = claims.get(names["username"])
    group = claims.get(names["group"])
    properties = claims.get(names["properties"], [])
    if isinstance(properties, str):
        properties = properties.split()
    malformed = AuthenticationError("token claims are malformed", 'Bearer error="invalid_token"')
    if username is not None and not isinstance(username, str):
        raise malformed
    if group is not None and not isinstance(group, str):
        raise malformed
    if not isinstance(properties, list) or not all(isinstance(p, str) for p in properties):
        raise malformed
    issuer = claims.get("iss")
    return Credentials(
        method="JWT",
        username=username or None,
        DN=None,
        issuer=issuer if isinstance(issuer, str) else None,
        group=group,
        properties=_properties_of(properties, group, groups or {}, "token"),
    )


def authenticate(
    methods: Sequence[str],
    *,
    certificate: Mapping[str, Any] | None,
    authorization: str | None,
    users: Mapping[str, Mapping[str, Any]] | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
    verifier: JWTVerifier | None = None,
    claim_names: Mapping[str, str] | None = None,
) -> Credentials | None:
    """Find the caller's credentials with the enabled *methods*, in order.

    A method that finds nothing presented passes to the next; one that finds
    credentials presented but invalid refuses the request rather than
    letting the caller continue anonymously.

    :param methods: e.g. ``["SSL", "JWT"]``.
    :param certificate: the verified client certificate, if any.
    :param authorization: the ``Authorization`` header, if any.
    :param users: see :func:`credentials_from_certificate`.
    :param groups: properties each group grants.
    :param verifier: verifies tokens; ``None`` when the service has no JWT keys.
    :param claim_names: see :func:`credentials_from_claims`.
    :returns: ``None`` when no enabled method found credentials.
    :raises AuthenticationError: presented credentials are not acceptable.
    """
    for method in methods:
        if method == "SSL":
            found = credentials_from_certificate(certificate, users, groups)
            if found is not None:
                return found
        elif method == "JWT":
            token = bearer_token(authorization)
            if token is None:
                continue
            if verifier is None:
                raise AuthenticationError("this service accepts no tokens")
            return credentials_from_claims(verifier.verify(token), claim_names, groups)
        else:
            raise ValueError(f"unknown authentication method {method!r}")
    return None
