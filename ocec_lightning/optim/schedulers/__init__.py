"""Scheduler builders, one module per `conf/scheduler/<name>.yaml`.

Each module has `build(optimizer, horizon, **params)`; `horizon` is the number of
scheduler steps after warmup (optimizer steps for interval=step, epochs for
interval=epoch). A builder may return None for a constant LR."""
