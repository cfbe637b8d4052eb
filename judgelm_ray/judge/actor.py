"""The one stateful stage of the judge pipeline: an actor that holds a judge engine for its lifetime."""

from __future__ import annotations

import warnings

import pyarrow as pa
import ray

from judgelm_ray import progress, runlog
from judgelm_ray.engines import load_engine
from judgelm_ray.engines.base import Generation, GenerationParams, ImagePrompt, Prompt
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
        for request, generation in zip(requests, self._generate([_prompt(r) for r in requests])):
            # The token ids and images are done with: later stages need not carry them.
            request.update(prompt_token_ids=None, images=None)
            if isinstance(generation, str):
                request.update(text=None, completion_tokens=0, engine_error=generation)
            else:  # the engine's prompt count includes the tokens each image placeholder became
                request.update(text=generation.text, prompt_tokens=generation.prompt_tokens,
                               completion_tokens=generation.completion_tokens)
        return batch.set_column(batch.schema.get_field_index("requests"), "requests", pa.array(rows, type=REQUESTS))

    def _generate(self, prompts: list[Prompt]) -> list[Generation | str]:
        """A generation per prompt, or why the engine refused it. An engine refuses a whole batch for one
        prompt it cannot take (vLLM: a prompt longer than the context once its images are expanded, which
        the CPU stage cannot count); then each prompt goes alone, so the refusal costs only its own row."""
        try:
            return self.engine.generate(prompts, self.params)
        except ValueError as error:
            if len(prompts) == 1:
                return [runlog.one_line(error)]
        return [self._generate([prompt])[0] for prompt in prompts]


def _prompt(request: dict) -> Prompt:
    if request.get("images"):
        return ImagePrompt(prompt_token_ids=request["prompt_token_ids"], images=request["images"])
    return request["prompt_token_ids"]
