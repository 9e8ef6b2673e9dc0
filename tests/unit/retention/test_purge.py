"""The purge's batching: each batch commits on its own, keyset pagination always ends, and a
dry run only counts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from portal.audit.service import Actor
from portal.extensions import db
from portal.models.csp_report import CspReport
from portal.models.types import utcnow
from portal.retention import purge


def reports(app, n, age_days):
    with app.app_context():
        for _ in range(n):
            db.session.add(
                CspReport(received_at=utcnow() - timedelta(days=age_days), report_format="x")
            )
        db.session.commit()


def left(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CspReport))


def test_batches_commit_one_by_one_and_stop(app):
    reports(app, 7, 91)
    reports(app, 2, 10)
    applied = []
    with app.app_context():
        ids = select(CspReport.id).where(CspReport.received_at < utcnow() - timedelta(days=90))

        def apply(batch):
            applied.append(list(batch))
            return len(batch)

        # apply changes nothing here: keyset pagination still ends after every id once.
        found, total = purge._batches(ids, CspReport.id, 3, False, apply)
    assert (found, total) == (7, 7)
    assert [len(b) for b in applied] == [3, 3, 1]


def test_a_dry_run_counts_and_changes_nothing(app):
    reports(app, 5, 91)
    with app.app_context():
        report = purge.run(dry_run=True, batch_size=2, actor=Actor("test"))
    assert report.counts["csp_reports"] == {"reports": 5} and left(app) == 5
    with app.app_context():
        report = purge.run(dry_run=False, batch_size=2, actor=Actor("test"))
    assert report.counts["csp_reports"] == {"reports": 5} and left(app) == 0
    with app.app_context():
        assert purge.run(dry_run=False, batch_size=2, actor=Actor("test")).total() == 0
