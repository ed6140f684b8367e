"""ocec_lightning: Lightning + Hydra training for small, fast vision models.

Binary eye-state classification (OCEC, open/closed eye crops) and face-parsing
segmentation, composed from Hydra config groups and run by PyTorch Lightning.
"""

__version__ = "0.1.0"
