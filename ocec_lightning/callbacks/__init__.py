"""Callbacks: construction from the `callbacks` config group plus the few behaviours
Lightning does not ship (EMA restore rules, NaN/inf guard, run summary)."""

from ocec_lightning.callbacks.factory import build_callbacks

__all__ = ["build_callbacks"]
