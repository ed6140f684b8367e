"""Hydra plugin shims of ocec_lightning's sweepers (implementation: ocec_lightning.sweeps)."""
