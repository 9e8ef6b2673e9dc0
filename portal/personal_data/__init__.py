"""Personal-data capture: field sets, validation, per-value encryption, keys and erasure.

Entry points for views: ``portal.personal_data.service`` (``notice_for``, ``build_form``,
``store_submission``, ``record_decline``, ``reveal``, ``masked_summary``, ``erase``) and the
templates ``customer/_data_notice.html`` and ``customer/_data_fields.html``.
"""
