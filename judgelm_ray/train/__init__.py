"""The train job: DeepSpeed fine-tuning of a judge on Ray Train, with JudgeLM's bias fixes (see `run`)."""
