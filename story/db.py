"""Opening a story database: SQLite in WAL mode, foreign keys on, a busy timeout, and the
Alembic migrations applied on open.

Two engines share the file: `read()` sessions begin deferred, `write()` sessions begin
IMMEDIATE so that a writer takes the write lock up front and waits (busy timeout) instead
of failing with "database is locked" when it upgrades a read lock.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

BUSY_TIMEOUT_S = 30.0
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_engine(path: Path, begin: str) -> Engine:
    engine = create_engine(
        f"sqlite:///{path}", connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql(begin)

    return engine


def alembic_config(engine: Engine):
    """An Alembic config for this database, pointing at story/migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", str(engine.url))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (the newest by default)."""
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


class Database:
    """The story database of one data directory."""

    def __init__(self, path: Path, *, upgrade: bool = True) -> None:
        self.path = path
        self.writer = _sqlite_engine(path, "BEGIN IMMEDIATE")
        self.reader = _sqlite_engine(path, "BEGIN")
        if upgrade:
            migrate(self.writer)
        self._write = sessionmaker(self.writer, expire_on_commit=False)
        self._read = sessionmaker(self.reader, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        with self._write() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (rolled back at the end)."""
        with self._read() as session:
            yield session

    def close(self) -> None:
        self.writer.dispose()
        self.reader.dispose()
