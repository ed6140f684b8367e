"""`ocec-data`: write synthetic data in the real on-disk formats, and inspect datasets.

    ocec-data synth eyes --out data/eyes.parquet --n 12000 [--no-bytes] [--shards K]
    ocec-data synth faces --out data/faces --n 1200 [--seed S] [--size H W] [--workers K]
    ocec-data info data/eyes.parquet [--group-column source]
    ocec-data info data/faces          # segmentation data: also class pixel frequencies
    ocec-data show-aug [aug=all|<preset>[,<preset>]] [task=...] [overrides] --out PNG [--n 8]

Each subcommand is one `add_*` function that declares its arguments and sets `func`;
`SUBCOMMANDS` and `SYNTH_KINDS` list them, so a new command (`synth faces`, `show-aug`)
is one more function in a list. Bad input prints a single `error: ...` line on stderr
and exits with status 2, like argparse's own usage errors.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from ocec_lightning.errors import OCECError

if TYPE_CHECKING:
    from ocec_lightning.data.table import SampleTable

# How many images (and masks) `info` decodes to describe image sizes and pixel frequencies.
SIZE_SAMPLE = 500


def _split_order(names: Iterable[str]) -> list[str]:
    """train, val, test (those present), then any other split names sorted."""
    names = set(names)
    known = [s for s in ("train", "val", "test") if s in names]
    return known + sorted(names - set(known))


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
    order = _split_order(counts.index)
    for split in [*order, "all"]:
        row = counts.sum() if split == "all" else counts.loc[split]
        total = int(row.sum())
        share = f"{100 * row.iloc[-1] / total:.1f}" if total else "-"
        table.add_row(
            split, *(str(int(v)) for v in row), str(total), share, end_section=split == order[-1]
        )
    return table


def _write_synthetic(
    console: Console,
    write: Callable[..., pd.DataFrame],
    args: argparse.Namespace,
    what: str,
    details: str,
    **options: object,
) -> pd.DataFrame:
    """Run a synth writer with the options every kind has; print what it wrote, how fast."""
    start = time.perf_counter()
    height, width = args.size
    frame = write(
        args.out, args.n, args.seed, height=height, width=width, workers=args.workers, **options
    )
    seconds = time.perf_counter() - start
    console.print(
        f"wrote {len(frame)} synthetic {what} ({height}x{width}, seed {args.seed}) "
        f"to {args.out} in {seconds:.1f} s: {details}"
    )
    return frame


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
    from ocec_lightning.synthetic.eyes_writer import write_synthetic_eyes

    console = Console()
    images = "embedded PNG bytes" if not args.no_bytes else "PNG files next to the parquet"
    frame = _write_synthetic(
        console,
        write_synthetic_eyes,
        args,
        "eye crops",
        f"{args.shards} shard(s), {images}",
        with_bytes=not args.no_bytes,
        shards=args.shards,
        open_ratio=args.open_ratio,
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


# ----------------------------------------------------------------- synth faces
def add_synth_faces(kinds: argparse._SubParsersAction) -> None:
    parser = kinds.add_parser(
        "faces", help="face-parsing scenes with masks: DIR/faces.parquet + images/ + masks/"
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--n", type=int, required=True, help="number of scenes")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--size", type=int, nargs=2, default=(128, 128), metavar=("H", "W"))
    parser.add_argument("--workers", type=int, default=1, help="processes drawing scenes")
    parser.set_defaults(func=run_synth_faces)


def run_synth_faces(args: argparse.Namespace) -> int:
    from ocec_lightning.data.sources import ParquetSource
    from ocec_lightning.synthetic.faces_writer import write_synthetic_faces

    console = Console()
    frame = _write_synthetic(
        console,
        write_synthetic_faces,
        args,
        "faces",
        "faces.parquet (image_bytes, mask_bytes) + images/ and masks/ PNGs",
    )
    console.print(_split_table("images per split", frame["split"], frame.get("source")))
    table = ParquetSource(
        f"{args.out}/faces.parquet", task="segmentation", group_column=None
    ).load()
    console.print(_pixel_table(table))
    return 0


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
    rows = _sample_rows(n)
    sizes = np.array([read_image(int(i)).shape[:2] for i in rows])
    table = Table(title=f"image size (from {len(rows)} decoded images)")
    for column in ("", "min", "median", "max"):
        table.add_column(column, justify="right")
    for k, name in enumerate(("height", "width")):
        values = sizes[:, k]
        table.add_row(name, str(values.min()), f"{np.median(values):g}", str(values.max()))
    return table


def _sample_rows(n: int) -> np.ndarray:
    """A fixed random sample of up to SIZE_SAMPLE row positions, in order."""
    return np.sort(np.random.default_rng(0).choice(n, size=min(n, SIZE_SAMPLE), replace=False))


def _split_table(title: str, splits: pd.Series, groups: pd.Series | None = None) -> Table:
    """Rich table of images (and distinct groups) per split, for data without labels."""
    table = Table(title=title)
    table.add_column("split")
    table.add_column("images", justify="right")
    if groups is not None:
        table.add_column("subjects", justify="right")
    splits = splits.fillna("(none)").astype(str)
    order = _split_order(splits)
    for split in [*order, "all"]:
        chosen = splits == split if split != "all" else splits == splits
        cells = [split, str(int(chosen.sum()))]
        if groups is not None:
            cells.append(str(groups[chosen.to_numpy()].nunique()))
        table.add_row(*cells, end_section=split == order[-1])
    return table


def _pixel_table(table: SampleTable) -> Table:
    """Share of pixels per class id (and of images containing it) over a fixed sample."""
    rows = _sample_rows(len(table))
    hist = np.zeros(256, dtype=np.int64)
    present = np.zeros(256, dtype=np.int64)
    for i in rows:
        counts = np.bincount(table.read_mask(int(i)).ravel(), minlength=256)
        hist += counts
        present += counts > 0
    out = Table(title=f"class pixel frequencies (from {len(rows)} masks)")
    for column in ("id", "class", "pixels %", "images %"):
        out.add_column(column, justify="left" if column == "class" else "right")
    total = max(int(hist.sum()), 1)
    for cls in range(256):
        if cls >= len(table.class_names) and hist[cls] == 0:
            continue
        name = table.class_names[cls] if cls < len(table.class_names) else "(no class name)"
        out.add_row(
            str(cls),
            name,
            f"{100 * hist[cls] / total:.2f}",
            f"{100 * present[cls] / len(rows):.1f}",
        )
    return out


def run_info(args: argparse.Namespace) -> int:
    from ocec_lightning.data.sources import open_source

    table = open_source(args.path, group_column=args.group_column).load()
    frame = table.frame
    console = Console()
    if table.read_mask is not None:
        console.print(
            f"{args.path}: {len(frame)} samples with segmentation masks, classes "
            f"{', '.join(table.class_names)} (ids 0-{len(table.class_names) - 1})"
        )
        console.print(_split_table("images per split", frame["split"]))
        console.print(_pixel_table(table))
    else:
        labels = frame["label"].map(dict(enumerate(table.class_names)))
        console.print(f"{args.path}: {len(frame)} samples, classes {', '.join(table.class_names)}")
        console.print(
            _split_label_table("samples per split", frame["split"], labels, table.class_names)
        )
        balance = labels.value_counts(normalize=True).reindex(table.class_names, fill_value=0.0)
        console.print(
            "class balance: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in balance.items())
        )
    console.print(_size_stats(table.read_image, len(frame)))
    if table.has_groups:
        console.print(f"groups: {frame['group'].nunique()}")
    else:
        console.print(
            "groups: none (pass --group-column for parquet, or a 'group' column in a csv)"
        )
    return 0


# -------------------------------------------------------------------- show-aug
def add_show_aug(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "show-aug",
        help="grid of augmented samples per aug preset (the train transform of the config)",
        description=(
            "Compose the config from the overrides (as ocec-train does) once per preset and "
            "draw random train-transform augmentations of the same validation samples. "
            "aug=all (default) shows none, conservative, balanced and aggressive; "
            "aug=激进 or aug=保守,激进 picks presets. Segmentation masks are overlaid in "
            "task.palette."
        ),
    )
    parser.add_argument(
        "overrides", nargs="*", help="Hydra overrides, e.g. aug=激进 task=segmentation"
    )
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--n", type=int, default=8, help="samples per row (columns)")
    parser.add_argument("--draws", type=int, default=3, help="augmented rows per preset")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random draws")
    parser.set_defaults(func=run_show_aug)


def run_show_aug(args: argparse.Namespace) -> int:
    from ocec_lightning.data.aug_preview import preview_presets, render_grid

    for name, value in (("--n", args.n), ("--draws", args.draws)):
        if value < 1:
            raise OCECError(f"{name}={value}: expected an integer >= 1")
    presets = "all"
    overrides = []
    for item in args.overrides:
        if item.startswith("aug="):
            presets = item.split("=", 1)[1]
        else:
            overrides.append(item)
    start = time.perf_counter()
    previews, cfg = preview_presets(overrides, presets, n=args.n, draws=args.draws, seed=args.seed)
    render_grid(previews, cfg, out=args.out)
    names = ", ".join(p.preset for p in previews)
    Console().print(
        f"wrote {args.out}: {len(previews)} preset(s) ({names}) x {args.draws} draws of "
        f"{previews[0].images.shape[1]} {cfg.task.name} samples "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0


# ------------------------------------------------------------------------ main
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_synth,
    add_info,
    add_show_aug,
]
SYNTH_KINDS: list[Callable[[argparse._SubParsersAction], None]] = [add_synth_eyes, add_synth_faces]


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
