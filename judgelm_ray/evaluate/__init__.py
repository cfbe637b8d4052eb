"""The evaluate job: predictions joined with gold by id, JudgeLM's metrics, a report (see `run`)."""
