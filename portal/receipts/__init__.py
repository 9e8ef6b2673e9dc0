"""Receipts: what a customer is told about a payment they made and the refunds of it.

One home for the facts a receipt states (``facts``), read from the Payment and Refund rows and
shared by the receipt email, the refund notice and the receipt page a reopened link shows, so
the three can never disagree. Sending lives in ``portal.delivery.receipts``.
"""
