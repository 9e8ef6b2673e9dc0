"""What a test searches for personal data in captured log records.

Every field of a record, the product's ``extra=`` fields included, but for the numbers the
logging runtime stamps on each record (thread and process ids, times, a line number): they
change from run to run, so a short number searched for turns up in them by chance (a thread id
of 140142424124288 holds 4242).
"""

from __future__ import annotations

import logging

#: Stamped by the logging runtime, never by Postern's code.
RUNTIME_STAMPS = frozenset(
    {
        "created",
        "msecs",
        "relativeCreated",
        "thread",
        "threadName",  # "Thread-4242 (process_request_thread)"
        "process",
        "processName",
        "lineno",
    }
)


def logged_text(records: list[logging.LogRecord]) -> str:
    """Each record's fields but the runtime's stamps, one repr a line."""
    return "\n".join(
        repr({key: value for key, value in vars(record).items() if key not in RUNTIME_STAMPS})
        for record in records
    )
