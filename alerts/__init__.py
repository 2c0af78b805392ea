"""Negative-spike alerts.

Detection is pure and lives in :mod:`alerts.detect` (``Detector``, ``detect_series``,
``is_normal``), its statistics kernels in :mod:`alerts.stats`, the replay used by backtest and
bench in :mod:`alerts.replay`; its settings are :class:`alerts.config.AlertSettings`. Synthetic
streams for the benchmark are in :mod:`alerts.simulate`, the benchmark itself in
:mod:`alerts.bench`. The method and its assumptions are written up in ``alerts/README.md``.

Nothing is imported here, so that importing one part (say, a notifier) does not pull in
scipy and pandas.
"""
