"""Alembic migrations of the wirewatch schema."""
