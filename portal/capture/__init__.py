"""Capture requests: the state machine, links, identity check, money and the services."""
