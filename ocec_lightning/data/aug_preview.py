"""Augmentation previews: the same samples through each `aug` preset's train transform.

`preview_presets(overrides, presets)` composes one config per preset (the overrides plus
`aug=<preset>`), builds the DataModule exactly as training does and draws `draws` random
augmentations of the same `n` samples with the DataModule's own `augmentation` (the
per-sample transforms, then the batched ones and normalisation, as in training; shown
de-normalised). `render_grid` lays them out
as one block per preset (row 0 the original, then one row per draw); segmentation masks
are blended over the image in `task.palette`. Used by `ocec-data show-aug` and the
notebooks. Batch-level MixUp/CutMix (`aug.batch`, aggressive) happens in the training
step, not in the transform, so it is named in the block title but not drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from ocec_lightning.checks import int_at_least
from ocec_lightning.data.datasets import per_sample
from ocec_lightning.data.sampling import seed_for

# The distinct presets (the Chinese names are aliases of these three).
PRESETS = ("none", "conservative", "balanced", "aggressive")
ALIASES = {"保守": "conservative", "平衡": "balanced", "激进": "aggressive"}


@dataclass
class PresetPreview:
    """One preset's draws: `images[d, i]` is draw `d` (0 = original) of sample `i`."""

    preset: str
    images: np.ndarray  # uint8 [1 + draws, n, H, W, 3]
    masks: np.ndarray | None  # uint8 [1 + draws, n, H, W] (segmentation)
    transforms: list[str] = field(default_factory=list)  # class names of the preset's steps
    batch_mix: str | None = None  # "MixUp 0.2 / CutMix 1.0 (p 0.5)" when on


def _denormalise(image: object, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """float [3, H, W] tensor (normalised) -> uint8 [H, W, 3]."""
    array = np.asarray(image, dtype=np.float32).transpose(1, 2, 0)
    return ((array * std + mean) * 255.0).round().clip(0, 255).astype(np.uint8)


def _batch_mix(cfg: DictConfig) -> str | None:
    batch = cfg.aug.get("batch") or {}
    if cfg.task.name != "classification" or not float(batch.get("prob", 0.0)):
        return None
    return (
        f"MixUp α={batch.get('mixup_alpha', 0)} / CutMix α={batch.get('cutmix_alpha', 0)}, "
        f"p={batch.get('prob')} per batch (training step, not drawn)"
    )


def preview_config(
    cfg: DictConfig, n: int = 8, draws: int = 3, seed: int = 0, preset: str | None = None
) -> PresetPreview:
    """Draw `draws` augmentations of `n` fixed validation samples of a composed config."""
    from ocec_lightning.data.build import build_datamodule

    n = int_at_least("n", n, 1)
    draws = int_at_least("draws", draws, 1)
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    raw, _, targets = datamodule.fixed_val_samples(n)
    raw = raw.numpy()
    masks = targets.numpy().astype(np.uint8) if datamodule.task == "segmentation" else None
    augmentation = datamodule.augmentation
    batched = augmentation.batched
    mean = batched.mean.flatten().numpy()
    std = batched.std.flatten().numpy()
    images, out_masks = [raw], [masks] if masks is not None else None
    for draw in range(draws):
        pixels, draw_masks = raw, masks
        if augmentation.sample is not None:  # per-sample albumentations, as the loader runs it
            augmentation.sample.set_random_seed(seed + draw)
            pixels, draw_masks = per_sample(augmentation.sample, raw, masks)
        batch = torch.from_numpy(np.ascontiguousarray(pixels.transpose(0, 3, 1, 2)))
        mask_batch = None if draw_masks is None else torch.from_numpy(draw_masks.astype(np.int64))
        # The batched transforms, as on_after_batch_transfer runs them on a train batch.
        result, result_masks = batched(batch, mask_batch, seed=seed_for(seed, draw))
        images.append(np.stack([_denormalise(image, mean, std) for image in result]))
        if out_masks is not None:
            out_masks.append(result_masks.numpy().astype(np.uint8))
    steps = augmentation.names()
    return PresetPreview(
        preset=preset or str(cfg.aug.get("name", "?")),
        images=np.stack(images),
        masks=None if out_masks is None else np.stack(out_masks),
        transforms=steps,
        batch_mix=_batch_mix(cfg),
    )


def resolve_presets(names: str | Sequence[str]) -> list[str]:
    """`all` -> every distinct preset; a comma list or sequence kept (Chinese names too)."""
    if isinstance(names, str):
        names = [part.strip() for part in names.split(",") if part.strip()]
    out: list[str] = []
    for name in names:
        for preset in PRESETS if name == "all" else [name]:
            if preset not in out:
                out.append(preset)
    return out


def preview_presets(
    overrides: Sequence[str] = (),
    presets: str | Sequence[str] = "all",
    n: int = 8,
    draws: int = 3,
    seed: int = 0,
) -> tuple[list[PresetPreview], DictConfig]:
    """Compose `overrides + aug=<preset>` for each preset and draw its previews.

    Returns the previews and the last composed config (for `task.class_names`/`palette`).
    """
    from ocec_lightning.config import compose_config

    previews, cfg = [], None
    for preset in resolve_presets(presets):
        cfg = compose_config([*overrides, f"aug={preset}"])
        label = preset if preset not in ALIASES else f"{preset} ({ALIASES[preset]})"
        previews.append(preview_config(cfg, n=n, draws=draws, seed=seed, preset=label))
    if cfg is None:
        raise ValueError("no preset to preview: give aug=all or aug=<preset>[,<preset>...]")
    return previews, cfg


def _palette(cfg: DictConfig) -> np.ndarray:
    from ocec_lightning.viz.overlays import check_palette, default_palette

    num_classes = len(cfg.task.class_names)
    palette = cfg.task.get("palette")
    return default_palette(num_classes) if palette is None else check_palette(palette)


def render_grid(
    previews: Sequence[PresetPreview],
    cfg: DictConfig,
    out: str | Path | None = None,
    dpi: int = 110,
):
    """One block per preset (rows: original, draw 1..K; columns: samples); returns the
    matplotlib figure and saves it to `out` when given."""
    import matplotlib

    if out is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from ocec_lightning.viz.fonts import cjk_font
    from ocec_lightning.viz.overlays import overlay

    font = cjk_font()
    if font:
        plt.rcParams["font.sans-serif"] = [font, *plt.rcParams["font.sans-serif"]]
    segmentation = previews[0].masks is not None
    palette = _palette(cfg) if segmentation else None
    rows, n = previews[0].images.shape[:2]
    height, width = previews[0].images.shape[2:4]
    cell_w = 1.25 if width >= height else 1.0
    cell_h = cell_w * height / width
    legend_h = 0.6 if segmentation else 0.0
    block_h = rows * (cell_h + 0.08) + 0.75
    title_h = 0.6
    fig = plt.figure(
        figsize=(max(7.0, 1.1 + n * cell_w), title_h + len(previews) * block_h + legend_h), dpi=dpi
    )
    task = "segmentation" if segmentation else "classification"
    ratios = [title_h, *[block_h] * len(previews)] + ([legend_h] if segmentation else [])
    subfigs = fig.subfigures(len(ratios), 1, height_ratios=ratios)
    subfigs[0].suptitle(
        f"augmentation preview ({task}, {height}x{width}): the same {n} validation samples\n"
        f"row 0 original, {'row 1' if rows == 2 else f'rows 1-{rows - 1}'}: "
        "random draws of the train transform",
        fontsize=9,
        y=0.75,
    )
    legend_fig = subfigs[-1] if segmentation else None
    subfigs = subfigs[1 : 1 + len(previews)]
    for sub, preview in zip(subfigs, previews, strict=True):
        steps = " → ".join(preview.transforms) or "no transform (normalisation only)"
        if len(steps) > 90:  # two lines for the long presets
            cut = steps.rfind(" → ", 0, len(steps) // 2 + 10)
            steps = steps[:cut] + "\n→ " + steps[cut + 3 :]
        title = f"aug={preview.preset}: {steps}"
        if preview.batch_mix:
            title += f"\n+ {preview.batch_mix}"
        sub.suptitle(title, fontsize=8, wrap=True)
        axes = sub.subplots(rows, n, squeeze=False, gridspec_kw={"wspace": 0.04, "hspace": 0.06})
        for r in range(rows):
            for i in range(n):
                image = preview.images[r, i]
                if preview.masks is not None:
                    image = overlay(image, preview.masks[r, i], palette, alpha=0.45)
                ax = axes[r, i]
                ax.imshow(image, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if i == 0:
                    ax.set_ylabel("original" if r == 0 else f"draw {r}", fontsize=7)
    if segmentation:
        handles = [
            Patch(color=palette[k] / 255.0, label=f"{k} {name}")
            for k, name in enumerate(cfg.task.class_names)
        ]
        legend_fig.legend(handles=handles, loc="center", ncol=min(6, len(handles)), fontsize=6)
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=dpi)
    return fig
