"""Alembic environment: runs against the engine handed over in config.attributes."""

from alembic import context

from hrss import models  # noqa: F401  (registers every table on Base.metadata)
from hrss.db import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    context.run_migrations()
