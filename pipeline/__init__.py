"""finsentry's ground floor and top floor: ``pipeline.errors`` (the one error family every
package raises), and the parts that wire the others together — composed settings, the SQL store
(SQLAlchemy, Alembic) with the alerts' store implementation, queries, the daemon, the CLI, and
the HTTP API with the dashboard and metrics.

Dependencies point one way: ``pipeline`` imports ``consumers``, ``models`` and ``alerts``; they
import from ``pipeline`` only ``pipeline.errors`` (``tests/test_import_graph.py`` checks every
import, inside functions too). Nothing is imported here, so ``import pipeline.errors`` stays
cheap.
"""
