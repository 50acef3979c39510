"""Task records in an SQLite file, written by one thread of its own.

Changes are written behind: the manager marks a task changed and the writer
thread, a few milliseconds later, reads the current rows of every changed task
and writes them in one transaction. A final state is different: the manager
hands its row over and makes it visible only once the transaction that holds
it has committed (`finish(row, done)` calls `done` after the commit), so a
task answered `complete` is never lost by a SIGKILL afterwards. WAL with
`synchronous=NORMAL` keeps a commit durable across a crash of the process.

Rows are keyed by their creation time in microseconds, which the manager keeps
unique: new rows go to the end of the table's one B-tree and retention deletes
from its start, so a write touches few pages. (Keyed by the random task id,
every insert and delete also went to a random page of a second B-tree: twice
the CPU per task.)
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .query import to_micros
from .records import MEMORY, RecordStore, Row

if TYPE_CHECKING:
    from .entry import Entry

logger = logging.getLogger(__name__)

#: How long non-final changes wait so that many of them share one transaction.
LINGER = 0.05
#: At most one commit per this many seconds: a final state that comes when the last commit is
#: older is written at once; under load, finals gather for the rest of the interval and share
#: a transaction (each commit, and each wake-up of this thread, costs the whole process a
#: round of GIL hand-offs).
COMMIT_EVERY = 0.002

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    created INTEGER PRIMARY KEY,
    task_id TEXT NOT NULL,
    status TEXT NOT NULL,
    method TEXT NOT NULL,
    workflow_id TEXT,
    user TEXT,
    started INTEGER,
    finished INTEGER,
    touched REAL NOT NULL,
    record BLOB NOT NULL,
    output BLOB,
    output_inline INTEGER NOT NULL DEFAULT 0,
    fingerprint BLOB
);
"""
# No secondary index: queries are answered by the in-memory TaskIndex and the table is only read
# whole, once, at start. Each index would cost every task's insert and delete a B-tree update.
_COLUMNS = ("task_id", "status", "method", "workflow_id", "user", "created", "started", "finished",
            "touched", "record", "output", "output_inline", "fingerprint")
_ROW = f"({', '.join('?' * len(_COLUMNS))})"

#: Rows per statement. SQLite lets other threads run (it releases the GIL) around every step
#: of a statement; one step per row made the writer and the event loop hand the GIL back and
#: forth for every row of a batch. A batch is cut greedily into these sizes: few distinct
#: statements, so they stay in the connection's statement cache.
_CHUNKS = (64, 16, 4, 1)


def _chunks(items: list, sizes: tuple[int, ...] = _CHUNKS) -> list[list]:
    out: list[list] = []
    start = 0
    for size in sizes:
        while len(items) - start >= size:
            out.append(items[start:start + size])
            start += size
    return out


_UPSERT_SQL = {n: f"INSERT OR REPLACE INTO tasks ({', '.join(_COLUMNS)}) VALUES {', '.join([_ROW] * n)}"
               for n in _CHUNKS}
_DELETE_SQL = {n: f"DELETE FROM tasks WHERE created IN ({', '.join('?' * n)})" for n in _CHUNKS}


def _upsert(db: sqlite3.Connection, rows: list[Row]) -> None:
    """Write rows (a later row of the same task wins), in a few multi-row statements."""
    for chunk in _chunks(rows):
        values: list = []
        for r in chunk:
            values += (r.task_id, r.status, r.method, r.workflow_id, r.user, r.created, r.started,
                       r.finished, r.touched, r.record, r.output, int(r.output_inline), r.fingerprint)
        db.execute(_UPSERT_SQL[len(chunk)], values)


def _delete(db: sqlite3.Connection, keys: list[int]) -> None:
    for chunk in _chunks(keys):
        db.execute(_DELETE_SQL[len(chunk)], chunk)


class SqliteRecords(RecordStore):
    """Durable records; see the module docstring for when a write is durable."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        _migrate(self._db)
        self._db.executescript(_SCHEMA)
        self._cv = threading.Condition()
        self._dirty: dict[str, float] = {}  # task -> when first marked (monotonic): oldest first
        self._touches: dict[str, tuple[int, float]] = {}  # task -> (its row key, touched time to write)
        self._touched_at: float | None = None  # when the oldest unwritten touch came (monotonic)
        self._finals: list[tuple[Row, Callable[[], None]]] = []
        self._forget: dict[int, None] = {}  # row keys to delete
        self._forget_at: float | None = None  # when the oldest unwritten forget came (monotonic)
        self._closing = False
        self._closed = False
        self._rows_of: Callable[[list[str]], list[Row]] = lambda ids: []
        self._thread: threading.Thread | None = None
        self._publishing: AbstractContextManager[Any] = nullcontext()  # held while a batch's finals are made visible
        self._last_commit = 0.0  # when the last transaction holding final states began (monotonic)
        self._holding = False  # the writer waits out COMMIT_EVERY: finals need not wake it

    def bind(self, rows_of: Callable[[list[str]], list[Row]], lock: AbstractContextManager[Any] | None = None) -> None:
        self._rows_of = rows_of
        if lock is not None:
            self._publishing = lock
        if self._thread is None:
            self._thread = threading.Thread(target=self._write_loop, name="task-records", daemon=True)
            self._thread.start()

    # -- what the manager reports (under its lock) ------------------------------------------

    def changed(self, entry: Entry) -> None:
        with self._cv:
            if entry.task_id not in self._dirty:  # keeps its first mark: the dict stays oldest first
                if not self._dirty and not self._touches:
                    self._cv.notify()
                self._dirty[entry.task_id] = time.monotonic()

    def touched(self, entries: list[Entry]) -> None:
        with self._cv:
            if not self._touches:
                self._touched_at = time.monotonic()
                if not self._dirty:
                    self._cv.notify()
            for entry in entries:
                self._touches[entry.task_id] = (to_micros(entry.created), entry.touched)

    def finish(self, row: Row, done: Callable[[], None]) -> None:
        with self._cv:
            if not self._closed:
                self._dirty.pop(row.task_id, None)  # the final row supersedes any state still to write
                self._finals.append((row, done))
                if not self._holding:
                    self._cv.notify()
                return
        done()  # a task that outlived the shutdown: its record was already written as interrupted

    def forget(self, entries: list[Entry]) -> None:
        """Rows to delete: not urgent (a restart drops them again), so they wait LINGER or the next commit."""
        with self._cv:
            if not self._forget:
                self._forget_at = time.monotonic()
                if not (self._dirty or self._touches or self._finals or self._holding):
                    self._cv.notify()
            for entry in entries:
                self._dirty.pop(entry.task_id, None)
                self._touches.pop(entry.task_id, None)
                self._forget[to_micros(entry.created)] = None

    # -- the writer thread ------------------------------------------------------------------

    def _linger_left(self, now: float) -> float | None:
        """Seconds until the oldest non-final change is due (<= 0: now); None when there is none."""
        oldest = [t for t in (next(iter(self._dirty.values()), None), self._touched_at if self._touches else None,
                              self._forget_at if self._forget else None)
                  if t is not None]
        return min(oldest) + LINGER - now if oldest else None

    def _ripe(self, now: float, everything: bool) -> list[str]:
        """Take the changed tasks whose change has waited LINGER (all of them when closing).

        A task that ends sooner is written once, by its final row (`finish` drops its mark):
        rows of tasks still running are not rewritten on every commit of someone's final state.
        """
        if everything:
            ripe, self._dirty = list(self._dirty), {}
            return ripe
        ripe = []
        for task_id, marked in self._dirty.items():
            if now - marked < LINGER:
                break
            ripe.append(task_id)
        for task_id in ripe:
            del self._dirty[task_id]
        return ripe

    def _write_loop(self) -> None:
        while True:
            with self._cv:
                while not (self._finals or self._closing):
                    left = self._linger_left(time.monotonic())
                    if left is not None and left <= 0:
                        break
                    self._cv.wait(left)
                if self._finals and not self._closing:
                    hold = self._last_commit + COMMIT_EVERY - time.monotonic()
                    if hold > 0:
                        self._holding = True
                        self._cv.wait(hold)
                        self._holding = False
                closing = self._closing
                now = time.monotonic()
                if self._finals:
                    self._last_commit = now
                dirty = self._ripe(now, closing)
                touches: dict[str, tuple[int, float]] = {}
                if self._touches and (closing or self._finals or now - (self._touched_at or now) >= LINGER):
                    touches, self._touches, self._touched_at = self._touches, {}, None
                finals, self._finals = self._finals, []
                forget, self._forget = list(self._forget), {}
            try:
                rows = self._rows_of(dirty) if dirty else []
                self._write(rows, finals, touches, forget)
            except Exception:  # noqa: BLE001 - the writer must outlive one bad batch
                logger.exception("writing %d task record(s) failed", len(dirty) + len(finals))
            if finals:
                with self._publishing:  # one acquisition of the manager's lock for the whole batch
                    for _, done in finals:  # visible as final only now that it is durable (or logged as not)
                        try:
                            done()
                        except Exception:  # noqa: BLE001
                            logger.exception("publishing a final task state failed")
            if closing:
                with self._cv:
                    if not (self._dirty or self._touches or self._finals or self._forget):
                        self._closed = True
                        return

    def _write(self, rows: list[Row], finals: list[tuple[Row, Callable[[], None]]],
               touches: dict[str, tuple[int, float]], forget: list[int]) -> None:
        db = self._db
        db.execute("BEGIN")
        try:
            if rows or finals:
                _upsert(db, rows + [r for r, _ in finals])
            if touches:
                db.executemany("UPDATE tasks SET touched = ? WHERE created = ?",
                               [(ts, key) for key, ts in touches.values()])
            if forget:
                _delete(db, forget)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- start and end ----------------------------------------------------------------------

    def load(self) -> list[Row]:
        """The rows, least recently read first; of rows sharing a task id (a process that ended between
        dropping a task and writing the fresh work under its id), the newest, the others deleted."""
        cursor = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM tasks ORDER BY touched, created")
        rows = [Row(task_id=r[0], status=r[1], method=r[2], workflow_id=r[3], user=r[4], created=r[5],
                    started=r[6], finished=r[7], touched=r[8], record=bytes(r[9]),
                    output=None if r[10] is None else bytes(r[10]), output_inline=bool(r[11]),
                    fingerprint=None if r[12] is None else bytes(r[12]))
                for r in cursor]
        newest: dict[str, int] = {}
        for row in rows:
            if row.created > newest.get(row.task_id, -1):
                newest[row.task_id] = row.created
        if len(newest) == len(rows):
            return rows
        stale = [row.created for row in rows if newest[row.task_id] != row.created]
        self._db.execute("BEGIN")
        _delete(self._db, stale)
        self._db.execute("COMMIT")
        return [row for row in rows if newest[row.task_id] == row.created]

    def save_now(self, rows: list[Row]) -> None:
        """Write rows at once, before the writer thread runs (recovery at start)."""
        self._write(rows, [], {}, [])

    def close(self) -> None:
        with self._cv:
            self._closing = True
            self._cv.notify()
        if self._thread is not None:
            self._thread.join(30)
        with self._cv:
            self._closed = True
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        self._db.close()


def _migrate(db: sqlite3.Connection) -> None:
    """Re-key a table written by an earlier version (task id as primary key) by creation time.

    Creation times were not kept unique then: a repeated one moves a microsecond later.
    """
    columns = db.execute("PRAGMA table_info(tasks)").fetchall()  # (cid, name, type, notnull, default, pk)
    if not columns or any(c[1] == "created" and c[5] for c in columns):
        return
    names = ", ".join(_COLUMNS)
    rows = [list(r) for r in db.execute(f"SELECT {names} FROM tasks ORDER BY created, task_id")]
    last = None
    for row in rows:
        created = row[5]
        if last is not None and created <= last:
            row[5] = created = last + 1
        last = created
    db.execute("BEGIN")
    try:
        db.execute("ALTER TABLE tasks RENAME TO tasks_before_rekey")
        for name in ("tasks_created", "tasks_status", "tasks_method", "tasks_workflow", "tasks_user"):
            db.execute(f"DROP INDEX IF EXISTS {name}")
        db.execute(_SCHEMA.strip().rstrip(";"))
        db.executemany(f"INSERT INTO tasks ({names}) VALUES {_ROW}", rows)
        db.execute("DROP TABLE tasks_before_rekey")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    logger.info("task records re-keyed by creation time (%d rows)", len(rows))


def open_store(location: str | Path) -> RecordStore:
    """The store `SERVICE_STATE_DB` names: `:memory:` (nothing kept past the process) or an SQLite file."""
    if str(location) == MEMORY:
        return RecordStore()
    return SqliteRecords(Path(location))
