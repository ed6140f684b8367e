"""`ocec-data`: write synthetic data in the real on-disk formats, and inspect datasets.

    ocec-data synth eyes --out data/eyes.parquet --n 12000 [--no-bytes] [--shards K]
    ocec-data info data/eyes.parquet [--group-column source]

Each subcommand is one `add_*` function that declares its arguments and sets `func`;
`SUBCOMMANDS` and `SYNTH_KINDS` list them, so a new command (`synth faces`, `show-aug`)
is one more function in a list. Bad input prints a single `error: ...` line on stderr
and exits with status 2, like argparse's own usage errors.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from ocec_lightning.errors import OCECError

# How many images `info` decodes to describe image sizes.
SIZE_SAMPLE = 500


def _split_label_table(
    title: str, splits: pd.Series, labels: pd.Series, class_names: list[str]
) -> Table:
    """Rich table of sample counts per split (rows) and class (columns), with totals."""
    table = Table(title=title)
    table.add_column("split")
    for name in class_names:
        table.add_column(name, justify="right")
    table.add_column("total", justify="right")
    table.add_column(f"% {class_names[-1]}", justify="right")
    counts = pd.crosstab(splits.fillna("(none)"), labels).reindex(columns=class_names, fill_value=0)
    order = [s for s in ("train", "val", "test") if s in counts.index]
    order += sorted(s for s in counts.index if s not in order)
    for split in [*order, "all"]:
        row = counts.sum() if split == "all" else counts.loc[split]
        total = int(row.sum())
        share = f"{100 * row.iloc[-1] / total:.1f}" if total else "-"
        table.add_row(
            split, *(str(int(v)) for v in row), str(total), share, end_section=split == order[-1]
        )
    return table


# ------------------------------------------------------------------ synth eyes
def add_synth_eyes(kinds: argparse._SubParsersAction) -> None:
    parser = kinds.add_parser("eyes", help="open/closed eye crops as OCEC parquet (+ PNGs)")
    parser.add_argument("--out", required=True, help="a .parquet file, or a directory for shards")
    parser.add_argument("--n", type=int, required=True, help="number of crops")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--size", type=int, nargs=2, default=(32, 64), metavar=("H", "W"))
    parser.add_argument(
        "--no-bytes", action="store_true", help="write PNG files instead of image_bytes"
    )
    parser.add_argument(
        "--shards", type=int, default=1, help="parquet shards (needs a directory --out)"
    )
    parser.add_argument("--open-ratio", type=float, default=0.532, help="share of open eyes")
    parser.add_argument("--workers", type=int, default=1, help="processes drawing crops")
    parser.set_defaults(func=run_synth_eyes)


def run_synth_eyes(args: argparse.Namespace) -> int:
    from ocec_lightning.data.synthetic_eyes_writer import write_synthetic_eyes

    start = time.perf_counter()
    frame = write_synthetic_eyes(
        args.out,
        args.n,
        args.seed,
        height=args.size[0],
        width=args.size[1],
        with_bytes=not args.no_bytes,
        shards=args.shards,
        open_ratio=args.open_ratio,
        workers=args.workers,
    )
    seconds = time.perf_counter() - start
    console = Console()
    images = "embedded PNG bytes" if not args.no_bytes else "PNG files next to the parquet"
    console.print(
        f"wrote {len(frame)} synthetic eye crops ({args.size[0]}x{args.size[1]}, seed {args.seed}) "
        f"to {args.out} in {seconds:.1f} s: {args.shards} shard(s), {images}"
    )
    labels = frame["class_id"].map({0: "closed", 1: "open"})
    console.print(
        _split_label_table("samples per split", frame["split"], labels, ["closed", "open"])
    )
    console.print(f"subjects (column 'source'): {frame['source'].nunique()}")
    return 0


def add_synth(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("synth", help="write synthetic data in a real on-disk format")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    for add in SYNTH_KINDS:
        add(kinds)


# ------------------------------------------------------------------------ info
def add_info(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("info", help="counts per split and label, class balance, image sizes")
    parser.add_argument(
        "path", help="parquet file or shard directory, .csv manifest, or class folder"
    )
    parser.add_argument("--group-column", default=None, help="parquet column that groups samples")
    parser.set_defaults(func=run_info)


def _size_stats(read_image: Callable[[int], np.ndarray], n: int) -> Table:
    """Min/median/max height and width over a fixed random sample of decoded images."""
    rows = np.sort(np.random.default_rng(0).choice(n, size=min(n, SIZE_SAMPLE), replace=False))
    sizes = np.array([read_image(int(i)).shape[:2] for i in rows])
    table = Table(title=f"image size (from {len(rows)} decoded images)")
    for column in ("", "min", "median", "max"):
        table.add_column(column, justify="right")
    for k, name in enumerate(("height", "width")):
        values = sizes[:, k]
        table.add_row(name, str(values.min()), f"{np.median(values):g}", str(values.max()))
    return table


def run_info(args: argparse.Namespace) -> int:
    from ocec_lightning.data.sources import open_source

    table = open_source(args.path, group_column=args.group_column).load()
    frame = table.frame
    labels = frame["label"].map(dict(enumerate(table.class_names)))
    console = Console()
    console.print(f"{args.path}: {len(frame)} samples, classes {', '.join(table.class_names)}")
    console.print(
        _split_label_table("samples per split", frame["split"], labels, table.class_names)
    )
    balance = labels.value_counts(normalize=True).reindex(table.class_names, fill_value=0.0)
    console.print("class balance: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in balance.items()))
    console.print(_size_stats(table.read_image, len(frame)))
    if table.has_groups:
        console.print(f"groups: {frame['group'].nunique()}")
    else:
        console.print(
            "groups: none (pass --group-column for parquet, or a 'group' column in a csv)"
        )
    return 0


# ------------------------------------------------------------------------ main
# Later subcommands (`show-aug`, `synth faces`) append their `add_*` function here.
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [add_synth, add_info]
SYNTH_KINDS: list[Callable[[argparse._SubParsersAction], None]] = [add_synth_eyes]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocec-data", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `ocec-data` with `argv` (default: the process arguments); returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    try:
        return int(args.func(args) or 0)
    except (OCECError, OSError) as exc:
        message = " ".join(str(exc).split())
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
