"""`ocec-analyze lr [overrides] [--vs "overrides" ...] [--find]`: the command line of the LR
tools; `preview.py` steps the composed schedules, `finder.py` runs the LR range test and
its check, `plot.py` draws and prints both."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from ocec_lightning.errors import ConfigError

if TYPE_CHECKING:  # torch-heavy imports wait until a tool runs (`ocec-analyze -h` stays fast)
    pass

from ocec_lightning.analysis.lr.finder import CHECK_EPOCHS, find
from ocec_lightning.analysis.lr.preview import preview


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the first plan")
    parser.add_argument(
        "--vs",
        action="append",
        default=[],
        metavar='"OVERRIDES"',
        help="another plan to compare (quoted overrides); repeatable",
    )
    parser.add_argument("--epochs-at", help="epochs of the %% table, e.g. 25,60,92")
    parser.add_argument("--steps-per-epoch", type=int, help="optimizer steps per epoch")
    parser.add_argument("--out", type=Path, help="PNG (default lr_preview.png / lr_find.png)")
    parser.add_argument("--log", action="store_true", help="log-scale LR axis")
    parser.add_argument(
        "--find", action="store_true", help="run an LR range test and suggest optimizer.lr"
    )
    parser.add_argument("--find-steps", type=int, default=100, help="LR finder steps")
    parser.add_argument("--find-min-lr", type=float, default=1e-8)
    parser.add_argument("--find-max-lr", type=float, default=1.0)
    parser.add_argument(
        "--check",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --find: train briefly at the recipe's optimizer.lr and at the suggestion "
        "and compare (default; --no-check skips it)",
    )
    parser.add_argument(
        "--check-epochs", type=int, default=CHECK_EPOCHS, help="epochs of each check run"
    )


def run(args: argparse.Namespace) -> int:

    if args.steps_per_epoch is not None and args.steps_per_epoch < 1:
        raise ConfigError("--steps-per-epoch", args.steps_per_epoch, "an integer >= 1")
    if args.find:
        if args.vs:
            raise ConfigError("--vs", args.vs, "no --vs with --find (the finder runs one config)")
        if args.check_epochs < 1:
            raise ConfigError("--check-epochs", args.check_epochs, "an integer >= 1")
        return 0 if find(args).test.suggestion.lr is not None else 1
    all_overrides = [list(args.overrides), *(shlex.split(v) for v in args.vs)]
    out = args.out or Path("lr_preview.png")
    preview(all_overrides, out, args.epochs_at, args.steps_per_epoch, log=args.log)
    return 0
