"""Captured personal data as the back office sees it: one field revealed at a time, and the
customer's rights of access (an export of everything held) and erasure."""
