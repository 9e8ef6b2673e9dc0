"""The customer's side: the one-time link, identity check, payment and data capture.

Public by design: every route authorises itself from the link token and server-side state.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("customer", __name__)
