"""onnxruntime parity: the exported file must answer like the PyTorch graph.

`check_parity` runs both on the same inputs, at batch sizes other than the traced one
(random images, and real validation crops when given), and returns the max abs
difference of every output; above `tolerance` it raises a one-line ConfigError naming
the file. Segmentation also reports the share of pixels whose label differs (ties in the
argmax may flip a pixel; the logits carry the tolerance).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ocec_lightning.errors import ConfigError, DataError

DEFAULT_TOLERANCE = 1e-4


def ort_session(path: str | Path, threads: int | None = None) -> Any:
    """An onnxruntime CPU session for `path`, or a DataError naming the file."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = int(threads)
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph types
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise DataError(f"{path}: not a loadable ONNX model ({first[:200]})") from None


def run_session(session: Any, images: np.ndarray) -> list[np.ndarray]:
    return session.run(None, {"images": np.ascontiguousarray(images, dtype=np.float32)})


def torch_outputs(graph: nn.Module, images: np.ndarray) -> list[np.ndarray]:
    with torch.no_grad():
        out = graph(torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)))
    outs = out if isinstance(out, tuple) else (out,)
    return [o.detach().cpu().numpy() for o in outs]


def compare(graph: nn.Module, session: Any, images: np.ndarray) -> dict[str, float]:
    """Max abs difference of the first (float) output; label mismatch share for seg."""
    ref = torch_outputs(graph, images)
    got = run_session(session, images)
    if ref[0].shape != got[0].shape:
        raise ConfigError(
            "parity", f"shape {got[0].shape}", f"the PyTorch output shape {ref[0].shape}"
        )
    result = {"max_abs_diff": float(np.max(np.abs(ref[0] - got[0]))) if ref[0].size else 0.0}
    if len(ref) > 1:
        result["label_mismatch"] = float(np.mean(ref[1] != got[1]))
    return result


def check_parity(
    graph: nn.Module,
    path: Path,
    image_size: tuple[int, int],
    real_crops: np.ndarray | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    random_batch: int = 3,
    in_channels: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Compare `graph` and the ONNX file on random inputs (batch `random_batch`) and on
    `real_crops` (normalised float [k,3,H,W]); raise above `tolerance`."""
    session = ort_session(path)
    generator = np.random.default_rng(seed)
    height, width = image_size
    random = generator.standard_normal((random_batch, in_channels, height, width))
    report: dict[str, Any] = {"tolerance": tolerance, "random": compare(graph, session, random)}
    report["random"]["batch"] = random_batch
    if real_crops is not None and len(real_crops):
        report["real"] = compare(graph, session, real_crops)
        report["real"]["batch"] = int(len(real_crops))
    worst = max(part["max_abs_diff"] for part in report.values() if isinstance(part, dict))
    report["max_abs_diff"] = worst
    if not worst <= tolerance:  # also catches NaN
        raise ConfigError(
            "parity",
            f"max abs diff {worst:.3g}",
            f"at most {tolerance:g} between onnxruntime and PyTorch for {path}",
        )
    return report
