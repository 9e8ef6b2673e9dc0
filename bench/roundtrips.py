"""Round trips to PostgreSQL per request, counted (``before_cursor_execute``, commits, rollbacks).

    .venv/bin/python -m bench.roundtrips [--database URL] [--times 20] [--profile]

Builds the app on a fresh database (the testing settings: fast password hashing; audit sealing
as production does it, by the worker, so a request's own work is what is counted), signs an
agent in with the test client and counts, for each path, the statements sent and the
transactions they ran in. psycopg sends BEGIN before a transaction's first statement and COMMIT
or ROLLBACK at its end, each a round trip of its own, so round trips = statements + 2 x
transactions. Also this process's CPU per request (the app and the driver, not PostgreSQL):
the median, less disturbed by a busy machine than a served rate. Paths: the console's create
(a new create key each time) and the same form sent again (the duplicate create key: answered
with the request the first one made). Prints the median of ``--times`` requests per path as
JSON, with the statements of the last one.

Paths: the console's create (a new create key each time) and the same form sent again, the
status poll answered 200 and 304, and the customer's landing page on a link's first visit and
on a repeat visit. ``--profile`` also runs each path under cProfile and adds where its CPU goes,
grouped by library (SQLAlchemy, psycopg, Flask/Werkzeug, Jinja, WTForms, ...; ``portal`` is
Postern's own code), each group's own time in microseconds per request: the profile that shows
what is left of a path once its served ratio is measured. Profiling slows every call it sees,
so compare the groups with each other, not with the unprofiled CPU; its clock is this
process's CPU time, so waiting for PostgreSQL counts for nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import re
import secrets
import statistics
import time
from collections import defaultdict
from urllib.parse import urlsplit

from sqlalchemy import event

from bench.__main__ import recreate_database

#: A copy-link request made through the service, for the landing page's visits.
LINK_SPEC = {
    "kind": "payment",
    "reference": "BENCH-LINK",
    "expiry_minutes": 15,
    "channel": "copy",
    "amount_minor": 1999,
    "currency": "GBP",
    "purpose": "Bench",
    "identity_item": "postcode",
    "identity_value": "SW1A 1AA",
}

FORM = {
    "kind": "payment",
    "amount": "19.99",
    "currency": "GBP",
    "purpose": "Bench",
    "reference": "BENCH-1",
    "identity_item": "postcode",
    "identity_value": "SW1A 1AA",
    "expiry_minutes": "15",
    "channel": "sms",
    "destination": "07911 123456",
}
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_ISSUED_PATH = "/agent/requests"


class Counter:
    def __init__(self, engine):
        self.statements: list[str] = []
        self.transactions = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._ended)
        event.listen(engine, "rollback", self._ended)
        self._open = False

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(" ".join(statement.split())[:120])
        self._open = True

    def _ended(self, conn):
        if self._open:  # a rollback of a connection that sent nothing costs nothing
            self.transactions += 1
        self._open = False

    def during(self, action) -> dict:
        self.statements, self.transactions, self._open = [], 0, False
        started = time.process_time()
        action()
        cpu_ms = (time.process_time() - started) * 1000
        return {
            "cpu_ms": cpu_ms,
            "statements": len(self.statements),
            "transactions": self.transactions,
            "round_trips": len(self.statements) + 2 * self.transactions,
            "sql": list(self.statements),
        }


#: Where a function's own time is counted: the first pattern its file path matches.
_GROUPS = [
    ("sqlalchemy", "/sqlalchemy/"),
    ("psycopg", "/psycopg"),
    ("flask/werkzeug", "/flask/"),
    ("flask/werkzeug", "/werkzeug/"),
    ("jinja", "/jinja2/"),
    ("jinja", "/markupsafe/"),
    ("wtforms/flask-wtf", "/wtforms/"),
    ("wtforms/flask-wtf", "/flask_wtf/"),
    ("talisman", "/flask_talisman/"),
    ("limiter", "/flask_limiter/"),
    ("limiter", "/limits/"),
    ("itsdangerous", "/itsdangerous/"),
    ("cryptography", "/cryptography/"),
    ("phonenumbers", "/phonenumbers/"),
    ("babel", "/babel/"),
    ("babel", "/flask_babel/"),
    ("logging", "/logging/"),
    ("json", "/json/"),
    ("portal", "/portal/"),
]


def _group(filename: str) -> str:
    for name, pattern in _GROUPS:
        if pattern in filename:
            return name
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins"
    return "other"


def profiled(action, times: int) -> dict[str, int]:
    """``action`` run ``times`` times under cProfile: each group's own time, in us/request."""
    profile = cProfile.Profile(time.process_time)  # CPU, not waiting for PostgreSQL
    for _ in range(times):
        profile.runcall(action)
    own: dict[str, float] = defaultdict(float)
    for (filename, _line, _name), row in pstats.Stats(profile).stats.items():
        own[_group(filename)] += row[2]  # tottime: the function's own time, callees excluded
    return {
        name: round(seconds / times * 1_000_000)
        for name, seconds in sorted(own.items(), key=lambda item: -item[1])
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.roundtrips")
    parser.add_argument(
        "--database", default="postgresql+psycopg://root@127.0.0.1:5432/bench_roundtrips"
    )
    parser.add_argument("--times", type=int, default=20)
    parser.add_argument("--profile", action="store_true", help="add each path's CPU by library")
    args = parser.parse_args()
    for database in (args.database, args.database + "_keys"):  # the key store beside it
        recreate_database(database)

    from flask_migrate import upgrade

    from portal import create_app
    from portal.audit import Actor
    from portal.capture import service
    from portal.cli import create_staff
    from portal.extensions import db
    from portal.models.staff import StaffUser

    app = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": args.database,
            "AUDIT_SEAL": "worker",
            "RATELIMIT_ENABLED": False,
            "LOG_JSON": True,
        },
    )
    with app.app_context():
        upgrade(revision="heads")
        password = secrets.token_urlsafe(18)
        create_staff("rt.agent", password, "agent", team="Bench")
        db.session.commit()
        engine = db.engine
    counter = Counter(engine)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    signed_in = client.post(
        "/login",
        data={
            "username": "rt.agent",
            "password": password,
            "csrf_token": _CSRF.search(page).group(1),
        },
    )
    assert signed_in.status_code == 302, signed_in.status_code
    csrf = _CSRF.search(client.get("/agent/").get_data(as_text=True)).group(1)

    def create(key: str):
        answer = client.post(_ISSUED_PATH, data={**FORM, "create_key": key, "csrf_token": csrf})
        assert answer.status_code in (200, 302), answer.status_code
        return answer

    # The request the poll reads: the agent's newest, as the console's list gives it.
    create(secrets.token_urlsafe(16))
    public_id = client.get("/agent/api/requests").get_json()["mine"][0]["id"]
    status_path = f"/agent/api/requests/{public_id}/status"
    poll_headers = {"X-Postern-Background": "poll"}
    etag = client.get(status_path, headers=poll_headers).headers["ETag"].strip('"')

    def poll(expected: int, if_none_match: str | None):
        headers = dict(poll_headers)
        if if_none_match:
            headers["If-None-Match"] = f'"{if_none_match}"'
        answer = client.get(status_path, headers=headers)
        assert answer.status_code == expected, answer.status_code
        return answer

    customer = app.test_client()  # a customer's phone: no staff cookie
    with app.app_context():
        agent_id = db.session.execute(
            db.select(StaffUser.id).where(StaffUser.username == "rt.agent")
        ).scalar_one()

    def fresh_link() -> str:
        with app.app_context():
            issued = service.create_request(
                db.session.get(StaffUser, agent_id),
                service.RequestSpec(**LINK_SPEC),
                actor=Actor.staff(db.session.get(StaffUser, agent_id)),
            )
            db.session.commit()
            return urlsplit(issued.url).path

    def landing(path: str):
        answer = customer.get(path)
        assert answer.status_code == 200, answer.status_code
        return answer

    repeat_link = fresh_link()
    landing(repeat_link)  # opened once before: every later visit is a repeat

    paths = {
        "create": lambda: create(secrets.token_urlsafe(16)),
        "poll_200": lambda: poll(200, None),
        "poll_304": lambda: poll(304, etag),
        "landing_repeat_visit": lambda: landing(repeat_link),
    }
    results: dict[str, list[dict]] = {
        "create": [],
        "create_duplicate_key": [],
        "poll_200": [],
        "poll_304": [],
        "landing_first_visit": [],
        "landing_repeat_visit": [],
    }
    for _ in range(args.times):
        key = secrets.token_urlsafe(16)
        results["create"].append(counter.during(lambda key=key: create(key)))
        results["create_duplicate_key"].append(counter.during(lambda key=key: create(key)))
        # What a browser does next, unmeasured: the console shows (and so drops) the creates'
        # flashed messages, which would otherwise pile up in the session cookie.
        client.get("/agent/")
        results["poll_200"].append(counter.during(paths["poll_200"]))
        results["poll_304"].append(counter.during(paths["poll_304"]))
        first = fresh_link()
        results["landing_first_visit"].append(counter.during(lambda first=first: landing(first)))
        results["landing_repeat_visit"].append(counter.during(paths["landing_repeat_visit"]))
    report = {}
    for path, runs in results.items():
        report[path] = {
            "round_trips_median": statistics.median(run["round_trips"] for run in runs),
            "statements_median": statistics.median(run["statements"] for run in runs),
            "transactions_median": statistics.median(run["transactions"] for run in runs),
            # This process's CPU (the app's, the driver's; not PostgreSQL's) per request.
            "cpu_ms_median": round(statistics.median(run["cpu_ms"] for run in runs), 2),
            "last": runs[-1]["sql"],
        }
    if args.profile:
        firsts = [fresh_link() for _ in range(args.times)]
        paths["landing_first_visit"] = lambda: landing(firsts.pop())
        client.get("/agent/")  # as above: no flashed messages left in the session
        for path, action in paths.items():
            report[path]["cpu_us_by_library_profiled"] = profiled(action, args.times)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
