"""Batch-level MixUp/CutMix for the binary task: soft targets, mixed images, pass-through."""

from __future__ import annotations

import torch

from ocec_lightning.tasks.batch_mix import BinaryBatchMix


def _batch(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    images = torch.stack([torch.full((3, 4, 6), float(i)) for i in range(n)])
    return images, torch.tensor([i % 2 for i in range(n)])


def test_disabled_by_default_passes_through() -> None:
    images, targets = _batch()
    mixed, soft = BinaryBatchMix()(images, targets)
    assert torch.equal(mixed, images) and torch.equal(soft, targets.float())


def test_mixup_gives_soft_targets_consistent_with_the_image_mix() -> None:
    images, targets = _batch()
    mixed, soft = BinaryBatchMix(mixup_alpha=0.4, prob=1.0, switch_prob=0.0)(
        images.clone(), targets
    )
    assert soft.dtype == torch.float32 and ((soft >= 0) & (soft <= 1)).all()
    assert not torch.equal(mixed, images)
    # timm mixes each sample with the flipped batch: x_i' = lam x_i + (1 - lam) x_{n-1-i}.
    lam = (mixed[0, 0, 0, 0] - images[-1, 0, 0, 0]) / (images[0, 0, 0, 0] - images[-1, 0, 0, 0])
    expected = lam * targets.float() + (1 - lam) * targets.flip(0).float()
    assert torch.allclose(soft, expected, atol=1e-5)


def test_cutmix_target_equals_the_pasted_area_share() -> None:
    images, targets = _batch()
    mixed, soft = BinaryBatchMix(cutmix_alpha=1.0, prob=1.0, switch_prob=1.0)(
        images.clone(), targets
    )
    kept = (mixed[0, 0] == images[0, 0]).float().mean()  # share of sample 0's own pixels
    assert torch.allclose(soft[0], kept * targets[0] + (1 - kept) * targets[-1], atol=1e-5)


def test_odd_batches_are_not_mixed() -> None:
    images, targets = _batch(7)
    mixed, soft = BinaryBatchMix(mixup_alpha=0.4, prob=1.0)(images, targets)
    assert torch.equal(mixed, images) and torch.equal(soft, targets.float())
