"""`ocec-analyze curves RUN_DIR|LOG`: the curve post-mortem of one run.

Reads the run's per-epoch history with `history.load_history` (our run directories,
any metrics CSV, JSON logs, TensorBoard event dirs), analyses it (`curves`), ranks the
findings (`diagnoses`) and writes `analysis.md` + `analysis.png` (`report`) into
the run directory (or beside the log, or `--out`); prints the ranked findings. The
`CurveReport` callback writes the same report at the end of every fit. A report already
there is kept: the new one takes the next free name (`analysis-2.md` + `.png`, ...)
unless `--overwrite`. `--next` also writes `next_sweep.yaml`, the next experiment as one
Hydra multirun (`next_sweep`), and prints the command that runs it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ocec_lightning.analysis.curves.report import MD_FILE, STEM, analyze_and_write, free_stem
from ocec_lightning.analysis.curves.text import LANGS
from ocec_lightning.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", type=Path, help="run directory, metrics CSV, JSON log or TensorBoard dir"
    )
    parser.add_argument("--lang", choices=LANGS, default="en", help="report language")
    parser.add_argument(
        "--last", type=int, default=10, metavar="N", help="compare the last-N mean with the best"
    )
    parser.add_argument(
        "--out", type=Path, help="folder for analysis.md/.png (default: the run dir or the log's)"
    )
    parser.add_argument("--no-plot", action="store_true", help="write analysis.md only")
    parser.add_argument(
        "--next",
        action="store_true",
        help="also write next_sweep.yaml (the run + one alternative per suggested override "
        "line, one Hydra multirun) and print the command that runs it",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing analysis.md/.png and, with --next, next_sweep.yaml "
        "(default: write analysis-2.md, next_sweep-2.yaml, ...)",
    )
    roles = parser.add_argument_group("series (auto-detected unless given)")
    roles.add_argument("--monitor", help="monitored metric, e.g. val/fscore")
    roles.add_argument("--mode", choices=("max", "min"), help="direction of the monitor")
    roles.add_argument("--train-loss", help="train loss series")
    roles.add_argument("--val-loss", help="validation loss series")
    roles.add_argument("--lr", help="learning-rate series")


def run(args: argparse.Namespace) -> int:
    from ocec_lightning.analysis.history import load_history

    if args.last < 1:
        raise ConfigError("--last", args.last, "an integer >= 1")
    history = load_history(
        args.path,
        monitor=args.monitor,
        mode=args.mode,
        train_loss=args.train_loss,
        val_loss=args.val_loss,
        lr=args.lr,
    )
    out = args.out or (args.path if args.path.is_dir() else args.path.parent)
    stem = STEM if args.overwrite else free_stem(out)
    found, written = analyze_and_write(
        history, out, lang=args.lang, last_n=args.last, plot=not args.no_plot, stem=stem
    )
    if stem != STEM:
        print(
            f"kept the existing {MD_FILE} / {STEM}.png in {out}; this report is "
            f"{written.markdown.name} (--overwrite replaces the existing one)"
        )
    for i, item in enumerate(found, 1):
        print(f"{i}. [{item.severity}] {item.title}")
        for override in item.overrides:
            print(f"     {override}")
    if not found:
        print("no problem found")
    print(f"report: {written.markdown}")
    if written.figure is not None:
        print(f"figure: {written.figure}")
    if args.next:
        from ocec_lightning.analysis.runs.next_sweep import print_next, write_next_sweep

        print_next(write_next_sweep(args.path, found, out, overwrite=args.overwrite))
    return 0
