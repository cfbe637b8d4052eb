"""The one stateful stage of the judge pipeline: an actor that holds a judge engine for its lifetime."""

from __future__ import annotations

import warnings

import pyarrow as pa
import ray

from judgelm_ray import progress
from judgelm_ray.engines import load_engine
from judgelm_ray.engines.base import GenerationParams, ImagePrompt, Prompt
from judgelm_ray.judge.schemas import REQUESTS
from judgelm_ray.model_store import ensure_local_model
from judgelm_ray.modes import ORDERS
from judgelm_ray.spec import JudgeSpec


def generation_params(judge: JudgeSpec) -> GenerationParams:
    # Fast mode stops at the end of the score line, as JudgeLM's --if-fast-eval does.
    return GenerationParams(
        temperature=judge.sampling.temperature,
        top_p=judge.sampling.top_p,
        max_tokens=judge.sampling.max_tokens,
        seed=judge.sampling.seed,
        stop=("\n",) if judge.fast else (),
    )


class JudgeActor:
    """Holds an engine (one GPU, or `tensor_parallel_size` GPUs) and answers every request of a batch."""

    def __init__(self, judge: JudgeSpec, seed: int, tally=None):
        with warnings.catch_warnings():  # Ray's own use of a deprecated API inside this property
            warnings.simplefilter("ignore")
            restarted = ray.get_runtime_context().was_current_actor_reconstructed
        if restarted:
            progress.event(tally, "a judge actor was restarted (its process or node was lost); its rows are judged again")
        self.engine = load_engine(
            judge.engine,
            ensure_local_model(judge.model),
            dtype=judge.dtype,
            max_model_len=judge.max_model_len,
            tensor_parallel_size=judge.tensor_parallel_size,
            seed=seed,
            **({"latency_ms": judge.fixed_latency_ms} if judge.engine == "fixed-latency" else {}),
        )
        self.params = generation_params(judge)

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.column("requests").to_pylist()
        # Every request of the batch goes to the engine in one call so all share its batching:
        # the forward orders first, then the swapped ones (a stable sort keeps row order).
        requests = sorted((r for row in rows for r in row), key=lambda r: ORDERS.index(r["order"]))
        generations = self.engine.generate([_prompt(r) for r in requests], self.params)
        for request, generation in zip(requests, generations):
            # The token ids and images are done with: later stages need not carry them. The engine's prompt
            # count includes the tokens each image placeholder became.
            request.update(text=generation.text, prompt_tokens=generation.prompt_tokens,
                           completion_tokens=generation.completion_tokens, prompt_token_ids=None, images=None)
        return batch.set_column(batch.schema.get_field_index("requests"), "requests", pa.array(rows, type=REQUESTS))


def _prompt(request: dict) -> Prompt:
    if request.get("images"):
        return ImagePrompt(prompt_token_ids=request["prompt_token_ids"], images=request["images"])
    return request["prompt_token_ids"]
