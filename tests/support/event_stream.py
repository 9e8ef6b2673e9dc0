"""Reading a Server-Sent Events stream in tests, with a bound on every wait.

The stream's body blocks between events, so a thread reads it and hands each event over a
queue: a test waits for the next event for at most a few seconds and fails, saying what it did
see, instead of hanging. The thread ends when the stream ends (the server closes it: a session
ended, a resync), so a test ends its stream that way.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

END = object()


@dataclass(frozen=True)
class Event:
    name: str
    data: str


def parse_events(chunks: Iterable[bytes]):
    """Yield ``Event``s from raw body chunks (comments, the keep-alives, are skipped)."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk.decode()
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            name, data = "message", []
            for line in block.split("\n"):
                if line.startswith(":"):
                    continue
                field, _, value = line.partition(": ")
                if field == "event":
                    name = value
                elif field == "data":
                    data.append(value)
            if data or name != "message":
                yield Event(name, "\n".join(data))


class EventReader:
    """Reads ``chunks`` (a response body) on a thread of its own."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._events: queue.Queue = queue.Queue()
        self.seen: list[Event] = []
        self._thread = threading.Thread(target=self._read, args=(chunks,), daemon=True)
        self._thread.start()

    def _read(self, chunks) -> None:
        try:
            for item in parse_events(chunks):
                self._events.put(item)
        finally:
            self._events.put(END)

    def next(self, timeout: float = 5.0) -> Event | None:
        """The next event (None once the stream ended); AssertionError after ``timeout``."""
        try:
            item = self._events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s; seen so far: {self.seen}") from None
        if item is END:
            return None
        self.seen.append(item)
        return item

    def until(self, name: str, timeout: float = 5.0) -> Event:
        """Skip events up to the first named ``name``, within ``timeout`` seconds in all."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.next(max(deadline - time.monotonic(), 0.01))
            if item is None:
                raise AssertionError(f"the stream ended before {name!r}; seen: {self.seen}")
            if item.name == name:
                return item

    def ended(self, timeout: float = 5.0) -> bool:
        """True once the server closed the stream (waiting up to ``timeout``)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
