"""FiniteGuard (NaN/inf loss and weights) and AtomicCheckpointIO (atomic checkpoint
writes), without training: the integration runs are in tests/integration/test_nothing_lost.py."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from lightning.pytorch.strategies import DDPStrategy

from ocec_lightning.callbacks.finite_guard import FiniteGuard, NonFiniteError, non_finite_tensors
from ocec_lightning.trainer import AtomicCheckpointIO, build_trainer, partial_files


class _Strategy:
    """`reduce_boolean_decision` as DDP answers it when `other_rank_bad` is set: any rank."""

    def __init__(self, other_rank_bad: bool = False) -> None:
        self.other_rank_bad = other_rank_bad
        self.calls: list[tuple[bool, bool]] = []

    def reduce_boolean_decision(self, decision: bool, all: bool = True) -> bool:
        self.calls.append((decision, all))
        return decision or self.other_rank_bad


def _trainer(other_rank_bad: bool = False) -> Any:
    return SimpleNamespace(strategy=_Strategy(other_rank_bad), current_epoch=2, global_step=41)


def _module(value: float = 1.0) -> torch.nn.Module:
    module = torch.nn.Linear(2, 1)
    with torch.no_grad():
        module.weight.fill_(value)
    return module


# -- the loss ----------------------------------------------------------------------------
@pytest.mark.parametrize("loss", [float("nan"), float("inf"), -float("inf")])
def test_a_non_finite_loss_raises_naming_epoch_and_step(loss: float) -> None:
    trainer = _trainer()
    with pytest.raises(NonFiniteError) as info:
        FiniteGuard().on_train_batch_end(trainer, _module(), {"loss": torch.tensor(loss)}, None, 5)
    message = str(info.value)
    assert message.startswith(f"training loss is {loss} at epoch 2, global step 41 (batch 5 ")
    assert "lower optimizer.lr" in message and "\n" not in message
    assert info.value.status == "stopped_nonfinite_loss"
    assert trainer.strategy.calls == [(True, False)]  # any rank's NaN stops every rank


def test_a_finite_loss_passes_and_still_joins_the_decision() -> None:
    trainer = _trainer()
    FiniteGuard().on_train_batch_end(trainer, _module(), torch.tensor(0.3), None, 0)
    FiniteGuard().on_train_batch_end(trainer, _module(), None, None, 1)  # skipped batch
    assert trainer.strategy.calls == [(False, False), (False, False)]


def test_every_rank_stops_when_another_rank_saw_nan() -> None:
    with pytest.raises(NonFiniteError, match="non-finite on another rank at epoch 2"):
        FiniteGuard().on_train_batch_end(_trainer(True), _module(), torch.tensor(0.3), None, 0)


def test_every_n_steps_skips_the_other_batches() -> None:
    trainer = _trainer()
    guard = FiniteGuard(every_n_steps=4)
    guard.on_train_batch_end(trainer, _module(), torch.tensor(float("nan")), None, 3)
    assert trainer.strategy.calls == []
    with pytest.raises(NonFiniteError):
        guard.on_train_batch_end(trainer, _module(), torch.tensor(float("nan")), None, 4)


# -- the weights -------------------------------------------------------------------------
def test_a_checkpoint_of_non_finite_weights_is_refused() -> None:
    good = {"state_dict": {"w": torch.ones(3), "steps": torch.tensor(3)}}
    FiniteGuard().on_save_checkpoint(_trainer(), _module(), good)
    ema_bad = {"state_dict": {"w": torch.tensor([1.0, float("nan")])}}
    with pytest.raises(NonFiniteError) as info:
        FiniteGuard().on_save_checkpoint(_trainer(), _module(), ema_bad)
    message = str(info.value)
    assert message.startswith("model weights are non-finite (1 tensor(s), e.g. state_dict.w)")
    assert "at epoch 2, global step 41: checkpoint not written" in message
    assert info.value.status == "stopped_nonfinite_weights"
    with pytest.raises(NonFiniteError, match="module.weight"):  # the raw weights
        FiniteGuard().on_save_checkpoint(_trainer(), _module(float("inf")), good)


def test_non_finite_tensors_ignores_integers_and_non_tensors() -> None:
    named = [("a", torch.tensor([1, 2])), ("b", 3.0), ("c", torch.tensor([float("-inf")]))]
    assert non_finite_tensors(named) == ["c"]


# -- atomic checkpoint writes ------------------------------------------------------------
class _Boom:
    """Pickling this raises: a save that fails half-way through the file."""

    def __reduce__(self) -> Any:
        raise OSError("disk full")


def test_a_failed_save_keeps_the_previous_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    io = AtomicCheckpointIO()
    target = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"w": torch.arange(4.0)}, target)
    before = target.read_bytes()
    with pytest.raises(OSError, match="disk full"):
        io.save_checkpoint({"w": torch.zeros(100_000), "z": _Boom()}, target)
    assert target.read_bytes() == before
    assert torch.equal(torch.load(target, weights_only=True)["w"], torch.arange(4.0))
    assert sorted(p.name for p in target.parent.iterdir()) == ["last.ckpt"]


def test_stale_partial_files_are_removed_at_the_first_save(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    stale = folder / ".epoch003.ckpt.4242.deadbeef.partial"  # a killed write's temp file
    stale.write_bytes(b"half a checkpoint")
    unrelated = folder / ".notes.partial"  # not of the temp-file form: kept
    unrelated.write_bytes(b"")
    other = tmp_path / "elsewhere" / ".x.ckpt.1.abcdef01.partial"
    other.parent.mkdir()
    other.write_bytes(b"another directory")
    AtomicCheckpointIO().save_checkpoint({"w": torch.ones(1)}, folder / "last.ckpt")
    assert partial_files(folder) == []
    assert sorted(p.name for p in folder.iterdir()) == [".notes.partial", "last.ckpt"]
    assert other.exists()  # only the directory written to is cleaned


@pytest.mark.parametrize(
    "strategy",
    ["auto", DDPStrategy(process_group_backend="gloo", timeout=timedelta(minutes=1))],
    ids=["single", "ddp_cpu"],
)
def test_every_trainer_writes_through_the_atomic_plugin(strategy: Any, tmp_path: Path) -> None:
    trainer = build_trainer(
        accelerator="cpu",
        devices=2 if strategy != "auto" else 1,
        strategy=strategy,
        logger=False,
        default_root_dir=tmp_path,
    )
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)
