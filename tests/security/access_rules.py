"""Who may reach which route: the single table the access-matrix test checks against.

Every endpoint the app registers must appear here, or the matrix test fails: a new route cannot
ship without someone deciding, in review, who may use it.

``AUDIENCE`` values:
- ``public``: anyone, no login (health probes, static files, login, customer link pages).
- ``staff``: any fully signed-in staff member, whatever the role.
- a set of roles: only those roles (fully signed in, second factor where required).
"""

from __future__ import annotations

PUBLIC = "public"
STAFF = "staff"
ALL_ROLES = frozenset({"agent", "supervisor", "backoffice", "admin", "auditor"})
AGENT_CONSOLE = frozenset({"agent", "supervisor"})
BACKOFFICE = frozenset({"supervisor", "backoffice", "admin", "auditor"})


# endpoint -> (audience, {path parameter: example value}); the path parameters fill the rule.
ROUTE_ACCESS: dict[str, tuple[object, dict[str, str]]] = {
    "static": (PUBLIC, {"filename": "css/app.css"}),
    "health.healthz": (PUBLIC, {}),
    "health.readyz": (PUBLIC, {}),
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
    # Card payments: the customer's payment pages (token + binding cookie) and Stripe's
    # webhooks (authenticated by their signature over the raw body).
    "customer.pay": (PUBLIC, {"token": "not-a-real-token"}),
    "customer.pay_status": (PUBLIC, {"token": "not-a-real-token"}),
    "customer.pay_return": (PUBLIC, {"token": "not-a-real-token"}),
    "customer.paid": (PUBLIC, {"token": "not-a-real-token"}),
    "webhooks.stripe_webhook": (PUBLIC, {}),
    # Development outbox (registered only when DEV_OUTBOX_ENABLED; never in production).
    "devtools.outbox": (STAFF, {}),
    "devtools.outbox_html": (STAFF, {"message_id": "1"}),
}
