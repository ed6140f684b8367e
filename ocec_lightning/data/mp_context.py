"""How DataLoader workers start (`data.multiprocessing_context`).

`null` leaves it to torch (the platform's default start method) — except inside a
joblib/loky job (Hydra's joblib launcher), whose default start method is loky's: there
torch's workers fail with `'Process' object has no attribute 'env'` (Hydra #964). In that
case workers are started with `fork` (POSIX; `spawn` elsewhere), which works under loky.
"""

from __future__ import annotations

import multiprocessing

MP_CONTEXTS = ("fork", "spawn", "forkserver")


def worker_context(configured: str | None, num_workers: int) -> str | None:
    """The `multiprocessing_context` to give a DataLoader with `num_workers` workers."""
    if configured is not None or num_workers == 0:
        return configured
    if multiprocessing.get_start_method(allow_none=True) in (None, *MP_CONTEXTS):
        return None  # the standard library's default: torch's default works
    # A foreign default start method (loky in joblib jobs).
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
