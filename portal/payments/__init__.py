"""Card payments through Stripe: the gateway, the service, syncing a PaymentIntent and reconcile.
Stripe's webhook events are ``portal.stripe_events``."""
