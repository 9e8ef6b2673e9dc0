"""Refunds of card payments: asked for in the back office, approved (dual control) above a
limit, carried out by Stripe with an idempotency key derived from our own refund row."""
