"""Metadata persistence: SQLAlchemy tables, the engine, queries (repos/) and migrations."""
