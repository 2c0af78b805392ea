"""Fixtures for the detector tests: a steady key with eight days of history."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.alerts.synth import stream


@pytest.fixture(scope="session")
def week() -> pd.DataFrame:
    """Eight days of a steady key: about 60 articles per 15 minutes, 20 % negative."""
    return stream(8.0, seasonal=0.0)
