"""The demo: the whole JudgeLM loop on a CPU (`run`), its synthetic data and its tiny base model."""
