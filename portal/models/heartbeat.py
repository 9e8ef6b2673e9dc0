"""Worker heartbeats: each background worker process (``flask outbox work``, ``flask webhooks
work``) writes when it last finished a cycle of its loop, so a worker that hangs or dies is
noticed even though nothing else about it changes (``portal.observability.heartbeats``).

One row per worker process, updated in place. Nothing personal: a worker kind, the process's
lease-holder id (host, pid, thread, random part) and two numbers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import UTCDateTime


class WorkerHeartbeat(db.Model):
    __tablename__ = "worker_heartbeats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The kind of worker: "outbox" or "webhooks".
    worker_name: Mapped[str] = mapped_column(String(32), index=True)
    #: This process (``portal.workers.new_worker_id``); a restarted process gets a new row.
    worker_id: Mapped[str] = mapped_column(String(100), unique=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: How often this process promised to beat; silent past 3x this, it is reported.
    interval_seconds: Mapped[float] = mapped_column(Float)

    def __repr__(self) -> str:
        return f"<WorkerHeartbeat {self.worker_name} {self.worker_id} {self.beat_at}>"
