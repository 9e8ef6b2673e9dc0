"""Card payments through Stripe: the gateway, the service, webhooks and reconcile."""
