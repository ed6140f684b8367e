"""`ocec-analyze curves`: the post-mortem of one run's training curves.

`analysis.py` computes the numbers (phases, best epoch and the decline after it, late
fluctuation, LR at the best epoch, the planned schedule; `signals.py` the LR, schedule,
divergence and trend signals), `diagnoses.py` turns them into ranked findings (each rule
registers itself) with runnable overrides (`overrides.py`), `report.py` and `plot.py`
write `analysis.md` and `analysis.png`, and `text.py` + `text.yaml` hold every sentence
in English and Chinese.
"""
