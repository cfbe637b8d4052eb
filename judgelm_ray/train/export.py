"""The fine-tuned judge out of a training run.

The export is a plain Hugging Face folder (config, safetensors weights, tokenizer, generation
config) that both judge engines load, written to `<train run>/model` (`runs.TrainFolder.model`).
"""

from __future__ import annotations

import os
import shutil
import tempfile

from judgelm_ray import storage


def consolidated_state_dict(engine) -> dict | None:
    """Full weights on global rank 0 (None elsewhere). Every rank must call it.

    ZeRO-3 partitions the parameters: DeepSpeed gathers them layer by layer onto rank 0's CPU
    (the call transformers' Trainer makes for the same purpose). ZeRO-2 keeps them whole.
    """
    import torch.distributed as dist

    if engine.zero_optimization_partition_weights():
        state = engine._zero3_consolidated_16bit_state_dict()
    else:
        state = engine.module.state_dict()
    return state if dist.get_rank() == 0 else None


def save_model(model, state_dict: dict, tokenizer, dest: str) -> None:
    """Write an HF folder at `dest` (local or s3://), replacing an earlier export whole."""
    with tempfile.TemporaryDirectory(prefix="judgelm-export-") as local:
        model.save_pretrained(local, state_dict=state_dict, safe_serialization=True)
        tokenizer.save_pretrained(local)
        if storage.is_remote(dest):
            storage.remove_tree(dest)
            storage.upload_folder(local, dest)
        else:
            # Copy beside the destination, then swap it in: a reader never sees half a model.
            staging = f"{os.path.abspath(dest)}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(local, staging)
            storage.remove_tree(dest)
            os.replace(staging, dest)
