"""Stripe's webhook events: the inbox the endpoint records each event in once (``inbox``), what
an event means for a payment or a refund (``dispatch``), the worker that applies queued events
(``worker``) and its ``flask webhooks ...`` commands (``cli``). Above payments and refunds:
it hands each event to the one it concerns, so neither needs to know the other."""
