"""Structured logging and request correlation."""
