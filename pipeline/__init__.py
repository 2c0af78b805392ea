"""finsentry's wiring: settings, the SQL store, queries, the daemon, the CLI.

Kept import-light: ``consumers``, ``models`` and ``alerts`` import ``pipeline.errors`` only.
"""
