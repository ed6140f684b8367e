"""Loss values against hand computation, pos_weight binding and argument checks."""

import math
from types import SimpleNamespace

import pytest
import torch

from ocec_lightning.errors import ConfigError
from ocec_lightning.losses.bce import BCELoss
from ocec_lightning.losses.focal import BinaryFocalLoss
from ocec_lightning.losses.focal_label_smooth import FocalLabelSmoothCE

LOGITS = torch.tensor([2.0, -1.0, 0.5])
TARGETS = torch.tensor([1.0, 0.0, 0.0])


def _sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_bce_pos_weight_matches_formula() -> None:
    loss = BCELoss(pos_weight=3.0)(LOGITS, TARGETS)
    expected = (-3.0 * math.log(_sig(2.0)) - math.log(1 - _sig(-1.0)) - math.log(1 - _sig(0.5))) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_bce_label_smoothing_moves_targets_to_the_middle() -> None:
    loss = BCELoss(label_smoothing=0.2)(torch.tensor([0.0]), torch.tensor([1.0]))
    # target 0.9 against p=0.5: -(0.9 log .5 + .1 log .5) = log 2
    assert loss.item() == pytest.approx(math.log(2), rel=1e-6)
    sharp = BCELoss(label_smoothing=0.2)(torch.tensor([8.0]), torch.tensor([1.0]))
    assert sharp.item() > BCELoss()(torch.tensor([8.0]), torch.tensor([1.0])).item()


def test_focal_gamma_zero_is_bce_and_gamma_downweights_easy() -> None:
    assert BinaryFocalLoss(gamma=0.0)(LOGITS, TARGETS).item() == pytest.approx(
        BCELoss()(LOGITS, TARGETS).item()
    )
    p = _sig(2.0)
    easy = BinaryFocalLoss(gamma=2.0)(torch.tensor([2.0]), torch.tensor([1.0])).item()
    assert easy == pytest.approx((1 - p) ** 2 * -math.log(p), rel=1e-6)


def test_focal_label_smooth_hand_value() -> None:
    s, g, x = 0.05, 2.0, 1.0
    p = _sig(x)
    ce = -((1 - s) * math.log(p) + s * math.log(1 - p))
    expected = (1 - p) ** g * ce
    got = FocalLabelSmoothCE(smoothing=s, gamma=g)(torch.tensor([x]), torch.tensor([1.0])).item()
    assert got == pytest.approx(expected, rel=1e-6)
    closed = FocalLabelSmoothCE(smoothing=s, gamma=g)(torch.tensor([x]), torch.tensor([0.0])).item()
    ce0 = -(s * math.log(p) + (1 - s) * math.log(1 - p))
    assert closed == pytest.approx(p**g * ce0, rel=1e-6)


@pytest.mark.parametrize("loss_class", [BCELoss, BinaryFocalLoss])
def test_pos_weight_auto_is_bound_from_the_data(loss_class) -> None:
    loss = loss_class(pos_weight="auto")
    assert loss.pos_weight is None  # no weighting until the data is known
    loss.bind_data(SimpleNamespace(pos_weight=lambda: 0.8796))
    assert loss.pos_weight.item() == pytest.approx(0.8796)
    assert "pos_weight" not in loss.state_dict()  # recomputed from the data on resume
    fixed = loss_class(pos_weight=1.5)
    fixed.bind_data(SimpleNamespace(pos_weight=lambda: 9.0))
    assert fixed.pos_weight.item() == 1.5 and loss_class(pos_weight=None).pos_weight is None


@pytest.mark.parametrize(
    ("build", "key", "hint"),
    [
        (lambda: BCELoss(pos_weight="often"), "pos_weight", "'auto'"),
        (lambda: BCELoss(pos_weight=-1), "pos_weight", "positive"),
        (lambda: BCELoss(label_smoothing=1.0), "label_smoothing", "[0, 1)"),
        (lambda: BinaryFocalLoss(alpha=2), "alpha", "[0, 1]"),
        (lambda: BinaryFocalLoss(gamma=-1), "gamma", "[0, 10]"),
        (lambda: FocalLabelSmoothCE(smoothing=1.5), "smoothing", "[0, 1)"),
    ],
)
def test_bad_arguments_name_the_argument(build, key, hint) -> None:
    with pytest.raises(ConfigError) as err:
        build()
    assert f"'{key}'" in str(err.value) and hint in str(err.value)
