"""``python -m pipeline.cli`` is the ``finsentry`` command."""

import sys

from pipeline.cli import main

sys.exit(main())
