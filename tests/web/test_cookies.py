"""Cookies, signed cookies, XSRF, cross-origin protection, login and sessions."""

from __future__ import annotations

import json

import pytest
import tornado.web
from crosswind.cookies import parse_cookie_header
from crosswind.testing import Client
from crosswind.web import (
    Application,
    MemorySessionStore,
    RequestHandler,
    SignedCookieSessionStore,
    authenticated,
)
from hypothesis import given
from hypothesis import strategies as st

NOW = 1_700_000_000.0
SECRET = "s3cret-for-tests"


def make_client(handlers, **settings) -> Client:
    settings.setdefault("clock", lambda: NOW)
    settings.setdefault("token_source", lambda n: bytes(range(1, n + 1)))
    settings.setdefault("cookie_secret", SECRET)
    return Client(Application(handlers, **settings))


def set_cookie_headers(response) -> dict[str, str]:
    """Set-Cookie headers by cookie name."""
    out = {}
    for header in response.headers.get_list("Set-Cookie"):
        out[header.split("=", 1)[0]] = header
    return out


def attributes(header: str) -> dict[str, str]:
    _, _, rest = header.partition(";")
    found = {}
    for part in rest.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            found[name.lower()] = value
    return found


# -- plain cookies --------------------------------------------------------------


class CookieHandler(RequestHandler):
    def get(self):
        self.write({"a": self.get_cookie("a"), "missing": self.get_cookie("zz", "dflt")})

    def post(self):
        action = self.get_argument("action")
        if action == "set":
            self.set_cookie(
                "a",
                "1",
                domain="example.com",
                path="/p",
                expires_days=2,
                max_age=60,
                httponly=True,
                secure=True,
                samesite="Lax",
            )
        elif action == "twice":
            self.set_cookie("a", "first")
            self.set_cookie("a", "second")
        elif action == "clear":
            self.clear_cookie("a", path="/p")
        elif action == "clear_all":
            self.clear_all_cookies()
        elif action == "bad":
            try:
                self.set_cookie("a", "x y")
            except ValueError:
                self.write("refused")


def test_get_cookie_reads_request_cookies():
    client = make_client([(r"/", CookieHandler)])
    assert client.get("/", cookies={"a": "v"}).json() == {"a": "v", "missing": "dflt"}
    assert client.get("/", headers={"Cookie": 'a="q\\"x"'}).json()["a"] == 'q"x'


def test_set_cookie_attributes():
    response = make_client([(r"/", CookieHandler)]).post("/", data={"action": "set"})
    header = set_cookie_headers(response)["a"]
    assert header.startswith("a=1;")
    attrs = attributes(header)
    assert attrs["domain"] == "example.com"
    assert attrs["path"] == "/p"
    assert attrs["max-age"] == "60"
    assert attrs["expires"] == "Thu, 16 Nov 2023 22:13:20 GMT"  # NOW + 2 days
    assert attrs["samesite"] == "Lax"
    assert "httponly" in attrs and "secure" in attrs


def test_later_set_cookie_replaces_earlier():
    response = make_client([(r"/", CookieHandler)]).post("/", data={"action": "twice"})
    assert response.headers.get_list("Set-Cookie") == ["a=second; Path=/"]


def test_clear_cookie_expires_it_in_the_past():
    client = make_client([(r"/", CookieHandler)])
    client.cookies["a"] = "v"
    response = client.post("/", data={"action": "clear"})
    attrs = attributes(set_cookie_headers(response)["a"])
    assert attrs["expires"] == "Mon, 14 Nov 2022 22:13:20 GMT" and attrs["path"] == "/p"
    assert set_cookie_headers(response)["a"].startswith("a=;")


def test_clear_all_cookies():
    response = make_client([(r"/", CookieHandler)]).post(
        "/", data={"action": "clear_all"}, cookies={"x": "1", "y": "2"}
    )
    assert set(set_cookie_headers(response)) == {"x", "y"}


def test_cookie_value_with_space_is_refused():
    response = make_client([(r"/", CookieHandler)]).post("/", data={"action": "bad"})
    assert response.text == "refused"


def test_clear_cookie_refuses_expiry_arguments():
    class Bad(RequestHandler):
        def get(self):
            with pytest.raises(TypeError):
                self.clear_cookie("a", max_age=3)
            self.write("ok")

    assert make_client([(r"/", Bad)]).get("/").text == "ok"


# -- signed cookies -------------------------------------------------------------


class SignedHandler(RequestHandler):
    def get(self):
        value = self.get_signed_cookie("user", min_version=self.get_argument("min", None) and 2)
        self.write({"user": value.decode() if value else None,
                    "key": self.get_signed_cookie_key_version("user")})

    def post(self):
        version = int(self.get_argument("version", "2"))
        self.set_signed_cookie("user", self.get_argument("name"), version=version)


def test_signed_cookie_round_trip_and_tornado_compatibility():
    client = make_client([(r"/", SignedHandler)])
    response = client.post("/", data={"name": "alice"})
    header = set_cookie_headers(response)["user"]
    assert "expires" in attributes(header)
    value = parse_cookie_header(header.split(";", 1)[0])["user"]
    # Real Tornado accepts what we signed (same secret).
    assert tornado.web.decode_signed_value(SECRET, "user", value, clock=lambda: NOW) == b"alice"
    assert client.get("/").json() == {"user": "alice", "key": 0}


def test_signed_cookie_from_tornado_is_accepted():
    value = tornado.web.create_signed_value(SECRET, "user", "bob", clock=lambda: NOW).decode()
    client = make_client([(r"/", SignedHandler)])
    assert client.get("/", cookies={"user": value}).json()["user"] == "bob"


def test_tampered_expired_or_renamed_signed_cookies_are_none():
    client = make_client([(r"/", SignedHandler)])
    value = tornado.web.create_signed_value(SECRET, "user", "bob", clock=lambda: NOW).decode()
    tampered = value[:-1] + ("0" if value[-1] != "0" else "1")
    assert client.get("/", cookies={"user": tampered}).json()["user"] is None
    old = tornado.web.create_signed_value(SECRET, "user", "bob", clock=lambda: NOW - 40 * 86400)
    assert client.get("/", cookies={"user": old.decode()}).json()["user"] is None
    other = tornado.web.create_signed_value(SECRET, "admin", "bob", clock=lambda: NOW)
    assert client.get("/", cookies={"user": other.decode()}).json()["user"] is None


def test_version_1_cookies_and_min_version():
    client = make_client([(r"/", SignedHandler)])
    client.post("/", data={"name": "old", "version": "1"})
    assert client.get("/").json()["user"] == "old"
    assert client.get("/?min=2").json()["user"] is None


def test_key_rotation_with_key_version():
    secrets = {0: "old-key", 1: "new-key"}
    client = make_client([(r"/", SignedHandler)], cookie_secret=secrets, key_version=1)
    client.post("/", data={"name": "rotated"})
    assert client.get("/").json() == {"user": "rotated", "key": 1}
    old = tornado.web.create_signed_value(
        secrets, "user", "legacy", key_version=0, clock=lambda: NOW
    ).decode()
    assert client.get("/", cookies={"user": old}).json() == {"user": "legacy", "key": 0}


def test_dict_secret_without_key_version_fails():
    client = make_client([(r"/", SignedHandler)], cookie_secret={0: "k"})
    assert client.post("/", data={"name": "x"}).status_code == 500


def test_signed_cookies_need_cookie_secret():
    client = make_client([(r"/", SignedHandler)], cookie_secret=None)
    assert client.get("/").status_code == 500


def test_secure_cookie_aliases():
    assert RequestHandler.set_secure_cookie is RequestHandler.set_signed_cookie
    assert RequestHandler.get_secure_cookie is RequestHandler.get_signed_cookie
    assert (
        RequestHandler.get_secure_cookie_key_version
        is RequestHandler.get_signed_cookie_key_version
    )


@given(st.binary(max_size=64))
def test_property_signed_values_round_trip(payload):
    seen = []

    class RoundTrip(RequestHandler):
        def get(self):
            signed = self.create_signed_value("n", payload)
            seen.append(self.get_signed_cookie("n", value=signed.decode()))

    make_client([(r"/", RoundTrip)]).get("/")
    assert seen == [payload]


# -- XSRF --------------------------------------------------------------------------


class FormHandler(RequestHandler):
    def get(self):
        self.write(self.xsrf_form_html())

    def post(self):
        self.write("accepted")

    put = delete = patch = post


def xsrf_client(**settings) -> Client:
    return make_client([(r"/form", FormHandler)], xsrf_cookies=True, **settings)


def token_from(response) -> str:
    html = response.text
    return html.split('value="', 1)[1].split('"', 1)[0]


def test_xsrf_form_html_sets_cookie_once_and_masks_token():
    client = xsrf_client()
    first = client.get("/form")
    assert first.text.startswith('<input type="hidden" name="_xsrf" value="2|')
    assert "_xsrf" in set_cookie_headers(first)
    second = client.get("/form")
    assert "Set-Cookie" not in second.headers  # the cookie is reused


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_unsafe_methods_need_the_token(method):
    client = xsrf_client()
    token = token_from(client.get("/form"))
    assert client.request(method, "/form").status_code == 403
    assert client.request(method, "/form", data={"_xsrf": "2|00|zz|1"}).status_code == 403
    assert client.request(method, "/form", data={"_xsrf": token}).text == "accepted"
    assert client.request(method, "/form", headers={"X-XSRFToken": token}).text == "accepted"
    assert client.request(method, "/form", headers={"X-CSRFToken": token}).text == "accepted"


def test_token_from_another_session_is_refused():
    victim = xsrf_client()
    victim.get("/form")
    attacker = xsrf_client(token_source=lambda n: b"\xee" * n)
    foreign = token_from(attacker.get("/form"))
    assert victim.post("/form", data={"_xsrf": foreign}).status_code == 403


def test_tornado_token_is_accepted():
    # A cookie and form token rendered by real Tornado's format check out here.
    client = xsrf_client()
    token = token_from(client.get("/form"))
    cookie = client.cookies["_xsrf"]
    assert tornado.web.RequestHandler._decode_xsrf_token(None, cookie)[1] == (
        tornado.web.RequestHandler._decode_xsrf_token(None, token)[1]
    )


def test_xsrf_cookie_version_1_and_kwargs():
    client = xsrf_client(xsrf_cookie_version=1, xsrf_cookie_kwargs={"httponly": True})
    response = client.get("/form")
    token = token_from(response)
    assert "|" not in token and len(token) == 32
    assert "httponly" in attributes(set_cookie_headers(response)["_xsrf"])
    assert client.post("/form", data={"_xsrf": token}).text == "accepted"


def test_get_is_never_xsrf_checked():
    assert xsrf_client().get("/form").status_code == 200


def test_cross_origin_protection():
    client = make_client(
        [(r"/form", FormHandler)],
        cross_origin_protection=True,
        trusted_origins=["https://partner.example"],
    )
    assert client.post("/form").text == "accepted"  # no Origin: not a browser
    assert client.post("/form", headers={"Sec-Fetch-Site": "same-origin"}).text == "accepted"
    assert client.post("/form", headers={"Origin": "http://testserver"}).text == "accepted"
    assert client.post("/form", headers={"Origin": "https://evil.example"}).status_code == 403
    cross = {"Sec-Fetch-Site": "cross-site", "Origin": "https://partner.example"}
    assert client.post("/form", headers=cross).text == "accepted"
    cross["Origin"] = "https://evil.example"
    assert client.post("/form", headers=cross).status_code == 403


# -- login -----------------------------------------------------------------------


class Protected(RequestHandler):
    def get_current_user(self):
        name = self.get_signed_cookie("user")
        return name.decode() if name else None

    @authenticated
    def get(self):
        self.write("hello " + self.current_user)

    @authenticated
    def post(self):
        self.write("posted")


def test_authenticated_redirects_with_next_and_forbids_post():
    client = make_client([(r"/secret", Protected)], login_url="/login")
    response = client.get("/secret?x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fsecret%3Fx%3D1"
    assert client.post("/secret").status_code == 403


def test_authenticated_absolute_login_url_and_login_url_with_query():
    absolute = make_client([(r"/secret", Protected)], login_url="https://auth.example/login")
    assert absolute.get("/secret").headers["Location"] == (
        "https://auth.example/login?next=http%3A%2F%2Ftestserver%2Fsecret"
    )
    with_query = make_client([(r"/secret", Protected)], login_url="/login?from=app")
    assert with_query.get("/secret").headers["Location"] == "/login?from=app"


def test_authenticated_lets_the_user_in():
    value = tornado.web.create_signed_value(SECRET, "user", "carol", clock=lambda: NOW).decode()
    client = make_client([(r"/secret", Protected)], login_url="/login")
    assert client.get("/secret", cookies={"user": value}).text == "hello carol"


def test_authenticated_needs_login_url():
    assert make_client([(r"/secret", Protected)]).get("/secret").status_code == 500


def test_current_user_is_computed_once_and_settable():
    calls = []

    class Once(RequestHandler):
        def get_current_user(self):
            calls.append(1)
            return "u"

        def get(self):
            self.write(self.current_user + self.current_user)
            self.current_user = "v"
            self.write(self.current_user)

    assert make_client([(r"/", Once)]).get("/").text == "uuv"
    assert calls == [1]


# -- sessions ------------------------------------------------------------------------


class Counter(RequestHandler):
    def get(self):
        self.session["count"] = self.session.get("count", 0) + 1
        self.write({"count": self.session["count"]})

    def delete(self):
        self.session.clear()


@pytest.mark.parametrize("store", [SignedCookieSessionStore, MemorySessionStore])
def test_session_persists_between_requests(store):
    client = make_client([(r"/", Counter)], session_store=store())
    assert [client.get("/").json()["count"] for _ in range(3)] == [1, 2, 3]
    client.delete("/")
    assert client.get("/").json()["count"] == 1


def test_signed_cookie_session_is_json_in_a_signed_cookie():
    client = make_client([(r"/", Counter)])
    response = client.get("/")
    header = set_cookie_headers(response)["session"]
    attrs = attributes(header)
    assert "httponly" in attrs and attrs["samesite"] == "Lax"
    value = parse_cookie_header(header.split(";", 1)[0])["session"]
    payload = tornado.web.decode_signed_value(SECRET, "session", value, clock=lambda: NOW)
    assert json.loads(payload) == {"count": 1}


def test_unchanged_session_sets_no_cookie():
    class Reader(RequestHandler):
        def get(self):
            self.write({"n": self.session.get("count")})

    client = make_client([(r"/", Counter), (r"/read", Reader)])
    client.get("/")
    response = client.get("/read")
    assert response.json() == {"n": 1} and "Set-Cookie" not in response.headers


def test_forged_session_cookie_is_ignored():
    client = make_client([(r"/", Counter)])
    assert client.get("/", cookies={"session": '{"count": 99}'}).json() == {"count": 1}


def test_custom_session_store():
    class DictStore:
        def __init__(self):
            self.saved = []

        def load(self, handler):
            from crosswind.web import Session

            return Session({"count": 41}, new=False)

        def save(self, handler, session):
            self.saved.append(dict(session))

    store = DictStore()
    client = make_client([(r"/", Counter)], session_store=store)
    assert client.get("/").json() == {"count": 42}
    assert store.saved == [{"count": 42}]


def test_module_level_signing_functions_take_tornados_arguments():
    from crosswind import web

    signed = web.create_signed_value(SECRET, "n", "v")
    assert tornado.web.decode_signed_value(SECRET, "n", signed) == b"v"
    legacy = tornado.web.create_signed_value(SECRET, "n", "old", version=1)
    assert web.decode_signed_value(SECRET, "n", legacy) == b"old"
    assert web.decode_signed_value(SECRET, "n", legacy, min_version=2) is None
    assert web.decode_signed_value(SECRET, "n", signed, clock=lambda: 0.0) is None  # from the future
    rotated = web.create_signed_value({3: "k"}, "n", "v", key_version=3, clock=lambda: NOW)
    assert web.get_signature_key_version(rotated) == 3
