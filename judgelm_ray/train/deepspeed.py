"""The DeepSpeed config a train spec runs with (`judgelm-ray render SPEC` prints it)."""

from __future__ import annotations

import math

from judgelm_ray.spec import TrainSpec

# Filled in at run start, once the number of usable examples is known.
AUTO = "auto"

_SCHEDULERS = {"cosine": "WarmupCosineLR", "linear": "WarmupDecayLR", "constant": "WarmupLR"}


def gradient_accumulation_steps(train: TrainSpec) -> int:
    return train.global_batch_size // (train.micro_batch_size * train.scaling.num_workers)


def warmup_steps(train: TrainSpec, total_steps: int) -> int:
    # Rounded up, as transformers' get_warmup_steps does.
    return math.ceil(train.warmup_ratio * total_steps)


def deepspeed_config(train: TrainSpec, total_steps: int | None = None) -> dict:
    """ZeRO config for `train`; with total_steps None the schedule lengths are AUTO (rendering)."""
    zero: dict = {
        "stage": train.deepspeed.zero_stage,
        "overlap_comm": True,
        "contiguous_gradients": True,
    }
    if train.deepspeed.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": train.scaling.gpus_per_worker > 0}
    if train.deepspeed.zero_stage == 3:
        # The export gathers the full weights from every worker's partition.
        zero["stage3_gather_16bit_weights_on_model_save"] = True
        if train.deepspeed.offload_params:
            zero["offload_param"] = {"device": "cpu", "pin_memory": train.scaling.gpus_per_worker > 0}
    optimizer_params: dict = {
        "lr": train.learning_rate,
        "betas": [0.9, 0.999],
        "eps": 1e-8,
        "weight_decay": train.weight_decay,
    }
    if train.scaling.gpus_per_worker == 0 and not train.deepspeed.offload_optimizer:
        # DeepSpeed's FusedAdam is a CUDA kernel; its CPU stand-in is a JIT build (~40 s) that
        # buys nothing over torch's AdamW. (Offloading still uses DeepSpeed's compiled CPU Adam.)
        optimizer_params["torch_adam"] = True
    warmup = AUTO if total_steps is None else warmup_steps(train, total_steps)
    total = AUTO if total_steps is None else total_steps
    scheduler_params: dict = {"warmup_num_steps": warmup, "warmup_type": "linear"}
    if train.lr_schedule == "cosine":
        # From 0 up to lr, then down to 0: transformers' get_cosine_schedule_with_warmup, as JudgeLM used.
        scheduler_params.update(total_num_steps=total, warmup_min_ratio=0.0, cos_min_ratio=0.0)
    elif train.lr_schedule == "linear":
        scheduler_params.update(total_num_steps=total, warmup_min_lr=0.0, warmup_max_lr=train.learning_rate)
    else:
        scheduler_params.update(warmup_min_lr=0.0, warmup_max_lr=train.learning_rate)
    return {
        "train_batch_size": train.global_batch_size,
        "train_micro_batch_size_per_gpu": train.micro_batch_size,
        "gradient_accumulation_steps": gradient_accumulation_steps(train),
        "gradient_clipping": train.max_grad_norm,
        "bf16": {"enabled": train.dtype == "bfloat16"},
        "zero_optimization": zero,
        "optimizer": {"type": "AdamW", "params": optimizer_params},
        "scheduler": {"type": _SCHEDULERS[train.lr_schedule], "params": scheduler_params},
        # Every worker writes its own checkpoint folder, which Ray Train merges in storage:
        # without this, only global rank 0 would write files that each node needs to resume.
        "checkpoint": {"use_node_local_storage": True},
        "steps_per_print": 2**31 - 1,  # progress is ours (loop.py); DeepSpeed's own lines are noise
        "wall_clock_breakdown": False,
    }
