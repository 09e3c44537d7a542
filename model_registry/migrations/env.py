"""Alembic environment: runs against the engine the registry hands over."""

from alembic import context
from sqlalchemy import Engine, text

from model_registry.orm import Base

engine: Engine = context.config.attributes["engine"]

with engine.connect() as connection:
    if connection.dialect.name == "postgresql":
        # Several replicas may start at once; one of them migrates, the rest wait.
        connection.execute(text("SELECT pg_advisory_xact_lock(7702115)"))
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
