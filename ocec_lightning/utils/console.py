"""The one rich console of the package and the end-of-run summary panel."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


def print_summary(result: Any) -> None:
    """Show best metric, checkpoints, run dir and test metrics of a finished run."""
    table = Table(title="ocec_lightning — run summary", show_header=False, title_style="bold green")
    table.add_column(style="bold")
    table.add_column()
    score = "n/a" if result.best_score is None else f"{result.best_score:.4f}"
    table.add_row(f"best {result.monitor}", score)
    table.add_row("best checkpoint", str(result.best_checkpoint))
    table.add_row("last checkpoint", str(result.last_checkpoint))
    table.add_row("run dir", result.run_dir)
    table.add_row("epochs / time", f"{result.epochs} / {result.seconds:.0f} s")
    for key, value in sorted(result.test_metrics.items()):
        table.add_row(key, f"{value:.4f}")
    console.print(table)
