"""Alembic environment and versions: the only way finsentry's schema changes."""
