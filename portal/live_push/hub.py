"""One LISTEN connection per process, fanned out to the streams open in it.

A stream never holds a database connection while it waits: it waits on its ``Subscription``,
which the hub's thread fills from the notifications (``NOTIFY postern_panel`` carries
``request id:creator id:team id``; ``postern_staff`` carries ``session:<id>`` or
``user:<id>``). Routing is a dictionary lookup by creator, team and session, so a notification
costs the same with ten streams open or ten thousand.

If the listening connection fails, notifications may have been missed: every open stream is
told (``lost``) and closes, so its console polls once and opens a new stream; the hub
connects again on the next stream that asks for it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

PANEL_CHANNEL = "postern_panel"
STAFF_CHANNEL = "postern_staff"
#: How long the listener waits for a notification before it checks the connection is alive.
_IDLE_CHECK_SECONDS = 10.0
#: Wait before connecting again after the listening connection failed.
_RECONNECT_SECONDS = 1.0


@dataclass(frozen=True)
class Viewer:
    """Who a stream is for, as ``portal.capture.visibility.visible_to`` reads a user."""

    id: int
    role: str
    team_id: int | None
    session_id: int
    #: Whether this viewer also sees their team's requests (a supervisor).
    sees_team: bool


@dataclass(eq=False)
class Subscription:
    """What has happened for one stream since it last looked. Thread-safe."""

    viewer: Viewer
    _changed: set[int] = field(default_factory=set)
    _recheck: bool = False
    _lost: bool = False
    _wake: threading.Condition = field(default_factory=threading.Condition)

    def _panel(self, request_id: int) -> None:
        with self._wake:
            self._changed.add(request_id)
            self._wake.notify()

    def _staff(self) -> None:
        with self._wake:
            self._recheck = True
            self._wake.notify()

    def _lose(self) -> None:
        with self._wake:
            self._lost = True
            self._wake.notify()

    def wait(self, timeout: float) -> tuple[set[int], bool, bool]:
        """Block until something happened or ``timeout`` seconds passed; return (changed
        request ids, whether the session or account must be read again, whether
        notifications may have been missed), and forget them."""
        with self._wake:
            if not (self._changed or self._recheck or self._lost):
                self._wake.wait(max(timeout, 0.0))
            changed, recheck, lost = self._changed, self._recheck, self._lost
            self._changed, self._recheck = set(), False
            return changed, recheck, lost


class Hub:
    """Subscriptions of one process, and the thread that listens for them."""

    def __init__(self, conninfo: str, connect_timeout: int = 5) -> None:
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._by_creator: dict[int, set[Subscription]] = defaultdict(set)
        self._by_team: dict[int, set[Subscription]] = defaultdict(set)
        self._by_session: dict[int, set[Subscription]] = defaultdict(set)
        self._by_user: dict[int, set[Subscription]] = defaultdict(set)
        self._thread: threading.Thread | None = None
        self._listening = threading.Event()
        self._stopping = threading.Event()
        self._connection: psycopg.Connection | None = None

    # -- subscriptions --

    def subscribe(self, viewer: Viewer) -> Subscription:
        subscription = Subscription(viewer)
        with self._lock:
            for index, key in self._keys(viewer):
                index[key].add(subscription)
        self._ensure_listening()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            for index, key in self._keys(subscription.viewer):
                members = index.get(key)
                if members is not None:
                    members.discard(subscription)
                    if not members:
                        del index[key]

    def _keys(self, viewer: Viewer):
        yield self._by_creator, viewer.id
        yield self._by_user, viewer.id
        yield self._by_session, viewer.session_id
        if viewer.sees_team and viewer.team_id is not None:
            yield self._by_team, viewer.team_id

    def subscribers(self) -> int:
        with self._lock:
            return sum(len(members) for members in self._by_session.values())

    def wait_listening(self, timeout: float) -> bool:
        """True once the listening connection is up (a stream may then say it is ready)."""
        return self._listening.wait(timeout)

    # -- delivering notifications --

    def deliver(self, channel: str, payload: str) -> None:
        """Route one notification to the subscriptions it concerns (malformed ones: none)."""
        with self._lock:
            if channel == PANEL_CHANNEL:
                request_id, creator, team = _panel_payload(payload)
                if request_id is None:
                    return
                targets = set(self._by_creator.get(creator, ()))
                if team is not None:
                    targets |= self._by_team.get(team, set())
                for subscription in targets:
                    subscription._panel(request_id)
            elif channel == STAFF_CHANNEL:
                kind, _, number = payload.partition(":")
                index = {"session": self._by_session, "user": self._by_user}.get(kind)
                if index is None or not number.isdigit():
                    return
                for subscription in index.get(int(number), ()):
                    subscription._staff()

    def _lose_everyone(self) -> None:
        with self._lock:
            everyone = {s for members in self._by_session.values() for s in members}
        for subscription in everyone:
            subscription._lose()

    # -- the listening thread --

    def _ensure_listening(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="live-push-listener")
            self._thread.daemon = True  # a stopping worker must not wait for it
            self._thread.start()

    def _run(self) -> None:
        while True:
            failed = False
            try:
                self._listen()
            except psycopg.Error as problem:
                failed = True
                log.warning("live push: listening connection lost (%s)", type(problem).__name__)
            finally:
                self._listening.clear()
                self._close_connection()
            if failed or self._stopping.is_set():
                self._lose_everyone()  # they may have missed something: they poll and return
            if self._stopping.is_set():
                return
            if failed and self._stopping.wait(_RECONNECT_SECONDS):
                return
            with self._lock:
                if not self._by_session:
                    self._thread = None  # nobody to listen for: the next stream starts one
                    return

    def _listen(self) -> None:
        """Listen until the connection fails (raises), the hub stops, or nobody has been
        subscribed for a quiet spell (returns)."""
        connection = psycopg.connect(
            self._conninfo, autocommit=True, connect_timeout=self._connect_timeout
        )
        self._connection = connection
        for channel in (PANEL_CHANNEL, STAFF_CHANNEL):
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        self._listening.set()
        while not self._stopping.is_set():
            heard = False
            for notification in connection.notifies(timeout=_IDLE_CHECK_SECONDS):
                heard = True
                if self._stopping.is_set():
                    return
                self.deliver(notification.channel, notification.payload)
            if not heard:
                # A quiet connection may be a dead one (a database restart that sent no
                # reset): a round trip proves it, or raises and we connect again.
                connection.execute("SELECT 1")
                if not self.subscribers():
                    return

    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(psycopg.Error):
                connection.close()

    def stop(self) -> None:
        """Stop listening (tests, and a worker that exits); open streams are told ``lost``."""
        self._stopping.set()
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        try:
            # Wake the listener out of its wait: a payload no stream understands.
            with psycopg.connect(
                self._conninfo, autocommit=True, connect_timeout=self._connect_timeout
            ) as waker:
                waker.execute("SELECT pg_notify(%s, 'wake')", (STAFF_CHANNEL,))
        except psycopg.Error:
            pass  # the listener notices within its idle check anyway
        thread.join(timeout=_IDLE_CHECK_SECONDS + 5)


def _panel_payload(payload: str) -> tuple[int | None, int | None, int | None]:
    parts = payload.split(":")
    if len(parts) != 3 or not parts[0].isdigit():
        return None, None, None
    creator = int(parts[1]) if parts[1].isdigit() else None
    team = int(parts[2]) if parts[2].isdigit() else None
    return int(parts[0]), creator, team
