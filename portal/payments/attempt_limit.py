"""How many failed attempts a payment may have before Postern cancels its PaymentIntent.

Its own small module so that whoever only reads the limit (reporting, standings, the CSV)
need not import the code that applies Stripe's facts (``portal.payments.sync``).
"""

from __future__ import annotations

from flask import current_app


def max_attempts() -> int:
    """The app's ``PAYMENT_MAX_ATTEMPTS``: failed attempts allowed on one payment."""
    return int(current_app.config["PAYMENT_MAX_ATTEMPTS"])
