"""``finsentry plot`` on a real stored world: the planted ACME episode, an alert opened by the
real lifecycle, and a PNG whose summary and pixels show both; bad keys and paths are one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import Engine

from pipeline.cli import main
from pipeline.plot import ALERT, NEG
from pipeline.query import series
from tests.alerts.series_fixtures import SPIKE_KEY, SPIKE_START, World, write_world
from tests.pipeline.dashboard_fixtures import open_alert
from tests.pipeline.test_cli import run_cli
from tests.pipeline.test_cli_errors import assert_one_line_error


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _near(img: Image.Image, colour: tuple[int, int, int], tol: int = 12) -> int:
    return sum(
        count
        for count, px in img.getcolors(maxcolors=1 << 20) or []
        if all(abs(a - b) <= tol for a, b in zip(px[:3], colour, strict=True))
    )


@pytest.fixture
def world(engine: Engine) -> World:
    w = write_world(engine, World(SPIKE_START))
    assert open_alert(engine, w) == [SPIKE_KEY]
    return w


def test_plot_draws_shares_volume_and_the_alert(
    db_url: str, engine: Engine, world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "acme.png"
    since, until = world.at(-360), world.at(60)
    rc = main(
        [
            "plot",
            "--db",
            db_url,
            "--key",
            SPIKE_KEY,
            "--since",
            since.isoformat(),
            "--until",
            until.isoformat(),
            "--every",
            "15m",
            "-o",
            str(out),
        ]
    )
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    expected = series(engine, SPIKE_KEY, since, until, every="15min")
    assert summary["articles"] == int(expected["n"].sum()) > 0
    assert summary["buckets"] == len(expected) == 28
    assert len(summary["alerts"]) == 1
    img = Image.open(out).convert("RGB")
    assert img.size[0] >= 1000 and img.size[1] >= 600
    assert _near(img, _rgb(NEG)) > 2000  # the negative share band
    # the alert band: ALERT at 35 % over the white plot background
    shaded = tuple(round(255 * 0.65 + c * 0.35) for c in _rgb(ALERT))
    assert _near(img, shaded, tol=6) > 500  # type: ignore[arg-type]


def test_plot_errors_are_one_line(
    db_url: str, engine: Engine, world: World, tmp_path: Path
) -> None:
    res = run_cli("plot", "--db", db_url, "--key", "entity:ACMEE", "-o", str(tmp_path / "x.png"))
    assert "no series 'entity:ACMEE'" in assert_one_line_error(res)
    assert "entity:ACME" in res.stderr
    res = run_cli("plot", "--db", db_url, "--key", SPIKE_KEY, "-o", str(tmp_path / "no/x.png"))
    assert "no such directory" in assert_one_line_error(res)
    res = run_cli("plot", "--db", db_url, "--key", SPIKE_KEY, "-o", str(tmp_path / "x.txt"))
    assert ".png" in assert_one_line_error(res)
    res = run_cli("plot", "--db", db_url, "--since", "soon", "-o", str(tmp_path / "x.png"))
    assert "not a time" in assert_one_line_error(res)
