"""Figure d of `make bench`: wall time and epochs to val F1 ≥ 0.97 per recipe.

Data: the built-in synthetic eyes, `data.source.num_samples=40000` (seed 42, the default
image size of the recipes, 32×64, default 0.8/0.1/0.1 subject-grouped split), decoded
once into a disk cache under benchmarks/results/cache and shared by every recipe and
every later bench run (the first setup is reported, not counted).

Recipes: the default config, `preset=ocec_batch4096` and `preset=template_fast`, each run
as `ocec-train` builds it (`build_run`: its own model, batch size, optimizer, schedule,
EMA and callbacks) with two machine settings changed for all alike: `data.num_workers=0`
(ocec_batch4096's 16 workers would oversubscribe a 2-core machine; on a GPU the data default
applies) and the device profile (bf16 on a GPU). A small callback watches `val/f1` (the
F1 at threshold 0.5 that the checkpoints monitor) after every validation and stops the
fit the first time it reaches 0.97, recording the wall seconds since `fit` started
(sanity check, training, validation, per-epoch plots all included: what a user waits)
and the epochs done. Each recipe is capped by `--cap-seconds` of fit time
(`trainer.max_time`, with `min_epochs=0` so the cap can also end a first epoch) and by
its own `max_epochs`; a recipe that does not reach the target within the cap is
reported as "not reached" with its best val/f1 and the epochs it completed.
Budget: 3 recipes × 120 s cap + fixed costs ≈ 7 minutes of a < 20-minute `make bench`.

One run per recipe (time-to-target is a long measurement; the gaps between recipes are
many times the run-to-run noise of one epoch); `--repeats N` runs N interleaved rounds
and reports the median.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
import lightning.pytorch as pl  # noqa: E402
from lightning.pytorch.callbacks import Callback  # noqa: E402

from ocec_lightning.config import compose_config  # noqa: E402
from ocec_lightning.training import build_run  # noqa: E402

NAME = "time_to_f1"
TARGET_F1 = 0.97
MONITOR = "val/f1"
RECIPES: dict[str, list[str]] = {
    "default": [],
    "ocec_batch4096": ["preset=ocec_batch4096"],
    "template_fast": ["preset=template_fast"],
}


class TargetWatch(Callback):
    """Stops the fit when `MONITOR` first reaches `TARGET_F1`; records time and epochs."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.reached_seconds: float | None = None
        self.reached_epoch: int | None = None
        self.history: list[float] = []

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or MONITOR not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[MONITOR])
        self.history.append(value)
        if self.reached_seconds is None and value >= TARGET_F1:
            self.reached_seconds = time.perf_counter() - self.start
            self.reached_epoch = trainer.current_epoch + 1
            trainer.should_stop = True


def recipe_overrides(quick: bool, cap_seconds: float, profile: dict[str, Any]) -> list[str]:
    """Settings every recipe shares: data size, cache, workers, the time cap."""
    rows = 1500 if quick else 40000
    cap = time.strftime("%H:%M:%S", time.gmtime(cap_seconds))
    overrides = [
        "data=synthetic_eyes",
        f"data.source.num_samples={rows}",
        f"data.cache.dir={common.cache_dir() / 'synthetic_eyes'}",
        "data.cache.mode=disk",
        f"++trainer.max_time=00:{cap}",
        "trainer.min_epochs=0",  # the time cap may end the first epoch too
        "test=false",
    ]
    if profile["gpu"]:
        overrides += ["trainer.precision=bf16-mixed"]
    else:
        overrides += ["data.num_workers=0"]
    if quick:  # a smoke run: a few batches, no plots
        overrides += [
            "data.image_size=[24,40]",
            "trainer.limit_train_batches=2",
            "trainer.limit_val_batches=1",
            "trainer.num_sanity_val_steps=0",
            "callbacks.classification_plots=null",
            "callbacks.curve_report=null",
        ]
    return overrides


def run_recipe(name: str, shared: list[str], quick: bool, tmp: Path) -> dict[str, Any]:
    """One fit of one recipe until the target, the time cap or its max_epochs."""
    run_dir = Path(tempfile.mkdtemp(dir=tmp, prefix=name))
    overrides = [*shared, *RECIPES[name]]
    if quick:
        overrides += ["trainer.max_epochs=1", "data.batch_size=256"]
    cfg = compose_config(overrides, output_dir=run_dir)
    pl.seed_everything(cfg.seed, workers=True)
    run = build_run(cfg)
    watch = TargetWatch()
    run.trainer.callbacks.append(watch)
    setup_start = time.perf_counter()
    run.datamodule.setup("fit")
    setup_seconds = time.perf_counter() - setup_start
    fit_start = time.perf_counter()
    run.trainer.fit(run.task, datamodule=run.datamodule)
    fit_seconds = time.perf_counter() - fit_start
    return {
        "recipe": name,
        "reached": watch.reached_seconds is not None,
        "seconds": watch.reached_seconds,
        "epochs": watch.reached_epoch,
        "epochs_run": int(run.trainer.current_epoch),
        "fit_seconds": round(fit_seconds, 1),
        "setup_seconds": round(setup_seconds, 2),
        "best_f1": max(watch.history) if watch.history else None,
        "val_f1_per_epoch": [round(v, 4) for v in watch.history],
        "batch_size": int(cfg.data.batch_size),
        "max_epochs": int(cfg.trainer.max_epochs),
        "image_size": list(cfg.data.image_size),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = common.bench_args(
        __doc__.splitlines()[0],
        argv,
        cap_seconds=(float, None, "fit-time cap per recipe (default 120; --quick 30)"),
    )
    started = time.perf_counter()
    profile = common.device_profile()
    cap = args.cap_seconds or (30.0 if args.quick else 120.0)
    repeats = args.repeats or 1
    shared = recipe_overrides(args.quick, cap, profile)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in RECIPES}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)

        def method(name: str) -> float:
            result = run_recipe(name, shared, args.quick, tmp)
            runs[name].append(result)
            return result["seconds"] if result["reached"] else math.inf

        common.interleave({n: (lambda n=n: method(n)) for n in RECIPES}, repeats, warmup=0)
    figures, rows = [], []
    for name, results in runs.items():
        reached = [r for r in results if r["reached"]]
        row = {"recipe": name, "runs": results}
        if len(reached) * 2 > len(results):  # reached in most runs: the median
            seconds = common.spread([r["seconds"] for r in reached], False)["median"]
            epochs = sorted(r["epochs"] for r in reached)[len(reached) // 2]
            row.update(seconds=round(seconds, 1), epochs=epochs)
            note = f"{epochs} epochs, batch {results[0]['batch_size']}"
            figures.append(
                common.Figure(f"d. {name}: time to val F1 ≥ 0.97", seconds, "s", note=note)
            )
        else:
            last = results[-1]
            best = "—" if last["best_f1"] is None else f"{last['best_f1']:.4f}"
            note = (
                f"not reached within the cap ({cap:.0f} s fit time or max_epochs "
                f"{last['max_epochs']}): best val/f1 {best} after {last['epochs_run']} "
                f"completed epoch(s) ({last['fit_seconds']} s), batch {last['batch_size']}"
            )
            row.update(seconds=None, epochs=None)
            figures.append(common.Figure(f"d. {name}: time to val F1 ≥ 0.97", None, "s", note=note))
        rows.append(row)
    method = (
        f"{'1,500' if args.quick else '40,000'} synthetic eyes, one fit per recipe"
        f"{'' if repeats == 1 else f' × {repeats} interleaved rounds, median'}; stop at "
        f"{MONITOR} ≥ {TARGET_F1}; cap {cap:.0f} s of fit time or the recipe's max_epochs"
    )
    details = {"profile": profile, "cap_seconds": cap, "overrides": shared, "recipes": rows}
    common.write_result(NAME, args, figures, method, details, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
