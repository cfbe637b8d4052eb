"""The train job on Ray Train: TorchTrainer runs loop.train_func on every worker.

A run lives in `<output>/train/` (`runs.TrainFolder`): `checkpoints/` (Ray Train's storage:
DeepSpeed checkpoints and Ray's own state), `model/` (the exported judge), `deepspeed_config.json`,
`train_spec.json` and `manifest.json`. Re-running the same spec finds Ray Train's state there and resumes from the
latest checkpoint; `FailureConfig` restarts lost workers from it within a run.
"""

from __future__ import annotations

import os
import time

import ray
from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from judgelm_ray import connect, console, model_store, progress, runs, storage
from judgelm_ray.manifest import build_manifest, utc_now, write_failed_manifest
from judgelm_ray.spec import JobSpec, TrainSpec
from judgelm_ray.train import loop

# Fault injection for tests: "<rank>:<step>:<marker file>" makes that worker SIGKILL itself
# after storing the checkpoint of that step (once per marker file).
CRASH_ENV = "JUDGELM_RAY_CRASH_AFTER_CHECKPOINT"


def run_train(spec: JobSpec) -> dict:
    """Fine-tune the judge; returns the manifest (also written to <output>/train/manifest.json)."""
    started = utc_now()
    folder = runs.TrainFolder(runs.RunFolder(spec.output).train)
    try:
        counts, stats = _train(spec, folder.root)
    except Exception as error:
        write_failed_manifest(folder.manifest, spec, started, error)
        raise
    manifest = build_manifest(spec, started, utc_now(), counts, stats, "succeeded")
    manifest["outputs"] = {
        "model": folder.model,
        "checkpoints": folder.checkpoints,
        "deepspeed_config": folder.deepspeed_config,
    }
    storage.write_json(folder.manifest, manifest)
    return manifest


def _train(spec: JobSpec, root: str) -> tuple[dict, dict]:
    train = spec.train
    if not storage.is_remote(root):
        root = os.path.abspath(root)  # Ray Train needs an absolute local storage path
    model_store.require_model(train.base_model, "train.base_model")
    _check_same_spec(train, root)
    scaling = train.scaling
    if connect.connect():
        # A local Ray has no autoscaler to add GPU nodes: fail now rather than wait forever.
        needed = scaling.gpus_per_worker * scaling.num_workers
        if needed > ray.cluster_resources().get("GPU", 0):
            raise RuntimeError(
                f"train.scaling asks for {needed:g} GPU(s) but this local Ray has none to spare; set"
                " train.scaling.gpus_per_worker=0 to train on CPU, or RAY_ADDRESS to run on a GPU cluster"
            )
    tally = progress.start_tally()
    resources = {"CPU": scaling.cpus_per_worker}
    if scaling.gpus_per_worker:
        resources["GPU"] = scaling.gpus_per_worker
    trainer = TorchTrainer(
        loop.train_func,
        train_loop_config={
            "train": _with_absolute_paths(train).model_dump(mode="json"),
            "root": root,
            "crash_after_checkpoint": os.environ.get(CRASH_ENV),
            "tally": tally,
        },
        scaling_config=ScalingConfig(
            num_workers=scaling.num_workers,
            use_gpu=scaling.gpus_per_worker > 0,
            resources_per_worker=resources,
            accelerator_type=scaling.accelerator_type,
        ),
        run_config=RunConfig(
            name="checkpoints",
            storage_path=root,
            checkpoint_config=CheckpointConfig(num_to_keep=train.checkpoint.keep),
            failure_config=FailureConfig(max_failures=train.max_failures),
        ),
    )
    clock = time.monotonic()
    display = console.ProgressDisplay(
        f"train {spec.name}", "steps", progress.reader(tally), done_keys=("steps",), extras={"loss": "loss"}
    )
    try:
        with display:
            trainer.fit()  # raises when the workers fail more than max_failures times
    finally:
        progress.stop_tally(tally)
    final = storage.read_json(runs.TrainFolder(root).result)
    counts = {"examples": final["examples"], "dropped": final["dropped"]}
    stats = {
        "steps": final["step"],
        "total_steps": final["total_steps"],
        "resumed_from_step": final["resumed_from_step"],
        "first_loss": final["first_loss"],
        "final_loss": final["loss"],
        "eval_loss": final["eval_loss"],
        "tokens_per_second": final["tokens_per_second"],
        "total_seconds": round(time.monotonic() - clock, 3),
    }
    return counts, stats


def _with_absolute_paths(train: TrainSpec) -> TrainSpec:
    """Workers do not run in the driver's directory: local paths must be absolute."""

    update: dict = {"base_model": storage.for_workers(train.base_model)}
    for key in ("data", "eval_data"):
        section = getattr(train, key)
        if section is not None:
            path = runs.resolve_train_data(section.path)  # a teacher folder: the records it wrote
            storage.list_input_files(path)  # fail here, not on every worker
            update[key] = section.model_copy(update={"path": storage.for_workers(path)})
    return train.model_copy(update=update)


def _check_same_spec(train: TrainSpec, root: str) -> None:
    """Resuming is only sound for the spec that wrote the checkpoints: refuse another one."""
    path = runs.TrainFolder(root).train_spec
    current = train.model_dump(mode="json")
    try:
        earlier = storage.read_json(path)
    except FileNotFoundError:
        storage.write_json(path, current)
        return
    if earlier != current:
        changed = sorted(k for k in current.keys() | earlier.keys() if current.get(k) != earlier.get(k))
        raise ValueError(
            f"{root} holds a training run of a different train section (changed: {', '.join(changed)});"
            " re-running resumes only the same spec: set another output, or delete that folder to start over"
        )
