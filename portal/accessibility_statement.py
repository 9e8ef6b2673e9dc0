"""``GET /accessibility``: the accessibility statement, public, linked from every page's footer,
in English or Welsh as the customer's pages are (``portal.customer.language``).

It says which standard the pages meet (WCAG 2.2 AA), how that was tested, what is known not to
meet it, and how to report a problem: to ``ACCESSIBILITY_CONTACT`` when the operator set one,
otherwise to the person the customer is speaking to. ``PREPARED_ON`` changes whenever the
statement's words do (the Public Sector Bodies Accessibility Regulations' model statement asks
for the date; private organisations are held to the Equality Act 2010 all the same).
"""

from __future__ import annotations

from datetime import date

from babel.dates import format_date
from flask import Blueprint, current_app, render_template

from portal.i18n import current_language

bp = Blueprint("accessibility", __name__)

PREPARED_ON = date(2026, 12, 7)


def _long_date(day: date) -> str:
    """``7 December 2026``, or in Welsh ``7 Rhagfyr 2026``."""
    return format_date(day, "d MMMM y", locale=current_language())


@bp.get("/accessibility")
def statement():
    contact = (current_app.config.get("ACCESSIBILITY_CONTACT") or "").strip()
    return render_template(
        "public/accessibility.html",
        contact=contact,
        contact_is_email="@" in contact and " " not in contact,
        prepared_on=_long_date(PREPARED_ON),
    )
