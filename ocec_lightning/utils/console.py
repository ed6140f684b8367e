"""The one rich console of the package and the end-of-run summary.

Paths are printed as whole lines with `soft_wrap=True`: rich never cuts them with `…`
or breaks them, whatever the terminal width (80 columns, or a log file), so a checkpoint
path can be copied from the summary.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


def print_summary(result: Any, out: Console | None = None) -> None:
    """Show best metric, test metrics, then checkpoint paths and run dir in full."""
    out = out or console
    table = Table(
        title="ocec_lightning — run summary",
        show_header=False,
        title_style="bold green",
        min_width=34,  # the title on one line, even without test metrics
    )
    table.add_column(style="bold", no_wrap=True)
    table.add_column(no_wrap=True)
    score = "n/a" if result.best_score is None else f"{result.best_score:.4f}"
    table.add_row(f"best {result.monitor}", score)
    table.add_row("epochs / time", f"{result.epochs} / {result.seconds:.0f} s")
    for key, value in sorted(result.test_metrics.items()):
        table.add_row(key, f"{value:.4f}")
    out.print(table)
    if getattr(result, "diagnosis", None):
        out.print(f"[bold]top diagnosis:[/] {result.diagnosis} (analysis.md)", soft_wrap=True)
    for label, path in (
        ("best checkpoint", result.best_checkpoint),
        ("last checkpoint", result.last_checkpoint),
        ("run dir", result.run_dir),
    ):
        out.print(f"[bold]{label}:[/] {path}", soft_wrap=True, highlight=False)
