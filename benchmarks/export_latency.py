"""ONNX size and onnxruntime latency of the OCEC backbones (SPEC §13, issue 10).

For each backbone (its default head) at 24×40 and 32×64: export the deployment graph
(sigmoid inside, BatchNorm folded, dynamo exporter, one file), then time onnxruntime on
the CPU at batch 1 and batch 64 — median of many runs after a warmup, runs interleaved
across models so machine noise hits all of them alike. Writes
benchmarks/results/export_latency.json and prints a table. Run: `make bench` or
`.venv/bin/python benchmarks/export_latency.py`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from hydra.utils import instantiate

from ocec_lightning.config.compose import compose_config
from ocec_lightning.export.onnx_export import deployment_graph, export_graph, fold_batchnorm
from ocec_lightning.export.parity import ort_session, run_session

BACKBONES = ("baseline", "inverted_se", "convnext")
SIZES = ((24, 40), (32, 64))
ROUNDS = 15  # interleaved rounds; each round times every model once per batch size
RUNS = {1: 40, 64: 4}  # session.run calls per timing, per batch size
OUT = Path(__file__).parent / "results" / "export_latency.json"


def build(backbone: str, size: tuple[int, int]) -> object:
    overrides = [f"model.backbone={backbone}", f"data.image_size=[{size[0]},{size[1]}]"]
    cfg = compose_config(overrides)
    try:
        return instantiate(cfg.model).eval()
    except Exception:  # a token grid that does not fit this size: the smallest grid
        return instantiate(compose_config([*overrides, "model.token_mixer_grid=[1,1]"]).model)


def main() -> None:
    rows, sessions = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for backbone in BACKBONES:
            for size in SIZES:
                model = build(backbone, size).eval()
                graph, folded = fold_batchnorm(deployment_graph(model, "classification"))
                path = Path(tmp) / f"{backbone}_{size[0]}x{size[1]}.onnx"
                export_graph(graph.eval(), size, path, "classification")
                key = (backbone, size)
                sessions[key] = ort_session(path, threads=os.cpu_count())
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
        times: dict[tuple, list[float]] = {}
        rng = np.random.default_rng(0)
        inputs = {
            (b, s): rng.random((b, 3, *s), dtype=np.float32) for b in RUNS for s in SIZES
        }
        for key, session in sessions.items():  # warmup
            for batch in RUNS:
                run_session(session, inputs[(batch, key[1])])
        for _ in range(ROUNDS):
            for key, session in sessions.items():
                for batch, runs in RUNS.items():
                    images = inputs[(batch, key[1])]
                    start = time.perf_counter()
                    for _ in range(runs):
                        run_session(session, images)
                    elapsed = (time.perf_counter() - start) / runs
                    times.setdefault((*key, batch), []).append(elapsed * 1000)
    for row in rows:
        key = (row["backbone"], tuple(row["image_size"]))
        for batch in RUNS:
            ms = statistics.median(times[(*key, batch)])
            row[f"batch{batch}_ms"] = round(ms, 3)
            row[f"batch{batch}_images_per_s"] = round(batch * 1000 / ms)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}",
        "onnxruntime_threads": os.cpu_count(),
        "method": f"median of {ROUNDS} interleaved rounds; batch 1: {RUNS[1]} runs per round, "
        f"batch 64: {RUNS[64]} runs per round; dynamo export, BatchNorm folded",
        "rows": rows,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"{'backbone':12} {'size':>6} {'KiB':>7} {'b1 ms':>7} {'b64 ms':>7} {'img/s b64':>9}")
    for r in rows:
        size = "x".join(map(str, r["image_size"]))
        print(
            f"{r['backbone']:12} {size:>6} {r['onnx_kib']:7.1f} {r['batch1_ms']:7.3f} "
            f"{r['batch64_ms']:7.2f} {r['batch64_images_per_s']:9d}"
        )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
