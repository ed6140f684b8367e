"""Kept for imports written before the readers moved to `analysis/logs/`."""

from ocec_lightning.analysis.logs import infer_mode, load_history, locate_log, read_settings

__all__ = ["infer_mode", "load_history", "locate_log", "read_settings"]
