"""What several analysis tools share: the LR replay (`lr_replay.py`)."""
