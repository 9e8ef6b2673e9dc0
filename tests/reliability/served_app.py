"""A WSGI entry point for reliability tests that run Postern in real server processes.

``gunicorn tests.reliability.served_app:app`` builds the testing configuration on the database
named by ``POSTERN_TEST_DATABASE_URL``, with extra settings (JSON) from
``POSTERN_TEST_OVERRIDES``. Used only by tests, never by a deployment. (Not called
``*_test.py``: pytest would collect it.)
"""

from __future__ import annotations

import json
import os

from portal import create_app

app = create_app(
    "testing",
    {
        "SQLALCHEMY_DATABASE_URI": os.environ["POSTERN_TEST_DATABASE_URL"],
        **json.loads(os.environ.get("POSTERN_TEST_OVERRIDES", "{}")),
    },
)
