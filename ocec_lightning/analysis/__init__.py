"""`ocec-analyze`: the analyses an expert writes by hand about a run or a config, automatic.

One subpackage per tool, each with its `cli.py` where it has a command:
- `history/`: a run's per-epoch history, read from our run directories or the logs other
  tools write (TensorBoard, MLflow, Hugging Face, Keras, Ultralytics, OpenMMLab, timm,
  W&B, any CSV / JSON), with the settings of the config beside it;
- `curves/`: the curve post-mortem (`ocec-analyze curves`): phases, best epoch, LR at the
  best, ranked diagnoses with runnable overrides, `analysis.md` + `analysis.png`;
- `review/`: the review of a composed config (`ocec-analyze config`);
- `lr/`: LR plans previewed step by step and the LR range test (`ocec-analyze lr`);
- `runs/`: compare runs, turn a diagnosis into the next sweep, monitor a running one;
- `common/`: what several tools share (the LR replay).
`history`, `curves` and `runs` read only files; `review` and `lr` compose a config and
build what training would build, without training.
"""
