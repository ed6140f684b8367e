"""`ocec-analyze <tool> ...`: the diagnosis tools for configs and finished or running runs.

Each tool lives in its own module of `ocec_lightning.analysis` and provides
`add_arguments(parser)` and `run(args) -> int`; this entry point only dispatches.
Errors of the user's input (a missing run directory, an unknown metric) print one line
and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ocec_lightning.errors import OCECError

# tool name -> (module, one-line help)
TOOLS: dict[str, tuple[str, str]] = {
    "curves": ("ocec_lightning.analysis.curves.cli", "diagnose a run's curves (run dir or log)"),
    "config": ("ocec_lightning.analysis.review.cli", "review a composed training config"),
    "lr": ("ocec_lightning.analysis.lr.cli", "preview the per-step LR of composed plans"),
    "compare": ("ocec_lightning.analysis.runs.compare", "compare runs or a multirun directory"),
    "monitor": ("ocec_lightning.analysis.runs.monitor", "live curve summary of a running training"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocec-analyze", description="Diagnosis tools: curves, config, lr, compare, monitor."
    )
    tools = parser.add_subparsers(dest="tool", required=True, metavar="TOOL")
    for name, (module, help_text) in TOOLS.items():
        sub = tools.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    args = build_parser().parse_args(argv)
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except OCECError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
