"""Tests of the offline Stripe sandbox (stripe_sandbox/)."""
