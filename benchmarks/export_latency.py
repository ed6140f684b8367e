"""Figure c of `make bench`: ONNX size and onnxruntime latency of the OCEC backbones
(issues 10 and 11).

For each backbone (its default head) at 24×40 and 32×64: export the deployment graph
(sigmoid inside, BatchNorm folded, dynamo exporter, one file), then time onnxruntime's
CPU execution provider (one intra-op thread per core) at batch 1 and batch 64 — the
median over interleaved rounds, each round timing every model once per batch size
(`RUNS` session.run calls, averaged) after a warmup, so machine noise hits all models
alike. The figures are latencies, reported without targets (the issue sets none). On a
GPU machine this still times the CPU provider: the exported model targets CPU inference.
Writes benchmarks/results/export_latency.json and prints a table.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
import numpy as np  # noqa: E402
from hydra.utils import instantiate  # noqa: E402

from ocec_lightning.config.compose import compose_config  # noqa: E402
from ocec_lightning.export.onnx_export import (  # noqa: E402
    deployment_graph,
    export_graph,
    fold_batchnorm,
)
from ocec_lightning.export.parity import ort_session, run_session  # noqa: E402

NAME = "export_latency"
BACKBONES = ("baseline", "inverted_se", "convnext")
SIZES = ((24, 40), (32, 64))
ROUNDS = 15  # interleaved rounds; each round times every model once per batch size
RUNS = {1: 40, 64: 4}  # session.run calls per timing, per batch size


def build(backbone: str, size: tuple[int, int]) -> object:
    overrides = [f"model.backbone={backbone}", f"data.image_size=[{size[0]},{size[1]}]"]
    cfg = compose_config(overrides)
    try:
        return instantiate(cfg.model).eval()
    except Exception:  # a token grid that does not fit this size: the smallest grid
        return instantiate(compose_config([*overrides, "model.token_mixer_grid=[1,1]"]).model)


def main(argv: Sequence[str] | None = None) -> int:
    args = common.bench_args(__doc__.splitlines()[0], argv)
    started = time.perf_counter()
    backbones = BACKBONES[:1] if args.quick else BACKBONES
    sizes = SIZES[:1] if args.quick else SIZES
    rounds = args.repeats or (3 if args.quick else ROUNDS)
    runs = {1: 10, 64: 2} if args.quick else RUNS
    threads = os.cpu_count()
    rows, sessions = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for backbone in backbones:
            for size in sizes:
                model = build(backbone, size).eval()
                graph, folded = fold_batchnorm(deployment_graph(model, "classification"))
                path = Path(tmp) / f"{backbone}_{size[0]}x{size[1]}.onnx"
                export_graph(graph.eval(), size, path, "classification")
                sessions[(backbone, size)] = ort_session(path, threads=threads)
                rows.append(
                    {
                        "backbone": backbone,
                        "head": str(model.spec.head) if hasattr(model, "spec") else "auto",
                        "image_size": list(size),
                        "onnx_kib": round(path.stat().st_size / 1024, 1),
                        "parameters": sum(p.numel() for p in model.parameters()),
                        "folded_batchnorms": folded,
                    }
                )
        rng = np.random.default_rng(0)
        inputs = {(b, s): rng.random((b, 3, *s), dtype=np.float32) for b in runs for s in sizes}
        for key, session in sessions.items():  # warmup
            for batch in runs:
                run_session(session, inputs[(batch, key[1])])

        def timing(key: tuple, batch: int) -> float:
            images, session = inputs[(batch, key[1])], sessions[key]
            start = time.perf_counter()
            for _ in range(runs[batch]):
                run_session(session, images)
            return (time.perf_counter() - start) / runs[batch] * 1000

        methods = {
            (*key, batch): (lambda key=key, batch=batch: timing(key, batch))
            for key in sessions
            for batch in runs
        }
        times = common.interleave(methods, rounds, warmup=0)
    figures = []
    for row in rows:
        key = (row["backbone"], tuple(row["image_size"]))
        size = "×".join(map(str, row["image_size"]))
        for batch in runs:
            stat = common.spread(times[(*key, batch)], higher_is_better=False)
            ms = stat["median"]
            row[f"batch{batch}_ms"] = round(ms, 3)
            row[f"batch{batch}_best_ms"] = round(stat["best"], 3)
            row[f"batch{batch}_images_per_s"] = round(batch * 1000 / ms)
            figures.append(
                common.Figure(
                    f"c. {row['backbone']} ({row['head']}) {size}, batch {batch}",
                    round(ms, 3),
                    "ms",
                    note=f"{row['onnx_kib']} KiB, {row[f'batch{batch}_images_per_s']:,} images/s",
                )
            )
    method = (
        f"onnxruntime CPU, {threads} threads; median of {rounds} interleaved rounds; "
        f"batch 1: {runs[1]} runs per round, batch 64: {runs[64]} runs per round; "
        "dynamo export, BatchNorm folded"
    )
    details = {"onnxruntime_threads": threads, "rows": rows}
    common.write_result(NAME, args, figures, method, details, started)
    print(f"  {'backbone':12} {'size':>6} {'KiB':>7} {'b1 ms':>7} {'b64 ms':>7} {'img/s b64':>9}")
    for r in rows:
        size = "x".join(map(str, r["image_size"]))
        print(
            f"  {r['backbone']:12} {size:>6} {r['onnx_kib']:7.1f} {r['batch1_ms']:7.3f} "
            f"{r['batch64_ms']:7.2f} {r['batch64_images_per_s']:9d}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
