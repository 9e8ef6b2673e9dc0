"""The privacy notice customers are shown before they enter personal data.

The version is recorded with every submission (and every decline), so Postern can prove which
notice a customer saw. Bump ``PRIVACY_NOTICE_VERSION`` whenever the notice's text changes; a
customer who had the old notice on screen is asked to read the new one before sending.

Production reads the URL from ``POSTERN_PRIVACY_NOTICE_URL`` (required; see settings).
"""

from __future__ import annotations

#: The version of the notice this release shows. Environment: ``POSTERN_PRIVACY_NOTICE_VERSION``.
PRIVACY_NOTICE_VERSION = "2026-11"

#: Development placeholder; production refuses to start with it (it contains ``dev-only``).
DEV_PRIVACY_NOTICE_URL = "https://example.invalid/privacy-notice?dev-only"
