"""``docs/configuration.md`` is generated from the settings model and must match it.

The file in the repository is what ``python -m pipeline.settings_doc`` prints, byte for byte: a
setting added, renamed or re-defaulted without regenerating the file fails here. Every setting
must carry a description (a ``Field(description=…)`` or a comment on its line), and the
environment names the page gives must be the ones the settings loader reads.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.settings import load_settings
from pipeline.settings_doc import render, rows, undocumented

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"
REGENERATE = "python -m pipeline.settings_doc > docs/configuration.md"


def test_the_file_is_what_the_settings_model_prints() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), f"stale: run `{REGENERATE}`"


def test_the_module_prints_the_same_as_a_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pipeline.settings_doc"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    ).stdout
    assert out == render()


def test_every_setting_is_described() -> None:
    assert undocumented() == []


def test_every_documented_setting_is_in_the_page_once() -> None:
    text = render()
    envs = [env for _, _, env, _, _ in rows_of_settings()]
    assert len(envs) == len(set(envs)) > 60
    for env in envs:
        assert text.count(f"`{env}`") == 1, env


def rows_of_settings() -> list[tuple[tuple[str, ...], str, str, str, str]]:
    from pipeline.settings import Settings

    return list(rows(Settings))


@pytest.mark.parametrize(
    ("env", "value", "path", "expected"),
    [
        ("FINSENTRY_KAFKA__BATCH_SIZE", "17", ("kafka", "batch_size"), 17),
        ("FINSENTRY_ALERTS__DETECTOR__ALPHA", "0.002", ("alerts", "detector", "alpha"), 0.002),
        ("FINSENTRY_RETENTION__TEXT_DAYS", "9", ("retention", "text_days"), 9),
        ("FINSENTRY_RUN_ALERTS", "false", ("run_alerts",), False),
    ],
)
def test_the_environment_names_are_the_ones_read(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, path: tuple[str, ...], expected: object
) -> None:
    assert any(e == env for _, _, e, _, _ in rows_of_settings())
    monkeypatch.setenv(env, value)
    got: object = load_settings(None)
    for part in path:
        got = getattr(got, part)
    assert got == expected
