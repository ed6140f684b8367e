"""Segmentation losses against hand computation on 2×3×2×2 tensors: values, class
weights, ignore_index, composition and gradients."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import OmegaConf

from ocec_lightning.errors import ConfigError
from ocec_lightning.losses.ce_dice import CEDiceLoss
from ocec_lightning.losses.dice import DiceLoss
from ocec_lightning.losses.focal_seg import FocalSegLoss
from ocec_lightning.losses.seg_ce import (
    SegCrossEntropy,
    weights_from_frequencies,
)

CONF = Path(__file__).resolve().parents[2] / "conf" / "loss"
IGNORE = 255
# [B=2, C=3, H=2, W=2]
LOGITS = torch.tensor(
    [
        [[[2.0, -1.0], [0.5, 0.0]], [[0.0, 1.0], [0.5, 3.0]], [[-1.0, 0.0], [1.0, -2.0]]],
        [[[0.3, 0.0], [1.5, -0.5]], [[1.2, 0.0], [-1.0, 0.5]], [[0.1, 2.0], [0.0, 0.2]]],
    ]
)
TARGET = torch.tensor([[[0, 1], [2, IGNORE]], [[1, 2], [0, 2]]])
C = 3


def _pixels(target: torch.Tensor = TARGET) -> list[tuple[list[float], int]]:
    """(logits of one pixel, its class) for every non-ignored pixel, as plain floats."""
    out = []
    for b in range(target.shape[0]):
        for i in range(2):
            for j in range(2):
                y = int(target[b, i, j])
                if y != IGNORE:
                    out.append(([float(LOGITS[b, c, i, j]) for c in range(C)], y))
    return out


def _log_softmax(z: list[float]) -> list[float]:
    log_norm = math.log(sum(math.exp(v) for v in z))
    return [v - log_norm for v in z]


def _softmax_maps() -> list[list[list[float]]]:
    """probs[b][c] -> 4 pixel probabilities in row-major order."""
    probs = [[[0.0] * 4 for _ in range(C)] for _ in range(2)]
    for b in range(2):
        for k in range(4):
            z = [float(LOGITS[b, c, k // 2, k % 2]) for c in range(C)]
            for c, lp in enumerate(_log_softmax(z)):
                probs[b][c][k] = math.exp(lp)
    return probs


def _hand_dice(smooth: float, classes: range) -> float:
    probs, scores = _softmax_maps(), []
    for b in range(2):
        targets = [int(TARGET[b, k // 2, k % 2]) for k in range(4)]
        for c in classes:
            p = [probs[b][c][k] if targets[k] != IGNORE else 0.0 for k in range(4)]
            t = [1.0 if targets[k] == c else 0.0 for k in range(4)]
            inter = sum(pi * ti for pi, ti in zip(p, t, strict=True))
            scores.append((2 * inter + smooth) / (sum(p) + sum(t) + smooth))
    return 1 - sum(scores) / len(scores)


def test_ce_matches_hand_computation_with_weights_and_smoothing() -> None:
    pixels = _pixels()
    plain = sum(-_log_softmax(z)[y] for z, y in pixels) / len(pixels)
    assert SegCrossEntropy()(LOGITS, TARGET).item() == pytest.approx(plain, rel=1e-6)

    w = [0.5, 2.0, 1.0]
    weighted = sum(-w[y] * _log_softmax(z)[y] for z, y in pixels) / sum(w[y] for _, y in pixels)
    got = SegCrossEntropy(class_weights=w, num_classes=C)(LOGITS, TARGET).item()
    assert got == pytest.approx(weighted, rel=1e-6)

    s = 0.1
    smooth = sum(
        (1 - s) * -_log_softmax(z)[y] + s / C * sum(-v for v in _log_softmax(z)) for z, y in pixels
    ) / len(pixels)
    assert SegCrossEntropy(label_smoothing=s)(LOGITS, TARGET).item() == pytest.approx(smooth)
    # Same convention as PyTorch's weighted mean with smoothing.
    both = SegCrossEntropy(class_weights=w, label_smoothing=s)(LOGITS, TARGET)
    ref = F.cross_entropy(
        LOGITS, TARGET, weight=torch.tensor(w), ignore_index=IGNORE, label_smoothing=s
    )
    assert both.item() == pytest.approx(ref.item(), rel=1e-6)


def test_median_frequency_and_inverse_weights() -> None:
    freqs = [0.5, 0.3, 0.2, 0.0]
    median = weights_from_frequencies(freqs, "median_frequency")
    # median over present classes = 0.3; the absent class gets 0.
    assert median.tolist() == pytest.approx([0.6, 1.0, 1.5, 0.0])
    inverse = weights_from_frequencies(freqs, "inverse")
    raw = [2.0, 1 / 0.3, 5.0]
    mean = sum(raw) / 3
    assert inverse.tolist() == pytest.approx([r / mean for r in raw] + [0.0])
    assert inverse[:3].mean().item() == pytest.approx(1.0)
    # Pixel counts give the same weights as fractions; an even count uses the middle mean.
    counts = weights_from_frequencies(torch.tensor([400, 300, 200, 100]), "median_frequency")
    assert counts.tolist() == pytest.approx([0.625, 0.25 / 0.3, 1.25, 2.5])


def test_frequency_weights_are_filled_in_later() -> None:
    loss = SegCrossEntropy(class_weights="median_frequency", num_classes=C)
    assert loss.needs_class_frequencies
    with pytest.raises(ConfigError):
        loss(LOGITS, TARGET)
    loss.set_class_frequencies([0.2, 0.5, 0.3])
    assert not loss.needs_class_frequencies
    explicit = SegCrossEntropy(class_weights=[1.5, 0.6, 1.0])
    assert loss(LOGITS, TARGET).item() == pytest.approx(explicit(LOGITS, TARGET).item())
    built = SegCrossEntropy(class_weights="inverse", class_frequencies=[1, 1, 2])
    assert not built.needs_class_frequencies
    assert built.class_weight.tolist() == pytest.approx([1.2, 1.2, 0.6])


def test_bind_data_fills_frequency_weights_once() -> None:
    from types import SimpleNamespace

    loss = FocalSegLoss(alpha="inverse", num_classes=C)
    loss.bind_data(SimpleNamespace(class_pixel_frequencies=lambda: [1, 1, 2]))
    assert loss.alpha.tolist() == pytest.approx([1.2, 1.2, 0.6])
    loss.bind_data(SimpleNamespace(class_pixel_frequencies=lambda: [9, 1, 1]))
    assert loss.alpha.tolist() == pytest.approx([1.2, 1.2, 0.6])  # bound once, kept
    combined = CEDiceLoss(class_weights="median_frequency", num_classes=C)
    combined.bind_data(SimpleNamespace(class_pixel_frequencies=lambda: [0.2, 0.5, 0.3]))
    assert not combined.needs_class_frequencies


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"class_weights": [1.0, 2.0], "num_classes": 3}, "class_weights"),
        ({"class_weights": "balanced"}, "class_weights"),
        ({"class_weights": [-1.0, 1.0, 1.0]}, "class_weights"),
        ({"class_weights": "inverse", "class_frequencies": [0, 0, 0]}, "class_frequencies"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"label_smoothing": "x"}, "label_smoothing"),
        ({"num_classes": 0}, "num_classes"),
        ({"num_classes": True}, "num_classes"),
        ({"ignore_index": 2.5}, "ignore_index"),
    ],
)
def test_ce_config_errors(kwargs: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        SegCrossEntropy(**kwargs)
    assert err.value.key == key


@pytest.mark.parametrize(
    ("build", "key", "expected"),
    [
        (lambda: FocalSegLoss(gamma=-1), "gamma", "[0, 10] (0 = cross-entropy)"),
        (lambda: FocalSegLoss(gamma="2"), "gamma", "[0, 10]"),
        (lambda: FocalSegLoss(num_classes=0), "num_classes", ">= 1"),
        (lambda: CEDiceLoss(ce_weight=-0.5), "ce_weight", "[0, "),
        (lambda: CEDiceLoss(dice_weight=True), "dice_weight", "[0, "),
        (lambda: CEDiceLoss(ce_weight=0, dice_weight=0), "dice_weight", "> 0"),
    ],
)
def test_focal_and_ce_dice_config_errors(
    build: Callable[[], object], key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as err:
        build()
    assert err.value.key == key
    assert expected in str(err.value)


def test_dice_matches_hand_computation() -> None:
    assert DiceLoss(smooth=1.0)(LOGITS, TARGET).item() == pytest.approx(_hand_dice(1.0, range(C)))
    fg = DiceLoss(smooth=0.5, include_background=False)(LOGITS, TARGET).item()
    assert fg == pytest.approx(_hand_dice(0.5, range(1, C)))


def test_dice_of_a_perfect_prediction_is_about_zero() -> None:
    target = torch.tensor([[[0, 1], [2, 2]], [[1, 1], [0, 2]]])
    logits = F.one_hot(target, C).permute(0, 3, 1, 2).float() * 50.0
    assert DiceLoss()(logits, target).item() == pytest.approx(0.0, abs=1e-6)
    assert DiceLoss()(-logits, target).item() > 0.5


def test_ce_dice_is_the_weighted_sum() -> None:
    loss = CEDiceLoss(ce_weight=0.7, dice_weight=1.5, class_weights=[1.0, 2.0, 0.5], smooth=0.5)
    ce = SegCrossEntropy(class_weights=[1.0, 2.0, 0.5])(LOGITS, TARGET)
    dice = DiceLoss(smooth=0.5)(LOGITS, TARGET)
    assert loss(LOGITS, TARGET).item() == pytest.approx((0.7 * ce + 1.5 * dice).item())
    assert loss.last_terms["dice"].item() == pytest.approx(dice.item())
    freq = CEDiceLoss(class_weights="inverse")
    assert freq.needs_class_frequencies
    freq.set_class_frequencies([1, 1, 2])
    assert not freq.needs_class_frequencies


def test_focal_matches_hand_computation() -> None:
    pixels = _pixels()
    ce = sum(-_log_softmax(z)[y] for z, y in pixels) / len(pixels)
    assert FocalSegLoss(gamma=0.0)(LOGITS, TARGET).item() == pytest.approx(ce, rel=1e-6)
    alpha, g = [0.25, 1.0, 0.5], 2.0
    hand = 0.0
    for z, y in pixels:
        lp = _log_softmax(z)[y]
        hand += -alpha[y] * (1 - math.exp(lp)) ** g * lp
    got = FocalSegLoss(gamma=g, alpha=alpha, num_classes=C)(LOGITS, TARGET).item()
    assert got == pytest.approx(hand / len(pixels), rel=1e-6)


LOSSES = {
    "ce": lambda: SegCrossEntropy(class_weights=[1.0, 2.0, 0.5], label_smoothing=0.1),
    "dice": lambda: DiceLoss(),
    "ce_dice": lambda: CEDiceLoss(dice_weight=1.5),
    "focal_seg": lambda: FocalSegLoss(alpha=[0.5, 1.0, 1.0]),
}


@pytest.mark.parametrize("name", LOSSES)
def test_ignored_pixels_do_not_matter_and_gradients_are_finite(name: str) -> None:
    loss = LOSSES[name]()
    logits = LOGITS.clone().requires_grad_(True)
    value = loss(logits, TARGET)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(logits.grad).all()
    # The ignored pixel gets no gradient, and changing its logits changes nothing.
    assert torch.all(logits.grad[0, :, 1, 1] == 0)
    changed = LOGITS.clone()
    changed[0, :, 1, 1] = torch.tensor([9.0, -9.0, 4.0])
    assert loss(changed, TARGET).item() == pytest.approx(value.item(), rel=1e-6)
    # A batch with every pixel ignored is 0 (or Dice's constant), never NaN.
    all_ignored = torch.full_like(TARGET, IGNORE)
    logits.grad = None
    empty = loss(logits, all_ignored)
    empty.backward()
    assert torch.isfinite(empty) and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("name", LOSSES)
def test_yaml_documents_every_argument_and_instantiates(name: str) -> None:
    path = CONF / f"{name}.yaml"
    node = OmegaConf.load(path)
    cls = type(LOSSES[name]())
    assert set(node) - {"_target_"} == set(inspect.signature(cls).parameters)
    for key in node:
        if key != "_target_":
            line = next(li for li in path.read_text().splitlines() if li.startswith(f"{key}:"))
            assert "#" in line, f"{name}.{key} has no comment"
    cfg = OmegaConf.create({"task": {"num_classes": C, "ignore_index": IGNORE}, "loss": node})
    loss = instantiate(cfg.loss)
    assert isinstance(loss, cls)
    assert torch.isfinite(loss(LOGITS, TARGET))
