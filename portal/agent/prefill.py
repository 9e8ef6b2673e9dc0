"""Click-to-create: the console's form filled in from a link a CRM button or a screen pop
opens, e.g. ``/agent/new?amount=4250&currency=GBP&reference=ACC-2002&interaction_id=c-81``.

Nothing is created by opening the link: the agent, signed in as usual, sees the form filled in
and presses "Create and send" after checking it with the customer. The form's own validators
check every value (lengths, card numbers in any spelling), so a value the CRM got wrong shows
beside its field exactly as if the agent had typed it, and one holding a card number is
refused and forgotten.

Only what describes the payment or the account comes from the URL. The customer's phone number
or email address never does, nor the payment's free-text purpose: a URL is kept in browser
history and in proxy logs, places personal data must not reach, and the agent confirms the
destination with the customer anyway.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import current_app

from portal.agent.forms import CreateRequestForm
from portal.capture import kinds
from portal.money import exponent

#: Query parameters the link may carry. ``amount`` is in minor units (pence), as CRMs and
#: Stripe hold it, so that no decimal separator has to survive a URL.
TEXT_PARAMETERS = ("reference", "interaction_id")
PARAMETERS = ("kind", "amount", "currency", "field_set", *TEXT_PARAMETERS)
#: More digits than any amount the form accepts; the form's own rules refuse what is too large.
_MAX_DIGITS = 15


def prefilled_form(args: Mapping[str, str]) -> tuple[CreateRequestForm, list[str]]:
    """The create form filled from ``args``, and the problems with values it could not take
    (worded for the agent; a value is never repeated back, it may hold anything)."""
    problems: list[str] = []
    data: dict[str, str] = {}
    currency = (args.get("currency") or "").strip().upper()
    if currency:
        if currency in current_app.config["CAPTURE_CURRENCIES"]:
            data["currency"] = currency
        else:
            problems.append("The currency from the link is not one Postern takes: choose one.")
    amount = (args.get("amount") or "").strip()
    if amount:
        major = _major_units(amount, data.get("currency") or _default_currency())
        if major is None:
            problems.append(
                "The amount from the link was not a whole number of pence: enter the amount."
            )
        else:
            data["amount"] = major
    kind = (args.get("kind") or "").strip()
    if kind in kinds.KINDS:
        data["kind"] = kind
    elif kind:
        problems.append("The kind of request from the link is not one Postern knows: choose one.")
    elif "amount" in data:
        data["kind"] = kinds.PAYMENT
    field_set = (args.get("field_set") or "").strip()
    if field_set in kinds.FIELD_SETS:
        data["field_set"] = field_set
    elif field_set:
        problems.append("The details to collect from the link are not a set Postern knows.")
    for name in TEXT_PARAMETERS:
        if args.get(name):
            data[name] = args[name]
    form = CreateRequestForm(formdata=None, data=data)
    for name in TEXT_PARAMETERS:
        if name in data:
            form[name].validate(form)  # its errors show beside it; a card number is forgotten
    return form, problems


def _default_currency() -> str:
    return current_app.config["CAPTURE_CURRENCIES"][0]


def _major_units(amount: str, currency: str) -> str | None:
    """``"4250"`` in GBP as the form writes it, ``"42.50"``; None unless whole minor units."""
    if not (amount.isascii() and amount.isdigit() and len(amount) <= _MAX_DIGITS):
        return None
    minor = int(amount)
    places = exponent(currency)
    if not places:
        return str(minor)
    whole, fraction = divmod(minor, 10**places)
    return f"{whole}.{fraction:0{places}d}"
