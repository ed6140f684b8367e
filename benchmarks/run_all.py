"""Run every benchmark and summarise: `make bench` (or `python benchmarks/run_all.py`).

Each script runs in its own Python process, one after the other (so one's memory and
threads never weigh on the next), and writes `<out>/<name>.json`; this script then prints
a markdown table (figure / measured / target / pass-or-miss) and writes it to
`<out>/summary.md`. Exit status: non-zero when a script crashed (or wrote no result); a
figure that misses its target is reported in the table, not an error.
`--quick` passes `--quick` on (tiny sizes; results under benchmarks/results/quick/);
`--only a,b` picks scripts by name.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

# Figure order of the issue: a, b, c, d, e.
SCRIPTS = ("trainer_overhead", "data_path", "export_latency", "time_to_f1", "scale")


def run_script(name: str, quick: bool, out: Path) -> tuple[bool, float]:
    """Run one benchmark script in a fresh interpreter; returns (ok, seconds)."""
    command = [sys.executable, str(common.BENCH_DIR / f"{name}.py"), "--out", str(out)]
    if quick:
        command.append("--quick")
    (out / f"{name}.json").unlink(missing_ok=True)  # a stale result never counts as ok
    start = time.perf_counter()
    print(f"=== {name} ({' '.join(command[1:])})", flush=True)
    returncode = subprocess.run(command, cwd=common.REPO_DIR).returncode
    seconds = time.perf_counter() - start
    ok = returncode == 0 and (out / f"{name}.json").is_file()
    print(f"=== {name}: {'ok' if ok else f'FAILED (exit {returncode})'} in {seconds:.0f} s")
    return ok, seconds


def summary_table(out: Path, names: Sequence[str], failed: Sequence[str] = ()) -> str:
    """Markdown: the machine line, then one row per figure of every result file."""
    lines: list[str] = []
    machine = None
    rows = ["| figure | measured | target | status | note |", "|---|---|---|---|---|"]
    for name in names:
        path = out / f"{name}.json"
        if name in failed or not path.is_file():
            rows.append(f"| {name} | — | — | **crashed** | no result written |")
            continue
        result = json.loads(path.read_text(encoding="utf-8"))
        machine = machine or result.get("machine")
        for f in result["figures"]:
            target = "" if f["target"] is None else f"{f['comparison']} {common.fmt(f['target'])}"
            measured = f"{common.fmt(f['measured'])} {f['unit']}"
            status = {"pass": "pass", "miss": "**miss**"}.get(f["status"], "")
            note = str(f.get("note") or "").replace("|", "/")
            rows.append(f"| {f['figure']} | {measured} | {target} | {status} | {note} |")
    if machine:
        lines.append(f"Machine: {common.machine_line(machine)}.")
    quick = any(
        json.loads((out / f"{n}.json").read_text()).get("quick")
        for n in names
        if (out / f"{n}.json").is_file()
    )
    if quick:
        lines.append("**Quick smoke run: tiny sizes, the numbers are not figures.**")
    return "\n".join([*lines, "", *rows, ""])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    parser.add_argument("--out", type=Path, default=None, help="results directory")
    parser.add_argument("--only", default="", help="comma-separated script names")
    args = parser.parse_args(argv)
    out = args.out or (common.RESULTS_DIR / "quick" if args.quick else common.RESULTS_DIR)
    picked = {n.strip() for n in args.only.split(",") if n.strip()}
    unknown = sorted(picked - set(SCRIPTS))
    if unknown:
        parser.error(f"unknown script(s) {unknown}; choose from {', '.join(SCRIPTS)}")
    names = [n for n in SCRIPTS if not picked or n in picked]  # always in figure order
    started = time.perf_counter()
    failed, seconds = [], {}
    for name in names:
        ok, seconds[name] = run_script(name, args.quick, out)
        if not ok:
            failed.append(name)
    table = summary_table(out, names, failed)
    timing = ", ".join(f"{n} {s:.0f} s" for n, s in seconds.items())
    text = f"{table}\nTotal {time.perf_counter() - started:.0f} s ({timing}).\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text(text, encoding="utf-8")
    print(text)
    if failed:
        print(f"benchmark script(s) crashed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
