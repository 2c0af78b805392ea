"""``python -m pipeline.cli`` is the ``finsentry`` command."""

from pipeline.cli import entry

entry()
