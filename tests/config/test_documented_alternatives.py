"""Every value a `conf/` YAML comment documents as an alternative (`a | b | c`) is accepted.

The comments are the user's documentation of what a key may hold; a value written there
must build (every component checks its arguments and the cross-group rules run in
`build_run`, with no data read). The walker reads each YAML's comments: an inline
comment `key: value  # a | b | c`, or a comment line of alternatives right above the key.
It only counts lines whose current value is one of the alternatives, so prose that
happens to contain `|` is not mistaken for a list of options.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from ocec_lightning.config.compose import conf_dir
from ocec_lightning.training import build_run

CONF = conf_dir()
# Where a YAML outside a group folder is merged into the composed config.
MERGED_AT = {"warmup.yaml": "scheduler.warmup", "data_common.yaml": "data"}
# Entry configs, not options (eval's split: see below; export's exporter: tests/export/).
SKIP_FILES = {"train.yaml", "eval.yaml", "export.yaml", "predict.yaml"}
# Values that are valid only together with another (a minimised monitor is a loss).
COMPANIONS = {("task.monitor_mode", "min"): ["task.monitor=val/loss"]}
_KEY = re.compile(r"^(\s*)([A-Za-z_][\w]*):\s*(.*?)\s*(?:#\s*(.*))?$")


@dataclass(frozen=True)
class Alternative:
    file: str  # relative to conf/
    key: str  # full config key, e.g. loss.alpha
    value: str  # as written in the comment

    def __str__(self) -> str:
        return f"{self.file}:{self.key}={self.value}"


def _options(comment: str) -> list[str]:
    """`a: text | b = text | c` -> ["a", "b", "c"] (first word of each alternative)."""
    parts = [p.strip() for p in comment.split("|")]
    words = []
    for part in parts:
        if part.startswith("["):
            words.append(part[: part.index("]") + 1] if "]" in part else part)
        else:
            words.append(re.split(r"[\s:=,(]", part, maxsplit=1)[0])
    return words


def _prefix(path: Path) -> tuple[str, list[str]]:
    """Config-key prefix and the overrides that select this file."""
    rel = path.relative_to(CONF)
    text = path.read_text(encoding="utf-8")
    overrides = ["task=segmentation"] if "# task: segmentation" in text else []
    if len(rel.parts) == 1:
        return MERGED_AT.get(rel.name, ""), overrides
    group, option = rel.parts[0], rel.stem
    overrides.append(f"{group}={option}")
    if group == "task" and option == "segmentation":
        overrides = ["task=segmentation"]
    return ("" if "@package _global_" in text else group), overrides


def documented_alternatives() -> list[tuple[Alternative, list[str]]]:
    found = []
    for path in sorted(CONF.rglob("*.yaml")):
        if path.name in SKIP_FILES:
            continue
        prefix, overrides = _prefix(path)
        stack: list[tuple[int, str]] = []
        pending: list[str] = []  # alternatives from comment lines right above a key
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith("#"):
                if "|" in stripped:
                    pending = _options(stripped.lstrip("# "))
                continue
            match = _KEY.match(line)
            if not match:
                pending = []
                continue
            indent, key, value, comment = match.groups()
            while stack and stack[-1][0] >= len(indent):
                stack.pop()
            stack.append((len(indent), key))
            options = _options(comment) if comment and "|" in comment else pending
            pending = []
            if not value or value.startswith(("[", "{")) or value.strip("\"'") not in options:
                continue
            full = ".".join([p for p in [prefix] if p] + [k for _, k in stack])
            rel = str(path.relative_to(CONF))
            for option in options:
                found.append((Alternative(rel, full, option), overrides))
    return found


ALTERNATIVES = documented_alternatives()


def _override_value(alternative: Alternative) -> str:
    """The documented value as a Hydra override value (placeholders made concrete)."""
    value = alternative.value
    if value in ("float", "a"):  # "a float"
        return "1.5"
    if value.startswith("["):  # a per-class list, e.g. [w0, w1, ...]
        return "[" + ",".join(["1.0"] * 11) + "]"
    return value


def test_the_walker_finds_the_documented_alternatives() -> None:
    keys = {(a.file, a.key, a.value) for a, _ in ALTERNATIVES}
    assert ("loss/focal_seg.yaml", "alpha", "inverse") not in keys  # keys are full paths
    for expected in [
        ("loss/focal_seg.yaml", "loss.alpha", "inverse"),
        ("loss/focal_seg.yaml", "loss.alpha", "median_frequency"),
        ("loss/bce.yaml", "loss.pos_weight", "auto"),
        ("model/ocec.yaml", "model.backbone", "convnext"),
        ("model/ocec.yaml", "model.head", "mlp_mixer"),
        ("warmup.yaml", "scheduler.warmup.mode", "cosine"),
        ("task/segmentation.yaml", "task.monitor_mode", "min"),
        ("callbacks/swa.yaml", "callbacks.swa.annealing_strategy", "linear"),
    ]:
        assert expected in keys, expected
    assert len(ALTERNATIVES) >= 50


@pytest.mark.parametrize(("alternative", "overrides"), ALTERNATIVES, ids=str)
def test_every_documented_alternative_is_accepted(make_cfg, alternative, overrides) -> None:
    value = _override_value(alternative)
    companions = COMPANIONS.get((alternative.key, value), [])
    cfg = make_cfg([*overrides, *companions, f"{alternative.key}={value}"])
    build_run(cfg)


@pytest.mark.parametrize("alpha", ["inverse", "median_frequency", "[1,2,1,1,1,1,1,1,1,1,1]"])
def test_focal_seg_alpha_alternatives_train(make_cfg, alpha: str) -> None:
    from ocec_lightning.training import run_training

    result = run_training(
        make_cfg(["task=segmentation", "loss=focal_seg", f"loss.alpha={alpha}", "debug=fdr"])
    )
    assert 0.0 <= result.test_metrics["test/fscore"] <= 1.0


@pytest.mark.parametrize("split", ["test", "val"])
def test_eval_split_alternatives_are_accepted(make_cfg, split: str) -> None:
    from ocec_lightning.evaluation import eval_config

    cfg = make_cfg(["ckpt_path=x.ckpt", f"split={split}"], config_name="eval", tiny=False)
    record = {"data": {}, "aug": {}, "task": {"name": "classification"}, "seed": 1}
    assert eval_config(cfg, record, []).task.name == "classification"
