"""The one stateful stage of the judge pipeline: an actor that holds a judge engine for its lifetime."""

from __future__ import annotations

import warnings

import pyarrow as pa
import ray

from judgelm_ray import progress, runlog
from judgelm_ray.engines import load_engine
from judgelm_ray.engines.base import ChatPrompt, Generation, GenerationParams, ImagePrompt, Prompt
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


class Secret:
    """A value that shows in no repr, log line or error: the API key on its way from the driver to the actors."""

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "Secret(***)"

    def reveal(self) -> str:
        return self._value


def engine_options(judge: JudgeSpec, api_key: Secret | None) -> dict:
    """What the engine kind takes beyond the settings every engine gets."""
    if judge.engine == "fixed-latency":
        return {"latency_ms": judge.fixed_latency_ms}
    if judge.engine == "openai":
        # The rate limits are the run's: the pool's actors share them.
        return {"endpoint": judge.endpoint.model_dump(), "api_key": api_key.reveal() if api_key else None,
                "share": judge.pool.max_actors}
    return {}


class JudgeActor:
    """Holds an engine (one GPU, or `tensor_parallel_size` GPUs; an HTTP client for an API judge) and answers
    every request of a batch."""

    def __init__(self, judge: JudgeSpec, seed: int, tally=None, api_key: Secret | None = None):
        with warnings.catch_warnings():  # Ray's own use of a deprecated API inside this property
            warnings.simplefilter("ignore")
            restarted = ray.get_runtime_context().was_current_actor_reconstructed
        if restarted:
            progress.event(tally, "a judge actor was restarted (its process or node was lost); its rows are judged again")
        self.engine = load_engine(
            judge.engine,
            ensure_local_model(judge.model) if judge.model else None,
            dtype=judge.dtype,
            max_model_len=judge.max_model_len,
            tensor_parallel_size=judge.tensor_parallel_size,
            seed=seed,
            **engine_options(judge, api_key),
        )
        self.params = generation_params(judge)
        self.tally = tally
        self.retries = 0

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.column("requests").to_pylist()
        # Every request of the batch goes to the engine in one call so all share its batching:
        # the forward orders first, then the swapped ones (a stable sort keeps row order).
        requests = sorted((r for row in rows for r in row), key=lambda r: ORDERS.index(r["order"]))
        for request, generation in zip(requests, self._generate([_prompt(r) for r in requests])):
            # The prompt and images are done with: later stages need not carry them.
            request.update(prompt_token_ids=None, prompt_text=None, messages=None, images=None)
            if isinstance(generation, str):
                request.update(text=None, completion_tokens=0, engine_error=f"the engine refused the prompt: {generation}")
            elif generation.error is not None:
                request.update(text=None, completion_tokens=0, engine_error=generation.error)
            else:  # the engine's prompt count includes the tokens each image placeholder became
                request.update(text=generation.text, prompt_tokens=generation.prompt_tokens,
                               completion_tokens=generation.completion_tokens)
        self._report_retries()
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

    def _report_retries(self) -> None:
        retries = getattr(self.engine, "retries", 0)  # an API engine's retried requests
        if retries > self.retries:
            progress.add(self.tally, api_retries=retries - self.retries)
            self.retries = retries


def _prompt(request: dict) -> Prompt:
    if request.get("messages"):
        return ChatPrompt(messages=request["messages"])
    if request.get("prompt_text") is not None:
        return request["prompt_text"]
    if request.get("images"):
        return ImagePrompt(prompt_token_ids=request["prompt_token_ids"], images=request["images"])
    return request["prompt_token_ids"]
