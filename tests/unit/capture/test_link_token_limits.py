"""Link tokens are bound to their purpose's salt and to a length limit checked before any
work: a token signed with our own keys under any other salt (or none) is refused, and a token
longer than MAX_TOKEN_LENGTH is refused without a key being touched."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeTimedSerializer

from portal.capture import links

CLAIM = ["AAAAAAAAAA", "B" * 22]


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def _signed_with(app, **kwargs) -> str:
    keys = list(reversed(app.config["LINK_SIGNING_KEYS"]))
    return URLSafeTimedSerializer(keys, **kwargs).dumps(CLAIM)


def test_the_salt_is_the_link_purpose(ctx):
    """The salt is part of every issued link: changing it would void every link already sent,
    and dropping it would let any unsalted token signed with our keys pass as a link."""
    assert links.SALT == "postern.capture-link"
    token = links.make_token(*CLAIM)
    assert (
        URLSafeTimedSerializer(
            list(reversed(ctx.config["LINK_SIGNING_KEYS"])),
            salt="postern.capture-link",
            serializer=links.CompactClaim,
        ).loads(token)
        == CLAIM
    )


@pytest.mark.parametrize(
    "salt",
    [None, "itsdangerous", "", "postern.capture-link-other", "postern.reset"],
    ids=["no-salt-argument", "library-default", "empty", "similar", "another-purpose"],
)
def test_a_token_signed_with_our_keys_under_another_salt_is_refused(ctx, salt):
    kwargs = {} if salt is None else {"salt": salt}
    with pytest.raises(links.LinkProblem) as problem:
        links.read_token(_signed_with(ctx, **kwargs))
    assert problem.value.kind == "bad_signature"
    assert problem.value.claim == links.LinkClaim(*CLAIM)


def test_an_over_long_token_is_refused_before_any_key_is_used(app_factory):
    """With no key configured, anything that reaches signature checking raises RuntimeError:
    a token one character over the limit must be refused as malformed before that, while one
    exactly at the limit does go on to be checked."""
    app = app_factory(LINK_SIGNING_KEYS=[])
    with app.app_context():
        for too_long in ("a" * (links.MAX_TOKEN_LENGTH + 1), "a." * 5000):
            with pytest.raises(links.LinkProblem) as problem:
                links.read_token(too_long)
            assert problem.value.kind == "malformed"
        with pytest.raises(RuntimeError) as no_key:
            links.read_token("a" * links.MAX_TOKEN_LENGTH)
        assert str(no_key.value) == "LINK_SIGNING_KEYS is empty: no key to sign links with"
    assert links.MAX_TOKEN_LENGTH == 200


def test_the_problem_names_its_kind():
    """The kind is also the exception's text, which is what reaches a log line."""
    problem = links.LinkProblem("expired", links.LinkClaim(*CLAIM))
    assert (str(problem), problem.kind, problem.claim) == (
        "expired",
        "expired",
        links.LinkClaim(*CLAIM),
    )


def test_an_expired_token_still_says_what_it_claimed(ctx):
    """The expired-link page names the request it was for: the claim survives expiry."""
    from itsdangerous import TimestampSigner

    class LongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return super().get_timestamp() - links.max_age_seconds() - 60

    token = links.serializer(signer=LongAgo).dumps(CLAIM)
    with pytest.raises(links.LinkProblem) as problem:
        links.read_token(token)
    assert (problem.value.kind, problem.value.claim) == ("expired", links.LinkClaim(*CLAIM))


def test_our_signature_on_a_payload_that_does_not_decode_is_malformed(ctx):
    signed = links.serializer().make_signer().sign(b"bm90IGpzb24").decode()  # "not json"
    with pytest.raises(links.LinkProblem) as problem:
        links.read_token(signed)
    assert (str(problem.value), problem.value.kind, problem.value.claim) == (
        "malformed",
        "malformed",
        None,
    )


@pytest.mark.parametrize(
    ("base", "link"),
    [
        ("https://pay.example", "https://pay.example/c/TOKEN"),
        ("https://pay.example/", "https://pay.example/c/TOKEN"),
        ("https://pay.example//", "https://pay.example/c/TOKEN"),
        ("https://pay.example/BOX/", "https://pay.example/BOX/c/TOKEN"),  # only slashes go
    ],
)
def test_the_link_joins_the_base_url_and_the_token_with_one_slash(app_factory, base, link):
    app = app_factory(PUBLIC_BASE_URL=base)
    with app.app_context():
        assert links.link_url("TOKEN") == link
