"""Segmentation metrics on hand-built masks: the competition F-score (per image, classes
of the ground truth only) and the dataset-level per-class scores."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassF1Score

from ocec_lightning.errors import ConfigError
from ocec_lightning.metrics import FScore, SegmentationScores

IGNORE = 255
# Image A: class 3 is predicted but absent from the ground truth; one pixel is ignored.
TARGET_A = [[0, 0, 1, 1], [0, 2, 2, IGNORE]]
PRED_A = [[0, 1, 1, 1], [0, 2, 3, 3]]
# Image B: class 1 is present but never predicted.
TARGET_B = [[3, 3, 3, 3], [3, 3, 1, 1]]
PRED_B = [[3, 3, 3, 3], [3, 3, 3, 3]]
TARGET = torch.tensor([TARGET_A, TARGET_B])
PREDS = torch.tensor([PRED_A, PRED_B])

# Image A: class 0 TP 2 FN 1 -> 4/5; class 1 TP 2 FP 1 -> 4/5; class 2 TP 1 FN 1 -> 2/3.
SCORE_A = (0.8 + 0.8 + 2 / 3) / 3
# Image B: class 3 TP 6 FP 2 -> 12/14; class 1 TP 0 FN 2 -> 0.
SCORE_B = (12 / 14 + 0.0) / 2
FSCORE = (SCORE_A + SCORE_B) / 2


def test_fscore_matches_hand_computation() -> None:
    metric = FScore(num_classes=4, ignore_index=IGNORE)
    metric.update(PREDS, TARGET)
    assert metric.compute().item() == pytest.approx(FSCORE, rel=1e-6)


def test_predicted_but_absent_class_does_not_change_the_image_score() -> None:
    metric = FScore(num_classes=4)
    metric.update(PREDS[:1], TARGET[:1])
    assert metric.compute().item() == pytest.approx(SCORE_A)
    # Macro F1 over all classes counts class 3 (F1 0) and is lower.
    macro = MulticlassF1Score(num_classes=4, average="macro", ignore_index=IGNORE)
    assert macro(PREDS[:1], TARGET[:1]).item() == pytest.approx((0.8 + 0.8 + 2 / 3 + 0) / 4)
    # Predicting class 3 on a background pixel too: only class 0 changes (TP 1, FN 2).
    more = PREDS[:1].clone()
    more[0, 0, 0] = 3
    metric.reset()
    metric.update(more, TARGET[:1])
    assert metric.compute().item() == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


def test_ignored_pixels_are_excluded() -> None:
    changed = PREDS.clone()
    changed[0, 1, 3] = 0  # the ignored pixel of image A
    metric = FScore(num_classes=4)
    metric.update(changed, TARGET)
    assert metric.compute().item() == pytest.approx(FSCORE)
    # Were that pixel a real class-0 pixel, the score would change.
    labelled = TARGET.clone()
    labelled[0, 1, 3] = 0
    metric.reset()
    metric.update(changed, labelled)
    assert metric.compute().item() != pytest.approx(FSCORE)


def test_images_are_averaged_not_pixels() -> None:
    # A big, easy image and a small, hard one: per-image mean is 0.5, pooled pixels ~1.
    target = torch.zeros(2, 8, 8, dtype=torch.long)
    target[1] = IGNORE
    target[1, 0, 0] = 1
    preds = torch.zeros(2, 8, 8, dtype=torch.long)
    metric = FScore(num_classes=2)
    metric.update(preds, target)
    assert metric.compute().item() == pytest.approx(0.5)


def test_logits_give_the_same_score_as_index_maps() -> None:
    logits = F.one_hot(PREDS, 4).permute(0, 3, 1, 2).float() * 3 + torch.rand(2, 4, 2, 4)
    metric = FScore(num_classes=4)
    metric.update(logits, TARGET)
    assert metric.compute().item() == pytest.approx(FSCORE)


def test_two_batches_equal_one_batch_and_states_merge_like_ddp() -> None:
    split = FScore(num_classes=4)
    split.update(PREDS[:1], TARGET[:1])
    split.update(PREDS[1:], TARGET[1:])
    assert split.compute().item() == pytest.approx(FSCORE)
    # merge_state applies each state's dist_reduce_fx, as the DDP sync does.
    rank0, rank1 = FScore(num_classes=4), FScore(num_classes=4)
    rank0.update(PREDS[:1], TARGET[:1])
    rank1.update(PREDS[1:], TARGET[1:])
    rank0.merge_state(rank1)
    assert rank0.compute().item() == pytest.approx(FSCORE)
    scores0, scores1 = SegmentationScores(num_classes=4), SegmentationScores(num_classes=4)
    scores0.update(PREDS[:1], TARGET[:1])
    scores1.update(PREDS[1:], TARGET[1:])
    scores0.merge_state(scores1)
    whole = SegmentationScores(num_classes=4)
    whole.update(PREDS, TARGET)
    assert torch.equal(scores0.confusion, whole.confusion)


def test_fully_ignored_image_is_skipped() -> None:
    target = torch.stack([TARGET[0], torch.full_like(TARGET[0], IGNORE)])
    metric = FScore(num_classes=4)
    metric.update(PREDS, target)
    assert metric.compute().item() == pytest.approx(SCORE_A)
    with pytest.warns(UserWarning, match="before the ``update``"):
        assert FScore(num_classes=4).compute().item() == 0.0


def test_out_of_range_ids_raise() -> None:
    with pytest.raises(ValueError, match="class ids"):
        FScore(num_classes=3).update(PREDS, TARGET)


def test_segmentation_scores_per_class_values() -> None:
    # 5 classes: class 4 is neither in the target nor predicted.
    names = ["bg", "a", "b", "c", "d"]
    metric = SegmentationScores(num_classes=5, class_names=names)
    metric.update(PREDS, TARGET)
    out = metric.compute()
    f1 = [0.8, 4 / 7, 2 / 3, 0.8, 0.0]
    iou = [2 / 3, 2 / 5, 1 / 2, 2 / 3, 0.0]
    assert out["f1"].tolist() == pytest.approx(f1)
    assert out["iou"].tolist() == pytest.approx(iou)
    assert out["support"].tolist() == [3, 4, 2, 6, 0]
    # Background and the unsupported class 4 are left out of macro F1.
    assert out["macro_f1"].item() == pytest.approx((4 / 7 + 2 / 3 + 0.8) / 3)
    # mIoU over classes seen in target or prediction (0..3).
    assert out["miou"].item() == pytest.approx(sum(iou[:4]) / 4)
    assert out["pixel_accuracy"].item() == pytest.approx(11 / 15)
    rows = metric.table()
    assert [r[0] for r in rows] == names
    assert rows[1] == ("a", pytest.approx(4 / 7), pytest.approx(2 / 5), 4)
    # Same per-class F1 as torchmetrics on pooled pixels.
    ref = MulticlassF1Score(num_classes=5, average=None, ignore_index=IGNORE)
    assert out["f1"].tolist() == pytest.approx(ref(PREDS, TARGET).tolist())


def test_macro_f1_excludes_background() -> None:
    metric = SegmentationScores(num_classes=4)
    metric.update(PREDS, TARGET)
    before = metric.compute()["macro_f1"].item()
    worse_bg = PREDS.clone()
    worse_bg[0, 1, 0] = 2  # a background pixel predicted as class 2
    metric.reset()
    metric.update(worse_bg, TARGET)
    out = metric.compute()
    assert out["f1"][0].item() < 0.8
    expected = (out["f1"][1] + out["f1"][2] + out["f1"][3]).item() / 3
    assert out["macro_f1"].item() == pytest.approx(expected)
    assert before == pytest.approx((4 / 7 + 2 / 3 + 0.8) / 3)


def test_num_classes_is_checked_and_class_names_by_the_task() -> None:
    from ocec_lightning.data.masks import check_segmentation_task

    with pytest.raises(ConfigError) as err:
        SegmentationScores(num_classes=0)
    assert err.value.key == "num_classes"
    # One name per class id is the task's rule (checked once, for data and task alike).
    with pytest.raises(ConfigError) as err:
        check_segmentation_task(["bg", "skin"], 3, 255)
    assert err.value.key == "task.class_names"
