"""The HTTP API and dashboard: a FastAPI app over the same query functions as the CLI.

``create_app`` builds the app for ``finsentry serve`` (read the store, no consuming) and
``finsentry run --http`` (the daemon's own health and metrics too); ``ApiServer`` runs it under
uvicorn in a thread that the caller's ``ExitStack`` owns.
"""

from pipeline.api.app import create_app
from pipeline.api.server import ApiServer

__all__ = ["ApiServer", "create_app"]
