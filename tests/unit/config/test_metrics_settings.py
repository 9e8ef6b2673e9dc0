"""The metrics token in production: optional, but when set it must be as strong as Postern's
own keys (it guards every figure of the deployment); and its settings are read from the
environment."""

from __future__ import annotations

import secrets

import pytest

from config.settings import ConfigError, ProductionConfig
from tests.unit.config.production_values import good_production_settings


def _validate(**changes) -> None:
    ProductionConfig.validate({**good_production_settings(), **changes})


def test_production_runs_without_a_metrics_token():
    _validate(METRICS_TOKEN="")


def test_a_strong_metrics_token_is_accepted():
    _validate(METRICS_TOKEN=secrets.token_urlsafe(32))


@pytest.mark.parametrize(
    ("token", "said"),
    [
        ("short-token", "POSTERN_METRICS_TOKEN is too short"),
        ("changeme" * 5, "POSTERN_METRICS_TOKEN"),
        ("a" * 48, "POSTERN_METRICS_TOKEN"),
    ],
)
def test_a_weak_metrics_token_stops_production(token, said):
    with pytest.raises(ConfigError) as refused:
        _validate(METRICS_TOKEN=token)
    assert said in str(refused.value)
    assert token not in str(refused.value)  # the refusal never repeats the value
