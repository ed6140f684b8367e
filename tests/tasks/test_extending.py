"""Adding a loss is one module + one YAML: a toy loss defined outside the package, with its
YAML in a temporary config folder on Hydra's search path, composes, passes the up-front
checks and trains a step, with no registry or other file touched."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest
import torch

from ocec_lightning.errors import ConfigError
from ocec_lightning.training import build_run, run_training

TOY_LOSS = '''
"""A toy binary loss: mean squared error between sigmoid(logit) and the target."""
import torch
from torch import nn

from ocec_lightning.checks import number_in


class ToyMSELoss(nn.Module):
    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = number_in("scale", scale, 0, 100, low_open=True)
        self.calls = 0

    def forward(self, logits, targets):
        self.calls += 1
        return self.scale * ((torch.sigmoid(logits) - targets.float()) ** 2).mean()
'''

TOY_YAML = """
# A loss from outside the package (tests/tasks/test_extending.py).
_target_: toy_losses.ToyMSELoss
scale: 2.0               # > 0
"""


@pytest.fixture()
def toy_loss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The two files a new loss needs; returns the overrides that put them in reach."""
    (tmp_path / "toy_losses.py").write_text(textwrap.dedent(TOY_LOSS), encoding="utf-8")
    (tmp_path / "conf" / "loss").mkdir(parents=True)
    (tmp_path / "conf" / "loss" / "toy_mse.yaml").write_text(TOY_YAML, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return [f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "loss=toy_mse"]


def test_a_loss_from_a_new_yaml_and_module_trains_a_step(make_cfg, toy_loss) -> None:
    cfg = make_cfg([*toy_loss, "debug=fdr"])
    assert cfg.loss._target_ == "toy_losses.ToyMSELoss"
    run = build_run(cfg)
    assert type(run.task.loss_fn).__name__ == "ToyMSELoss" and run.task.loss_fn.scale == 2.0
    result = run_training(cfg)
    assert 0.0 <= result.test_metrics["test/f1"] <= 1.0
    assert math.isfinite(result.test_metrics["test/loss"])
    ckpt = torch.load(result.last_checkpoint, map_location="cpu", weights_only=True)
    assert ckpt["hyper_parameters"]["loss"]["_target_"] == "toy_losses.ToyMSELoss"


def test_the_new_loss_checks_its_own_arguments(make_cfg, toy_loss) -> None:
    with pytest.raises(ConfigError, match=r"'loss.scale' = -1 is invalid: a number in \(0, 100\]"):
        build_run(make_cfg([*toy_loss, "loss.scale=-1"]))


def test_a_task_must_state_its_output_contract() -> None:
    from ocec_lightning.tasks import BaseTask

    class NoContract(BaseTask):  # forgot example_targets / expected_output_shape
        pass

    with pytest.raises(TypeError, match="example_targets"):
        NoContract(model={}, loss={}, optimizer={})
