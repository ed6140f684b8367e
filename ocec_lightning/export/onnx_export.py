"""Export a trained model to one self-contained ONNX file with its deployment metadata.

Graphs: classification `images [N,3,H,W] -> prob_open [N]` (the sigmoid is inside),
segmentation `images -> logits [N,C,H,W], labels [N,H,W]`, batch dimension dynamic.
The exporter is `torch.onnx.export(dynamo=True)` by default (it handles adaptive pooling
to a token grid and attention; the legacy TorchScript exporter is the faster
`exporter="legacy"`). It traces at batch 2 and writes no external-data side file.
Optional BatchNorm folding (`torch.fx` Conv+BN fusion in eval mode) runs before export.
After every export `parity.check_parity` compares onnxruntime with the (unfolded)
PyTorch graph at other batch sizes and raises above `tolerance`.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ocec_lightning.errors import ConfigError

EXPORTERS = ("dynamo", "legacy")
TRACE_BATCH = 2


class ClassificationGraph(nn.Module):
    """logits -> P(open), shape [N]."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Tensor) -> Tensor:
        return torch.sigmoid(self.model(images).reshape(images.shape[0]))


class SegmentationGraph(nn.Module):
    """logits [N,C,H,W] and their per-pixel argmax [N,H,W] (int64)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.model(images)
        return logits, logits.argmax(dim=1)


def deployment_graph(model: nn.Module, task: str) -> nn.Module:
    graph = ClassificationGraph(model) if task == "classification" else SegmentationGraph(model)
    return graph.eval()


def output_names(task: str) -> list[str]:
    return ["prob_open"] if task == "classification" else ["logits", "labels"]


def _fuse_sequential(module: nn.Module) -> int:
    """Fold Conv2d -> BatchNorm2d pairs that sit next to each other in a Sequential."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = 0
    for child in module.modules():
        if not isinstance(child, nn.Sequential):
            continue
        names = list(child._modules)
        for first, second in zip(names, names[1:], strict=False):
            conv, bn = child._modules[first], child._modules[second]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                child._modules[first] = fuse_conv_bn_eval(conv, bn)
                child._modules[second] = nn.Identity()
                folded += 1
    return folded


def count_batchnorms(model: nn.Module) -> int:
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def fold_batchnorm(model: nn.Module) -> tuple[nn.Module, int]:
    """(a copy of `model` with Conv+BN pairs folded, number of BatchNorms removed).

    `torch.fx` fusion first (any Conv whose only user is a BN); a model that fx cannot
    trace falls back to folding adjacent pairs inside `nn.Sequential` containers."""
    model = copy.deepcopy(model).eval()
    before = count_batchnorms(model)
    try:
        from torch.fx.experimental.optimization import fuse

        fused: nn.Module = fuse(model, inplace=False)
    except Exception:  # fx cannot trace data-dependent Python control flow
        fused = model
        _fuse_sequential(fused)
    return fused, before - count_batchnorms(fused)


@dataclass
class ExportResult:
    """Where the file went and what the parity check found."""

    path: Path
    size_bytes: int
    metadata: dict[str, str]
    folded_batchnorms: int = 0
    parity: dict[str, Any] = field(default_factory=dict)


def export_graph(
    graph: nn.Module,
    image_size: tuple[int, int],
    out: Path,
    task: str,
    opset: int = 18,
    exporter: str = "dynamo",
    in_channels: int = 3,
) -> None:
    """Write `graph` (eval mode) to `out` as one ONNX file with a dynamic batch."""
    if exporter not in EXPORTERS:
        raise ConfigError("exporter", exporter, f"one of {', '.join(EXPORTERS)}")
    height, width = image_size
    example = torch.randn(TRACE_BATCH, in_channels, height, width)
    out.parent.mkdir(parents=True, exist_ok=True)
    names = output_names(task)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            batch = torch.export.Dim("batch", min=1, max=65536)
            torch.onnx.export(
                graph,
                (example,),
                str(out),
                dynamo=True,
                external_data=False,
                opset_version=opset,
                input_names=["images"],
                output_names=names,
                dynamic_shapes={"images": {0: batch}},
                verbose=False,
            )
        else:
            _export_legacy(graph, example, out, opset, names)


def _export_legacy(graph: nn.Module, example: Tensor, out: Path, opset: int, names: list) -> None:
    """The TorchScript exporter (fast; fails on e.g. the fused transformer encoder)."""
    axes = {name: {0: "batch"} for name in ["images", *names]}
    try:
        torch.onnx.export(
            graph,
            (example,),
            str(out),
            dynamo=False,
            opset_version=opset,
            input_names=["images"],
            output_names=names,
            dynamic_axes=axes,
        )
    except Exception as err:  # TorchScript/ONNX symbolic errors of many types
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise ConfigError(
            "exporter", "legacy", f"dynamo: the legacy exporter cannot export this model ({first})"
        ) from None


def write_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Set the ONNX `metadata_props` (string key/values) and rewrite `path` as one file."""
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key = key
        entry.value = value
    # Atomic rewrite: a crash never leaves half a model behind.
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")
    os.close(fd)
    onnx.save_model(model, tmp, save_as_external_data=False)
    os.replace(tmp, path)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The OCEC metadata of an exported file, JSON values decoded."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    out: dict[str, Any] = {}
    for entry in model.metadata_props:
        try:
            out[entry.key] = json.loads(entry.value)
        except json.JSONDecodeError:
            out[entry.key] = entry.value
    return out


def build_metadata(
    hparams: dict[str, Any],
    task: str,
    source_sha256: str,
    source_name: str,
    ema: bool,
    folded: int,
    opset: int,
) -> dict[str, str]:
    """The ONNX metadata: everything a deployment needs to preprocess and decide."""
    normalize = hparams.get("normalize") or {"mean": [0.0] * 3, "std": [1.0] * 3}
    meta: dict[str, Any] = {
        "ocec.format": 1,
        "task": task,
        "class_names": list(hparams.get("class_names") or []),
        "input_size": list(hparams["image_size"]),
        "input_layout": "NCHW RGB float32, (pixel/255 - mean) / std",
        "normalize_mean": list(normalize["mean"]),
        "normalize_std": list(normalize["std"]),
        "model_config": hparams["model"],
        "source_checkpoint": source_name,
        "source_sha256": source_sha256,
        "ema_weights": ema,
        "folded_batchnorms": folded,
        "opset": opset,
        "outputs": output_names(task),
    }
    if task == "classification":
        meta["threshold"] = float(hparams.get("threshold", 0.5))
    else:
        meta["num_classes"] = int(hparams.get("num_classes", 0))
        meta["palette"] = hparams.get("palette")
    return {key: json.dumps(value) for key, value in meta.items()}
