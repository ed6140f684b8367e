"""best_f1_threshold: the F1-maximising threshold of a precision-recall curve, by hand."""

from __future__ import annotations

import pytest
import torch
from torchmetrics.classification import BinaryPrecisionRecallCurve

from ocec_lightning.tasks.classification import best_f1_threshold


def _curve(*batches: tuple[list[float], list[int]]) -> BinaryPrecisionRecallCurve:
    curve = BinaryPrecisionRecallCurve()
    for probs, labels in batches:
        curve.update(torch.tensor(probs), torch.tensor(labels))
    return curve


def _f32(value: float) -> float:
    """`value` as the curve stores it (float32), so thresholds compare exactly."""
    return float(torch.tensor(value, dtype=torch.float32))


def test_separable_scores_give_f1_one_at_lowest_positive_score() -> None:
    curve = _curve(([0.1, 0.2, 0.3, 0.6, 0.7, 0.9], [0, 0, 0, 1, 1, 1]))
    threshold, f1 = best_f1_threshold(curve)
    assert threshold == _f32(0.6)
    assert f1 == 1.0


def test_overlapping_scores_pick_the_hand_computed_best() -> None:
    # score:  0.9 0.8 0.7 0.6 0.55 0.5 0.4 0.3
    # label:   1   1   0   1   0    1   0   0
    # F1 at t (predict score >= t): 0.9: 2/5, 0.8: 2/3, 0.7: 4/7, 0.6: 3/4, 0.55: 2/3,
    # 0.5: P=4/6 R=1 -> 4/5, 0.4: 8/11, 0.3: 2/3.  Best: t = 0.5, F1 = 0.8.
    probs = [0.9, 0.8, 0.7, 0.6, 0.55, 0.5, 0.4, 0.3]
    threshold, f1 = best_f1_threshold(_curve((probs, [1, 1, 0, 1, 0, 1, 0, 0])))
    assert threshold == 0.5
    assert f1 == pytest.approx(0.8, abs=1e-6)


def test_small_overlap_best_is_not_an_extreme_score() -> None:
    # t=0.1: P=2/4 -> F1 2/3; t=0.35: P=2/3 R=1 -> 4/5; t=0.4: 1/2; t=0.8: 2/3.
    threshold, f1 = best_f1_threshold(_curve(([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])))
    assert threshold == _f32(0.35)
    assert f1 == pytest.approx(0.8, abs=1e-6)


def test_batches_accumulate_like_one_update() -> None:
    probs, labels = [0.9, 0.8, 0.7, 0.6, 0.55, 0.5, 0.4, 0.3], [1, 1, 0, 1, 0, 1, 0, 0]
    split = _curve((probs[:3], labels[:3]), (probs[3:], labels[3:]))
    assert best_f1_threshold(split) == best_f1_threshold(_curve((probs, labels)))


def test_all_positive_labels_take_the_lowest_score() -> None:
    # Every threshold has precision 1; recall (and F1) is highest at the lowest score.
    threshold, f1 = best_f1_threshold(_curve(([0.5, 0.2, 0.9], [1, 1, 1])))
    assert threshold == _f32(0.2)
    assert f1 == 1.0


@pytest.mark.filterwarnings("ignore:No positive samples found in target")
def test_all_negative_labels_give_f1_zero() -> None:
    # Precision 0 everywhere (torchmetrics sets recall to 1): F1 is 0, first threshold.
    threshold, f1 = best_f1_threshold(_curve(([0.5, 0.2, 0.9], [0, 0, 0])))
    assert threshold == _f32(0.2)
    assert f1 == 0.0


def test_identical_scores_give_that_score_as_threshold() -> None:
    curve = BinaryPrecisionRecallCurve()
    curve.update(torch.full((4,), 0.7), torch.tensor([0, 1, 1, 0]))
    threshold, f1 = best_f1_threshold(curve)
    assert threshold == pytest.approx(0.7) and f1 == pytest.approx(2 * 0.5 / 1.5)
