"""Figure e of `make bench`: a 470,811-row OCEC parquet (the size of the data set the
batch-4096 OCEC configuration trained on).

Data (setup, not a figure): `UNIQUE` synthetic eye crops at 24×40 are drawn with the
package's generator, PNG-encoded once, and repeated with distinct `image_path` ids, labels
and subject groups over 470,811 rows in the upstream OCEC schema (split, label, class_id,
image_path, source, image_bytes), written in row groups. The file is kept under
benchmarks/results/cache and reused; every row is still decoded on a cold run.

Phases, each in a fresh Python process so that each peak RSS is its own (ru_maxrss of that
process, plus a 20 ms sampler of /proc/self/status splitting anonymous memory from mapped
file pages; the import baseline is reported alongside):
1. `index`: `source.load()` of `data=parquet` (metadata columns, labels, splits, refs).
2. `cache`: the first `datamodule.setup("fit")` with `data.cache.mode=disk` and an empty
   cache directory: index + decode every PNG + write the memory-mapped uint8 cache.
3. `warm`: a second run on the same cache: seconds from building the DataModule to the
   first train-path batch (setup maps the cache, no decoding), then the throughput of the
   rest of that epoch (~1,470 batches of 256), `aug=balanced`, 0 workers, through the
   same `train_step_batch` helper as figure b — stopped after `EPOCH_SECONDS` when the
   data path is too slow for a whole epoch in the bench budget; the result says how many
   batches of the epoch it covers.
`--quick` uses 3,000 rows and runs the phases in this process (RSS then not per phase).
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
import numpy as np  # noqa: E402

NAME = "scale"
ROWS = 470_811
UNIQUE = 4096
IMAGE_SIZE = (24, 40)
EPOCH_SECONDS = 60.0  # at most this long on the epoch (bench budget)
TARGET_RSS_MIB = 2048.0
TARGET_FIRST_BATCH_S = 10.0
_ROW_GROUP = 50_000


def parquet_path(rows: int) -> Path:
    return common.cache_dir() / f"ocec_{rows}_{IMAGE_SIZE[0]}x{IMAGE_SIZE[1]}.parquet"


def write_parquet(rows: int, path: Path) -> float:
    """Write the repeated-crop OCEC parquet (unless present); returns seconds spent."""
    if path.is_file():
        return 0.0
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    from ocec_lightning.synthetic.eyes import generate_eyes

    start = time.perf_counter()
    unique = min(UNIQUE, max(rows // 8, 64))  # --quick: fewer crops to draw
    eyes = generate_eyes(unique, seed=0, height=IMAGE_SIZE[0], width=IMAGE_SIZE[1])
    pngs = []
    for image in eyes.images:
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG", compress_level=1)
        pngs.append(buf.getvalue())
    unique_labels = eyes.labels.astype(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    writer = None
    try:
        for first in range(0, rows, _ROW_GROUP):
            ids = np.arange(first, min(rows, first + _ROW_GROUP))
            crop = ids % len(pngs)
            subject = ids // 25
            split = np.where(subject % 10 == 8, "val", np.where(subject % 10 == 9, "test", "train"))
            labels = unique_labels[crop]
            table = pa.table(
                {
                    "split": split.tolist(),
                    "label": np.where(labels == 1, "open", "closed").tolist(),
                    "class_id": labels,
                    "image_path": [f"images/{i:07d}.png" for i in ids],
                    "source": [f"synthetic/subject_{s:06d}" for s in subject],
                    "image_bytes": pa.array([pngs[c] for c in crop], type=pa.binary()),
                }
            )
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)
    return time.perf_counter() - start


class MemorySampler:
    """Polls /proc/self/status; keeps the largest RssAnon and RssFile seen (MiB)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.peak = {"RssAnon": 0.0, "RssFile": 0.0, "VmRSS": 0.0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    @staticmethod
    def read() -> dict[str, float]:
        values = {}
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                key, _, rest = line.partition(":")
                if key in ("RssAnon", "RssFile", "VmRSS"):
                    values[key] = int(rest.split()[0]) / 1024
        except OSError:
            pass
        return values

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            for key, value in self.read().items():
                self.peak[key] = max(self.peak[key], value)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for key, value in self.read().items():
            self.peak[key] = max(self.peak[key], value)


def peak_rss_mib() -> float:
    """This process's peak resident set so far (ru_maxrss, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_phase(phase: str, parquet: Path, cache_dir: Path, batch: int) -> dict[str, Any]:
    """One phase in this process; returns its timings and memory."""
    import torch
    from data_path import make_datamodule, train_step_batch

    baseline = MemorySampler.read().get("VmRSS", 0.0)
    out: dict[str, Any] = {"phase": phase, "baseline_rss_mib": round(baseline, 1)}
    with MemorySampler() as memory:
        built = time.perf_counter()
        datamodule = make_datamodule(parquet, cache_dir, "balanced", 0, "disk", batch)
        start = time.perf_counter() if phase in ("index", "cache") else built
        if phase == "index":
            table = datamodule.source.load()
            out["seconds"] = time.perf_counter() - start
            out["rows"] = len(table)
        elif phase == "cache":
            datamodule.setup("fit")
            out["seconds"] = time.perf_counter() - start
            out["train_rows"] = datamodule.num_samples("train")
        else:
            datamodule.setup("fit")
            out["setup_seconds"] = time.perf_counter() - start
            device = torch.device(common.device_profile()["device"])
            loader = datamodule.train_dataloader()
            iterator = iter(loader)
            train_step_batch(datamodule, next(iterator), device)
            common.cuda_sync()
            out["first_batch_seconds"] = time.perf_counter() - start
            samples, n, t0 = 0, 0, time.perf_counter()
            for batch_data in iterator:
                samples += len(train_step_batch(datamodule, batch_data, device)[0])
                n += 1
                if time.perf_counter() - t0 > EPOCH_SECONDS:
                    break
            common.cuda_sync()
            out["batches"] = n + 1  # the first batch included
            out["epoch_batches"] = len(loader)
            out["samples_per_s"] = samples / (time.perf_counter() - t0)
    out["peak_rss_mib"] = round(peak_rss_mib(), 1)
    out["peak_anon_mib"] = round(memory.peak["RssAnon"], 1)
    out["peak_file_mib"] = round(memory.peak["RssFile"], 1)
    return out


def in_subprocess(phase: str, parquet: Path, cache_dir: Path, batch: int) -> dict[str, Any]:
    """Run `phase` in a fresh interpreter (this file with --phase); returns its result."""
    result_file = cache_dir.parent / f"{phase}.json"
    command = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--parquet",
        str(parquet),
        "--cache-dir",
        str(cache_dir),
        "--batch",
        str(batch),
        "--result",
        str(result_file),
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    result = json.loads(result_file.read_text())
    result["process_seconds"] = round(time.perf_counter() - start, 2)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = common.bench_args(
        __doc__.splitlines()[0],
        argv,
        rows=(int, None, f"parquet rows (default {ROWS}; --quick 3000)"),
        phase=(str, None, "internal: run one phase in this process"),
        parquet=(Path, None, "internal: the parquet of --phase"),
        cache_dir=(Path, None, "internal: the cache directory of --phase"),
        batch=(int, 256, "internal: batch size of --phase"),
        result=(Path, None, "internal: where --phase writes its JSON"),
    )
    if args.phase:
        result = run_phase(args.phase, args.parquet, args.cache_dir, args.batch)
        args.result.write_text(json.dumps(result))
        return 0
    started = time.perf_counter()
    profile = common.device_profile()
    rows = args.rows or (3000 if args.quick else ROWS)
    batch = min(profile["batch_size"], 128) if args.quick else profile["batch_size"]
    parquet = parquet_path(rows)
    write_seconds = write_parquet(rows, parquet)
    work = common.cache_dir() / f"scale_{rows}_{os.getpid()}"
    cache_dir = work / "cache"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    runner = run_phase if args.quick else in_subprocess
    try:
        phases = {p: runner(p, parquet, cache_dir, batch) for p in ("index", "cache", "warm")}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    index, cache, warm = phases["index"], phases["cache"], phases["warm"]
    peak = max(p["peak_rss_mib"] for p in phases.values())
    worst = max(phases.values(), key=lambda p: p["peak_rss_mib"])["phase"]
    figures = [
        common.Figure(
            "e. index (source load)", round(index["seconds"], 2), "s", note=f"{rows:,} rows"
        ),
        common.Figure(
            "e. decode + cache (first setup)",
            round(cache["seconds"], 1),
            "s",
            note=f"{rows / cache['seconds']:,.0f} rows/s, index included",
        ),
        common.Figure(
            "e. peak RSS (worst phase)",
            round(peak),
            "MiB",
            TARGET_RSS_MIB,
            "<=",
            note=f"{worst}; "
            + ", ".join(
                f"{p['phase']} {p['peak_rss_mib']:,.0f} (anon {p['peak_anon_mib']:,.0f}, "
                f"file {p['peak_file_mib']:,.0f}, imports {p['baseline_rss_mib']:,.0f})"
                for p in phases.values()
            ),
        ),
        common.Figure(
            "e. peak anonymous memory (worst phase)",
            round(max(p["peak_anon_mib"] for p in phases.values())),
            "MiB",
            note="RSS without mapped files (libraries, the memory-mapped cache)",
        ),
        common.Figure(
            "e. time to first batch, second run",
            round(warm["first_batch_seconds"], 2),
            "s",
            TARGET_FIRST_BATCH_S,
            "<=",
            note="from building the DataModule (imports excluded); maps the cache",
        ),
        common.Figure(
            "e. train-path throughput, balanced, 0 workers",
            round(warm["samples_per_s"]),
            "samples/s",
            note=f"{warm['batches']:,} of the epoch's {warm['epoch_batches']:,} batches",
        ),
    ]
    method = (
        f"{rows:,}-row parquet ({UNIQUE} unique 24×40 PNG crops repeated); phases "
        f"{'in-process (--quick)' if args.quick else 'each in a fresh process'}; one run"
    )
    details = {
        "profile": profile,
        "rows": rows,
        "batch_size": batch,
        "parquet": str(parquet),
        "parquet_mib": round(parquet.stat().st_size / 2**20, 1),
        "parquet_write_seconds": round(write_seconds, 1),
        "phases": phases,
    }
    common.write_result(NAME, args, figures, method, details, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
