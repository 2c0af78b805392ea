"""The log channel: one line of JSON per notification, to a logger or a standard stream.

The cheapest channel and the one that always works: with ``target = "log"`` the line goes to
the ``finsentry.notifications`` logger at WARNING for firing and INFO otherwise, so the daemon's
log (journald, a container's stdout) carries every alert even when no other channel is set up.
"""

from __future__ import annotations

import json
import logging
import sys

from alerts.notify.message import NotificationMessage
from alerts.notify.settings import LogChannel

LOGGER = "finsentry.notifications"


class LogNotifier:
    def __init__(self, settings: LogChannel) -> None:
        self.name = settings.name
        self._target = settings.target
        self._log = logging.getLogger(LOGGER)

    def __repr__(self) -> str:
        return f"LogNotifier(name={self.name!r}, target={self._target!r})"

    def send(self, message: NotificationMessage) -> None:
        line = json.dumps(message.as_dict(), sort_keys=True, ensure_ascii=False)
        if self._target == "log":
            level = logging.WARNING if message.event == "firing" else logging.INFO
            self._log.log(level, "%s", line)
        else:
            stream = sys.stdout if self._target == "stdout" else sys.stderr
            print(line, file=stream, flush=True)
