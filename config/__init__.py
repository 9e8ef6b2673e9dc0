"""Postern's configuration: settings per environment, CSP data, gunicorn settings."""
