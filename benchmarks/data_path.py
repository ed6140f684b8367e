"""Figure b of `make bench`: samples/s of the train data path per augmentation preset.

Data: a synthetic OCEC parquet (PNG bytes, 24×40, written once by the package's
`write_synthetic_eyes` and reused from benchmarks/results/cache), read as `data=parquet`
at `data.image_size=[24,40]`, batch 256 (4096 on a GPU), one process.

Measured:
- setup seconds, cold vs warm: `datamodule.setup("fit")` with an empty cache directory
  (index the parquet, decode every PNG, write the memory-mapped uint8 cache) vs a new
  DataModule on the same directory (index, map the existing cache: no decoding);
  interleaved rounds, median.
- train-path samples/s for every preset (none, conservative, balanced, aggressive) ×
  {0, 2} DataLoader workers × cache mode {disk (memmap, as after a first run), ram (an
  in-memory array, decoded every run)}. "The train path" = iterate
  `datamodule.train_dataloader()` and pass every batch through `train_step_batch`: moved
  to the device, then the DataModule's batch augmentation as training applies it
  (`augment_batch(batch, train=True)`, i.e. what `on_after_batch_transfer` does while
  fitting; the Lightning hook itself when a DataModule has no `augment_batch`). Each
  measurement leaves out the first batches (worker start-up, first touch), then times a
  fixed number of batches; cells are interleaved round by round, figure = median.
Workers are persistent (the default), so start-up is paid once per cell, outside the
timings; on a GPU the end of each timing waits for the device.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
import torch  # noqa: E402

from ocec_lightning.config import compose_config  # noqa: E402
from ocec_lightning.data import build_datamodule  # noqa: E402

NAME = "data_path"
PRESETS = ("none", "conservative", "balanced", "aggressive")
WORKERS = (0, 2)
IMAGE_SIZE = (24, 40)
TARGET_BALANCED = 8000.0  # samples/s, balanced, 0 workers (issue 11's target)
UPSTREAM = 1650.0  # upstream OCEC's loader on the same parquet and machine (issue 11)
SKIP_BATCHES = 2


def synthetic_parquet(n: int, seed: int = 0) -> Path:
    """A synthetic OCEC parquet of `n` rows with PNG bytes at 24×40, written once."""
    from ocec_lightning.synthetic.eyes_writer import write_synthetic_eyes

    path = common.cache_dir() / f"eyes_{n}_{IMAGE_SIZE[0]}x{IMAGE_SIZE[1]}_seed{seed}.parquet"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.parquet")
        write_synthetic_eyes(tmp, n, seed, height=IMAGE_SIZE[0], width=IMAGE_SIZE[1], workers=2)
        tmp.replace(path)
    return path


def make_datamodule(
    parquet: Path, cache_dir: Path, preset: str, workers: int, mode: str, batch: int
) -> Any:
    """The DataModule `ocec-train data=parquet` would build with these settings."""
    overrides = [
        "data=parquet",
        f"data.path={parquet}",
        f"aug={preset}",
        f"data.image_size=[{IMAGE_SIZE[0]},{IMAGE_SIZE[1]}]",
        f"data.batch_size={batch}",
        f"data.num_workers={workers}",
        f"data.cache.mode={mode}",
        f"data.cache.dir={cache_dir}",
    ]
    return build_datamodule(compose_config(overrides))


def train_step_batch(datamodule: Any, batch: Any, device: torch.device) -> Any:
    """One loader batch as the training step receives it: on the device, augmented."""
    batch = [t.to(device, non_blocking=True) if torch.is_tensor(t) else t for t in batch]
    augment = getattr(datamodule, "augment_batch", None)
    if augment is not None:
        return augment(batch, train=True)
    return datamodule.on_after_batch_transfer(batch, 0)


def timed_batches(datamodule: Any, loader: Any, batches: int, device: torch.device) -> float:
    """Samples/s over `batches` train-path batches after `SKIP_BATCHES` untimed ones."""
    iterator = iter(loader)
    for _ in range(SKIP_BATCHES):
        train_step_batch(datamodule, next(iterator), device)
    samples, start = 0, time.perf_counter()
    for _ in range(batches):
        try:
            out = train_step_batch(datamodule, next(iterator), device)
        except StopIteration:  # a short epoch: start the next one
            iterator = iter(loader)
            continue
        samples += len(out[0])
    common.cuda_sync()
    return samples / (time.perf_counter() - start)


def cell_keys(quick: bool) -> list[tuple[str, int, str]]:
    """(preset, workers, cache mode) of every throughput cell: each preset at 0 and 2
    workers from the disk cache, plus the in-RAM array at 0 workers (workers share it the
    same way); --quick: every preset at 0 workers, balanced at 2 and from RAM."""
    if quick:
        return [*((p, 0, "disk") for p in PRESETS), ("balanced", 2, "disk"), ("balanced", 0, "ram")]
    keys = [(p, w, "disk") for p in PRESETS for w in WORKERS]
    return keys + [(p, 0, "ram") for p in PRESETS]


def setup_seconds(parquet: Path, cache_dir: Path, batch: int, cold: bool) -> float:
    """Seconds of `setup("fit")`; `cold` empties the cache directory first."""
    if cold and cache_dir.exists():
        shutil.rmtree(cache_dir)
    datamodule = make_datamodule(parquet, cache_dir, "none", 0, "disk", batch)
    start = time.perf_counter()
    datamodule.setup("fit")
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    args = common.bench_args(
        __doc__.splitlines()[0],
        argv,
        rows=(int, None, "parquet rows (default 20000; --quick 1500)"),
        batches=(int, None, "timed batches per cell (default 16; --quick 2)"),
    )
    started = time.perf_counter()
    profile = common.device_profile()
    device, batch = torch.device(profile["device"]), profile["batch_size"]
    if args.quick:
        batch = min(batch, 64)
    rows = args.rows or (1500 if args.quick else 20000)
    n_batches = args.batches or (2 if args.quick else 16)
    repeats = args.repeats or (1 if args.quick else 5)
    write_start = time.perf_counter()
    parquet = synthetic_parquet(rows)
    write_seconds = time.perf_counter() - write_start

    with tempfile.TemporaryDirectory(dir=common.cache_dir()) as tmp_name:
        cache_dir = Path(tmp_name) / "cache"
        setups = common.interleave(
            {
                "cold": lambda: setup_seconds(parquet, cache_dir, batch, cold=True),
                "warm": lambda: setup_seconds(parquet, cache_dir, batch, cold=False),
            },
            repeats=max(1, min(repeats, 3)),
            warmup=0,
        )
        # One DataModule and one persistent loader per cell, built up front.
        cells: dict[str, Callable[[], float]] = {}
        keep: list[Any] = []
        for preset, workers, mode in cell_keys(args.quick):
            datamodule = make_datamodule(parquet, cache_dir, preset, workers, mode, batch)
            datamodule.setup("fit")
            loader = datamodule.train_dataloader()
            keep.append(loader)
            cells[f"{preset}|{workers}|{mode}"] = lambda d=datamodule, lo=loader: timed_batches(
                d, lo, n_batches, device
            )
        throughput = common.interleave(cells, repeats, warmup=1 if not args.quick else 0)
        augment_name = (
            "datamodule.augment_batch(batch, train=True)"
            if hasattr(datamodule, "augment_batch")
            else "datamodule.on_after_batch_transfer(batch, 0)"
        )
        del keep, cells

    table = []
    for key, values in throughput.items():
        preset, workers, mode = key.split("|")
        stat = common.spread(values)
        table.append(
            {"preset": preset, "workers": int(workers), "cache": mode, **stat, "values": values}
        )
    lookup = {(r["preset"], r["workers"], r["cache"]): r["median"] for r in table}
    balanced = lookup[("balanced", 0, "disk")]
    setup_stats = {k: common.spread(v, higher_is_better=False) for k, v in setups.items()}
    figures = [
        common.Figure(
            "b. balanced, 0 workers, train path",
            round(balanced),
            "samples/s",
            TARGET_BALANCED,
            note=f"{balanced / UPSTREAM:.1f}× upstream OCEC's 1,650/s (issue 11)",
        ),
        common.Figure(
            "b. setup cold (index + decode + write cache)",
            round(setup_stats["cold"]["median"], 2),
            "s",
            note=f"{rows} rows",
        ),
        common.Figure("b. setup warm (map cache)", round(setup_stats["warm"]["median"], 2), "s"),
    ]
    for (preset, workers, mode), value in lookup.items():
        if (preset, workers, mode) != ("balanced", 0, "disk"):
            label = f"b. {preset}, {workers} workers" + (", RAM array" if mode == "ram" else "")
            figures.append(common.Figure(label, round(value), "samples/s"))
    method = (
        f"{rows}-row parquet, batch {batch}, {n_batches} timed batches per cell after "
        f"{SKIP_BATCHES} untimed; {repeats} interleaved rounds over all cells, median"
    )
    details = {
        "profile": {**profile, "batch_size": batch},
        "rows": rows,
        "parquet": str(parquet),
        "parquet_write_seconds": round(write_seconds, 2),
        "setup_seconds": setups,
        "setup_stats": setup_stats,
        "throughput": table,
        "upstream_samples_per_s": UPSTREAM,
        "augment": augment_name,
    }
    common.write_result(NAME, args, figures, method, details, started)
    print(f"  {'preset':13} {'workers':>7} {'cache':>5} {'samples/s':>10} (median)")
    for (preset, workers, mode), value in lookup.items():
        print(f"  {preset:13} {workers:7d} {mode:>5} {value:10,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
