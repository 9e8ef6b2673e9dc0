"""Outbound webhooks to the buyer's systems (a CRM, a contact-centre platform): every event of a
capture request pushed to the buyer's endpoints, signed per Standard Webhooks, durably and at
least once.

``catalogue`` (which audited action becomes which event), ``events`` (recording them, in the
action's transaction), ``secrets`` (``whsec_`` secrets sealed at rest, rotation, the
signature headers), ``safe_http`` (where a delivery may connect), ``endpoints`` (registering and
changing endpoints, audited), ``queue`` and ``worker`` (``flask hooks work``), ``failing``
(disabling an endpoint that keeps failing, and telling its admins), ``cli``.
Stripe's *inbound* webhooks are elsewhere: ``portal.stripe_events`` and ``portal.webhooks``.
"""
