"""`ocec-analyze`: the seeds' expert analyses, automatic (SPEC §8).

- `history`: per-epoch histories read from a run directory or another tool's log;
- `curves`: phases, best epoch, fluctuation, LR at best and ranked diagnoses with
  runnable Hydra overrides (seeds 002 / 003), written as `analysis.md` + `analysis.png`;
- `config_review`: the seed 000 style review of a composed config;
- `lr_preview`: the exact per-step LR of a composed optimizer + scheduler (seed 004);
- `compare`, `monitor`: several runs side by side; a live view of a running one.
Analysis reads only files (run directories, logs): it never imports training state.
"""
