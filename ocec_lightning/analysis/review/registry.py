"""Review rules register themselves (timm's `register_model` pattern): a rule is a
function decorated with `@review_rule` in one of the `RULE_MODULES`, returning a list of
`Finding`s; the review runs every registered rule in the order the modules and the
functions are written. A rule asks for what it needs by parameter name, from `cfg` (the
composed config), `facts` (the run's derived numbers), `ref` (the LR/batch reference),
`chosen` (epochs of the LR table) and `eval_names` (the evaluation transforms), so a new
rule is one function and one test.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from ocec_lightning.analysis.review.findings import Finding

Rule = Callable[..., list[Finding]]
RULE_MODULES = ("rules_lr", "rules_plateau", "rules_cosine", "rules_run", "rules_model")
_RULES: list[Rule] = []


def review_rule(rule: Rule) -> Rule:
    """Register `rule` (the decorator)."""
    _RULES.append(rule)
    return rule


def registered_rules() -> list[Rule]:
    """Every rule, in the review's order (its modules are imported here, once)."""
    for name in RULE_MODULES:
        importlib.import_module(f"{__package__}.{name}")
    return list(_RULES)


def run_rules(**context: Any) -> list[Finding]:
    """The findings of every registered rule, each called with the context it names."""
    findings: list[Finding] = []
    for rule in registered_rules():
        wanted = inspect.signature(rule).parameters
        findings += rule(**{name: context[name] for name in wanted if name in context})
    return findings
