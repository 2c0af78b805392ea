"""Alert settings: the detector's thresholds and the lifecycle knobs that depend on them.

Plain frozen pydantic models, no environment reading of their own: the application's
``Settings`` nests :class:`AlertSettings` as ``alerts`` (``[alerts]`` and ``[alerts.detector]`` in
the TOML file, ``FINSENTRY_ALERTS__DETECTOR__ALPHA`` in the environment) and passes it down.
The defaults are the ones ``finsentry bench alerts`` measures; ``alerts/README.md`` explains each.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DetectorSettings(BaseModel):
    """Thresholds of the negative-spike test for one series key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Windows
    window_min: int = Field(
        default=15, ge=1, le=24 * 60, description="minutes in the window that is tested"
    )
    baseline_days: float = Field(
        default=7.0, gt=0, le=90, description="days of the key's own history it is tested against"
    )
    settle_min: int = Field(default=0, ge=0, le=60)  # wait for late articles before a minute counts

    # Volume and history gates
    min_n: int = Field(default=20, ge=1)  # articles in the window
    min_neg: int = Field(default=5, ge=1)  # negative articles in the window
    min_history_hours: float = Field(default=24.0, ge=0)  # baseline time actually covered
    min_baseline_n: int = Field(default=200, ge=1)  # baseline articles

    # Significance
    alpha: float = Field(default=0.01, gt=0, lt=1)  # family-wise level per evaluation tick
    count_alpha: float = Field(default=0.05, gt=0, lt=1)  # negative-count guard, one-sided
    rho_min: float = Field(default=0.005, ge=0, lt=1)  # floor of the share over-dispersion
    rho_max: float = Field(default=0.5, gt=0, lt=1)  # cap of the share over-dispersion
    nb_alpha_max: float = Field(default=5.0, gt=0)  # cap of the count over-dispersion

    # Persistence: the share must also be significant over this longer window ending at the same
    # minute (0 disables). A burst of syndicated copies dominates 15 minutes but not 30.
    confirm_window_min: int = Field(default=30, ge=0, le=24 * 60)

    # A clean baseline: every w-minute block (epoch-aligned) whose negative share is above its
    # own trailing reference at this one-sided level (and by resolve_lift) leaves the baseline
    # of every later tick, whether or not an alert fired, so a missed episode cannot raise a
    # key's baseline share and over-dispersion for a week. 0 disables.
    clean_baseline_alpha: float = Field(default=0.01, ge=0, lt=1)

    # Effect size
    min_lift: float = Field(default=1.5, ge=1)  # observed share / baseline share
    min_share_increase: float = Field(default=0.05, ge=0, lt=1)  # absolute, share points
    share_floor: float = Field(default=0.02, gt=0, lt=1)  # lift denominator floor

    # "Back to normal" (hysteresis for the lifecycle)
    resolve_lift: float = Field(
        default=1.25, ge=1, description="a window is normal again below this lift (≤ min_lift)"
    )
    resolve_alpha: float = Field(
        default=0.05, gt=0, lt=1, description="… and when its share is no longer significant here"
    )

    @model_validator(mode="after")
    def _consistent(self) -> DetectorSettings:
        if self.rho_min > self.rho_max:
            raise ValueError("rho_min must not exceed rho_max")
        if self.resolve_lift > self.min_lift:
            raise ValueError("resolve_lift must not exceed min_lift (hysteresis)")
        if self.confirm_window_min and self.confirm_window_min <= self.window_min:
            raise ValueError("confirm_window_min must be 0 or longer than window_min")
        if self.min_neg > self.min_n:
            raise ValueError("min_neg must not exceed min_n")
        return self


class AlertSettings(BaseModel):
    """Everything under ``alerts``: the detector plus the lifecycle's resolve rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    detector: DetectorSettings = DetectorSettings()
    # What the detector counts: distinct stories (syndicated copies of one story count once)
    # or every article.
    count: Literal["stories", "articles"] = "stories"
    interval_s: int = Field(default=60, ge=1)  # how often the scheduler evaluates every key
    # K: an alert resolves after this many consecutive evaluations whose window is normal
    resolve_after_windows: int = Field(default=5, ge=1)
    # a still-firing, unacknowledged alert is notified again this often
    repeat_interval_min: int = Field(default=60, ge=1)
    top_articles: int = Field(default=5, ge=0, le=50)  # evidence articles kept per alert
    deliver_interval_s: int = Field(default=10, ge=1)  # outbox delivery cadence
    # one detector across daemons: the lease outlives a few missed ticks, not more
    lease_ttl_s: int = Field(default=90, ge=5)
