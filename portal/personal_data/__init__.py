"""Personal-data capture: field sets, validation, envelope encryption (a data key per request,
kept wrapped in the key store), keys, erasure and crypto-shredding.

Entry points for views: ``portal.personal_data.service`` (``notice_for``, ``build_form``,
``store_submission``, ``record_decline``, ``reveal``, ``masked_summary``, ``erase``) and the
templates ``customer/_data_notice.html`` and ``customer/_data_fields.html``. Operators' tools
read a request's values with ``values.decrypt_request_values`` (docs/personal-data-encryption.md).
"""
