"""One frozen settings object, built once in the CLI and passed down.

Sources, highest first: keyword arguments (CLI flags), environment variables ``FINSENTRY_*``
(nested with ``__``, e.g. ``FINSENTRY_KAFKA__BOOTSTRAP_SERVERS``), an optional TOML file
(``--config``/``FINSENTRY_CONFIG``), then the defaults below. No other module reads the
environment. Secrets are ``SecretStr`` so they never print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from alerts.config import AlertSettings
from alerts.notify.settings import LogChannel, NotifySettings
from models.config import ModelSettings, TaggingSettings

DATA_DIR = Path("finsentry-data")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Frozen):
    bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "news.raw"
    dlq_topic: str = "news.dlq"
    group_id: str = "finsentry"
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    batch_size: int = Field(default=64, ge=1, le=10_000)
    poll_timeout_ms: int = Field(default=1000, ge=10)
    session_timeout_ms: int = Field(default=10_000, ge=1000)
    max_poll_interval_ms: int = Field(default=300_000, ge=10_000)
    client_id: str = "finsentry"
    # Bounded waits: how long a send may block for metadata, how long one request may take,
    # how long the loop waits for dead letters to be acknowledged, and how long closing the
    # clients may take on shutdown, whatever the broker does.
    max_block_ms: int = Field(default=5_000, ge=100)
    request_timeout_ms: int = Field(default=10_000, ge=1000)
    dlq_timeout_s: float = Field(default=15.0, gt=0)
    close_timeout_s: float = Field(default=3.0, ge=0)
    commit_timeout_ms: int = Field(default=5_000, ge=100)
    # Retries of a batch that fails in an unknown way before its records are isolated.
    unknown_attempts: int = Field(default=3, ge=1)
    # Fault-test hook: seconds to wait between the store transaction and the offset commit,
    # widening the window a crash must hit to cause a redelivery. Leave at 0.
    pause_before_commit_s: float = Field(default=0.0, ge=0, le=60)


class RetentionSettings(_Frozen):
    """How long things are kept. Series outlive the articles behind them."""

    text_days: int | None = Field(default=30, ge=1)  # then title stays, body/url are cleared
    articles_days: int | None = Field(default=180, ge=1)  # then article rows are deleted
    series_days: int | None = Field(default=730, ge=1)  # then 1-minute buckets are deleted


class StoreSettings(_Frozen):
    url: str = f"sqlite:///{DATA_DIR}/finsentry.db"
    echo: bool = False


class Settings(BaseSettings):
    """Everything a finsentry process needs to know; immutable once built."""

    model_config = SettingsConfigDict(
        env_prefix="FINSENTRY_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
        # never echo rejected values: they may be webhook URLs, passwords or keys
        hide_input_in_errors=True,
    )

    kafka: KafkaSettings = KafkaSettings()
    model: ModelSettings = ModelSettings()
    store: StoreSettings = StoreSettings()
    tagging: TaggingSettings = TaggingSettings()
    retention: RetentionSettings = RetentionSettings()
    alerts: AlertSettings = AlertSettings()
    # by default alerts reach the daemon's log; add webhook/slack/email channels in the TOML
    notify: NotifySettings = NotifySettings(channels=[LogChannel(name="log")])
    # run the alert scheduler inside `finsentry run` (all daemons may; a lease picks one)
    run_alerts: bool = True
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_file = _CONFIG_FILE.get("path")
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


_CONFIG_FILE: dict[str, Path | None] = {"path": None}


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Build the one Settings object: TOML file (optional) < env < explicit overrides.

    ``overrides`` are nested dicts, e.g. ``{"kafka": {"bootstrap_servers": "..."}}``; they are
    merged over what the file and environment say rather than replacing whole sections.
    """
    from pipeline.errors import ConfigError

    path = Path(config) if config else None
    if path is not None and not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    _CONFIG_FILE["path"] = path
    try:
        base = Settings()
        if not overrides:
            return base
        merged = base.model_dump()
        for section, values in overrides.items():
            if isinstance(values, dict) and isinstance(merged.get(section), dict):
                merged[section].update({k: v for k, v in values.items() if v is not None})
            elif values is not None:
                merged[section] = values
        return Settings.model_validate(merged)
    except ValueError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc
    finally:
        _CONFIG_FILE["path"] = None
