"""Alembic environment: the URL comes from `avatar migrate` (config attribute) or the settings."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from core.db import Base, sqlalchemy_url
from core.settings import get_settings

config = context.config
if config.config_file_name and "connection" not in config.attributes:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

url = sqlalchemy_url(get_settings().resolved_database_url)


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations(connection: Connection) -> None:
    # batch mode lets ALTER-style migrations work on SQLite too
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    if "connection" in config.attributes:  # given by core.db.migrate()
        run_migrations(config.attributes["connection"])
        return
    with create_engine(url, poolclass=pool.NullPool).connect() as connection:
        run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
