"""Persistence: SQLAlchemy models, the repository the bot calls, and Alembic migrations."""
