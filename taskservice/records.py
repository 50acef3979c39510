"""Where task records outlive their process: the store interface.

The manager keeps the live records (`Entry`, served from memory, queried
through `taskservice.index`) and tells its store about every change. The base
`RecordStore` keeps nothing beyond the process (`SERVICE_STATE_DB=:memory:`);
`SqliteRecords` writes every record to an SQLite file so that a restarted
service still answers for the tasks of the one before.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .entry import Entry

MEMORY = ":memory:"


@dataclass(slots=True)
class Row:
    """One record as a store persists it: the whole record as JSON plus its indexed columns."""

    task_id: str
    status: str
    method: str
    workflow_id: str | None
    user: str | None
    created: int  # microseconds since the epoch, as queries compare them
    started: int | None
    finished: int | None
    touched: float
    record: bytes
    output: bytes | None
    output_inline: bool
    fingerprint: bytes | None


class RecordStore:
    """What the manager needs from a store; this one keeps nothing beyond the process.

    Every method is called with the manager's lock held, except `load` and `close`.
    """

    def bind(self, rows_of: Callable[[list[str]], list[Row]], lock: AbstractContextManager[Any] | None = None) -> None:
        """How the store reads the current rows of changed tasks (when it writes behind), and the lock
        to hold while it makes a batch of final states visible (the manager's: taken once per batch)."""

    def changed(self, entry: Entry) -> None:
        """Status, progress or details changed (written behind: not necessarily durable yet)."""

    def touched(self, entries: list[Entry]) -> None:
        """Finished records were read: their retention TTL starts again."""

    def finish(self, row: Row, done: Callable[[], None]) -> None:
        """A final state: call `done()` once it is durable (at once when nothing is)."""
        done()

    def forget(self, entries: list[Entry]) -> None:
        """Records dropped (by retention, or to free an id for fresh work)."""

    def load(self) -> list[Row]:
        """Records kept by an earlier process, least recently read first."""
        return []

    def save_now(self, rows: list[Row]) -> None:
        """Write rows at once (what recovery at start changed)."""

    def close(self) -> None:
        """Write what is pending and let go of resources."""
