"""Link tokens: what they carry, how long they are, expiry by age, and key rotation."""

from __future__ import annotations

import base64

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from portal.capture import links


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def _old_signer(seconds_ago: int):
    """A signer whose clock is ``seconds_ago`` in the past: the one edge we fake."""

    class OldClock(TimestampSigner):
        def get_timestamp(self) -> int:
            return super().get_timestamp() - seconds_ago

    return OldClock


def test_round_trip_carries_only_public_id_and_nonce(ctx):
    public_id, nonce = links.new_public_id(), links.new_nonce()
    token = links.make_token(public_id, nonce)
    assert links.read_token(token) == links.LinkClaim(public_id, nonce)
    payload = token.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("ascii")
    assert decoded == f"{public_id}.{nonce}"


def test_randomness_and_length(ctx):
    public_id, nonce = links.new_public_id(), links.new_nonce()
    # 9 Crockford base32 characters in groups of three (45 bits) + 9 random bytes (72 bits).
    assert len(public_id) == 11 and links.PUBLIC_ID_PATTERN.match(public_id)
    assert len(base64.urlsafe_b64decode(nonce)) == 9 and len(nonce) == 12
    token = links.make_token(public_id, nonce)
    assert len(token) == 67, token  # the link must fit one text message with its words
    url = links.link_url(token)
    assert url == f"http://127.0.0.1:5000/c/{token}"
    assert len({links.new_public_id() for _ in range(200)}) == 200
    assert len({links.new_nonce() for _ in range(200)}) == 200


def test_a_token_issued_before_the_compact_form_still_verifies(ctx):
    """Links already in customers' messages keep working: JSON payload, 16-byte nonce."""
    old_id, old_nonce = "3l_lzxTZBH", "q0b1mqHn0WWZfPpl7yG8lQ"
    keys = list(reversed(ctx.config["LINK_SIGNING_KEYS"]))
    before = URLSafeTimedSerializer(keys, salt=links.SALT).dumps([old_id, old_nonce])
    assert len(before) == 87
    assert links.read_token(before) == links.LinkClaim(old_id, old_nonce)
    # ...and a new-shape id in the old form too.
    public_id = links.new_public_id()
    before = URLSafeTimedSerializer(keys, salt=links.SALT).dumps([public_id, old_nonce])
    assert links.read_token(before) == links.LinkClaim(public_id, old_nonce)


@pytest.mark.parametrize(
    "payload",
    ["no-separator", "ABC-DEF-GHJ.short", "ABC-DEF-GHJ.nonce.extra12345", '["only-one"]', "[1, 2]"],
)
def test_a_signed_payload_of_the_wrong_shape_is_malformed(ctx, payload):
    """Even signed by our key, a payload that is not a claim is refused as malformed."""
    token = links.serializer(serializer=_Raw).dumps(payload)
    with pytest.raises(links.LinkProblem) as problem:
        links.read_token(token)
    assert problem.value.kind == "malformed"


class _Raw:
    @staticmethod
    def dumps(value):
        return value if isinstance(value, str) else ""

    @staticmethod
    def loads(text):
        return text


def test_token_older_than_max_age_is_expired(ctx):
    public_id, nonce = links.new_public_id(), links.new_nonce()
    too_old = links.max_age_seconds() + 5
    token = links.serializer(signer=_old_signer(too_old)).dumps([public_id, nonce])
    with pytest.raises(links.LinkProblem) as problem:
        links.read_token(token)
    assert problem.value.kind == "expired"
    # Just inside max_age it still verifies: max_age is the policy's longest expiry.
    fresh = links.serializer(signer=_old_signer(links.max_age_seconds() - 30)).dumps(
        [public_id, nonce]
    )
    assert links.read_token(fresh).public_id == public_id


def test_max_age_follows_the_policy(app_factory):
    app = app_factory(CAPTURE_MAX_EXPIRY_MINUTES=20)
    with app.app_context():
        assert links.max_age_seconds() == 1200


def test_rotation_old_key_still_verifies_new_key_signs(app_factory):
    old_app = app_factory(LINK_SIGNING_KEYS=["key-one-" + "x" * 32])
    with old_app.app_context():
        old_token = links.make_token("AAAAAAAAAA", "B" * 22)
    rotated = app_factory(LINK_SIGNING_KEYS=["key-two-" + "y" * 32, "key-one-" + "x" * 32])
    with rotated.app_context():
        assert links.read_token(old_token).public_id == "AAAAAAAAAA"
        new_token = links.make_token("CCCCCCCCCC", "D" * 22)
        # The newest key signed it: an app holding only the newest key accepts it.
    only_new = app_factory(LINK_SIGNING_KEYS=["key-two-" + "y" * 32])
    with only_new.app_context():
        assert links.read_token(new_token).public_id == "CCCCCCCCCC"
        # The old key was removed: its tokens are refused, with the claim kept for the page.
        with pytest.raises(links.LinkProblem) as problem:
            links.read_token(old_token)
        assert problem.value.kind == "bad_signature"
        assert problem.value.claim == links.LinkClaim("AAAAAAAAAA", "B" * 22)


def test_other_purpose_salt_is_refused(ctx):
    keys = list(reversed(ctx.config["LINK_SIGNING_KEYS"]))
    other = URLSafeTimedSerializer(keys, salt="postern.something-else").dumps(
        ["AAAAAAAAAA", "B" * 22]
    )
    with pytest.raises(links.LinkProblem) as problem:
        links.read_token(other)
    assert problem.value.kind == "bad_signature"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-5],  # cut short when copied
        lambda t: t + "x",
        lambda t: t.replace(".", "", 1),
        lambda t: "not-a-real-token",
        lambda t: "",
        lambda t: "a" * 500,
        lambda t: "!!!." + t.split(".", 1)[1],
    ],
)
def test_damaged_tokens_are_malformed(ctx, mangle):
    token = links.make_token(links.new_public_id(), links.new_nonce())
    with pytest.raises(links.LinkProblem) as problem:
        links.read_token(mangle(token))
    assert problem.value.kind == "malformed"


def test_valid_signature_on_a_wrong_shape_payload_is_malformed(ctx):
    token = links.serializer().dumps({"id": 1, "amount": 1250})
    with pytest.raises(links.LinkProblem) as problem:
        links.read_token(token)
    assert problem.value.kind == "malformed"


def test_secret_hashing_and_constant_time_match():
    secret = links.new_nonce()
    stored = links.hash_secret(secret)
    assert stored != secret and len(stored) == 64
    assert links.secrets_match(secret, stored)
    assert not links.secrets_match(secret + "x", stored)
    assert not links.secrets_match(None, stored)
    assert not links.secrets_match(secret, None)


def test_empty_key_list_refuses_to_sign(app_factory):
    app = app_factory(LINK_SIGNING_KEYS=[])
    with app.app_context(), pytest.raises(RuntimeError):
        links.make_token("AAAAAAAAAA", "B" * 22)
