"""Opening a story database: SQLite in WAL mode, foreign keys on, a busy timeout, and the
Alembic migrations applied on open.

Two engines share the file: `read()` sessions begin deferred, `write()` sessions begin
IMMEDIATE so that a writer takes the write lock up front and waits (busy timeout) instead
of failing with "database is locked" when it upgrades a read lock.

A database in a folder this process cannot write is opened read-only (no migration, no
WAL files created; `write()` refuses with a message saying so). SQLite's own storage
failures (full disk, I/O error, read-only file) become one-line StorageErrors.
"""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from story.errors import NotFound, StorageError

Row = TypeVar("Row")

BUSY_TIMEOUT_S = 30.0
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


STORAGE_FAILURES = ("disk i/o error", "database or disk is full", "readonly database", "unable to open database")
LOW_SPACE_BYTES = 1 << 20


def _url(path: Path, read_only: bool) -> str:
    if not read_only:
        return f"sqlite:///{path}"
    # without write access SQLite cannot create the WAL's -shm file; immutable=1 reads the
    # file as it is (no WAL left over); with one left over, mode=ro reads it too
    wal_left = path.with_name(path.name + "-wal").exists()
    return f"sqlite:///file:{path}?{'mode=ro' if wal_left else 'immutable=1'}&uri=true"


def _sqlite_engine(path: Path, begin: str, read_only: bool = False) -> Engine:
    engine = create_engine(
        _url(path, read_only), connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if not read_only:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
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


def storage_error(path: Path, exc: OperationalError) -> StorageError | None:
    """A StorageError for SQLite's storage failures on the database at `path`, else None."""
    message = str(exc.orig if exc.orig is not None else exc).lower()
    if not any(failure in message for failure in STORAGE_FAILURES):
        return None
    try:
        full = shutil.disk_usage(path.parent).free < LOW_SPACE_BYTES
    except OSError:
        full = False
    if full or "full" in message:
        return StorageError(f"The disk holding {path.parent} is full: free some space and try again ({message}).")
    return StorageError(f"The database {path} cannot be used ({message}); check the disk and its permissions.")


@contextmanager
def _storage_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except OperationalError as exc:
        raise (storage_error(path, exc) or exc) from exc


class Database:
    """The story database of one data directory (read-only when `read_only`)."""

    def __init__(self, path: Path, *, upgrade: bool = True, read_only: bool = False) -> None:
        self.path, self.read_only = path, read_only
        self.writer = _sqlite_engine(path, "BEGIN IMMEDIATE", read_only)
        self.reader = _sqlite_engine(path, "BEGIN", read_only)
        with _storage_errors(path):
            if read_only:
                self._check_current()
            elif upgrade:
                migrate(self.writer)
        self._write = sessionmaker(self.writer, expire_on_commit=False)
        self._read = sessionmaker(self.reader, expire_on_commit=False)

    def _check_current(self) -> None:
        """A read-only database cannot be migrated: refuse one an older app made."""
        from alembic.script import ScriptDirectory

        head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
        with self.reader.connect() as connection:
            current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        if current != head:
            raise StorageError(f"{self.path} is read-only and was made by an older AnyStory Studio; "
                               "open it once with write access to upgrade it.")

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        if self.read_only:
            raise StorageError(f"The data directory {self.path.parent} is read-only (opened read-only): "
                               "nothing can be changed there.")
        with _storage_errors(self.path), self._write() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (rolled back at the end)."""
        with _storage_errors(self.path), self._read() as session:
            yield session

    def close(self) -> None:
        self.writer.dispose()
        self.reader.dispose()


def get_row(session: Session, model: type[Row], row_id: int) -> Row:
    """The `model` row with this id, or NotFound naming it ("No render with id 3.")."""
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"No {model.__name__.lower()} with id {row_id}.")
    return row
