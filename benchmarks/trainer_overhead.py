"""Figure a of `make bench`: training-step throughput of our Trainer vs a plain PyTorch loop.

What is compared: the Trainer exactly as `ocec-train` builds it (`build_run` on the
default config: EMA, rich progress bar, model summary, checkpointing, early stopping, LR
monitor, classification plots, curve report, csv logger, the LR schedule stepped per
step), against `for x, y in batches: zero_grad(); loss_fn(model(x), y).backward();
step()` with the same model class and config, the same loss module and the same
optimizer (built by the same `build_optimizer`), no scheduler, no EMA, no logging.

Fairness:
- Both read the same list of pre-built in-memory batches (float32 images at 24×40,
  random labels; 256 per batch on the CPU, 4096 with bf16 autocast on a GPU) — no
  DataLoader, no augmentation in either; the Trainer gets the list as its train loader.
- Both are timed the same way: a timestamp at the start of every step (the Trainer's from
  a callback that runs first in `on_train_batch_start`). Each interval between two starts
  covers a whole step: fetching the batch, forward, backward, optimizer step and, for
  the Trainer, every callback's and the logger's per-step hooks and the progress bar
  refresh. A fit's throughput = batch / its median step after `WARMUP` steps (the median
  keeps a few steps stalled by other work on this shared machine from deciding it).
  Per-fit fixed costs (building the Trainer, sanity validation, the epoch-end
  validation, checkpoint writing, end-of-fit plots) fall outside; they are reported
  separately as `fit_fixed_seconds`, not in the ratio.
- Each repeat builds a fresh Trainer/model/optimizer (and the plain loop a fresh model
  and optimizer), seeded alike, for 30 steps; 14 interleaved rounds (+1 warmup round).
  The figure is median(ours) / median(plain) from the same process; the best-of ratio
  and the median of the per-round ratios (each pair ran back to back) are reported too.
- On a GPU, a fit's throughput is the mean over the window, whose two ends wait for the
  GPU (`synchronize`): single steps are not timed there, launches run ahead.

Breakdown (`--breakdown`; automatic when the ratio misses its target): Trainer variants
with one component switched off each (progress bar, EMA, LR monitor, logger, per-step LR
schedule, and "bare Lightning" with none of them), interleaved with the plain loop over
3 rounds of shorter fits (2/3 of the steps) to stay within the bench budget, each as a
ratio to the plain loop of the same rounds; plus one default fit under Lightning's
SimpleProfiler giving the ms per step spent in every callback hook (attribution only:
the profiler adds its own cost to every hook).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
import lightning.pytorch as pl  # noqa: E402
import torch  # noqa: E402
from lightning.pytorch.callbacks import Callback  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

from ocec_lightning.config import compose_config  # noqa: E402
from ocec_lightning.optim.optimizer import build_optimizer  # noqa: E402
from ocec_lightning.training import build_run  # noqa: E402
from ocec_lightning.validation import build_task  # noqa: E402

NAME = "trainer_overhead"
TARGET_RATIO = 0.97
IMAGE_SIZE = (24, 40)
WARMUP = 5  # first steps of every fit left out of the window (allocator, optimizer state)

# Trainer variants of the breakdown: (config overrides, config edit, trainer overrides).
Variant = tuple[list[str], Callable[[DictConfig], None] | None, dict[str, Any]]


def _no_callbacks(cfg: DictConfig) -> None:
    with open_dict(cfg):
        cfg.callbacks = {}


VARIANTS: dict[str, Variant] = {
    "ours": ([], None, {}),
    "no progress bar": (["callbacks.progress_bar=null"], None, {"enable_progress_bar": False}),
    "no EMA": (["callbacks.ema=null"], None, {}),
    "no lr_monitor": (["callbacks.lr_monitor=null"], None, {}),
    # Both callbacks need a logger, so they go too; compare with "no lr_monitor".
    "no logger, lr_monitor, curve_report": (
        ["~logger", "callbacks.curve_report=null", "callbacks.lr_monitor=null"],
        None,
        {},
    ),
    "no scheduler": (["scheduler=none"], None, {}),
    "bare Lightning": (
        ["~logger", "scheduler=none"],
        _no_callbacks,
        {"enable_progress_bar": False, "enable_model_summary": False},
    ),
}


class StepClock(Callback):
    """Timestamps the start of every training step (put first in the callback list)."""

    def __init__(self, sync_at: set[int]) -> None:
        self.times: list[float] = []
        self.sync_at = sync_at
        self.gpu_busy: list[float] = []

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        if len(self.times) in self.sync_at:
            common.cuda_sync()
            busy = common.gpu_busy_percent()
            if busy is not None:
                self.gpu_busy.append(busy)
        self.times.append(time.perf_counter())


def warmup_steps(steps: int) -> int:
    """Steps left out of the window: WARMUP, fewer in a very short (--quick) fit."""
    return min(WARMUP, steps // 2)


def steady_throughput(times: Sequence[float], batch: int) -> float:
    """Samples/s of one fit's steady state, from the step start times after the warmup:
    batch / the median step (CPU: robust to a stall of this shared machine in a few
    steps), or the window's mean on a GPU, whose steps are only timed at the window's
    ends (launches run ahead of the device)."""
    window = times[warmup_steps(len(times)) :]
    if common.device_profile()["gpu"]:
        return batch * (len(window) - 1) / (window[-1] - window[0])
    return batch / statistics.median(b - a for a, b in zip(window, window[1:], strict=False))


class Batches:
    """A list of batches as one iterable loader (Lightning reads a bare list as several)."""

    def __init__(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.batches = batches

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.batches[index]


def make_batches(n: int, batch: int, device: str) -> Batches:
    """`n` batches of random float images [batch, 3, 24, 40] and 0/1 labels, on `device`."""
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        x = torch.rand(batch, 3, *IMAGE_SIZE, generator=g)
        y = torch.randint(0, 2, (batch,), generator=g)
        out.append((x.to(device), y.to(device)))
    return Batches(out)


def compose(profile: dict[str, Any], run_dir: Path, extra: Sequence[str] = ()) -> DictConfig:
    overrides = [
        f"data.image_size=[{IMAGE_SIZE[0]},{IMAGE_SIZE[1]}]",
        f"data.batch_size={profile['batch_size']}",
        "trainer.max_epochs=1",
        f"trainer.precision={profile['precision']}",
        "data.num_workers=0",
        *extra,
    ]
    return compose_config(overrides, output_dir=run_dir)


def trainer_repeat(
    variant: Variant,
    profile: dict[str, Any],
    batches: Batches,
    val: Batches,
    tmp: Path,
    log: dict,
) -> float:
    """One fit of one epoch over `batches`; returns the steady-state samples/s."""
    overrides, edit, trainer_overrides = variant
    run_dir = Path(tempfile.mkdtemp(dir=tmp))
    started = time.perf_counter()
    cfg = compose(profile, run_dir, overrides)
    if edit is not None:
        edit(cfg)
    pl.seed_everything(0, verbose=False)
    clock = StepClock({warmup_steps(len(batches)), len(batches) - 1})
    run = build_run(cfg, trainer_overrides=trainer_overrides)
    run.trainer.callbacks.insert(0, clock)
    run.trainer.fit(run.task, train_dataloaders=batches, val_dataloaders=val)
    total = time.perf_counter() - started
    steps = clock.times[-1] - clock.times[0]
    log.setdefault("fit_fixed_seconds", []).append(round(total - steps, 3))
    log.setdefault("gpu_busy_percent", []).extend(clock.gpu_busy)
    return steady_throughput(clock.times, len(batches[0][0]))


def hook_costs(profile: dict[str, Any], batches: Batches, val: Batches, tmp: Path) -> dict:
    """One default fit under Lightning's SimpleProfiler: ms per training step spent in
    each callback hook (and the step's own parts), largest first. The profiler adds its
    own small cost to every hook; read the table for attribution, not as a timing."""
    from lightning.pytorch.profilers import SimpleProfiler

    run_dir = Path(tempfile.mkdtemp(dir=tmp))
    profiler = SimpleProfiler(dirpath=run_dir, filename="profile")  # its report: a file
    cfg = compose(profile, run_dir)
    pl.seed_everything(0, verbose=False)
    run = build_run(cfg, trainer_overrides={"profiler": profiler})
    run.trainer.fit(run.task, train_dataloaders=batches, val_dataloaders=val)
    steps = len(batches)
    costs = {}
    for action, durations in profiler.recorded_durations.items():
        per_step = sum(durations) / steps * 1000
        train_hook = "train_batch" in action or "backward" in action or "zero_grad" in action
        if (action.startswith("[Callback]") and train_hook) or action in _STEP_PARTS:
            if per_step >= 0.01:
                costs[action.split("{")[0]] = round(per_step, 3)
    return dict(sorted(costs.items(), key=lambda kv: -kv[1]))


_STEP_PARTS = (
    "run_training_batch",
    "[Strategy]SingleDeviceStrategy.training_step",
    "[Strategy]SingleDeviceStrategy.backward",
    "[LightningModule]ClassificationTask.optimizer_step",
)


def plain_repeat(cfg: DictConfig, profile: dict[str, Any], batches: Batches) -> float:
    """The same model, loss and optimizer in a bare loop; returns steady-state samples/s."""
    pl.seed_everything(0, verbose=False)
    task = build_task(cfg)
    device = torch.device(profile["device"])
    model, loss_fn = task.model.to(device).train(), task.loss_fn.to(device)
    optimizer = build_optimizer(cfg.optimizer, model, profile["batch_size"])
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=profile["gpu"])
    times: list[float] = []
    for step, (images, targets) in enumerate(batches):
        if step in (warmup_steps(len(batches)), len(batches) - 1):
            common.cuda_sync()
        times.append(time.perf_counter())
        images, targets = images.to(device), targets.to(device)
        with autocast:
            loss = loss_fn(model(images), targets.float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steady_throughput(times, len(batches[0][0]))


def main(argv: Sequence[str] | None = None) -> int:
    args = common.bench_args(
        __doc__.splitlines()[0],
        argv,
        breakdown=(bool, False, "also time Trainer variants with one component off"),
        steps=(int, None, "batches per fit (default 30; --quick 6)"),
    )
    started = time.perf_counter()
    profile = common.device_profile()
    steps = args.steps or (6 if args.quick else 30)
    repeats = args.repeats or (1 if args.quick else 14)
    if args.quick:
        profile["batch_size"] = 64
    batches = make_batches(steps, profile["batch_size"], profile["device"])
    val = Batches(batches.batches[:2])
    log: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        plain_cfg = compose(profile, tmp / "plain")
        methods = {
            "ours": lambda: trainer_repeat(VARIANTS["ours"], profile, batches, val, tmp, log),
            "plain": lambda: plain_repeat(plain_cfg, profile, batches),
        }
        values = common.interleave(methods, repeats, warmup=0 if args.quick else 1)
        stats = {name: common.spread(v) for name, v in values.items()}
        ratio = stats["ours"]["median"] / stats["plain"]["median"]
        best_ratio = stats["ours"]["best"] / stats["plain"]["best"]
        # Each round's ours/plain pair ran back to back: their ratio cancels slow drifts.
        paired = statistics.median(
            a / b for a, b in zip(values["ours"], values["plain"], strict=True)
        )
        breakdown: dict[str, Any] = {}
        hooks: dict[str, float] = {}
        if args.breakdown or (ratio < TARGET_RATIO and not args.quick):
            # Shorter fits and fewer rounds than the figure: attribution, within budget.
            short = Batches(batches.batches[: max(len(batches) * 2 // 3, 8)])
            variant_methods: dict[str, Callable[[], float]] = {
                name: (lambda v=v: trainer_repeat(v, profile, short, val, tmp, {}))
                for name, v in VARIANTS.items()
            }
            variant_methods["plain"] = lambda: plain_repeat(plain_cfg, profile, short)
            rounds = 2 if args.quick else 3
            variant_values = common.interleave(variant_methods, rounds, warmup=0)
            plain = common.spread(variant_values["plain"])["median"]
            breakdown = {
                name: {**common.spread(v), "ratio_to_plain": common.spread(v)["median"] / plain}
                for name, v in variant_values.items()
            }
            hooks = hook_costs(profile, batches, val, tmp)
    figures = [
        common.Figure(
            "a. Trainer / plain loop throughput (median)",
            round(ratio, 3),
            "×",
            TARGET_RATIO,
            note=f"best-of ratio {best_ratio:.3f}, median of paired rounds {paired:.3f}; "
            f"ours {stats['ours']['median']:,.0f} vs plain {stats['plain']['median']:,.0f} "
            "samples/s",
        ),
        common.Figure("a. Trainer steps, median", round(stats["ours"]["median"]), "samples/s"),
        common.Figure("a. plain loop steps, median", round(stats["plain"]["median"]), "samples/s"),
    ]
    busy = log.get("gpu_busy_percent") or []
    if busy:
        figures.append(common.Figure("a. GPU busy (Trainer)", sum(busy) / len(busy), "%"))
    method = (
        f"{repeats} interleaved rounds (+{0 if args.quick else 1} warmup round) of one "
        f"{steps}-batch epoch each; steady-state samples/s from step {warmup_steps(steps)} "
        "on; ratio of medians in one process"
    )
    details = {
        "profile": profile,
        "steps_per_fit": steps,
        "warmup_steps": warmup_steps(steps),
        "samples_per_s": values,
        "stats": stats,
        "ratio_median": ratio,
        "ratio_best": best_ratio,
        "ratio_paired_median": paired,
        "fit_fixed_seconds": log.get("fit_fixed_seconds"),
        "breakdown": breakdown,
        "hook_ms_per_step": hooks,
    }
    common.write_result(NAME, args, figures, method, details, started)
    if breakdown:
        print(f"  {'variant':36} {'median samples/s':>16} {'vs plain':>8}")
        for name, row in breakdown.items():
            print(f"  {name:36} {row['median']:16,.0f} {row['ratio_to_plain']:8.3f}")
        print("  ms per step in each hook (one profiled fit):")
        for action, ms in hooks.items():
            print(f"  {ms:9.3f}  {action}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
