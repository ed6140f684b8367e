"""Classification models: the OCEC family (``OCECNet``) and any timm architecture
(``TimmClassifier``), both mapping ``[N, C, H, W]`` images to ``[N]`` logits."""

from ocec_lightning.models.ocec import OCECNet
from ocec_lightning.models.timm_adapter import TimmClassifier

__all__ = ["OCECNet", "TimmClassifier"]
