"""The small training spec the Ray Train tests share: 2 CPU workers, one global batch per step."""

from __future__ import annotations

from pathlib import Path

BATCH = 8  # 2 workers x micro-batch 2 x 2 accumulation steps


def train_spec(
    tmp_path: Path, model: str, data: str, zero_stage: int, max_failures: int, epochs: int = 6,
    output: str | None = None, **top,
) -> dict:
    return {
        "name": f"zero{zero_stage}",
        "train": {
            "base_model": model,
            "data": {"path": data, "format": "judgelm"},
            "augment": {"swap_ratio": 0.0, "reference_ratio": 0.0},  # the same batch every step
            "epochs": epochs,
            "learning_rate": 1e-3,
            "global_batch_size": BATCH,
            "micro_batch_size": 2,
            "max_length": 512,
            "dtype": "float32",
            "deepspeed": {"zero_stage": zero_stage},
            "scaling": {"num_workers": 2, "gpus_per_worker": 0, "cpus_per_worker": 1},
            "checkpoint": {"every_steps": 2, "keep": 2},
            "max_failures": max_failures,
        },
        "output": output or str(tmp_path / "run"),
        **top,
    }
