"""The one stateful stage of the judge pipeline: an actor that holds a judge engine for its lifetime."""

from __future__ import annotations

import functools
import warnings
from dataclasses import replace

import pyarrow as pa
import pyarrow.compute as pc
import ray
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from judgelm_ray import progress, runlog
from judgelm_ray.engines import load_engine
from judgelm_ray.engines.base import ChatPrompt, Generation, GenerationParams, ImagePrompt, Prompt, TokenLogprobs
from judgelm_ray.families.judgelm import score_line
from judgelm_ray.judge.schemas import REQUESTS
from judgelm_ray.model_store import ensure_local_model
from judgelm_ray.spec import JudgeSpec

# Candidates per score token with judge.logprobs: vLLM's default max_logprobs and the OpenAI API's limit.
TOP_LOGPROBS = 20


def generation_params(judge: JudgeSpec) -> GenerationParams:
    # Fast mode stops at the end of the score line, as JudgeLM's --if-fast-eval does.
    return GenerationParams(
        temperature=judge.sampling.temperature,
        top_p=judge.sampling.top_p,
        max_tokens=judge.sampling.max_tokens,
        seed=judge.sampling.seed,
        stop=("\n",) if judge.fast else (),
        logprobs=TOP_LOGPROBS if judge.logprobs else 0,
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
    if judge.engine == "openai":
        # The rate limits are the run's: the pool's actors share them.
        return {"endpoint": judge.endpoint.model_dump(), "api_key": api_key.reveal() if api_key else None,
                "share": judge.pool.max_actors}
    options = {"settings": judge.engine_settings.chosen()}
    if judge.engine == "vllm":
        options["concurrent"] = judge.batches_in_flight > 1
    return options


def actor_placement(judge: JudgeSpec) -> dict:
    """How the pool's actors take their GPUs. A tensor-parallel vLLM judge gets a placement group per actor
    whose GPU bundles sit on one node (STRICT_PACK: shards talk over NVLink, not the network), and
    vLLM's Ray executor puts a worker in each bundle; the actor itself then reserves no GPU."""
    pool = judge.pool
    if judge.engine != "vllm" or judge.tensor_parallel_size == 1 or pool.gpus_per_actor == 0:
        return {"num_gpus": pool.gpus_per_actor, "num_cpus": pool.cpus_per_actor, "accelerator_type": pool.accelerator_type}
    return {"num_gpus": 0, "num_cpus": pool.cpus_per_actor, "ray_remote_args_fn": functools.partial(
        _placement_group, judge.tensor_parallel_size, pool.cpus_per_actor, pool.accelerator_type)}


def _placement_group(gpus: int, cpus: float, accelerator_type: str | None) -> dict:
    """Ray remote args for one actor: a new placement group of `gpus` GPU bundles on one node, the
    actor's CPUs in the first; its child tasks and actors (vLLM's workers) land in it too."""
    bundles = [{"GPU": 1.0, "CPU": cpus}] + [{"GPU": 1.0} for _ in range(gpus - 1)]
    if accelerator_type:
        for bundle in bundles:  # as Ray's accelerator_type option does, a sliver of the node's type label
            bundle[f"accelerator_type:{accelerator_type}"] = 0.001
    group = ray.util.placement_group(bundles, strategy="STRICT_PACK")
    return {"scheduling_strategy": PlacementGroupSchedulingStrategy(group, placement_group_capture_child_tasks=True)}


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
        self.mode = judge.mode
        self.constrain = judge.constrain == "score_line"
        self.tally = tally
        self.retries = 0
        if hasattr(self.engine, "resolved_settings"):
            progress.note(tally, "engine_settings", {"concurrent_batches": judge.batches_in_flight,
                                                     **self.engine.resolved_settings()})

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows, requests, params = self._requests(batch)
        return self._answered(batch, rows, requests, self._generate([_prompt(r) for r in requests], params))

    def _requests(self, batch: pa.Table) -> tuple[list, list[dict], GenerationParams | list[GenerationParams]]:
        """The batch's rows (lists of requests) and every request in the order the engine gets them, with
        their generation settings.

        All go to the engine in one call so all share its batching. A row's orders stay side by side and
        rows asking the same question next to each other (a stable sort keeps input order otherwise): their
        prompts share a prefix up to the first answer, which vLLM's prefix cache then computes once.
        """
        rows = batch.column("requests").to_pylist()
        questions = batch.column("question").to_pylist()
        answers = pc.list_value_length(batch.column("answers")).to_pylist()
        order = sorted(range(len(rows)), key=lambda i: questions[i] or "")
        requests = [request for i in order for request in rows[i]]
        if not self.constrain:
            return rows, requests, self.params
        lines = [score_line(self.mode, answers[i]) for i in order for _ in rows[i]]
        return rows, requests, [replace(self.params, score_line=line) for line in lines]

    def _answered(self, batch: pa.Table, rows: list, requests: list[dict], generations: list[Generation | str]) -> pa.Table:
        for request, generation in zip(requests, generations):
            # The prompt and images are done with: later stages need not carry them.
            request.update(prompt_token_ids=None, prompt_text=None, messages=None, images=None)
            if isinstance(generation, str):
                request.update(text=None, completion_tokens=0, engine_error=f"the engine refused the prompt: {generation}")
            elif generation.error is not None:
                request.update(text=None, completion_tokens=0, engine_error=generation.error)
            else:  # the engine's prompt count includes the tokens each image placeholder became
                request.update(text=generation.text, prompt_tokens=generation.prompt_tokens,
                               completion_tokens=generation.completion_tokens,
                               logprobs=_logprob_rows(generation.logprobs))
        self._report_retries()
        return batch.set_column(batch.schema.get_field_index("requests"), "requests", pa.array(rows, type=REQUESTS))

    def _generate(self, prompts: list[Prompt], params) -> list[Generation | str]:
        """A generation per prompt, or why the engine refused it. An engine refuses a whole batch for one
        prompt it cannot take (vLLM: a prompt longer than the context once its images are expanded, which
        the CPU stage cannot count); then each prompt goes alone, so the refusal costs only its own row."""
        try:
            return self.engine.generate(prompts, params)
        except ValueError as error:
            if len(prompts) == 1:
                return [runlog.one_line(error)]
        each = [params] * len(prompts) if isinstance(params, GenerationParams) else params
        return [self._generate([prompt], [one])[0] for prompt, one in zip(prompts, each)]

    def _report_retries(self) -> None:
        retries = getattr(self.engine, "retries", 0)  # an API engine's retried requests
        if retries > self.retries:
            progress.add(self.tally, api_retries=retries - self.retries)
            self.retries = retries


class ConcurrentJudgeActor(JudgeActor):
    """A judge actor that takes several batches at once (`pool.concurrent_batches`): Ray Data calls an async
    `__call__` for up to that many batches side by side, and vLLM's AsyncLLM schedules their requests
    together, so the engine never waits for the next batch and a batch's slowest sequences run beside the
    next batch's first ones. A prompt the engine refuses costs only its own row (`generate_async`)."""

    async def __call__(self, batch: pa.Table) -> pa.Table:
        rows, requests, params = self._requests(batch)
        generations = await self.engine.generate_async([_prompt(r) for r in requests], params)
        return self._answered(batch, rows, requests, generations)


def _logprob_rows(logprobs: list[TokenLogprobs] | None) -> list[dict] | None:
    if logprobs is None:
        return None
    return [{"token": t.token, "top": [{"token": k, "logprob": v} for k, v in t.top.items()]} for t in logprobs]


def _prompt(request: dict) -> Prompt:
    if request.get("messages"):
        return ChatPrompt(messages=request["messages"])
    if request.get("prompt_text") is not None:
        return request["prompt_text"]
    if request.get("images"):
        return ImagePrompt(prompt_token_ids=request["prompt_token_ids"], images=request["images"])
    return request["prompt_token_ids"]
