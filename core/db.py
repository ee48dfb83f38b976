"""Database engine, sessions and the ORM tables (jobs, uploads/artifacts, API keys, webhook deliveries).

SQLite (embedded default) and PostgreSQL (via psycopg 3) share one schema, created by the Alembic
migrations in migrations/ (`avatar migrate`). Timestamps are naive UTC on both.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from core.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
ACTIVE_STATUSES = ("queued", "running")
ANONYMOUS_OWNER = "anonymous"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings; the key itself is never stored
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class Upload(Base):
    """An input file a client uploaded, or an artifact a job produced; the bytes live in object storage."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # image | audio | video | output
    key: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("owner", "idempotency_key", name="uq_jobs_owner_idempotency_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="queued")
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))

    image_key: Mapped[str | None] = mapped_column(String(300))  # the face: a photo, or
    video_key: Mapped[str | None] = mapped_column(String(300))  # a video to re-voice
    audio_key: Mapped[str | None] = mapped_column(String(300))
    text: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    webhook_url: Mapped[str | None] = mapped_column(String(2000))

    # progress: which resource class the job waits for, how many segments completed, who runs it now
    next_resource: Mapped[str] = mapped_column(String(8), default="cpu")
    segments: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    current_node: Mapped[str | None] = mapped_column(String(64))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    # with a lease: the holder's last beat; without one: when the job's message was last published
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    # outcome
    output_key: Mapped[str | None] = mapped_column(String(300))
    duration: Mapped[float | None] = mapped_column(Float)
    backend: Mapped[str | None] = mapped_column(String(32))
    backend_reason: Mapped[str | None] = mapped_column(Text)
    emotion: Mapped[str | None] = mapped_column(String(32))
    # the emotion per phrase ({start, end, text, primary, confidence, valence, arousal, question}) and the controller
    # that decided the performance ("rules", "llm (...)", "rules (llm failed: ...)")
    emotion_track: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    controller: Mapped[str | None] = mapped_column(Text)
    timings: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    webhook_state: Mapped[str | None] = mapped_column(String(16))  # pending | delivered | failed

    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """One attempt to POST a job's terminal state to its webhook_url."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


def sqlalchemy_url(url: str) -> str:
    """PostgreSQL URLs go through psycopg 3 whatever driver (or none) they name."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


_SQLITE_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)


class SQLiteWriteGate:
    """Lets one connection of this process write at a time, from its first write statement until it goes back
    to the pool (after its commit or rollback).

    SQLite allows one writer per file; a writer that finds the file locked sleeps in SQLite's busy handler
    in steps of up to 100 ms, so request threads inserting at once keep sleeping after the file is free.
    Queued on a lock, the next writer goes as soon as the previous one is done. Other processes (CLI, a
    second server) still meet SQLite's own busy timeout.
    """

    def __init__(self, engine: Engine, busy_seconds: float):
        self._lock = threading.Lock()
        self._busy_seconds = busy_seconds
        self._holder: Any = None
        event.listen(engine, "before_cursor_execute", self._before_execute)
        event.listen(engine.pool, "checkin", self._release)
        event.listen(engine.pool, "invalidate", self._release)

    def _before_execute(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        dbapi_connection = conn.connection.dbapi_connection
        # past the timeout, go on without the gate and let SQLite's busy handler decide, as before
        if (
            self._holder is not dbapi_connection
            and _SQLITE_WRITE.match(statement)
            and self._lock.acquire(timeout=self._busy_seconds)
        ):
            self._holder = dbapi_connection

    def _release(self, dbapi_connection: Any, _record: Any, *_: Any) -> None:
        if dbapi_connection is not None and self._holder is dbapi_connection:
            self._holder = None
            self._lock.release()


PG_CONNECT_TIMEOUT_S = 5


def postgres_connect_args(url: str) -> dict[str, Any]:
    """How every PostgreSQL connection of ours is opened (the job tables' pool and the checkpointer), unless the
    URL says otherwise: connect_timeout, so that a database that hangs rather than refusing is an outage in
    seconds (503) and not after the kernel's TCP timeout; statement_timeout, so that a statement the server
    cannot finish (a lock never released, a runaway query) fails after database_timeout_seconds with "canceling
    statement due to statement timeout" (503 in the API, retried by workers) instead of hanging."""
    args: dict[str, Any] = {} if "connect_timeout=" in url else {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    if "options=" not in url:
        args["options"] = f"-c statement_timeout={round(get_settings().database_timeout_seconds * 1000)}"
    return args


def _create_engine(url: str) -> Engine:
    busy_seconds = get_settings().database_timeout_seconds
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # SQLite's busy timeout: how long a statement waits for another connection's lock before it fails
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_seconds})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        SQLiteWriteGate(engine, busy_seconds)
        return engine
    # pre-ping costs a loopback round trip per checkout, and saves the requests that would otherwise fail
    # once on a dropped connection after a database restart
    return create_engine(
        url,
        pool_size=20,
        max_overflow=20,
        pool_recycle=1800,
        pool_pre_ping=True,
        connect_args=postgres_connect_args(url),
    )


_DATABASES: dict[str, tuple[Engine, sessionmaker[Session]]] = {}
_DATABASES_LOCK = threading.Lock()


def _database(url: str | None) -> tuple[Engine, sessionmaker[Session]]:
    """The engine (one connection pool) and session factory of a database, built once per process."""
    url = sqlalchemy_url(url or get_settings().resolved_database_url)
    if url not in _DATABASES:
        with _DATABASES_LOCK:  # two threads must not build two pools for one database
            if url not in _DATABASES:
                engine = _create_engine(url)
                _DATABASES[url] = engine, sessionmaker(engine, expire_on_commit=False)
    return _DATABASES[url]


def get_engine(url: str | None = None) -> Engine:
    return _database(url)[0]


def dispose_engines() -> None:
    """Drop pooled connections inherited across fork (Celery prefork children call this)."""
    for engine, _ in _DATABASES.values():
        engine.dispose(close=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = _database(url)[1]()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(connection: Any) -> Any:
    """Alembic's Config for migrations/, bound to an open connection."""
    from alembic.config import Config

    cfg = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def migrate(url: str | None = None, revision: str = "head") -> None:
    """Upgrade the schema to `revision` with Alembic (works from any working directory)."""
    from alembic import command

    with get_engine(url).begin() as connection:
        if connection.dialect.name == "postgresql":  # a migration may rewrite a large table: no statement limit
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
        command.upgrade(alembic_config(connection), revision)
