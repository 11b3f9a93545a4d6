"""Opening the metadata store: one engine (a pool of connections), migrations applied on first use."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from weir.errors import StoreError

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

HEAD_REVISION = "0022"
DATABASE_ENV = "WEIR_DATABASE_URL"


def database_url(workspace: Path, configured: str | None = None) -> str:
    """The store's SQLAlchemy URL: ``configured`` (the instance's, a PostgreSQL URL made to use
    psycopg 3) when given, else SQLite in the workspace."""
    url = configured
    if url:
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url
    return f"sqlite:///{workspace / 'weir.db'}"


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other backends and in-memory stores)."""
    if not url.startswith("sqlite"):
        return None
    rest = url.split(":///", 1)[1] if ":///" in url else ""
    rest = rest.split("?", 1)[0].removeprefix("file:")
    return Path(rest) if rest and rest != ":memory:" else None


def describe(url: str) -> str:
    """Where the store is, for a message: the SQLite file, or the URL without its password."""
    path = sqlite_path(url)
    if path is not None:
        return str(path)
    import sqlalchemy as sa

    return sa.engine.make_url(url).render_as_string(hide_password=True)


READ_ONLY_MARKS = ("readonly", "read-only", "read only")
NOT_A_DATABASE_MARKS = ("file is not a database", "database disk image is malformed", "not a database")


def explain(url: str, exc: BaseException) -> StoreError | None:
    """A one-line StoreError for a store that cannot be written, or is not a database; None for
    any other error (those keep their own handling)."""
    orig = getattr(exc, "orig", None) or exc
    text = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    lowered = text.lower()
    where = describe(url)
    if any(m in lowered for m in READ_ONLY_MARKS) or getattr(orig, "sqlstate", None) == "25006":
        return StoreError(f"the metadata store {where} is read-only: {text} (make it writable, or set {DATABASE_ENV})")
    if any(m in lowered for m in NOT_A_DATABASE_MARKS):
        return StoreError(f"the metadata store {where} is not a database: {text} (move it aside, then 'weir doctor --repair' rebuilds it from the tables)")
    path = sqlite_path(url)
    if path is not None and "unable to open database file" in lowered:
        if path.exists() and not os.access(path, os.R_OK):
            return StoreError(f"the metadata store {where} is unreadable: {text} (check its permissions)")
        if path.exists() or not os.access(path.parent, os.W_OK):
            return StoreError(f"the metadata store {where} is read-only: {text} (its folder must be writable too)")
    return None


def create_engine(url: str) -> sa.Engine:
    import sqlalchemy as sa

    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:  # WAL: readers never block the writer
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    else:
        engine = sa.create_engine(url, pool_pre_ping=True)

    @sa.event.listens_for(engine, "handle_error")
    def _one_line(context: sa.ExceptionContext) -> None:  # a read-only or foreign file is one line, wherever it is first noticed
        if context.is_pre_ping:
            return
        error = explain(url, context.original_exception)
        if error is not None:
            raise error

    return engine


def current_revision(connection: sa.Connection) -> str | None:
    import sqlalchemy as sa

    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(connection: sa.Connection) -> str | None:
    """Apply pending Alembic migrations on ``connection``; returns the revision before."""
    from alembic import command
    from alembic.config import Config

    before = current_revision(connection)
    if before == HEAD_REVISION:
        return before
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    try:
        command.upgrade(config, "head")
    except StoreError:
        raise
    except Exception as exc:  # surface as a store error with the URL's backend
        raise explain(str(connection.engine.url), exc) or StoreError(f"migrating the metadata store failed: {exc}") from exc
    connection.commit()
    return before


_MIGRATION_LOCK = 0x77656972_6D  # "weirm": held while a command migrates the store


def connect(url: str) -> tuple[sa.Engine, str | None]:
    """The engine, with the schema at head, and the revision the store had before. Raises
    StoreError if the store is unreachable."""
    import sqlalchemy as sa

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            before = current_revision(connection)
            if before != HEAD_REVISION:
                if connection.dialect.name == "postgresql":  # two commands starting on a new schema: one migrates
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
                    before = current_revision(connection)
                if before != HEAD_REVISION:
                    upgrade(connection)
            connection.commit()
    except StoreError:
        engine.dispose()
        raise
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        error = explain(url, exc)
        if error is not None:
            raise error from None
        if isinstance(exc, sa.exc.OperationalError):
            raise StoreError(f"cannot reach the metadata store {describe(url)}: {str(exc.orig).strip().splitlines()[0]}") from None
        raise StoreError(f"the metadata store {describe(url)} cannot be used: {str(exc.orig).strip().splitlines()[0]}") from None
    return engine, before
