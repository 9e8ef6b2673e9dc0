"""Content Security Policy violations that browsers reported (``POST /csp-report``).

Evidence for PCI DSS 11.6.1 (a change to the payment page's scripts or headers shows up as a
violation). Nothing personal is kept: no IP address, user agent, referrer, cookie or script
sample, and every URI is stripped of its query and fragment, with link tokens masked.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import UTCDateTime, utcnow

#: Longest URI kept (longer ones are cut, never rejected: the report is still evidence).
URI_LENGTH = 500


class CspReport(db.Model):
    __tablename__ = "csp_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: "csp-report" (the report-uri format) or "reports+json" (the Reporting API).
    report_format: Mapped[str] = mapped_column(String(16))
    #: The page that broke its policy, e.g. "http://host/c/<token>/pay".
    document_uri: Mapped[str | None] = mapped_column(String(URI_LENGTH))
    #: What was blocked: a URL without query, or a keyword such as "inline" or "eval".
    blocked_uri: Mapped[str | None] = mapped_column(String(URI_LENGTH))
    effective_directive: Mapped[str | None] = mapped_column(String(64), index=True)
    violated_directive: Mapped[str | None] = mapped_column(String(200))
    #: "enforce" or "report".
    disposition: Mapped[str | None] = mapped_column(String(16))
    source_file: Mapped[str | None] = mapped_column(String(URI_LENGTH))
    line_number: Mapped[int | None] = mapped_column(Integer)
    column_number: Mapped[int | None] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"<CspReport {self.id} {self.effective_directive} {self.blocked_uri}>"
