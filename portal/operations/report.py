"""The restore drill's report: what it did and found, as plain lines for a person, as JSON
for a machine, and as the details of its audit row. Holds no personal data: names, counts,
sequence numbers and seconds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portal.operations.restored_checks import AuditCheck, SampleCheck

#: How the plain report names each reason a sampled value could not be decrypted.
#: Values with no data key, told apart by the live erasure journal (``restore_drill``).
ERASED_SINCE, KEY_LOST = "erased_since", "key_lost"
UNREADABLE_SAID = {
    ERASED_SINCE: (
        "erased since the copy was taken (their data key was destroyed, as the erasure "
        "journal records)"
    ),
    KEY_LOST: "with no data key in the key store, though the erasure journal has no erasure",
    "key_not_configured": "under a keyring key that is not configured",
    "altered": "altered (they fail authentication)",
}


@dataclass
class DrillReport:
    """What the drill did and found. Holds no personal data: names, counts, seconds."""

    source: str = "pg_dump"
    pg_dump_version: str | None = None
    pg_restore_version: str | None = None
    server_version: str | None = None
    dump_bytes: int | None = None
    scratch_database: str | None = None
    scratch_server: str | None = None
    scratch_kept: bool = False
    schema_revision: str | None = None
    tables: dict[str, int] = field(default_factory=dict)
    audit: AuditCheck | None = None
    sample: SampleCheck | None = None
    #: The step that failed first: "tools", "dump", "restore", "counts", "audit", "sample" or
    #: "cleanup".
    failed_step: str | None = None
    problems: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, step: str, problem: str) -> None:
        self.failed_step = self.failed_step or step
        self.problems.append(problem)

    def lines(self) -> list[str]:
        """The report as plain lines for a person (and a cron mail)."""
        out = []
        if self.source == "pg_dump" and self.dump_bytes is not None:
            out.append(
                f"dump: pg_dump {self.pg_dump_version} of PostgreSQL {self.server_version}, "
                f"{self.dump_bytes:,} bytes in {self.seconds.get('dump', 0):.1f} s"
            )
        elif self.dump_bytes is not None:
            out.append(f"dump: the file given, {self.dump_bytes:,} bytes")
        if self.scratch_database and "restore" in self.seconds:
            out.append(
                f"restore: pg_restore {self.pg_restore_version} into scratch database "
                f"{self.scratch_database} on {self.scratch_server} in "
                f"{self.seconds['restore']:.1f} s"
            )
        if self.tables:
            out.append(
                f"schema revision {self.schema_revision or 'none'}; "
                f"{len(self.tables)} tables, {sum(self.tables.values()):,} rows:"
            )
            out.extend(f"  {name:32} {count:>12,}" for name, count in self.tables.items())
        if self.audit is not None:
            if self.audit.ok and self.audit.verified_up_to_seq is not None:
                anchor = (
                    f" (newest anchor: seq {self.audit.anchor_seq})"
                    if self.audit.anchor_seq is not None
                    else " (never anchored)"
                )
                out.append(f"audit: verified up to seq {self.audit.verified_up_to_seq}{anchor}")
            elif self.audit.ok:
                out.append("audit: the audit trail is empty")
            else:
                out.extend(f"audit: {message}" for message in self.audit.messages)
        if self.sample is not None and self.sample.values == 0:
            out.append("sample: no captured values to decrypt")
        elif self.sample is not None:
            sample = self.sample
            out.append(
                f"sample: decrypted {sample.decrypted} of {sample.values} values "
                f"from {sample.requests} capture requests"
                + "".join(
                    f"; {n} {UNREADABLE_SAID.get(why, why)}"
                    for why, n in sorted(sample.unreadable.items())
                )
            )
        if self.scratch_database:
            out.append(
                f"scratch database {self.scratch_database} KEPT: drop it when done (it holds "
                "a full copy of the data)"
                if self.scratch_kept
                else f"scratch database {self.scratch_database} dropped"
            )
        out.extend(f"PROBLEM: {problem}" for problem in self.problems)
        verdict = "PASSED" if self.ok else f"FAILED at {self.failed_step}"
        out.append(f"restore drill {verdict} in {self.seconds.get('total', 0):.1f} s")
        return out

    def to_json(self) -> dict[str, Any]:
        """The report for a machine (``--json``)."""
        audit = self.audit
        sample = self.sample
        return {
            "ok": self.ok,
            "failed_step": self.failed_step,
            "problems": list(self.problems),
            "source": self.source,
            "pg_dump_version": self.pg_dump_version,
            "pg_restore_version": self.pg_restore_version,
            "server_version": self.server_version,
            "dump_bytes": self.dump_bytes,
            "scratch_database": self.scratch_database,
            "scratch_kept": self.scratch_kept,
            "schema_revision": self.schema_revision,
            "tables": dict(self.tables),
            "audit": None
            if audit is None
            else {
                "ok": audit.ok,
                "verified_up_to_seq": audit.verified_up_to_seq,
                "rows_checked": audit.rows_checked,
                "anchor_seq": audit.anchor_seq,
                "messages": list(audit.messages),
            },
            "sample": None
            if sample is None
            else {
                "erased_since": sample.unreadable.get(ERASED_SINCE, 0),
                "requests": sample.requests,
                "values": sample.values,
                "decrypted": sample.decrypted,
                "unreadable": dict(sample.unreadable),
            },
            "seconds": {step: round(s, 3) for step, s in self.seconds.items()},
        }

    def audit_details(self) -> dict[str, Any]:
        """What the drill's audit row keeps: counts and the outcome, no messages."""
        return {
            "source": self.source,
            "failed_step": self.failed_step,
            "tables": len(self.tables),
            "rows": sum(self.tables.values()),
            "audit_verified_up_to_seq": self.audit.verified_up_to_seq if self.audit else None,
            "sample_values": self.sample.values if self.sample else 0,
            "sample_decrypted": self.sample.decrypted if self.sample else 0,
            "scratch_kept": self.scratch_kept,
            "seconds": round(self.seconds.get("total", 0), 1),
        }
