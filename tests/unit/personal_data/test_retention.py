"""The retention policy: periods per data class, and how they are described to customers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from config.retention import RETENTION, describe_period, describe_retention, retention_period


def test_policy_periods():
    assert RETENTION["personal_data"] == timedelta(days=30)
    assert RETENTION["link_and_delivery"] == timedelta(days=90)
    assert RETENTION["csp_reports"] == timedelta(days=90)
    assert RETENTION["webhook_events"] == timedelta(days=90)
    for data_class in ("payment_records", "audit_log"):
        assert timedelta(days=7 * 365) < RETENTION[data_class] <= timedelta(days=7 * 366)


def test_periods_in_plain_words():
    assert describe_period(timedelta(days=1)) == "1 day"
    assert describe_period(timedelta(days=30)) == "30 days"
    assert describe_period(retention_period("audit_log")) == "7 years"
    assert describe_period(timedelta(days=365)) == "1 year"
    assert describe_retention("personal_data") == "30 days after your request is completed"


def test_unknown_class_is_an_error_that_names_it():
    with pytest.raises(KeyError, match="shoe_sizes"):
        retention_period("shoe_sizes")
