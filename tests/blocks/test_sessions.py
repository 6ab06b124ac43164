import dataclasses
import datetime
import decimal
import time
import uuid

import pytest
from crosswind.sessions import SessionSerializer, TaggedJSONCodec
from flask import Flask, session
from flask.json.tag import TaggedJSONSerializer
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer
from markupsafe import Markup

SECRET = "flask-dev-secret"
NOW = 1_700_000_000.0
MONTH = 31 * 86400

SESSION = {
    "user": "alice",
    "count": 3,
    "ratio": 0.5,
    "flag": None,
    "tuple": (1, "a", [2, (3,)]),
    "bytes": b"\x00\xff binary",
    "when": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "html": Markup("<b>hi</b>"),
    "nested": {"a": {"b": [1, {" t": "looks like a tag"}]}, "c": "ünïcode ☃"},
    "tagish": {" d": "not a date"},
}


def clock() -> float:
    return NOW


def at(t: float):
    return lambda: t


def make_app(secret=SECRET, fallbacks=()) -> Flask:
    app = Flask(__name__)
    app.secret_key = secret
    app.config["SECRET_KEY_FALLBACKS"] = list(fallbacks)

    @app.route("/set")
    def set_session():
        session.update(SESSION)
        return "ok"

    @app.route("/get")
    def get_session():
        return {"user": session.get("user"), "tuple": session.get("tuple")}

    return app


def flask_cookie(app: Flask) -> str:
    response = app.test_client().get("/set")
    header = response.headers["Set-Cookie"]
    name, _, rest = header.partition("=")
    assert name == "session"
    return rest.split(";")[0]


def test_real_flask_cookie_loads_to_the_same_dict():
    cookie = flask_cookie(make_app())
    loaded = SessionSerializer(SECRET).loads(cookie, max_age=MONTH, clock=time.time)
    assert loaded == SESSION
    assert type(loaded["tuple"]) is tuple
    assert type(loaded["html"]) is Markup
    assert loaded["tagish"] == {" d": "not a date"}


def test_our_cookie_is_byte_identical_to_flasks_for_the_same_second():
    app = make_app()
    cookie = flask_cookie(app)
    _, stamped = app.session_interface.get_signing_serializer(app).loads(
        cookie, return_timestamp=True
    )
    ours = SessionSerializer(SECRET).dumps(SESSION, clock=at(stamped.timestamp()))
    assert ours == cookie


def test_our_cookie_loads_in_real_flask():
    app = make_app()
    cookie = SessionSerializer(SECRET).dumps(SESSION, clock=time.time)
    assert app.session_interface.get_signing_serializer(app).loads(cookie) == SESSION
    client = app.test_client()
    client.set_cookie("session", cookie)
    assert client.get("/get").json == {"user": "alice", "tuple": [1, "a", [2, [3]]]}


def test_fallback_keys_read_old_cookies_and_sign_with_the_new_key():
    old_cookie = SessionSerializer("old").dumps({"a": 1}, clock=clock)
    rotated = SessionSerializer("new", fallback_keys=["old"])
    assert rotated.loads(old_cookie, max_age=None, clock=clock) == {"a": 1}
    new_cookie = rotated.dumps({"a": 2}, clock=clock)
    assert SessionSerializer("old").loads(new_cookie, max_age=None, clock=clock) is None
    app = make_app(secret="new", fallbacks=["old"])
    assert app.session_interface.get_signing_serializer(app).loads(old_cookie) == {"a": 1}
    plain = make_app(secret="new")
    assert plain.session_interface.get_signing_serializer(plain).loads(new_cookie) == {"a": 2}


def test_wrong_secret_or_salt_is_rejected():
    cookie = SessionSerializer(SECRET).dumps({"a": 1}, clock=clock)
    assert SessionSerializer("other").loads(cookie, max_age=None, clock=clock) is None
    assert SessionSerializer(SECRET, salt="x").loads(cookie, max_age=None, clock=clock) is None


def test_expired_and_future_cookies_are_rejected_with_max_age():
    serializer = SessionSerializer(SECRET)
    cookie = serializer.dumps({"a": 1}, clock=at(NOW))
    assert serializer.loads(cookie, max_age=100, clock=at(NOW + 100)) == {"a": 1}
    assert serializer.loads(cookie, max_age=100, clock=at(NOW + 101)) is None
    assert serializer.loads(cookie, max_age=100, clock=at(NOW - 1)) is None
    assert serializer.loads(cookie, max_age=None, clock=at(NOW + 10**6)) == {"a": 1}


@pytest.mark.parametrize(
    "cookie",
    ["", "garbage", "a.b.c", "é.ü.ö", ".eJw.abc.def", "e30.AAAAAA.AAAA", "." * 5000],
)
def test_garbage_gives_none(cookie):
    assert SessionSerializer(SECRET).loads(cookie, max_age=MONTH, clock=clock) is None


@given(st.data())
def test_any_tampering_gives_none(data):
    cookie = SessionSerializer(SECRET).dumps({"user": "alice", "n": 1}, clock=clock)
    index = data.draw(st.integers(min_value=0, max_value=len(cookie) - 1))
    char = data.draw(st.sampled_from("ABCabc019-_."))
    tampered = cookie[:index] + char + cookie[index + 1 :]
    loaded = SessionSerializer(SECRET).loads(tampered, max_age=MONTH, clock=clock)
    # base64 has spare bits: a swap that only touches them decodes to the same cookie.
    assert loaded is None or loaded == {"user": "alice", "n": 1}


def test_signed_non_dict_payload_is_rejected():
    signer = URLSafeTimedSerializer(
        SECRET, salt="cookie-session", signer_kwargs={"key_derivation": "hmac"}
    )
    assert SessionSerializer(SECRET).loads(signer.dumps([1, 2]), max_age=None, clock=clock) is None


def test_constructor_rejects_misuse():
    with pytest.raises(ValueError, match="empty"):
        SessionSerializer("")
    with pytest.raises(ValueError, match="digest"):
        SessionSerializer("k", digest="nope")
    with pytest.raises(ValueError, match="key_derivation"):
        SessionSerializer("k", key_derivation="nope")


def test_unserializable_value_raises_type_error():
    with pytest.raises(TypeError, match="set"):
        SessionSerializer(SECRET).dumps({"s": {1, 2}}, clock=clock)


def test_sha256_digest_matches_itsdangerous_configured_the_same_way():
    import hashlib

    ours = SessionSerializer(SECRET, digest="sha256").dumps({"a": 1}, clock=clock)
    theirs = URLSafeTimedSerializer(
        SECRET,
        salt="cookie-session",
        serializer=TaggedJSONSerializer(),
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
    )
    assert theirs.loads(ours) == {"a": 1}


# --- the tagged JSON codec against Flask's own ----------------------------------------------------


@dataclasses.dataclass
class Point:
    x: int
    y: tuple


def test_codec_matches_flask_for_json_fallback_types():
    app = Flask(__name__)
    value = {
        "day": datetime.date(2024, 1, 2),
        "money": decimal.Decimal("1.50"),
        "point": Point(1, (2, 3)),
        "naive": datetime.datetime(2024, 1, 2, 3, 4, 5),
    }
    with app.app_context():
        assert TaggedJSONCodec().dumps(value) == TaggedJSONSerializer().dumps(value)


json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.uuids(),
    st.datetimes(
        min_value=datetime.datetime(1900, 1, 1),
        max_value=datetime.datetime(9998, 1, 1),
        timezones=st.just(datetime.UTC),
    ).map(lambda d: d.replace(microsecond=0)),
    st.text(max_size=10).map(Markup),
)
tag_keys = st.sampled_from([" t", " b", " m", " u", " d", " di", "x"])
tagged_values = st.recursive(
    json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=8), tag_keys), children, max_size=4),
    ),
    max_leaves=15,
)


@given(st.dictionaries(st.text(max_size=8), tagged_values, max_size=5))
def test_codec_agrees_with_flask_both_ways(value):
    app = Flask(__name__)
    flask_codec = TaggedJSONSerializer()
    with app.app_context():
        theirs = flask_codec.dumps(value)
    ours = TaggedJSONCodec().dumps(value)
    assert ours == theirs
    assert TaggedJSONCodec().loads(ours) == value
    assert flask_codec.loads(ours) == value
