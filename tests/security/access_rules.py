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
#: ``/api/v1``: an API key holding the scope, never a session: ``(API_KEY, "requests:read")``.
API_KEY = "api key"
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
    # The accessibility statement: for customers before they open a link, and for anyone.
    "accessibility.statement": (PUBLIC, {}),
    "auth.login": (PUBLIC, {}),
    "auth.logout": (PUBLIC, {}),
    "auth.mfa_verify": (STAFF, {}),
    "auth.account": (STAFF, {}),
    "auth.mfa_setup": (STAFF, {}),
    "auth.mfa_qr": (STAFF, {}),
    "auth.change_password": (STAFF, {}),
    # Sessions and passkeys on the account page (the person's own only: another person's
    # passkey id answers 404). A passkey as the second factor is a second-factor page.
    "auth.sign_out_other_sessions": (STAFF, {}),
    "auth.passkey_registration_options": (STAFF, {}),
    "auth.passkey_register": (STAFF, {}),
    "auth.passkey_rename": (STAFF, {"passkey_id": "1"}),
    "auth.passkey_remove": (STAFF, {"passkey_id": "1"}),
    # Confirming a removal with a passkey: accounts without a Postern password (404 for others).
    "auth.passkey_remove_options": (STAFF, {"passkey_id": "1"}),
    "auth.passkey_remove_with_passkey": (STAFF, {"passkey_id": "1"}),
    "auth.passkey_second_factor_options": (STAFF, {}),
    "auth.passkey_second_factor": (STAFF, {}),
    # Passwordless sign-in: before anyone is signed in; 404 unless POSTERN_PASSKEY_SIGN_IN.
    "auth.passkey_sign_in_options": (PUBLIC, {}),
    # Single sign-on (portal/auth/sso_views.py): before anyone is signed in; 404 for a
    # provider not configured. The back-channel logout is the provider's server's, authorised
    # by its signed logout token, never by a session.
    "auth.sso_start": (PUBLIC, {"name": "testidp"}),
    "auth.sso_callback": (PUBLIC, {"name": "testidp"}),
    "auth.sso_backchannel_logout": (PUBLIC, {"name": "testidp"}),
    "auth.passkey_sign_in": (PUBLIC, {}),
    "agent.console": (AGENT_CONSOLE, {}),
    "backoffice.home": (BACKOFFICE, {}),
    # Capture requests: the agent console (own requests; supervisors also their team's) and
    # its live-status API. The customer link pages authorise themselves from the token.
    "agent.create": (AGENT_CONSOLE, {}),
    # Click-to-create from a CRM: shows the form filled in; creates nothing.
    "agent.new": (AGENT_CONSOLE, {}),
    "agent.revoke": (AGENT_CONSOLE, {"public_id": "K7F-3QX-2M9"}),
    "agent.extend": (AGENT_CONSOLE, {"public_id": "K7F-3QX-2M9"}),
    "agent.resend": (AGENT_CONSOLE, {"public_id": "K7F-3QX-2M9"}),
    "agent.api_requests": (AGENT_CONSOLE, {}),
    "agent.api_status": (AGENT_CONSOLE, {"public_id": "K7F-3QX-2M9"}),
    "agent.api_stream": (AGENT_CONSOLE, {}),
    "customer.landing": (PUBLIC, {"token": "not-a-real-token"}),
    "customer.start": (PUBLIC, {"token": "not-a-real-token"}),
    "customer.start_opened_as_a_page": (PUBLIC, {"token": "not-a-real-token"}),
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
    "customer.details_decline": (PUBLIC, {"token": "not-a-real-token"}),
    "customer.details_done": (PUBLIC, {"token": "not-a-real-token"}),
    "webhooks.stripe_webhook": (PUBLIC, {}),
    # Browsers' CSP violation reports (no cookies or tokens: size- and rate-limited, no PII).
    "csp_reports.receive": (PUBLIC, {}),
    # Apple Pay's domain-association file, fetched by Apple (no session; 404 while unset).
    "well_known.apple_pay_domain_association": (PUBLIC, {}),
    "well_known.favicon": (PUBLIC, {}),
    # Back office, write side: refunds (backoffice asks and approves; auditors and admins may
    # read), re-authentication (any back-office user), captured data (masked for readers,
    # revealed only with DATA_REVEAL), data-subject requests, staff management (admins).
    "backoffice.reauth": (BACKOFFICE, {}),
    # Re-authentication through the identity provider (portal/backoffice/sso_reauth.py): 404
    # for a provider the person is not linked to.
    "backoffice.sso_reauth_start": (BACKOFFICE, {"name": "testidp"}),
    "backoffice.sso_reauth_code": (BACKOFFICE, {}),
    # Password and passkey, or the provider and a passkey (JSON ceremonies).
    "backoffice.reauth_passkey_options": (BACKOFFICE, {}),
    "backoffice.reauth_passkey": (BACKOFFICE, {}),
    "backoffice.sso_reauth_passkey_options": (BACKOFFICE, {}),
    "backoffice.sso_reauth_passkey": (BACKOFFICE, {}),
    "backoffice.refund_list": (REFUND_READERS, {}),
    "backoffice.refund_detail": (REFUND_READERS, {"refund_id": "1"}),
    "backoffice.refund_new": (BACKOFFICE_ONLY, {"public_id": "K7F-3QX-2M9"}),
    "backoffice.refund_approve": (BACKOFFICE_ONLY, {"refund_id": "1"}),
    "backoffice.refund_reject": (BACKOFFICE_ONLY, {"refund_id": "1"}),
    "backoffice.refund_retry": (BACKOFFICE_ONLY, {"refund_id": "1"}),
    "backoffice.refund_try_again": (BACKOFFICE_ONLY, {"refund_id": "1"}),
    "backoffice.captured_data": (REFUND_READERS, {"public_id": "K7F-3QX-2M9"}),
    "backoffice.reveal_value": (BACKOFFICE_ONLY, {"public_id": "K7F-3QX-2M9"}),
    "backoffice.data_requests": (BACKOFFICE_ONLY, {}),
    "backoffice.data_request": (BACKOFFICE_ONLY, {"public_id": "K7F-3QX-2M9"}),
    "backoffice.data_export": (BACKOFFICE_ONLY, {"public_id": "K7F-3QX-2M9"}),
    "backoffice.data_erase": (BACKOFFICE_ONLY, {"public_id": "K7F-3QX-2M9"}),
    # Outbound webhooks: endpoints, secrets, the delivery log (Permission.SETTINGS_MANAGE).
    "backoffice.webhooks": (ADMIN_ONLY, {}),
    "backoffice.webhook_new": (ADMIN_ONLY, {}),
    "backoffice.webhook_detail": (ADMIN_ONLY, {"endpoint_id": "1"}),
    "backoffice.webhook_events": (ADMIN_ONLY, {"endpoint_id": "1"}),
    "backoffice.webhook_disable": (ADMIN_ONLY, {"endpoint_id": "1"}),
    "backoffice.webhook_enable": (ADMIN_ONLY, {"endpoint_id": "1"}),
    "backoffice.webhook_test": (ADMIN_ONLY, {"endpoint_id": "1"}),
    "backoffice.webhook_rotate": (ADMIN_ONLY, {"endpoint_id": "1"}),
    "backoffice.webhook_replay": (ADMIN_ONLY, {"delivery_id": "1"}),
    "backoffice.staff_list": (ADMIN_ONLY, {}),
    "backoffice.staff_new": (ADMIN_ONLY, {}),
    "backoffice.staff_detail": (ADMIN_ONLY, {"staff_id": "1"}),
    "backoffice.staff_update": (ADMIN_ONLY, {"staff_id": "1"}),
    "backoffice.staff_disable": (ADMIN_ONLY, {"staff_id": "1"}),
    # The lost-device action: end every session of the account.
    "backoffice.staff_end_sessions": (ADMIN_ONLY, {"staff_id": "1"}),
    "backoffice.staff_enable": (ADMIN_ONLY, {"staff_id": "1"}),
    "backoffice.staff_reset_mfa": (ADMIN_ONLY, {"staff_id": "1"}),
    "backoffice.staff_reset_password": (ADMIN_ONLY, {"staff_id": "1"}),
    # Back office, read side: the transactions list and detail (supervisors see their team's),
    # the CSV export (EXPORT), the audit log viewer (AUDIT_VIEW). The dashboard is
    # backoffice.home above.
    "backoffice.transactions": (BACKOFFICE, {}),
    "backoffice.transactions_search": (BACKOFFICE, {}),
    "backoffice.transaction_detail": (BACKOFFICE, {"public_id": "K7F-3QX-2M9"}),
    "backoffice.export_transactions": (EXPORTERS, {}),
    "backoffice.audit_log": (AUDIT_READERS, {}),
    "backoffice.audit_log_search": (AUDIT_READERS, {}),
    # API keys (Permission.SETTINGS_MANAGE; creating and revoking need re-authentication).
    "backoffice.api_keys": (ADMIN_ONLY, {}),
    "backoffice.api_key_create": (ADMIN_ONLY, {}),
    "backoffice.api_key_revoke": (ADMIN_ONLY, {"key_id": "1"}),
    # The integration API: an API key with the scope; no staff session opens it. Its
    # description (the OpenAPI document and the page that draws it) is public.
    "api.openapi": (PUBLIC, {}),
    "api.reference": (PUBLIC, {}),
    "api.create_request": ((API_KEY, "requests:write"), {}),
    "api.list_requests": ((API_KEY, "requests:read"), {}),
    "api.get_request": ((API_KEY, "requests:read"), {"request_id": "AAAAAAAAAA"}),
    "api.revoke_request": ((API_KEY, "requests:write"), {"request_id": "AAAAAAAAAA"}),
    "api.extend_request": ((API_KEY, "requests:write"), {"request_id": "AAAAAAAAAA"}),
    "api.resend_request": ((API_KEY, "requests:write"), {"request_id": "AAAAAAAAAA"}),
    "api.create_refund": ((API_KEY, "refunds:write"), {"request_id": "AAAAAAAAAA"}),
    "api.request_events": ((API_KEY, "requests:read"), {"request_id": "AAAAAAAAAA"}),
    # Development outbox (registered only when DEV_OUTBOX_ENABLED; never in production).
    "devtools.outbox": (STAFF, {}),
    "devtools.outbox_html": (STAFF, {"message_id": "1"}),
}
