"""What a capture request can ask for, and how its link can reach the customer: names as data.

A data request stores only the name of its field set; what each set collects (fields,
validation, retention) is declared in ``config/field_sets.py`` and used by the data pages.
"""

from __future__ import annotations

from config.field_sets import FIELD_SETS as DECLARED_FIELD_SETS
from portal.i18n import N_

# The words below are plain ``str`` (they also reach the API and exports), marked with ``N_``
# and translated where a staff page shows them (the agent's form: ``lazy_gettext``).
PAYMENT, DATA, BOTH = "payment", "data", "both"
KINDS = {
    PAYMENT: N_("Payment"),
    DATA: N_("Personal details"),
    BOTH: N_("Payment and personal details"),
}
PAYMENT_KINDS = frozenset({PAYMENT, BOTH})
DATA_KINDS = frozenset({DATA, BOTH})

#: What the agent's form calls each field set; the sets themselves are declared, with what
#: they collect, in ``config/field_sets.py``.
_AGENT_LABELS = {
    "address": N_("Postal address"),
    "date_of_birth": N_("Date of birth"),
    "bank_details_dd": N_("Bank details for Direct Debit"),
    "iban": N_("IBAN (international bank account)"),
    "ni_number": N_("National Insurance number"),
    "contact": N_("Contact details"),
}
#: Field-set name -> label, for every declared set.
FIELD_SETS = {
    name: _AGENT_LABELS.get(name) or spec["title"].removeprefix("Your ").capitalize()
    for name, spec in DECLARED_FIELD_SETS.items()
}

SMS, EMAIL, COPY_LINK = "sms", "email", "copy"
#: Channel -> what the agent's form calls it.
CHANNELS = {
    SMS: N_("Text message (SMS)"),
    EMAIL: N_("Email"),
    COPY_LINK: N_("Copy link / QR code"),
}
