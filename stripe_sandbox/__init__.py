"""An offline, Stripe-compatible payment provider for Postern's demos and tests.

It speaks the subset of Stripe's HTTP API and Stripe.js that Postern uses, so the portal runs
against it or against real Stripe with configuration alone. The portal never imports it.
See README.md for running it and for what it supports.
"""

from __future__ import annotations

from .app import create_app
from .config import SandboxSettings
from .runner import SandboxServer, start_sandbox

__all__ = ["SandboxServer", "SandboxSettings", "create_app", "start_sandbox"]
