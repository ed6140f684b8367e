"""Losses, one module each, instantiated from `conf/loss/<name>.yaml`.

Classification losses take `(logits [N], targets [N] in [0, 1])`; targets may be soft
(label smoothing, MixUp/CutMix). Segmentation losses take `(logits [B, C, H, W], int64
masks [B, H, W])`. A loss that needs statistics of the training data (`pos_weight: auto`,
frequency-based class weights) implements `bind_data(datamodule)`, which the task calls
in its `setup()`.
"""
