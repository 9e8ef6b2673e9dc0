"""Inbound webhooks. CSRF-exempt (see ``portal.security.csrf``): each request is signed."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("webhooks", __name__)
