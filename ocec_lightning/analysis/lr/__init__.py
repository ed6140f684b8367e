"""`ocec-analyze lr`: LR plans previewed step by step (`preview.py`) and the LR range test
with a checked suggestion (`finder.py`); `cli.py` is the command line, `plot.py` the output."""
