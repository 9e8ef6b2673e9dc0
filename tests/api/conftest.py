"""Fixtures of the integration API's tests: a team with an agent, and keys for it."""

from __future__ import annotations

import pytest

from tests.support.api import ALL_SCOPES, make_api_key


@pytest.fixture
def agent(make_staff):
    """An agent of team North: the owner the API names for its requests."""
    return make_staff("agent", team="North")


@pytest.fixture
def key(app, agent):
    """A key of team North with every scope."""
    return make_api_key(app, team="North", scopes=ALL_SCOPES)
