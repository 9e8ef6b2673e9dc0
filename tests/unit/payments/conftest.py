"""Fixtures for the payment unit tests: ``pay_app`` and ``customer`` come from
``tests.functional.payments_support`` (one definition for every payment test)."""

from tests.functional.payments_support import customer, pay_app  # noqa: F401
