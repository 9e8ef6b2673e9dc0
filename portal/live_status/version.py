"""The panel's version, computed by PostgreSQL: what the status poll's ETag is made of.

A panel is built from one capture request's row and the rows beside it (its messages, its
payment with that payment's refunds and disputes, its data submission and captured values),
from the code that words them, and from a few settings. ``VERSION_SQL`` digests every one of
those rows whole (``row::text``: any column that changes, changes the digest) together with
``salt``, a digest of that code and those settings, so two answers with one version carry the
same panel, and a poll whose version matches needs no panel built at all. The one input left
out is the clock: a request whose link has lapsed reads "expired" before anything is written,
so callers treat a lapsed request as unusual (``lapsed``) and build its panel in full.

PostgreSQL only (``available``): SQLite keeps the digest of the JSON body as the ETag.
"""

from __future__ import annotations

import hashlib
import sys
from datetime import datetime
from pathlib import Path

from portal.capture.states import EXPIRABLE, Status

#: The modules whose code decides what a panel says; a change to any changes every version.
PANEL_CODE = (
    "portal.live_status.panel",
    "portal.live_status.wording",
    "portal.live_status.standings",
    "portal.payments.standing",
    "portal.disputes.wording",
    "portal.delivery.outbox",
    "portal.personal_data.staff_access",
    "portal.capture.states",
    "portal.capture.kinds",
    "portal.capture.identity",
    "portal.money",
    "config.field_sets",
)
#: The settings a panel reads.
PANEL_SETTINGS = ("DELIVERY_TIMEZONE", "CAPTURE_MAX_EXPIRY_MINUTES", "PAYMENT_MAX_ATTEMPTS")

#: The version of the request aliased ``t`` (columns ``t.id`` and ``t.whole``, its row), as
#: one SQL expression with the bind parameter ``:salt``.
VERSION_SQL = """md5(concat_ws('|', CAST(:salt AS text), t.whole::text,
    (SELECT string_agg(m::text, '|' ORDER BY m.id) FROM delivery_messages m
     WHERE m.capture_request_id = t.id),
    (SELECT string_agg(concat_ws('|', p::text,
         (SELECT string_agg(r::text, '|' ORDER BY r.id) FROM refunds r WHERE r.payment_id = p.id),
         (SELECT string_agg(d::text, '|' ORDER BY d.id) FROM disputes d WHERE d.payment_id = p.id)
     ), '|' ORDER BY p.id) FROM payments p WHERE p.capture_request_id = t.id),
    (SELECT string_agg(s::text, '|' ORDER BY s.id) FROM data_submissions s
     WHERE s.capture_request_id = t.id),
    (SELECT string_agg(c::text, '|' ORDER BY c.id) FROM captured_values c
     WHERE c.capture_request_id = t.id)
))"""

_SALTS: dict[tuple, str] = {}


def available(config) -> bool:
    return str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql")


def salt(config) -> str:
    """A digest of the panel's code (as loaded in this process) and settings."""
    settings = tuple((name, str(config.get(name))) for name in PANEL_SETTINGS)
    known = _SALTS.get(settings)
    if known is None:
        digest = hashlib.sha256(repr(settings).encode())
        for name in PANEL_CODE:
            module = sys.modules.get(name)
            source = getattr(module, "__file__", None)
            digest.update(name.encode())
            if source:
                digest.update(Path(source).read_bytes())
        known = _SALTS[settings] = digest.hexdigest()[:16]
    return known


def lapsed(status: str | None, expires_at: datetime | None, now: datetime) -> bool:
    """True when the request reads "expired" by the clock alone (nothing written yet)."""
    return (
        status is not None
        and Status(status) in EXPIRABLE
        and expires_at is not None
        and expires_at <= now
    )


def etag_of(version: str) -> str:
    """The ETag (unquoted, as ``Response.set_etag`` takes it) for a version."""
    return version[:32]
