"""Alembic environment: migrations run on the connection handed over by story.db.migrate
(or on `sqlalchemy.url` when alembic is run by hand)."""
from alembic import context
from sqlalchemy import create_engine

from story.models import Base

config = context.config
connection = config.attributes.get("connection")


def _run(conn) -> None:
    context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    with create_engine(config.get_main_option("sqlalchemy.url")).connect() as conn:
        _run(conn)
