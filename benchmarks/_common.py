"""Shared pieces of the benchmarks: interleaved repeats, statistics, machine facts, and
the JSON result format that `run_all.py` summarises.

Method shared by every script: timings of the methods being compared are taken in
*interleaved rounds* inside one process (round r runs A, B, C, then round r+1 runs them in
reverse order, so a slow spell of this shared machine hits every method alike and no
method always runs first), after warmup rounds that are thrown away; a figure is the
median over rounds (best-of is reported next to it), and a ratio is taken between medians
of the same run, never across runs.

Result file `benchmarks/results/<name>.json` (or `--out DIR`; `--quick` defaults to
`benchmarks/results/quick/` so a smoke run never overwrites real figures):
`{"name", "quick", "seconds", "machine", "method", "figures": [{"figure", "measured",
"unit", "target", "comparison", "status", "note"}], "details": {...}}` with status
`pass` / `miss` (a target exists) or `info` (no target).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"


def cache_dir() -> Path:
    """Data sets and decoded caches reused across bench runs: benchmarks/results/cache
    (gitignored with the results), or $OCEC_BENCH_CACHE_DIR (the smoke test's tmp dir)."""
    return Path(os.environ.get("OCEC_BENCH_CACHE_DIR") or RESULTS_DIR / "cache")


@dataclass
class Figure:
    """One reported number, with its target when the issue sets one."""

    figure: str
    measured: float | None
    unit: str
    target: float | None = None
    comparison: str = ">="  # ">=": higher is better; "<=": lower is better
    note: str = ""

    @property
    def status(self) -> str:
        if self.target is None:
            return "info"
        if self.measured is None:
            return "miss"
        ok = (
            self.measured >= self.target
            if self.comparison == ">="
            else self.measured <= self.target
        )
        return "pass" if ok else "miss"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status}


def bench_args(
    description: str, argv: Sequence[str] | None = None, **extra: Any
) -> argparse.Namespace:
    """`--quick` (tiny sizes, seconds), `--out DIR` and `--repeats N`, plus `extra` flags
    given as name=(type, default, help)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: a smoke run, not a figure"
    )
    parser.add_argument("--out", type=Path, default=None, help="results directory")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved rounds")
    for name, (kind, default, text) in extra.items():
        flag = "--" + name.replace("_", "-")
        if kind is bool:
            parser.add_argument(flag, action="store_true", help=text)
        else:
            parser.add_argument(flag, type=kind, default=default, help=text)
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.out is None:
        args.out = RESULTS_DIR / "quick" if args.quick else RESULTS_DIR
    return args


def interleave(
    methods: Mapping[str, Callable[[], float]], repeats: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Call every method once per round, `warmup` discarded rounds then `repeats` kept ones;
    odd rounds run the methods in reverse order. Returns each method's kept values."""
    names = list(methods)
    kept: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(warmup + repeats):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            value = methods[name]()
            if round_index >= warmup:
                kept[name].append(float(value))
    return kept


def spread(values: Sequence[float], higher_is_better: bool = True) -> dict[str, float | int]:
    """Median, best-of, worst and count of one method's values."""
    ordered = sorted(values)
    best, worst = (ordered[-1], ordered[0]) if higher_is_better else (ordered[0], ordered[-1])
    return {
        "median": statistics.median(ordered),
        "best": best,
        "worst": worst,
        "n": len(ordered),
    }


def device_profile() -> dict[str, Any]:
    """What the scripts run on: the GPU (bf16, batch 4096) when CUDA is visible, else the
    CPU (fp32, batch 256)."""
    import torch

    if torch.cuda.is_available():
        return {"device": "cuda", "precision": "bf16-mixed", "batch_size": 4096, "gpu": True}
    return {"device": "cpu", "precision": "32-true", "batch_size": 256, "gpu": False}


def gpu_busy_percent() -> float | None:
    """`torch.cuda.utilization()` (needs pynvml) or None on a CPU machine / without it."""
    try:
        import torch

        if torch.cuda.is_available():
            return float(torch.cuda.utilization())
    except Exception:  # pynvml missing or NVML unavailable
        return None
    return None


def cuda_sync() -> None:
    """Wait for queued GPU work (no-op on the CPU) so a timestamp covers it."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """CPU model and cores, load, memory, library versions and the GPU when present."""
    import torch

    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        info["memory_gib"] = round(
            os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1
        )
    except (ValueError, OSError, AttributeError):
        pass
    for module in ("lightning", "onnxruntime"):
        try:
            info[module] = __import__(module).__version__
        except Exception:  # not installed: reported as absent
            info[module] = None
    return info


def machine_line(info: Mapping[str, Any]) -> str:
    """One line naming the machine, for tables."""
    gpu = f", GPU {info['gpu']}" if info.get("gpu") else ", no GPU"
    mem = f", {info['memory_gib']} GiB RAM" if info.get("memory_gib") else ""
    return (
        f"{info.get('cpu')}, {info.get('cores')} cores{mem}{gpu}; torch {info.get('torch')}, "
        f"lightning {info.get('lightning')}, onnxruntime {info.get('onnxruntime')}"
    )


def write_result(
    name: str,
    args: argparse.Namespace,
    figures: Sequence[Figure],
    method: str,
    details: Mapping[str, Any],
    started: float,
) -> Path:
    """Write `<out>/<name>.json` and print its figures; returns the path."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    result = {
        "name": name,
        "quick": bool(args.quick),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine_info(),
        "method": method,
        "figures": [f.as_dict() for f in figures],
        "details": details,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, default=_jsonable), encoding="utf-8")
    os.replace(tmp, path)
    for f in figures:
        target = "" if f.target is None else f" (target {f.comparison} {f.target:g})"
        print(f"  {f.figure}: {fmt(f.measured)} {f.unit}{target} -> {f.status}")
    print(f"wrote {path} in {result['seconds']} s")
    return path


def fmt(value: float | None) -> str:
    """A number for tables: thousands separators, 3 significant digits below 100."""
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return str(value)
