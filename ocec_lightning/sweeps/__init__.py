"""Hyper-parameter sweeps: the Optuna sweeper behind `hydra/sweeper: ocec_optuna`, the job
side of a trial (pruning, objective), the study summary and the quoting fix for Hydra's
basic sweeper. The Hydra plugin shims live in `hydra_plugins/ocec_optuna_sweeper/`; this
package holds the implementation. Importing it is light: optuna is imported only by the
modules that need it, when a sweep runs."""
