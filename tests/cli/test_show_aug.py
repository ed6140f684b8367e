"""`ocec-data show-aug`: a grid PNG per preset list; the draws are the DataModule's own
train transform (none = the originals, a preset changes them); masks move with images."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ocec_lightning.cli.data import main
from ocec_lightning.data.aug_preview import preview_presets, resolve_presets

EYES = ["data.source.num_samples=240", "data.num_workers=0"]
FACES = ["task=segmentation", "data.source.num_samples=24", "data.image_size=[64,64]"]


def test_resolve_presets() -> None:
    assert resolve_presets("all") == ["none", "conservative", "balanced", "aggressive"]
    assert resolve_presets("保守,激进") == ["保守", "激进"]


def test_show_aug_writes_a_grid_for_chinese_presets(tmp_path, capsys) -> None:
    out = tmp_path / "aug.png"
    assert (
        main(["show-aug", "aug=none,激进", *EYES, "--n", "3", "--draws", "2", "--out", str(out)])
        == 0
    )
    assert "2 preset(s) (none, 激进 (aggressive))" in " ".join(capsys.readouterr().out.split())
    width, height = Image.open(out).size
    assert width > 300 and height > width / 2


def test_draws_are_the_train_transform(tmp_path) -> None:
    (none, strong), _ = preview_presets(EYES, "none,aggressive", n=4, draws=2, seed=1)
    assert none.images.shape == (3, 4, 32, 64, 3) and none.masks is None
    assert all(np.array_equal(none.images[0], none.images[d]) for d in (1, 2))
    assert not np.array_equal(strong.images[0], strong.images[1])
    assert np.array_equal(none.images[0], strong.images[0])  # the same samples
    assert strong.transforms[-1] == "PerSample(ImageCompression)" and "MixUp" in strong.batch_mix


def test_segmentation_masks_follow_the_geometry(tmp_path) -> None:
    out = tmp_path / "seg.png"
    assert (
        main(["show-aug", "aug=balanced", *FACES, "--n", "2", "--draws", "2", "--out", str(out)])
        == 0
    )
    assert out.stat().st_size > 0
    (preview,), _ = preview_presets(FACES, "aggressive", n=2, draws=3, seed=0)
    assert preview.masks.shape == (4, 2, 64, 64)
    # ids stay ids (nearest interpolation): only class ids and the ignore value appear
    assert set(np.unique(preview.masks)) <= set(range(11)) | {255}


def test_bad_arguments_fail_in_one_line(tmp_path, capsys) -> None:
    assert main(["show-aug", *EYES, "--n", "0", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --n=0") and "\n" not in err
    assert main(["show-aug", "aug=nope", *EYES, "--out", str(tmp_path / "x.png")]) == 2
    assert capsys.readouterr().err.startswith("error:")
