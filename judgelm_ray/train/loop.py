"""The fine-tuning recipe: what every Ray Train worker runs, top to bottom.

1. data: read the teacher records, drop unusable and over-long ones (data.py)
2. model: the base model under DeepSpeed ZeRO (deepspeed.py has the config)
3. resume: from the latest checkpoint Ray Train hands us (after a worker failure, or a re-run)
4. train: each step is one global batch, split over workers and micro-batches
5. checkpoint: DeepSpeed shards of every worker, merged by Ray Train in the run's storage
6. export: full weights gathered to rank 0 and written as a plain HF folder
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import tempfile
import time

import deepspeed
import pyarrow.fs
import ray.train
import torch
import torch.distributed as dist
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.integrations import HfDeepSpeedConfig

from judgelm_ray import model_store, progress, runs, storage
from judgelm_ray.spec import TrainSpec
from judgelm_ray.train import augment, data, export
from judgelm_ray.train.deepspeed import deepspeed_config

log = logging.getLogger(__name__)  # Ray Train sends worker logs to the driver and its log files


def train_func(config: dict) -> None:
    train = TrainSpec.model_validate(config["train"])
    root = config["root"]
    # Ray Train has set up torch.distributed (gloo on CPU, nccl on GPU); DeepSpeed adopts it.
    deepspeed.init_distributed()
    rank, world = dist.get_rank(), dist.get_world_size()

    # 1. Data. Every worker derives the same examples and epoch orders from the same files.
    model_dir = model_store.ensure_local_model(train.base_model)  # s3:// -> this node's disk, once per node
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    examples, dropped = data.load_examples(train.data, train.augment, tokenizer, train.max_length)
    eval_examples = []
    if train.eval_data is not None:
        eval_examples, _ = data.load_examples(train.eval_data, train.augment, tokenizer, train.max_length)
    steps_per_epoch = len(examples) // train.global_batch_size
    if steps_per_epoch == 0:
        raise ValueError(
            f"train.data: {len(examples)} usable examples (dropped: {dict(dropped) or 'none'}) do not fill"
            f" one global batch of {train.global_batch_size}"
        )
    total_steps = steps_per_epoch * train.epochs
    if train.max_steps is not None:
        total_steps = min(total_steps, train.max_steps)

    # 2. Model. Under ZeRO-3 the HfDeepSpeedConfig makes from_pretrained partition the weights as
    # they load, so no worker ever holds the whole model.
    ds_config = deepspeed_config(train, total_steps)
    zero3_context = HfDeepSpeedConfig(ds_config) if train.deepspeed.zero_stage == 3 else None  # noqa: F841 (kept alive)
    dtype = torch.bfloat16 if train.dtype == "bfloat16" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    model.config.use_cache = False  # the KV cache is for generation; training only wastes memory on it
    if train.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    engine, _, _, _ = deepspeed.initialize(model=model, model_parameters=model.parameters(), config=ds_config)
    if rank == 0:
        storage.write_json(runs.TrainFolder(root).deepspeed_config, ds_config)

    # 3. Resume. The run's progress is saved with every checkpoint: it survives restarts and re-runs.
    state = {"step": 0, "first_loss": None, "loss": None, "eval_loss": None, "tokens": 0, "train_seconds": 0.0}
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        saved = _load_checkpoint(engine, checkpoint)
        state.update({key: saved[key] for key in state})
    resumed_from = state["step"]
    tally = config.get("tally")
    if rank == 0:
        progress.set(tally, total=total_steps, steps=resumed_from)
        log.info(f"[train] {len(examples)} examples, dropped {dict(dropped)}, {steps_per_epoch} steps/epoch,"
                 f" {total_steps} steps, {'resuming at step ' + str(resumed_from) if resumed_from else 'from scratch'}")

    # 4. Train.
    engine.train()
    while state["step"] < total_steps:
        step = state["step"]
        epoch, step_in_epoch = divmod(step, steps_per_epoch)
        clock = time.perf_counter()
        order = data.epoch_order(len(examples), train.augment.seed, epoch)
        share = data.worker_share(order, step_in_epoch, train.global_batch_size, rank, world)
        samples = [data.encode(augment.draw(examples[i], train.augment, epoch), tokenizer) for i in share]
        micro_batches = data.micro_batches(samples, train.micro_batch_size)
        loss_sum, tokens = torch.zeros(()), torch.zeros(())
        for micro in micro_batches:
            batch = {k: v.to(engine.device) for k, v in data.collate(micro, pad_id).items()}
            loss = engine(**batch).loss
            engine.backward(loss)
            engine.step()  # DeepSpeed only updates at the last micro-batch of the global batch
            loss_sum += loss.detach().float().cpu()
            tokens += batch["attention_mask"].sum().cpu()
        totals = torch.stack([loss_sum, tokens.float()])
        dist.all_reduce(totals)
        seconds = time.perf_counter() - clock
        loss_value = totals[0].item() / (world * len(micro_batches))
        state.update(
            step=step + 1,
            first_loss=state["first_loss"] if state["first_loss"] is not None else loss_value,
            loss=loss_value,
            tokens=state["tokens"] + int(totals[1].item()),
            train_seconds=state["train_seconds"] + seconds,
        )
        metrics = {
            "step": step + 1,
            "total_steps": total_steps,
            "epoch": epoch + 1,
            "loss": loss_value,
            "lr": engine.get_lr()[0],
            "tokens_per_second": totals[1].item() / seconds,
        }
        if rank == 0:
            progress.set(tally, steps=step + 1, loss=loss_value)
        if rank == 0 and ((step + 1) % train.log_every == 0 or step + 1 == total_steps):
            log.info(f"[train] step {step + 1}/{total_steps} epoch {epoch + 1} loss {loss_value:.4f}"
                     f" lr {metrics['lr']:.2e} tokens/s {metrics['tokens_per_second']:,.0f}")

        # 5. Checkpoint.
        if (step + 1) % train.checkpoint.every_steps == 0 or step + 1 == total_steps:
            if eval_examples:
                state["eval_loss"] = metrics["eval_loss"] = evaluate(engine, eval_examples, train, tokenizer, pad_id)
            save_checkpoint(engine, state, metrics)
            _maybe_crash(config.get("crash_after_checkpoint"), rank, step + 1, root)
        elif (step + 1) % train.log_every == 0:
            ray.train.report(metrics)

    # 6. Export (also after a re-run that found training already finished), and the run's result.
    state_dict = export.consolidated_state_dict(engine)
    if rank == 0:
        export.save_model(engine.module, state_dict, tokenizer, runs.TrainFolder(root).model)
        result = {key: state[key] for key in ("step", "first_loss", "loss", "eval_loss")}
        result.update(
            total_steps=total_steps,
            resumed_from_step=resumed_from,
            examples=len(examples),
            dropped=dict(dropped),
            tokens_per_second=state["tokens"] / state["train_seconds"] if state["train_seconds"] else None,
        )
        storage.write_json(runs.TrainFolder(root).result, result)
    dist.barrier()


def save_checkpoint(engine, state: dict, metrics: dict) -> None:
    """Every worker writes its DeepSpeed shards; Ray Train merges them into one checkpoint folder."""
    with tempfile.TemporaryDirectory(prefix="judgelm-ckpt-") as folder:
        engine.save_checkpoint(folder, tag=f"step{state['step']}", client_state=dict(state))
        ray.train.report(
            metrics,
            checkpoint=ray.train.Checkpoint.from_directory(folder),
            checkpoint_dir_name=f"checkpoint_step_{state['step']:06d}",
        )


@torch.no_grad()
def evaluate(engine, examples: list, train: TrainSpec, tokenizer, pad_id: int) -> float:
    """Mean loss per judgment token on the eval examples (epoch-0 draws), over all workers.

    Every worker runs the same number of forward passes (ZeRO-3 gathers weights collectively);
    a worker out of examples repeats one with zero weight.
    """
    rank, world = dist.get_rank(), dist.get_world_size()
    mine = examples[rank::world]
    n_batches = -(-len(examples) // (world * train.micro_batch_size))
    engine.eval()
    totals = torch.zeros(2)
    for b in range(n_batches):
        chunk = mine[b * train.micro_batch_size : (b + 1) * train.micro_batch_size]
        weight = 1.0 if chunk else 0.0
        chunk = chunk or examples[:1]
        encoded = [data.encode(augment.draw(e, train.augment, 0), tokenizer) for e in chunk]
        batch = {k: v.to(engine.device) for k, v in data.collate(encoded, pad_id).items()}
        loss = engine(**batch).loss.float().cpu()
        n_tokens = (batch["labels"] != data.IGNORE_INDEX).sum().cpu()
        totals += weight * torch.stack([loss * n_tokens, n_tokens.float()])
    dist.all_reduce(totals)
    engine.train()
    return (totals[0] / totals[1]).item()


def _load_checkpoint(engine, checkpoint: ray.train.Checkpoint) -> dict:
    """Load DeepSpeed state from a Ray Train checkpoint; returns the client state saved with it.

    A remote checkpoint is downloaded once per node by local rank 0. Not checkpoint.as_directory():
    its shared temp folder races (a worker that arrives while another worker deletes it fails with
    "does not exist, even though it should have been created by another process"; seen in CI).
    """
    if isinstance(checkpoint.filesystem, pyarrow.fs.LocalFileSystem):
        _, saved = engine.load_checkpoint(checkpoint.path)
        return saved
    local_rank = ray.train.get_context().get_local_rank()
    digest = hashlib.sha256(checkpoint.path.encode()).hexdigest()[:16]
    folder = os.path.join(tempfile.gettempdir(), f"judgelm-resume-{digest}")
    if local_rank == 0:
        shutil.rmtree(folder, ignore_errors=True)  # a half-finished download from a crashed attempt
        checkpoint.to_directory(folder)
    dist.barrier()
    _, saved = engine.load_checkpoint(folder)
    dist.barrier()
    if local_rank == 0:
        shutil.rmtree(folder, ignore_errors=True)
    return saved


def _maybe_crash(fault: str | None, rank: int, step: int, root: str) -> None:
    """Fault injection for the resume tests (run.CRASH_ENV): SIGKILL this worker, as a lost node would be.

    It waits until Ray Train has committed the step's checkpoint (its snapshot in storage names
    it): a report returns before the controller has registered it.
    """
    if not fault:
        return
    crash_rank, crash_step, marker = fault.split(":", 2)  # "<rank>:<step>:<marker file>", once per marker
    if (int(crash_rank), int(crash_step)) != (rank, step) or os.path.exists(marker):
        return
    snapshot = storage.join(runs.TrainFolder(root).checkpoints, "checkpoint_manager_snapshot.json")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if f"checkpoint_step_{step:06d}" in json.dumps(storage.read_json(snapshot)):
                break
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.2)
    open(marker, "w").close()
    os.kill(os.getpid(), signal.SIGKILL)
