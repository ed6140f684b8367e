"""The one rich console of the package and the end-of-run summary.

Paths are printed as whole lines with `soft_wrap=True`: rich never cuts them with `…`
or breaks them, whatever the terminal width (80 columns, or a log file), so a checkpoint
path can be copied from the summary.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()


def print_summary(result: Any, out: Console | None = None) -> None:
    """Show how the run ended, best metric, test metrics, then checkpoint paths and run
    dir in full."""
    out = out or console
    status = getattr(result, "status", "completed")
    table = Table(
        title="ocec_lightning — run summary",
        show_header=False,
        title_style="bold green" if status == "completed" else "bold red",
        min_width=34,  # the title on one line, even without test metrics
    )
    table.add_column(style="bold", no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_row("status", status)
    score = "n/a" if result.best_score is None else f"{result.best_score:.4f}"
    table.add_row(f"best {result.monitor}", score)
    table.add_row("epochs / time", f"{result.epochs} / {result.seconds:.0f} s")
    for key, value in sorted(result.test_metrics.items()):
        table.add_row(key, f"{value:.4f}")
    out.print(table)
    for label, key in (("ended by", "error"), ("test skipped", "test_skipped")):
        if getattr(result, key, None) not in (None, "test=false"):  # not what was asked
            text = escape(str(getattr(result, key)))  # messages may hold "[0, 1]"
            out.print(f"[bold]{label}:[/] {text}", soft_wrap=True, highlight=False)
    if getattr(result, "test_split", None) == "val":
        out.print("[bold]tested on:[/] val (test_split=val)", soft_wrap=True)
    if getattr(result, "diagnosis", None):
        out.print(f"[bold]top diagnosis:[/] {result.diagnosis} (analysis.md)", soft_wrap=True)
    for label, path in (
        ("best checkpoint", result.best_checkpoint),
        ("last checkpoint", result.last_checkpoint),
        ("run dir", result.run_dir),
    ):
        out.print(f"[bold]{label}:[/] {path}", soft_wrap=True, highlight=False)
