"""Non-ASCII override quoting: what users type must reach Hydra in its grammar."""

import pytest

from ocec_lightning.config.argv import quote_overrides


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["aug=激进"], ["aug='激进'"]),
        (["preset=保守,平衡"], ["preset='保守','平衡'"]),
        (["aug='激进'"], ["aug='激进'"]),
        (['aug="激进"'], ['aug="激进"']),
        (["+preset=平衡"], ["+preset='平衡'"]),
        (["aug=choice(保守,激进)"], ["aug=choice('保守','激进')"]),
        (["optimizer.lr=1e-4,2e-4"], ["optimizer.lr=1e-4,2e-4"]),
        (["-m", "--cfg", "job", "aug=none"], ["-m", "--cfg", "job", "aug=none"]),
        (["run_name=实验"], ["run_name='实验'"]),
        (["ckpt_path=out/epoch=3-val_f1=0.9.ckpt"], ["ckpt_path='out/epoch=3-val_f1=0.9.ckpt'"]),
    ],
)
def test_quote_overrides(given: list[str], expected: list[str]) -> None:
    assert quote_overrides(given) == expected
