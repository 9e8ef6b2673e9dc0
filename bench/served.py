"""Postern as the benchmark serves it: ``gunicorn -c config/gunicorn.conf.py bench.served:app``.

The development settings (so no production secrets are needed) on the bench database, with the
per-IP rate-limit thresholds lifted (all load comes from one loopback address; the limiter itself
still runs on every request) and JSON logs as in production.
"""

import json
import os

from portal import create_app

app = create_app(
    "development",
    {
        "SQLALCHEMY_DATABASE_URI": os.environ["BENCH_DATABASE_URL"],
        "LOG_JSON": True,
        "RATELIMIT_CUSTOMER_LINK_PER_IP": "1000000 per minute",
        "RATELIMIT_CUSTOMER_START_PER_IP": "1000000 per minute",
        "RATELIMIT_IDENTITY_PER_REQUEST_IP": "1000000 per minute",
        "RATELIMIT_LOGIN_PER_IP": "1000000 per minute",
        "RATELIMIT_LOGIN_PER_ACCOUNT": "1000000 per minute",
        "RATELIMIT_PAYMENT_STATUS_PER_IP": "1000000 per minute",
        **json.loads(os.environ.get("BENCH_OVERRIDES", "{}")),
    },
)
