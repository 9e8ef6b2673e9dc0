"""Retention: delete or anonymise what has outlived its period (config/retention.py)."""
