"""Who may reach which route: the single table the access-matrix test checks against.

Every endpoint the app registers must appear here, or the matrix test fails: a new route cannot
ship without someone deciding, in review, who may use it.

``AUDIENCE`` values:
- ``public``: anyone, no login (health probes, static files, login, customer link pages).
- ``staff``: any fully signed-in staff member, whatever the role.
- a set of roles: only those roles (fully signed in, second factor where required: see
  ``SECOND_FACTOR_ROLES``).
- ``bearer token``: no session reaches it, whatever the role; only a request bearing its
  configured token (``/metrics``: 404 while no token is configured, else 401 without it).
"""

from __future__ import annotations

PUBLIC = "public"
STAFF = "staff"
BEARER_TOKEN = "bearer token"
ALL_ROLES = frozenset({"agent", "supervisor", "backoffice", "admin", "auditor"})
AGENT_CONSOLE = frozenset({"agent", "supervisor"})
BACKOFFICE = frozenset({"supervisor", "backoffice", "admin", "auditor"})
#: Who may read every transaction and refund (not supervisors: their view is their team's).
REFUND_READERS = frozenset({"backoffice", "admin", "auditor"})
#: Refunds, revealing values and data-subject requests: the back-office role only.
BACKOFFICE_ONLY = frozenset({"backoffice"})
ADMIN_ONLY = frozenset({"admin"})
#: Exports need Permission.EXPORT on top of the back office (admins have no EXPORT).
EXPORTERS = frozenset({"supervisor", "backoffice", "auditor"})
#: The audit log viewer (Permission.AUDIT_VIEW).
AUDIT_READERS = frozenset({"backoffice", "admin", "auditor"})
#: Roles that reach nothing but the second-factor pages until a second factor is enrolled and
#: proven: every role that reads beyond its own requests (transactions, personal data, the
#: audit log, exports) or changes money or accounts. Agents join them when AGENT_MFA_REQUIRED
#: is on (production's default).
SECOND_FACTOR_ROLES = frozenset({"supervisor", "backoffice", "admin", "auditor"})


# endpoint -> (audience, {path parameter: example value}); the path parameters fill the rule.
ROUTE_ACCESS: dict[str, tuple[object, dict[str, str]]] = {
    "static": (PUBLIC, {"filename": "css/app.css"}),
    "health.healthz": (PUBLIC, {}),
    "health.readyz": (PUBLIC, {}),
    # Prometheus's scrape endpoint: METRICS_TOKEN as a bearer token, never a staff session.
    "metrics.metrics": (BEARER_TOKEN, {}),
    "auth.index": (PUBLIC, {}),
    "auth.login": (PUBLIC, {}),
    "auth.logout": (PUBLIC, {}),
    "auth.mfa_verify": (STAFF, {}),
    "auth.account": (STAFF, {}),
    "auth.mfa_setup": (STAFF, {}),
    "auth.mfa_qr": (STAFF, {}),
    "auth.change_password": (STAFF, {}),
    "agent.console": (AGENT_CONSOLE, {}),
    "backoffice.home": (BACKOFFICE, {}),
    # Capture requests: the agent console (own requests; supervisors also their team's) and
    # its live-status API. The customer link pages authorise themselves from the token.
    "agent.create": (AGENT_CONSOLE, {}),
    "agent.revoke": (AGENT_CONSOLE, {"public_id": "AAAAAAAAAA"}),
    "agent.extend": (AGENT_CONSOLE, {"public_id": "AAAAAAAAAA"}),
    "agent.resend": (AGENT_CONSOLE, {"public_id": "AAAAAAAAAA"}),
    "agent.api_requests": (AGENT_CONSOLE, {}),
    "agent.api_status": (AGENT_CONSOLE, {"public_id": "AAAAAAAAAA"}),
    "customer.landing": (PUBLIC, {"token": "not-a-real-token"}),
    "customer.start": (PUBLIC, {"token": "not-a-real-token"}),
    "customer.identity_check": (PUBLIC, {"token": "not-a-real-token"}),
    "customer.summary": (PUBLIC, {"token": "not-a-real-token"}),
    # A closed, paid request: the link alone gets "payment received"; its details need the
    # binding cookie of the device that paid.
    "customer.receipt": (PUBLIC, {"token": "not-a-real-token"}),
    # Card payments: the customer's payment pages (token + binding cookie) and Stripe's
    # webhooks (authenticated by their signature over the raw body).
    "customer.pay": (PUBLIC, {"token": "not-a-real-token"}),
    "customer.pay_status": (PUBLIC, {"token": "not-a-real-token"}),
    "customer.pay_return": (PUBLIC, {"token": "not-a-real-token"}),
    "customer.paid": (PUBLIC, {"token": "not-a-real-token"}),
    # Personal data: the customer's details step and its confirmation (token + binding cookie).
    "customer.details": (PUBLIC, {"token": "not-a-real-token"}),
    "customer.details_done": (PUBLIC, {"token": "not-a-real-token"}),
    "webhooks.stripe_webhook": (PUBLIC, {}),
    # Browsers' CSP violation reports (no cookies or tokens: size- and rate-limited, no PII).
    "csp_reports.receive": (PUBLIC, {}),
    # Apple Pay's domain-association file, fetched by Apple (no session; 404 while unset).
    "well_known.apple_pay_domain_association": (PUBLIC, {}),
    # Back office, write side: refunds (backoffice asks and approves; auditors and admins may
    # read), re-authentication (any back-office user), captured data (masked for readers,
    # revealed only with DATA_REVEAL), data-subject requests, staff management (admins).
    "backoffice.reauth": (BACKOFFICE, {}),
    "backoffice.refund_list": (REFUND_READERS, {}),
    "backoffice.refund_detail": (REFUND_READERS, {"refund_id": "1"}),
    "backoffice.refund_new": (BACKOFFICE_ONLY, {"public_id": "AAAAAAAAAA"}),
    "backoffice.refund_approve": (BACKOFFICE_ONLY, {"refund_id": "1"}),
    "backoffice.refund_reject": (BACKOFFICE_ONLY, {"refund_id": "1"}),
    "backoffice.refund_retry": (BACKOFFICE_ONLY, {"refund_id": "1"}),
    "backoffice.refund_try_again": (BACKOFFICE_ONLY, {"refund_id": "1"}),
    "backoffice.captured_data": (REFUND_READERS, {"public_id": "AAAAAAAAAA"}),
    "backoffice.reveal_value": (BACKOFFICE_ONLY, {"public_id": "AAAAAAAAAA"}),
    "backoffice.data_requests": (BACKOFFICE_ONLY, {}),
    "backoffice.data_request": (BACKOFFICE_ONLY, {"public_id": "AAAAAAAAAA"}),
    "backoffice.data_export": (BACKOFFICE_ONLY, {"public_id": "AAAAAAAAAA"}),
    "backoffice.data_erase": (BACKOFFICE_ONLY, {"public_id": "AAAAAAAAAA"}),
    "backoffice.staff_list": (ADMIN_ONLY, {}),
    "backoffice.staff_new": (ADMIN_ONLY, {}),
    "backoffice.staff_detail": (ADMIN_ONLY, {"staff_id": "1"}),
    "backoffice.staff_update": (ADMIN_ONLY, {"staff_id": "1"}),
    "backoffice.staff_disable": (ADMIN_ONLY, {"staff_id": "1"}),
    "backoffice.staff_enable": (ADMIN_ONLY, {"staff_id": "1"}),
    "backoffice.staff_reset_mfa": (ADMIN_ONLY, {"staff_id": "1"}),
    "backoffice.staff_reset_password": (ADMIN_ONLY, {"staff_id": "1"}),
    # Back office, read side: the transactions list and detail (supervisors see their team's),
    # the CSV export (EXPORT), the audit log viewer (AUDIT_VIEW). The dashboard is
    # backoffice.home above.
    "backoffice.transactions": (BACKOFFICE, {}),
    "backoffice.transactions_search": (BACKOFFICE, {}),
    "backoffice.transaction_detail": (BACKOFFICE, {"public_id": "AAAAAAAAAA"}),
    "backoffice.export_transactions": (EXPORTERS, {}),
    "backoffice.audit_log": (AUDIT_READERS, {}),
    "backoffice.audit_log_search": (AUDIT_READERS, {}),
    # Development outbox (registered only when DEV_OUTBOX_ENABLED; never in production).
    "devtools.outbox": (STAFF, {}),
    "devtools.outbox_html": (STAFF, {"message_id": "1"}),
}
