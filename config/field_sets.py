"""Field sets: the personal data a capture request may ask a customer for, declared as data.

Each set has a ``title`` (the page heading the customer sees), a ``purpose`` (why we ask, in
plain words; shown next to the request's own purpose), a ``retention_class`` (a key of
``config.retention.RETENTION``) and either ``fields`` or ``include`` (other sets combined, in
order). Each field has:

- ``name``: stable identifier, stored beside the ciphertext (never the value);
- ``label``, optional ``hint``: what the customer reads;
- ``kind``: how the value is checked and normalised (``portal.personal_data.validators.KINDS``);
- ``required`` (default true) and ``required_message`` (what to say when left empty);
- ``autocomplete``: the HTML autofill token (WCAG 1.3.5 "Identify Input Purpose");
- ``inputmode`` (optional): the on-screen keyboard to offer on phones;
- ``max_length``: the longest input accepted, checked on the server;
- ``width`` (optional): input width in characters (CSS class ``input-width-N``).

``portal.personal_data.fields`` loads and checks this module at import: an unknown kind, retention
class or duplicate field name stops the app from starting.
"""

from __future__ import annotations

_ACCOUNT_HOLDER = {
    "name": "account_holder_name",
    "label": "Name on the account",
    "hint": "As it appears on your bank statement",
    "kind": "name",
    "autocomplete": "name",
    "max_length": 70,
    "required_message": "Enter the name on the account",
}

FIELD_SETS: dict[str, dict] = {
    "address": {
        "title": "Your postal address",
        "purpose": "We need your postal address to update your account and send you letters.",
        "retention_class": "personal_data",
        "fields": [
            {
                "name": "address_line1",
                "label": "Address line 1",
                "kind": "text",
                "autocomplete": "address-line1",
                "max_length": 100,
                "required_message": "Enter address line 1, typically the building and street",
            },
            {
                "name": "address_line2",
                "label": "Address line 2 (optional)",
                "kind": "text",
                "required": False,
                "autocomplete": "address-line2",
                "max_length": 100,
            },
            {
                "name": "town",
                "label": "Town or city",
                "kind": "text",
                "autocomplete": "address-level2",
                "max_length": 60,
                "width": 20,
                "required_message": "Enter town or city",
            },
            {
                "name": "county",
                "label": "County (optional)",
                "kind": "text",
                "required": False,
                "autocomplete": "address-level1",
                "max_length": 60,
                "width": 20,
            },
            {
                "name": "postcode",
                "label": "Postcode",
                "kind": "postcode",
                "autocomplete": "postal-code",
                "max_length": 10,
                "width": 10,
                "required_message": "Enter postcode",
            },
        ],
    },
    "date_of_birth": {
        "title": "Your date of birth",
        "purpose": "We need your date of birth to confirm your identity on your account.",
        "retention_class": "personal_data",
        "fields": [
            {
                "name": "date_of_birth",
                "label": "Date of birth",
                "hint": "For example, 27 3 1985",
                "kind": "date_of_birth",
                # Expanded to bday-day, bday-month and bday-year on the three inputs.
                "autocomplete": "bday",
                "inputmode": "numeric",
                # Of the stored ISO date; each of the three boxes is checked on its own.
                "max_length": 10,
                "required_message": "Enter your date of birth",
            },
        ],
    },
    "ni_number": {
        "title": "Your National Insurance number",
        "purpose": "We need your National Insurance number to report to HM Revenue and Customs.",
        "retention_class": "personal_data",
        "fields": [
            {
                "name": "ni_number",
                "label": "National Insurance number",
                # The same example as the error (portal.personal_data.validators
                # NI_NUMBER_EXAMPLE): one the check accepts. GOV.UK's 'QQ 12 34 56 C' is refused
                # by it (Q is never a first letter), so a hint built on it would mislead.
                "hint": (
                    "It’s on your National Insurance card, benefit letter, payslip or P60. "
                    "For example, ‘AB 12 34 56 C’."
                ),
                "kind": "ni_number",
                "autocomplete": "off",
                "max_length": 13,
                "width": 10,
                "required_message": "Enter your National Insurance number",
            },
        ],
    },
    "bank_details_dd": {
        "title": "Your bank details for Direct Debit",
        "purpose": "We need your bank details to set up a Direct Debit for your payments.",
        "retention_class": "personal_data",
        "fields": [
            _ACCOUNT_HOLDER,
            {
                "name": "sort_code",
                "label": "Sort code",
                "hint": "Must be 6 digits long, for example 30-94-57",
                "kind": "sort_code",
                "autocomplete": "off",
                "inputmode": "numeric",
                "max_length": 10,
                "width": 5,
                "required_message": "Enter a sort code",
            },
            {
                "name": "account_number",
                "label": "Account number",
                "hint": "Must be 8 digits long, for example 00733445",
                "kind": "account_number",
                "autocomplete": "off",
                "inputmode": "numeric",
                "max_length": 12,
                "width": 10,
                "required_message": "Enter an account number",
            },
        ],
    },
    "iban": {
        "title": "Your bank account details",
        "purpose": "We need your bank account details to pay money into your account.",
        "retention_class": "personal_data",
        "fields": [
            _ACCOUNT_HOLDER,
            {
                "name": "iban",
                "label": "IBAN (International Bank Account Number)",
                "hint": "For example, DE89 3704 0044 0532 0130 00",
                "kind": "iban",
                "autocomplete": "off",
                "max_length": 42,
                "width": 20,
                "required_message": "Enter an IBAN",
            },
        ],
    },
    "email": {
        "title": "Your email address",
        "purpose": "We need your email address to contact you about your account.",
        "retention_class": "personal_data",
        "fields": [
            {
                "name": "email",
                "label": "Email address",
                "kind": "email",
                "autocomplete": "email",
                "max_length": 254,
                "required_message": "Enter an email address",
            },
        ],
    },
    "phone": {
        "title": "Your telephone number",
        "purpose": "We need your telephone number to contact you about your account.",
        "retention_class": "personal_data",
        "fields": [
            {
                "name": "phone",
                "label": "Telephone number",
                "hint": "For international numbers include the country code, like +33",
                "kind": "phone",
                "autocomplete": "tel",
                "max_length": 24,
                "width": 20,
                "required_message": "Enter a telephone number",
            },
        ],
    },
    "contact": {
        "title": "Your contact details",
        "purpose": "We need your email address and telephone number to contact you.",
        "retention_class": "personal_data",
        "include": ["email", "phone"],
    },
}
