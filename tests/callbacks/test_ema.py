"""EMA callback: decay warmup, schedule, checkpoint contents, test-after-fit, resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import EMAWeightAveraging, ModelCheckpoint
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from ocec_lightning.callbacks.ema import EMA, warmup_ema_multi_avg_fn
from ocec_lightning.errors import ConfigError

STEPS_PER_EPOCH = 4  # 32 samples, batch size 8


class TinyModel(pl.LightningModule):
    """Linear + BatchNorm1d regression; records the weights after every optimizer step."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
        self.snapshots: list[dict[str, Tensor]] = []
        self.test_weights: list[Tensor] = []

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        return nn.functional.mse_loss(self(x), y)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.snapshots.append({k: v.detach().clone() for k, v in self.state_dict().items()})

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self(x), y))

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.test_weights.append(self.net[0].weight.detach().clone())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _loader() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8 * STEPS_PER_EPOCH, 4, generator=g)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True) + 1.0), batch_size=8)


def _trainer(tmp_path: Path, callbacks: list[pl.Callback], max_epochs: int = 1) -> pl.Trainer:
    return pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=max_epochs,
        callbacks=callbacks,
        default_root_dir=tmp_path,
        enable_progress_bar=False,
        logger=False,
        enable_model_summary=False,
    )


def _expected_ema(snapshots: list[dict[str, Tensor]], decay: float, warmup: bool) -> dict:
    """EMA by hand: the first update copies, the n-th later one blends with decay d_n."""
    ema = dict(snapshots[0])
    for n, snap in enumerate(snapshots[1:], start=1):
        d = min(decay, (1 + n) / (10 + n)) if warmup else decay
        ema = {k: d * ema[k] + (1 - d) * snap[k] for k in ema}
    return ema


def _assert_state_close(actual: dict[str, Tensor], expected: dict[str, Tensor]) -> None:
    # num_batches_tracked (an integer buffer) is averaged and truncated too; skip it.
    floats = [k for k, v in actual.items() if v.is_floating_point()]
    assert floats
    for key in floats:
        torch.testing.assert_close(actual[key], expected[key], msg=key)


def _load(path: str | Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.mark.parametrize("n", [0, 1, 5, 10000])
def test_warmup_avg_fn_uses_tensorflow_decay_rule(n: int) -> None:
    decay = 0.999
    averaged, current = torch.tensor([2.0, -4.0, 0.5]), torch.tensor([10.0, 6.0, -1.5])
    d = min(decay, (1 + n) / (10 + n))  # n=0: 0.1, 1: 2/11, 5: 6/15, 10000: 0.999
    expected = d * averaged + (1 - d) * current
    got = averaged.clone()
    warmup_ema_multi_avg_fn(decay)([got], [current], torch.tensor(n))  # in place
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)
    # Integer buffers (num_batches_tracked) blend too; constant decay without warmup.
    steps = torch.tensor([10])
    warmup_ema_multi_avg_fn(0.5, warmup=False)([steps], [torch.tensor([20])], torch.tensor(n))
    assert steps.tolist() == [15]
    if n == 0:
        torch.testing.assert_close(got, torch.tensor([9.2, 5.0, -1.3]))


@pytest.mark.parametrize("warmup", [True, False])
def test_fit_checkpoint_holds_ema_weights(tmp_path: Path, warmup: bool) -> None:
    decay = 0.6  # warmup decays 2/11 .. 8/17 stay below it over 8 updates
    model, ckpt = TinyModel(), ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    _trainer(tmp_path, [EMA(decay=decay, warmup=warmup), ckpt], max_epochs=2).fit(model, _loader())
    assert len(model.snapshots) == 2 * STEPS_PER_EPOCH
    expected = _expected_ema(model.snapshots, decay, warmup)
    other = _expected_ema(model.snapshots, decay, not warmup)

    checkpoint = _load(tmp_path / "ckpt" / "last.ckpt")
    _assert_state_close(checkpoint["state_dict"], expected)
    _assert_state_close(checkpoint["current_model_state"], model.snapshots[-1])
    assert checkpoint["averaging_state"]["n_averaged"] == 2 * STEPS_PER_EPOCH
    # After fit the module holds the averaged weights, not the raw or the other rule's.
    _assert_state_close(model.state_dict(), expected)
    key = "net.0.weight"
    assert not torch.allclose(checkpoint["state_dict"][key], model.snapshots[-1][key])
    assert not torch.allclose(checkpoint["state_dict"][key], other[key])


def test_test_after_fit_runs_on_checkpoint_ema_weights(tmp_path: Path) -> None:
    model = TinyModel()
    ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor="val_loss", save_top_k=1)
    trainer = _trainer(tmp_path, [EMA(decay=0.9), ckpt], max_epochs=2)
    trainer.fit(model, _loader(), _loader())
    trainer.test(model, _loader(), ckpt_path="best", verbose=False)

    checkpoint = _load(ckpt.best_model_path)
    key = "net.0.weight"
    assert not torch.allclose(checkpoint["state_dict"][key], checkpoint["current_model_state"][key])
    assert model.test_weights
    for weight in model.test_weights:
        torch.testing.assert_close(weight, checkpoint["state_dict"][key], rtol=0, atol=0)


def test_resume_restores_average_and_keeps_averaging(tmp_path: Path) -> None:
    decay = 0.6
    first = TinyModel()
    ckpt_dir = tmp_path / "ckpt"
    _trainer(tmp_path, [EMA(decay=decay), ModelCheckpoint(dirpath=ckpt_dir, save_last=True)]).fit(
        first, _loader()
    )
    assert _load(ckpt_dir / "last.ckpt")["averaging_state"]["n_averaged"] == STEPS_PER_EPOCH

    resumed = TinyModel()
    callbacks = [EMA(decay=decay), ModelCheckpoint(dirpath=ckpt_dir, save_last=True)]
    _trainer(tmp_path, callbacks, max_epochs=2).fit(
        resumed, _loader(), ckpt_path=ckpt_dir / "last.ckpt"
    )
    checkpoint = _load(ckpt_dir / "last.ckpt")
    assert checkpoint["averaging_state"]["n_averaged"] == 2 * STEPS_PER_EPOCH
    # The raw weights resumed from current_model_state and the average from state_dict:
    # the final average is the one an uninterrupted run over all 8 steps would give.
    snapshots = first.snapshots + resumed.snapshots
    assert len(snapshots) == 2 * STEPS_PER_EPOCH
    _assert_state_close(checkpoint["state_dict"], _expected_ema(snapshots, decay, True))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"update_every_n_steps": 3},
        {"update_starting_at_step": 5},
        {"update_starting_at_step": 4, "update_every_n_steps": 2},
        {"update_starting_at_epoch": 2},
        {"update_every_n_steps": 1000, "update_starting_at_epoch": 0},
    ],
)
def test_should_update_matches_lightning_ema(kwargs: dict[str, int]) -> None:
    ours, stock = EMA(**kwargs), EMAWeightAveraging(**kwargs)
    for step in range(12):
        assert ours.should_update(step_idx=step) == stock.should_update(step_idx=step), step
    for epoch in range(4):
        assert ours.should_update(epoch_idx=epoch) == stock.should_update(epoch_idx=epoch), epoch


def test_update_every_n_steps_in_fit(tmp_path: Path) -> None:
    ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    _trainer(tmp_path, [EMA(update_every_n_steps=2), ckpt]).fit(TinyModel(), _loader())
    assert _load(tmp_path / "ckpt" / "last.ckpt")["averaging_state"]["n_averaged"] == 2


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"decay": 0}, "decay"),
        ({"decay": 1.0}, "decay"),
        ({"decay": -1}, "decay"),
        ({"decay": float("nan")}, "decay"),
        ({"decay": "0.999"}, "decay"),
        ({"decay": True}, "decay"),
        ({"update_every_n_steps": 0}, "update_every_n_steps"),
        ({"update_every_n_steps": 1.5}, "update_every_n_steps"),
    ],
)
def test_bad_arguments_raise_one_line_config_error(kwargs: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        EMA(**kwargs)
    message = str(info.value)
    assert info.value.key == key
    assert f"'{key}'" in message and "callbacks." not in message
    assert "\n" not in message
