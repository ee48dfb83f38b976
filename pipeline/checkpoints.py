"""The LangGraph checkpointer: SQLite in-process, PostgreSQL when the job database is PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver

from core.settings import get_settings

_postgres_ready: set[str] = set()
_sqlite: tuple[tuple[str, int], BaseCheckpointSaver] | None = None  # ((database, process id), its saver)
_sqlite_lock = threading.Lock()
_inherited: list[BaseCheckpointSaver] = []


def _checkpoint_url() -> str:
    settings = get_settings()
    if settings.checkpoint_url:
        return settings.checkpoint_url
    db = settings.resolved_database_url
    if db.startswith("postgresql"):
        return db
    return f"sqlite:///{(settings.data_dir / 'checkpoints.db').as_posix()}"


@contextmanager
def open_checkpointer(url: str | None = None) -> Iterator[BaseCheckpointSaver]:
    url = url or _checkpoint_url()
    if url.startswith("sqlite:///"):
        yield _sqlite_saver(Path(url.removeprefix("sqlite:///")))
        return
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg import Connection
    from psycopg.rows import dict_row

    from core.db import postgres_connect_args

    conninfo = url.replace("postgresql+psycopg2://", "postgresql://").replace("postgresql+psycopg://", "postgresql://")
    args = postgres_connect_args(conninfo)
    with Connection.connect(conninfo, autocommit=True, prepare_threshold=0, row_factory=dict_row, **args) as conn:
        saver = PostgresSaver(conn)
        if conninfo not in _postgres_ready:
            saver.setup()
            _postgres_ready.add(conninfo)
        yield saver


def _sqlite_saver(path: Path) -> BaseCheckpointSaver:
    """The process's saver on the SQLite file `path`: one connection, kept open from job to job (its lock serialises
    the jobs' writes). Opening one per job and closing it, which folds the WAL back into the database and syncs it,
    took about 10 ms of each job's wall time. A forked child opens its own."""
    global _sqlite
    from langgraph.checkpoint.sqlite import SqliteSaver

    key = (str(path.resolve()), os.getpid())
    with _sqlite_lock:
        if _sqlite is not None and _sqlite[0] == key:
            return _sqlite[1]
        if _sqlite is not None and _sqlite[0][1] == key[1]:  # another database file (tests): only one kept open
            _sqlite[1].conn.close()
        elif _sqlite is not None:  # the parent's, before a fork: never closed here (that would checkpoint its WAL)
            _inherited.append(_sqlite[1])
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, timeout=get_settings().database_timeout_seconds)
        conn.execute("PRAGMA journal_mode=WAL")
        # in WAL mode, NORMAL still survives a crash of the process (what a resume needs; a power cut may undo the
        # last node, which re-runs: nodes are idempotent) without an fsync per write: 2 ms -> 0.2 ms a checkpoint
        conn.execute("PRAGMA synchronous=NORMAL")
        _sqlite = (key, SqliteSaver(conn))
        return _sqlite[1]
