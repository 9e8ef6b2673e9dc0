"""Stripe's webhook events: the inbox the endpoint records each event in once (``inbox``), what
an event means for a payment, a refund or a dispute (``dispatch``), the worker that applies
queued events (``worker``) and its ``flask webhooks ...`` commands (``cli``). Above payments,
refunds and disputes: it hands each event to the one it concerns, so none needs to know the
others."""
