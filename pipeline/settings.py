"""One frozen settings object, built once in the CLI and passed down.

Sources, highest first: keyword arguments (CLI flags), environment variables ``FINSENTRY_*``
(nested with ``__``, e.g. ``FINSENTRY_KAFKA__BOOTSTRAP_SERVERS``), an optional TOML file
(``--config``/``FINSENTRY_CONFIG``), then the defaults below. No other module reads the
environment. Secrets are ``SecretStr`` so they never print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from alerts.config import AlertSettings
from alerts.notify.settings import LogChannel, NotifySettings
from consumers.config import KafkaSettings
from models.config import ModelSettings, TaggingSettings

DATA_DIR = Path("finsentry-data")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RetentionSettings(_Frozen):
    """How long things are kept. Series outlive the articles behind them."""

    text_days: int | None = Field(default=30, ge=1)  # then title stays, body/url are cleared
    articles_days: int | None = Field(default=180, ge=1)  # then article rows are deleted
    series_days: int | None = Field(default=730, ge=1)  # then 1-minute buckets are deleted


class StoreSettings(_Frozen):
    # a secret: a PostgreSQL URL can carry its password; it prints as ********** and only the
    # engine factory (pipeline/store/engine.py) unwraps it
    url: SecretStr = Field(
        default=SecretStr(f"sqlite:///{DATA_DIR}/finsentry.db"),
        description="SQLAlchemy database URL (SQLite file or PostgreSQL); kept secret in logs",
    )
    echo: bool = Field(default=False, description="log every SQL statement (debugging)")


class HttpSettings(_Frozen):
    """The HTTP API and dashboard (``finsentry serve``, ``finsentry run --http``)."""

    host: str = Field(
        default="127.0.0.1",
        description="address to bind; anything but loopback needs a token",
    )
    port: int = Field(default=8686, ge=0, le=65535, description="TCP port (0 = any free port)")
    token: SecretStr | None = Field(
        default=None, description="bearer token the API requires (never logged)"
    )
    token_file: Path | None = Field(
        default=None, description="file holding the bearer token (instead of token)"
    )
    public_routes: list[str] = Field(
        default=["/health", "/metrics"],
        description="paths readable without the token (write routes always need it)",
    )


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
    http: HttpSettings = HttpSettings()
    alerts: AlertSettings = AlertSettings()
    # by default alerts reach the daemon's log; add webhook/slack/email channels in the TOML
    notify: NotifySettings = NotifySettings(channels=[LogChannel(name="log")])
    # run the alert scheduler inside `finsentry run` (all daemons may; a lease picks one)
    run_alerts: bool = True
    log_level: str = "INFO"  # DEBUG, INFO, WARNING or ERROR (DEBUG also shows tracebacks)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the TOML file, if any, is named in the class's own config (see _with_file): passed
        # along explicitly, never through a module global
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def _with_file(path: Path | None) -> type[Settings]:
    """``Settings``, or a subclass whose config names the TOML file to read."""
    if path is None:
        return Settings

    class FileSettings(Settings):
        model_config = SettingsConfigDict(toml_file=path)

    return FileSettings


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Build the one Settings object: TOML file (optional) < env < explicit overrides.

    ``overrides`` are nested dicts, e.g. ``{"kafka": {"bootstrap_servers": "..."}}``; they are
    merged over what the file and environment say rather than replacing whole sections.
    """
    from pipeline.errors import ConfigError

    path = Path(config) if config else None
    if path is not None and not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        base = _with_file(path)()
        merged = base.model_dump()
        for section, values in overrides.items():
            if isinstance(values, dict) and isinstance(merged.get(section), dict):
                merged[section].update({k: v for k, v in values.items() if v is not None})
            elif values is not None:
                merged[section] = values
        # always a plain Settings, whichever class read the file
        return Settings.model_validate(merged)
    except ValueError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc
