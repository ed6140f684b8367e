"""`ocec-analyze config`: review a composed training config the way an expert would.

`cli.py` composes and builds the run, `facts.py` derives the numbers every rule reads
(effective batch, steps, the LR replay in `schedule.py`), the `rules_*.py` modules hold
the rules (each registers itself, `registry.py`), `dataset.py` the data-aware
recommendations, `params.py` the parameter table, `findings.py` the finding type and
`render.py` the terminal / Markdown / JSON output.
"""
