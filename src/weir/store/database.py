"""Opening the metadata store: one engine (a pool of connections), migrations applied on first use."""

from __future__ import annotations

import os
from pathlib import Path

from weir.errors import StoreError

HEAD_REVISION = "0008"
DATABASE_ENV = "WEIR_DATABASE_URL"


def database_url(workspace: Path) -> str:
    """``WEIR_DATABASE_URL`` if set, else SQLite in the workspace."""
    url = os.environ.get(DATABASE_ENV)
    if url:
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url
    return f"sqlite:///{workspace / 'weir.db'}"


def create_engine(url: str):
    import sqlalchemy as sa

    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # WAL: readers never block the writer
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def current_revision(connection) -> str | None:
    import sqlalchemy as sa

    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(connection) -> str | None:
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
    except Exception as exc:  # surface as a store error with the URL's backend
        raise StoreError(f"migrating the metadata store failed: {exc}") from exc
    connection.commit()
    return before


def connect(url: str):
    """The engine, with the schema at head, and the revision the store had before. Raises
    StoreError if the store is unreachable."""
    import sqlalchemy as sa

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            before = current_revision(connection)
            if before != HEAD_REVISION:
                upgrade(connection)
            connection.commit()
    except sa.exc.OperationalError as exc:
        engine.dispose()
        raise StoreError(f"cannot reach the metadata store {engine.url.render_as_string(hide_password=True)}: {str(exc.orig).strip().splitlines()[0]}") from None
    return engine, before
