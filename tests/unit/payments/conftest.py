"""Fixtures for the payment unit tests: ``pay_app`` and ``customer`` come from
``tests.support.payments`` (one definition for every payment test)."""

from tests.support.payments import customer, pay_app  # noqa: F401
