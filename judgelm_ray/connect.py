"""Connecting to Ray: an existing cluster when RAY_ADDRESS says so, otherwise an embedded local one."""

from __future__ import annotations

import os

import ray


def connect(num_cpus: int | None = None) -> bool:
    """Initialise Ray once; returns True when this process started a local Ray of its own.

    With RAY_ADDRESS set (inside a submitted job, or a client pointed at a cluster) we join that
    cluster and its autoscaler provides the GPU workers; otherwise a local Ray is started without
    the dashboard (it is not needed for a batch run and costs start-up time).
    """
    if ray.is_initialized():
        return False
    if os.environ.get("RAY_ADDRESS"):
        ray.init(log_to_driver=True)
        return False
    ray.init(include_dashboard=False, num_cpus=num_cpus, log_to_driver=True)
    return True


def check_local_gpus(gpus_per_actor: float, min_actors: int) -> None:
    """Fail fast when a local Ray cannot ever host the pool (it has no autoscaler to add GPUs)."""
    available = ray.cluster_resources().get("GPU", 0)
    needed = gpus_per_actor * min_actors
    if needed > available:
        raise RuntimeError(
            f"judge.pool asks for {needed:g} GPU(s) (gpus_per_actor={gpus_per_actor:g} x min_actors={min_actors}) "
            f"but this local Ray has {available:g}. Set judge.pool.gpus_per_actor=0 to judge on CPU, "
            "or set RAY_ADDRESS to run on a GPU cluster."
        )
