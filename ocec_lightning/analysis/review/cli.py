"""`ocec-analyze config [overrides] [--format md|json] [--lang en|zh] [--out FILE]`.

Composes the config exactly as `ocec-train` does and reviews it the way an expert reviewed
the batch-4096 OCEC training config: every training parameter with its value, an assessment and a
suggestion, the reasoning in numbers (LR vs the batch-scaling rules, the EMA time
constant in steps and epochs, LR reductions the plateau scheduler gets before early
stopping, the LR the schedule will actually give at chosen epochs, ...), the traps that
hide in recipes (early stopping before the first restart or before SWA starts, a cosine
that climbs back after T_max, a plateau that can never fire within max_epochs) and, for
data read from files (data=parquet|folder|csv), dataset-aware recommendations.
Each finding has a severity (error / warning / info), evidence and a runnable Hydra
override. `--strict` exits 1 when there is an error-level finding.

Pieces: `review_facts` (derived numbers), `review_schedule` (LR replay with the real
builders), the rules — `rules_lr` (LR vs batch, warmup), `rules_plateau`,
`rules_cosine` (T_max, restarts, LR at epochs), `rules_run` (EMA, SWA,
early stopping, precision, steps), `rules_model` (regularisation, loss,
augmentation) —, `review_dataset` (recommendations), `review_params` (the parameter
table) and `review_render` (rich / markdown / JSON).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from ocec_lightning.analysis.review.dataset import data_summary, recommend
from ocec_lightning.analysis.review.facts import (
    FILE_SOURCES,
    DataFacts,
    RunFacts,
    data_from_config,
    data_from_datamodule,
    get,
    run_facts,
    source_kind,
)
from ocec_lightning.analysis.review.findings import LANGS, Finding, Msg, Review
from ocec_lightning.analysis.review.params import parameter_rows
from ocec_lightning.analysis.review.registry import run_rules
from ocec_lightning.analysis.review.render import markdown, print_rich, to_json
from ocec_lightning.analysis.review.rules_cosine import lr_table
from ocec_lightning.analysis.review.rules_lr import Reference
from ocec_lightning.config.compose import compose_config
from ocec_lightning.errors import ConfigError, OCECError

FORMATS = ("md", "json")


@contextmanager
def _quiet_lightning() -> Any:
    """Building a Trainer logs GPU/TPU availability; a review prints only the review."""
    loggers = [
        logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric", "lightning")
    ]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)


def _build(cfg: DictConfig) -> tuple[Any, Finding | None]:
    """`build_run(cfg)` (every component checks itself); a failure becomes a finding."""
    from ocec_lightning.training import build_run

    try:
        with _quiet_lightning():
            return build_run(cfg), None
    except ConfigError as err:
        return None, Finding(
            "config.builds",
            err.key,
            "error",
            Msg("the config does not build", "配置无法构建"),
            Msg(str(err), str(err)),
        )
    except Exception as err:  # noqa: BLE001 - e.g. more devices than this machine has
        text = " ".join(str(err).split())[:300]
        return None, Finding(
            "config.builds_here",
            "trainer",
            "warning",
            Msg(
                "the trainer cannot be built on this machine; reviewed from the config",
                "此机器上无法构建 Trainer；仅依据配置评审",
            ),
            Msg(f"{type(err).__name__}: {text}", f"{type(err).__name__}：{text}"),
        )


def _read_data(cfg: DictConfig, run: Any) -> tuple[DataFacts, Any, Finding | None]:
    """Counts from the data for file sources (datamodule setup), else from the config."""
    if source_kind(cfg) not in FILE_SOURCES.values():
        return data_from_config(cfg), None, None
    from ocec_lightning.data import build_datamodule

    try:
        datamodule = run.datamodule if run is not None else build_datamodule(cfg)
        datamodule.setup("fit")
        return data_from_datamodule(cfg, datamodule), datamodule, None
    except OCECError as err:
        return (
            data_from_config(cfg),
            None,
            Finding(
                "data.reads",
                "data",
                "error",
                Msg("the data cannot be read", "数据无法读取"),
                Msg(str(err), str(err)),
            ),
        )


def all_rules(
    cfg: DictConfig,
    facts: RunFacts,
    reference: Reference | None = None,
    lr_epochs: list[int] | None = None,
    eval_names: list[str] | None = None,
) -> list[Finding]:
    """Every registered review rule (`review.registry`), in the order the review lists them."""
    return run_rules(cfg=cfg, facts=facts, ref=reference, chosen=lr_epochs, eval_names=eval_names)


def _model_name(cfg: DictConfig) -> str:
    name = str(get(cfg, "model._target_", "?")).rsplit(".", 1)[-1]
    if get(cfg, "model.backbone"):
        width, blocks = get(cfg, "model.base_channels"), get(cfg, "model.num_blocks")
        name += f" {get(cfg, 'model.backbone')} {width}×{blocks}"
    return name


def review_config(
    overrides: Sequence[str] = (),
    *,
    read_data: bool = True,
    reference: Reference | None = None,
    lr_epochs: list[int] | None = None,
) -> Review:
    """Compose `overrides` as `ocec-train` would and review the config."""
    findings: list[Finding] = []
    with tempfile.TemporaryDirectory(prefix="ocec_review_") as tmp:
        cfg = compose_config(list(overrides), output_dir=tmp)
        run, problem = _build(cfg)
        findings += [problem] if problem else []
        if read_data:
            data, datamodule, problem = _read_data(cfg, run)
            findings += [problem] if problem else []
        else:
            data, datamodule = data_from_config(cfg), None
        datamodule = datamodule or (run.datamodule if run is not None else None)
        eval_names = None
        if datamodule is not None:
            batched = datamodule.augmentation.batched
            mean, std = batched.mean.flatten().tolist(), batched.std.flatten().tolist()
            eval_names = [f"normalise (mean {mean}, std {std})"]
        facts = run_facts(cfg, data, run.trainer if run else None, run.task if run else None)
        findings += all_rules(cfg, facts, reference, lr_epochs, eval_names)
        table = []
        if not facts.schedule.metric_driven and not facts.schedule.error:
            table = lr_table(cfg, facts, lr_epochs)
        summary = {
            "task": facts.task,
            "model": _model_name(cfg),
            "parameters": facts.parameters,
            "data": data_summary(cfg, facts),
            "world_size": facts.world,
            "batch_size": facts.batch,
            "accumulation": facts.accumulation,
            "effective_batch": facts.effective_batch,
            "steps_per_epoch": facts.steps_per_epoch,
            "steps_source": facts.steps_source,
            "max_epochs": facts.max_epochs,
            "total_steps": facts.total_steps,
            "lr": facts.lr,
            "lr_effective": facts.lr_effective,
            "scheduler": get(cfg, "scheduler.name"),
        }
        return Review(
            overrides=list(overrides),
            summary=summary,
            parameters=parameter_rows(cfg, facts, findings),
            findings=findings,
            lr_table=table,
            recommendations=recommend(cfg, facts, reference),
        )


# ------------------------------------------------------------------------ CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, exactly as for ocec-train")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="md or json (to --out, or stdout); default: tables in the terminal",
    )
    parser.add_argument(
        "--lang", choices=LANGS, default="en", help="language of the review (en | zh)"
    )
    parser.add_argument(
        "--out", default=None, help="write the review here (format from --format or the suffix)"
    )
    parser.add_argument(
        "--lr-epochs", default=None, help="comma-separated epochs for the LR table, e.g. 60,92,120"
    )
    parser.add_argument(
        "--ref-lr", type=float, default=None, help="reference LR of the batch-scaling rules"
    )
    parser.add_argument(
        "--ref-batch", type=int, default=None, help="batch size the reference LR was tuned for"
    )
    parser.add_argument(
        "--no-data", action="store_true", help="do not read file data (counts from the config only)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when there is an error-level finding"
    )


def _reference(args: argparse.Namespace) -> Reference | None:
    if args.ref_lr is None and args.ref_batch is None:
        return None
    if args.ref_lr is None or args.ref_batch is None:
        raise ConfigError(
            "--ref-lr/--ref-batch",
            args.ref_lr or args.ref_batch,
            "both values, e.g. --ref-lr 1e-3 --ref-batch 256",
        )
    text = f"--ref-lr {args.ref_lr} at --ref-batch {args.ref_batch}"
    return Reference(args.ref_lr, args.ref_batch, Msg(text, text))


def _epochs(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(
            "--lr-epochs", text, "comma-separated epoch numbers, e.g. 60,92,120"
        ) from None


def run(args: argparse.Namespace) -> int:
    review = review_config(
        args.overrides,
        read_data=not args.no_data,
        reference=_reference(args),
        lr_epochs=_epochs(args.lr_epochs),
    )
    fmt = args.format or (Path(args.out).suffix.lstrip(".") if args.out else None)
    if args.out and fmt not in FORMATS:
        raise ConfigError("--format", fmt, "md or json (or an --out file ending in .md / .json)")
    text = (
        None
        if fmt is None
        else (markdown(review, args.lang) if fmt == "md" else to_json(review, args.lang))
    )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text or "", encoding="utf-8")
        print(
            f"wrote {args.out}: {review.count('error')} error(s), "
            f"{review.count('warning')} warning(s)"
        )
    elif text is not None:
        print(text, end="")
    else:
        print_rich(review, args.lang)
    return 1 if args.strict and review.count("error") else 0
