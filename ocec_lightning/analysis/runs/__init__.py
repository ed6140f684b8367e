"""Several runs and running ones: `compare.py` (runs or a multirun side by side, and a
`--next` sweep ranked against the run it came from), `next_sweep.py` (a diagnosis turned
into the next sweep) and `monitor.py` (a live view of a running training)."""
