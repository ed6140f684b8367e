"""Callbacks: construction from the `callbacks` config group plus the few behaviours
Lightning does not ship (EMA restore rules, NaN/inf guard, the run directory's config and
summary, curve report)."""

from ocec_lightning.callbacks.factory import build_callbacks, build_loggers

__all__ = ["build_callbacks", "build_loggers"]
