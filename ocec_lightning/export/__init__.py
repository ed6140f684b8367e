"""ONNX export and inference of trained checkpoints.

`ocec_lightning.checkpoints` (shared with training and evaluation) reads an
`ocec-train` checkpoint into its task (EMA weights, tuned threshold, preprocessing);
`onnx_export.py` wraps the model into the deployment graph,
optionally folds BatchNorm, exports one self-contained ONNX file with metadata and runs
the onnxruntime parity check of `parity.py`; `predict.py` runs a checkpoint or an ONNX
file on a folder / parquet / CSV of crops with the validation preprocessing.
"""
