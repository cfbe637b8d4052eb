"""Job spec: the YAML file that describes one reproducible run (fine-tuning and/or judging).

`load_spec` reads the YAML, applies command-line overrides, validates it against
the models below and returns a fully resolved, immutable `JobSpec`.
`fingerprint` hashes the resolved spec so two runs can be compared for equality
no matter how their YAML was written (key order, comments, defaults spelled out).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)

from judgelm_ray import families, inputs, modes, verdicts
from judgelm_ray.engines import ENGINES
from judgelm_ray.evaluate.scoring import POLICIES as PARSE_FAILURE_POLICIES
from judgelm_ray.inputs.canonical import KEYS as CANONICAL_KEYS

# The choices users may write come from the tables where each kind of thing is registered.
CanonicalKey = Literal[CANONICAL_KEYS]
InputFormat = Literal[tuple(inputs.FORMATS)]


def _one_error(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # Collapse pydantic's one-error-per-union-branch output into a single readable line.
    try:
        return handler(value)
    except ValidationError:
        raise ValueError("expected a non-empty source key or a non-empty list of them") from None


SourceKey = Annotated[str, Field(min_length=1)]
SourceKeys = Annotated[SourceKey | Annotated[list[SourceKey], Field(min_length=1)], WrapValidator(_one_error)]


class _Spec(BaseModel):
    # strict: a quoted "4" or `true` must not silently become an int in a reproducible run.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class PairsSpec(_Spec):
    per_question: int = Field(ge=1, description="pairs of models drawn per question (all where fewer exist)")
    seed: int = Field(0, description="seed of the draw (a function of seed and question only: stable on resume)")


class InputSpec(_Spec):
    path: str = Field(min_length=1, description="input file, folder or glob; local or s3://")
    format: InputFormat = Field("canonical", description="input format of the records (see the README's table)")
    fields: dict[CanonicalKey, SourceKeys] = Field(
        default_factory=dict, description="{canonical key: source key or [source keys]}, applied before the format"
    )
    split_mb: int = Field(
        64, ge=1, description="plain JSONL is read in pieces of about this many MiB, in parallel (gzip cannot be split)"
    )
    block_rows: int = Field(4096, ge=1, description="rows per block a read task hands on: bounds its memory")
    models: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None, description="formats that pair answer files (mtbench, judgelm-answers): the models to pair "
        "(mtbench, one: single grading); null: all"
    )
    pairs: PairsSpec | None = Field(
        None, description="formats that pair answer files: which pairs of models per question; null: all pairs"
    )

    @property
    def pair_draw(self) -> tuple[int, int] | None:
        """`pairs` as the joining formats take it: (per_question, seed), or None for every pair."""
        return (self.pairs.per_question, self.pairs.seed) if self.pairs else None

    @field_validator("models", "pairs")
    @classmethod
    def _only_where_paired(cls, value: Any, info: ValidationInfo) -> Any:
        fmt = info.data.get("format")
        if value is not None and fmt is not None and not inputs.joins(fmt):
            joining = ", ".join(name for name in inputs.FORMATS if inputs.joins(name))
            raise ValueError(f"only for the formats that pair answer files ({joining}), not '{fmt}'")
        return value


class SamplingSpec(_Spec):
    temperature: float = Field(0.0, ge=0, description="0: greedy decoding")
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus sampling: keep the smallest set of tokens with this mass")
    max_tokens: int = Field(512, ge=1, description="most tokens the judge generates per request")
    seed: int | None = Field(None, description="per-request sampling seed; null: the engine's seeded stream")


class PoolSpec(_Spec):
    min_actors: int = Field(1, ge=1, description="judge actors kept up (the autoscaler starts them first)")
    max_actors: int = Field(1, ge=1, description="most judge actors the pool scales up to")
    gpus_per_actor: float = Field(1.0, ge=0, description="GPUs each actor holds; 0: judge on CPU")
    cpus_per_actor: float = Field(1.0, gt=0, description="CPUs each actor holds")
    accelerator_type: str | None = Field(None, description="pin actors to nodes with this GPU type, e.g. A100")
    batch_size: int = Field(32, ge=1, description="rows per batch an actor judges in one engine call")
    concurrent_batches: int | None = Field(
        None, ge=1, description="batches in flight per actor, so the engine never waits for the next one "
        "(engine vllm: its AsyncLLM); null: 4 for vllm on GPUs, else 1 (vllm: the offline LLM)",
    )

    @field_validator("max_actors")
    @classmethod
    def _max_ge_min(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("min_actors")
        if low is not None and value < low:
            raise ValueError(f"must be >= min_actors ({low}), got {value}")
        return value


class PriceSpec(_Spec):
    prompt: float = Field(ge=0, description="price of a million prompt tokens")
    completion: float = Field(ge=0, description="price of a million completion tokens")


class EndpointSpec(_Spec):
    base_url: str = Field(pattern=r"^https?://", description="the OpenAI-compatible API, e.g. http://host:8000/v1")
    model: str = Field(min_length=1, description="the served model's name (the `model` column records it)")
    api: Literal["completions", "chat"] = Field(
        "completions", description="completions: raw prompts (/v1/completions); chat: messages (/v1/chat/completions)"
    )
    api_key_env: str | None = Field(
        None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="the environment variable holding the key (the key itself is never written anywhere); null: none",
    )
    timeout_s: float = Field(120.0, gt=0, description="seconds one request may take")
    concurrency: int = Field(32, ge=1, description="requests in flight per actor (keep pool.batch_size above it)")
    requests_per_second: float | None = Field(None, gt=0, description="rate limit of the whole run; null: none")
    tokens_per_minute: float | None = Field(
        None, gt=0, description="rate limit of the whole run, prompt tokens + max_tokens per request; null: none"
    )
    max_retries: int = Field(
        8, ge=0, description="retries of a request on 429, 5xx and connection errors (the defaults wait ~1.5 min)"
    )
    backoff_s: float = Field(1.0, gt=0, description="first wait before a retry; doubles per retry, with jitter")
    max_backoff_s: float = Field(60.0, gt=0, description="longest wait between two tries (Retry-After may ask more)")
    fail_after: int = Field(
        20, ge=1, description="stop the run when this many requests in a row fail after their retries"
    )
    price_per_million: PriceSpec | None = Field(None, description="{prompt, completion} price: the run's cost")
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="more request fields, sent as given: the server's own settings "
        "(vLLM's top_k or structured_outputs, ...)",
    )


# vLLM's KV-cache dtypes and the quantization methods worth naming here (vLLM has more: engine_kwargs).
KV_CACHE_DTYPES = ("auto", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2")
QUANTIZATIONS = ("fp8", "awq", "awq_marlin", "gptq", "gptq_marlin", "compressed-tensors", "bitsandbytes", "modelopt",
                 "gguf")


class EngineSettingsSpec(_Spec):
    """The engine's own settings, passed through; null: the engine's default. What the engine resolved is
    written to the manifest (`engine_settings`)."""

    max_num_seqs: int | None = Field(
        None, ge=1, description="sequences the engine runs at once (vllm; hf: prompts per generate call, "
        "default 16); vLLM's offline default is 256-1024 by GPU"
    )
    max_num_batched_tokens: int | None = Field(None, ge=16, description="tokens per engine step (vllm)")
    gpu_memory_utilization: float | None = Field(
        None, gt=0, le=1, description="share of the GPU's memory vLLM may use (weights + KV cache; vllm's default 0.9)"
    )
    enable_prefix_caching: bool | None = Field(
        None, description="reuse the KV cache of shared prompt prefixes (vllm; on by default)"
    )
    kv_cache_dtype: Literal[KV_CACHE_DTYPES] | None = Field(
        None, description="KV-cache dtype (vllm): fp8 halves its memory on Hopper; auto: the model's"
    )
    quantization: Literal[QUANTIZATIONS] | None = Field(
        None, description="weight quantization (vllm): fp8 on Hopper quantizes a bf16 checkpoint at load"
    )
    engine_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="more engine arguments, passed as given (vllm: EngineArgs; hf: "
        "from_pretrained; fixed-latency: latency_ms)"
    )

    @field_validator("engine_kwargs")
    @classmethod
    def _not_named_elsewhere(cls, value: dict[str, Any]) -> dict[str, Any]:
        named = {name: f"judge.engine_settings.{name}" for name in cls.model_fields if name != "engine_kwargs"}
        named.update({name: f"judge.{name}" for name in ("model", "dtype", "max_model_len", "tensor_parallel_size")})
        named["seed"] = "the spec's seed"
        clash = sorted(set(value) & set(named))
        if clash:
            raise ValueError(f"{clash[0]!r} has its own key: set {named[clash[0]]}")
        return value

    def chosen(self) -> dict[str, Any]:
        """The settings the spec sets, engine_kwargs merged in: what the engine is built with."""
        return {**self.model_dump(exclude_none=True, exclude={"engine_kwargs"}), **self.engine_kwargs}


# Which engine settings each engine kind takes (an engine behind an API has its server's own).
ENGINE_SETTINGS = {
    "vllm": tuple(EngineSettingsSpec.model_fields),
    "hf": ("max_num_seqs", "engine_kwargs"),
    "fixed-latency": ("engine_kwargs",),
    "openai": (),
}
# Settings that change how fast rows are judged, never a judgment (a resume may change them).
ENGINE_THROUGHPUT_ONLY = ("max_num_seqs", "max_num_batched_tokens", "gpu_memory_utilization", "enable_prefix_caching")


# Endpoint settings that change how fast rows are judged or what the run costs, never a judgment.
ENDPOINT_THROUGHPUT_ONLY = ("timeout_s", "concurrency", "requests_per_second", "tokens_per_minute", "max_retries",
                            "backoff_s", "max_backoff_s", "fail_after", "price_per_million")


class EngineSpec(_Spec):
    """What runs a judge model: shared by the judge section and the teacher's."""

    engine: Literal[tuple(ENGINES)] = Field("vllm", description="inference backend (engines.ENGINES)")
    model: str | None = Field(
        None, min_length=1, validate_default=True,
        description="local HF folder, s3:// folder, a training run folder, or an HF id; engine openai: "
        "optional, a local tokenizer folder for length checks and token-id prompts",
    )
    endpoint: EndpointSpec | None = Field(None, validate_default=True, description="engine openai: the API")
    sampling: SamplingSpec = Field(default_factory=SamplingSpec, description="decoding settings")
    max_model_len: int | None = Field(None, ge=16, description="context length in tokens; null: the model's own")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="dtype of the weights; auto: the checkpoint's"
    )
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs one model is split over (vllm)")
    pool: PoolSpec = Field(
        default_factory=PoolSpec, validate_default=True, description="the autoscaling pool of judge actors"
    )
    engine_settings: EngineSettingsSpec = Field(
        default_factory=EngineSettingsSpec, validate_default=True, description="the engine's own settings"
    )

    @field_validator("model")
    @classmethod
    def _model_unless_api(cls, value: str | None, info: ValidationInfo) -> str | None:
        engine = info.data.get("engine")
        if value is None and engine is not None and engine != "openai":
            raise ValueError(f"required with engine '{engine}' (the judge model's folder or name)")
        return value

    @field_validator("endpoint")
    @classmethod
    def _endpoint_for_api(cls, value: EndpointSpec | None, info: ValidationInfo) -> EndpointSpec | None:
        engine = info.data.get("engine")
        if engine == "openai" and value is None:
            raise ValueError("required with engine 'openai': give base_url and model")
        if engine is not None and engine != "openai" and value is not None:
            raise ValueError(f"only for engine 'openai' (engine '{engine}' runs the model itself)")
        return value

    @field_validator("pool")
    @classmethod
    def _pool_fits_engine(cls, pool: PoolSpec, info: ValidationInfo) -> PoolSpec:
        if info.data.get("engine") == "openai":
            # The model runs behind the API: an actor holds only its HTTP client.
            if "gpus_per_actor" not in pool.model_fields_set:
                return pool.model_copy(update={"gpus_per_actor": 0.0})
            if pool.gpus_per_actor > 0:
                raise ValueError("gpus_per_actor must be 0 with engine 'openai' (its model runs behind the API)")
            return pool
        if (pool.concurrent_batches or 1) > 1 and info.data.get("engine") != "vllm":
            raise ValueError("concurrent_batches above 1 needs engine 'vllm' (its AsyncLLM takes several batches)")
        tp = info.data.get("tensor_parallel_size")
        # gpus_per_actor == 0 is a CPU-only actor, where tensor parallelism needs no GPUs.
        if tp is not None and 0 < pool.gpus_per_actor < tp:
            raise ValueError(
                f"pool.gpus_per_actor ({pool.gpus_per_actor:g}) must be >= tensor_parallel_size ({tp}):"
                " each actor holds all tensor-parallel shards of one model"
            )
        return pool

    @field_validator("engine_settings")
    @classmethod
    def _settings_fit_engine(cls, settings: EngineSettingsSpec, info: ValidationInfo) -> EngineSettingsSpec:
        engine = info.data.get("engine")
        if engine is None:
            return settings
        taken = ENGINE_SETTINGS[engine]
        given = [name for name in settings.model_fields_set if name not in taken and getattr(settings, name)
                 not in (None, {})]
        if given:
            hint = "use judge.endpoint.extra_body for request fields" if engine == "openai" else \
                f"engine '{engine}' takes {', '.join(taken)}"
            raise ValueError(f"{given[0]} is not a setting of engine '{engine}' ({hint})")
        return settings

    @property
    def model_name(self) -> str:
        """What the `model` column records: the served model's name behind an API, else the model."""
        return self.endpoint.model if self.endpoint is not None else self.model

    @property
    def batches_in_flight(self) -> int:
        """`pool.concurrent_batches` resolved: vLLM on GPUs keeps 4 batches in flight by default (Ray Data
        LLM's default is 8 of smaller batches); on CPU the offline engine starts in a third of the time."""
        if self.pool.concurrent_batches is not None:
            return self.pool.concurrent_batches
        return 4 if self.engine == "vllm" and self.pool.gpus_per_actor > 0 else 1


class JudgeSpec(EngineSpec):
    mode: Literal[tuple(modes.MODES)] = Field("pairwise", description="what the judge is asked (modes.MODES)")
    template: Literal[tuple(families.FAMILIES)] = Field(
        "judgelm", description="judge family: its prompt templates and verdict parser (families.FAMILIES)"
    )
    rubric: str | None = Field(
        None, min_length=1, description="grading rubric for rows without their own `rubric` (template prometheus)"
    )
    reference: Literal[modes.REFERENCE_POLICIES] = Field(
        "auto", description="show the reference: auto (when the row has one), always, or never"
    )
    swap: bool = Field(False, description="also judge every row with its answers in reverse order")
    fast: bool = Field(False, description="stop after the score line (JudgeLM's fast eval)")
    parse: Literal[verdicts.POLICIES] = Field("judgelm", description="score-line parser: judgelm (JudgeLM's) or lenient")
    # The templates stay byte-exact (JudgeLM's checkpoints need them), so the guard reports; it never rewrites.
    guard: Literal["flag", "quarantine", "off"] = Field(
        "flag",
        description="rows whose question, answers or reference contain the judge template's delimiters "
        "([System], [The End of Assistant 1's Answer], ### Response:, ...) or the tokenizer's special tokens "
        "as text: flag (judge them, listed in injection_flags and counted), quarantine (with the reason), or off",
    )
    logprobs: bool = Field(
        False, description="expected scores and a confidence from the score tokens' top-20 logprobs "
        "(expected_scores, confidence, margin; template judgelm)",
    )
    constrain: Literal["score_line"] | None = Field(
        None, description="score_line: the first line is decoded as N integers 1-10 separated by single spaces, "
        "then free text (vllm: structured outputs; hf: a logits processor); null: free decoding, as JudgeLM",
    )
    preserve_order: bool = Field(
        False,
        description="rows reach the engine in input order and in the same batches on every run, so greedy "
        "judgments repeat exactly (an engine's arithmetic depends slightly on which prompts share a batch); "
        "costs throughput when read tasks finish out of order",
    )

    # Cross-field checks are field validators on the later field (fields validate in
    # declaration order) so the error points at the offending key, not at `judge`.
    @field_validator("template")
    @classmethod
    def _family_has_mode(cls, value: str, info: ValidationInfo) -> str:
        mode = info.data.get("mode")
        if mode is not None and mode not in families.FAMILIES[value].MODES:
            raise ValueError(f"has no prompts for mode '{mode}'; with '{value}' use mode "
                             f"{' or '.join(repr(m) for m in families.FAMILIES[value].MODES)}")
        return value

    @field_validator("template")
    @classmethod
    def _family_reaches_api(cls, value: str, info: ValidationInfo) -> str:
        endpoint = info.data.get("endpoint")
        if endpoint is None:
            return value
        if value == "judgelm-mmvet":
            raise ValueError("cannot be judgelm-mmvet with engine 'openai': it does not send images")
        if endpoint.api == "completions" and families.FAMILIES[value].CHAT and info.data.get("model") is None:
            raise ValueError(f"'{value}' writes chat messages: set judge.endpoint.api to chat, or judge.model to a "
                             "local tokenizer folder whose chat template makes the raw prompt")
        return value

    @field_validator("logprobs")
    @classmethod
    def _logprobs_read_judgelm(cls, value: bool, info: ValidationInfo) -> bool:
        template = info.data.get("template")
        if value and template is not None and template != "judgelm":
            raise ValueError(f"needs template 'judgelm' for now (its first line holds the scores), not '{template}'")
        return value

    @field_validator("constrain")
    @classmethod
    def _constrain_in_engine(cls, value: str | None, info: ValidationInfo) -> str | None:
        template, engine = info.data.get("template"), info.data.get("engine")
        if value is not None and template is not None and template != "judgelm":
            raise ValueError(f"needs template 'judgelm' (its score line), not '{template}'")
        if value is not None and engine == "openai":
            raise ValueError("cannot constrain an API's decoding (engine 'openai'); judge with vllm or hf")
        return value

    @field_validator("fast")
    @classmethod
    def _fast_needs_verdict_first(cls, value: bool, info: ValidationInfo) -> bool:
        template = info.data.get("template")
        if value and template is not None and not families.FAMILIES[template].FAST:
            raise ValueError(f"cannot be true with template '{template}': its verdict comes at the end of the "
                             "judge's text, so stopping after the first line would cut it off")
        return value

    @field_validator("swap")
    @classmethod
    def _swap_needs_two_answers(cls, value: bool, info: ValidationInfo) -> bool:
        mode = info.data.get("mode")
        if value and mode is not None and not modes.MODES[mode].SWAPPABLE:
            raise ValueError(f"cannot be true with mode '{mode}': swapping needs two or more answers to reorder")
        return value


class TeacherSpec(EngineSpec):
    """A strong judge that labels answer pairs for training, as GPT-4 labelled JudgeLM-100K: JudgeLM's pairwise
    template, full explanations, once without and once with the reference."""

    input: InputSpec = Field(description="questions with answers from several models (pairs of them are judged)")
    with_reference: bool = Field(
        True, description="also judge the pairs that have a reference with it (text_w_reference, score_w_reference)"
    )
    guard: Literal["flag", "quarantine", "off"] = Field("flag", description="as judge.guard")

    def judge_spec(self, with_reference: bool) -> JudgeSpec:
        """The judge section of one of the teacher's two passes."""
        own = self.model_dump(exclude={"input", "with_reference"})
        return JudgeSpec.model_validate(
            {**own, "mode": "pairwise", "template": "judgelm", "reference": "always" if with_reference else "never"}
        )


class TrainDataSpec(_Spec):
    path: str = Field(min_length=1, description="training file, folder or glob; local or s3://")
    # judgelm: JudgeLM-100K records (teacher `text` / `text_w_reference`); canonical: canonical rows
    # carrying the teacher judgments as `judgment` / `judgment_w_reference` (train.augment.JUDGMENT_KEYS).
    format: Literal["judgelm", "canonical"] = Field("judgelm", description="input format holding teacher judgments")


class AugmentSpec(_Spec):
    swap_ratio: float = Field(0.5, ge=0, le=1, description="share of samples with the answers swapped (position bias)")
    # Reference support, and reference drop for the rest (JudgeLM's ref_drop_ratio).
    reference_ratio: float = Field(
        0.5, ge=0, le=1, description="share of samples that show the reference and learn the with-reference judgment"
    )
    seed: int = Field(0, description="seed of the augmentation draws (a pure function of seed, row and epoch)")


class DeepSpeedSpec(_Spec):
    zero_stage: Literal[2, 3] = Field(
        3, description="ZeRO stage: 2 partitions optimizer state and gradients, 3 also the weights"
    )
    offload_optimizer: bool = Field(False, description="keep the optimizer state in CPU memory")
    offload_params: bool = Field(False, description="keep the partitioned weights in CPU memory (ZeRO-3)")

    @field_validator("offload_params")
    @classmethod
    def _params_need_stage_3(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("zero_stage") == 2:
            raise ValueError("needs zero_stage 3: ZeRO-2 does not partition (or offload) the parameters")
        return value


class ScalingSpec(_Spec):
    num_workers: int = Field(1, ge=1, description="Ray Train workers (data-parallel ranks)")
    gpus_per_worker: float = Field(1.0, ge=0, description="GPUs per worker; 0: CPU workers (gloo)")
    cpus_per_worker: float = Field(1.0, gt=0, description="CPUs per worker")
    accelerator_type: str | None = Field(None, description="pin workers to nodes with this GPU type, e.g. A100")


class CheckpointSpec(_Spec):
    every_steps: int = Field(500, ge=1, description="steps between checkpoints (and always after the last step)")
    keep: int = Field(2, ge=1, description="latest checkpoints kept in the run's storage")


class TrainSpec(_Spec):
    base_model: str = Field(min_length=1, description="local HF folder, s3:// folder, or an HF id where reachable")
    data: TrainDataSpec = Field(description="the teacher-labelled training set")
    eval_data: TrainDataSpec | None = Field(None, description="optional held-out set: eval loss at every checkpoint")
    augment: AugmentSpec = Field(default_factory=AugmentSpec, description="JudgeLM's bias fixes")
    # JudgeLM's hyperparameters (the paper's fine-tuning recipe) are the defaults.
    epochs: int = Field(3, ge=1, description="passes over the training set")
    max_steps: int | None = Field(None, ge=1, description="stop after this many steps (smoke runs); null: all epochs")
    learning_rate: float = Field(2e-5, gt=0, description="peak learning rate (AdamW)")
    lr_schedule: Literal["cosine", "linear", "constant"] = Field("cosine", description="decay after the warmup")
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="share of the steps spent warming up linearly")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    max_grad_norm: float = Field(1.0, gt=0, description="gradient clipping norm")
    global_batch_size: int = Field(128, ge=1, description="samples per optimizer step, all workers together")
    micro_batch_size: int = Field(1, ge=1, description="samples per worker and forward pass")
    max_length: int = Field(2048, ge=16, description="longest sample in tokens; longer records are dropped, never cut")
    dtype: Literal["bfloat16", "float32"] = Field("bfloat16", description="training precision")
    gradient_checkpointing: bool = Field(True, description="recompute activations in the backward pass to save memory")
    deepspeed: DeepSpeedSpec = Field(default_factory=DeepSpeedSpec, description="DeepSpeed ZeRO settings")
    scaling: ScalingSpec = Field(default_factory=ScalingSpec, description="the Ray Train worker group")
    checkpoint: CheckpointSpec = Field(default_factory=CheckpointSpec, description="when to checkpoint, how many to keep")
    max_failures: int = Field(2, ge=0, description="worker-group restarts from the latest checkpoint")
    log_every: int = Field(1, ge=1, description="steps between progress lines / metric reports")

    @field_validator("scaling")
    @classmethod
    def _batch_splits_evenly(cls, scaling: ScalingSpec, info: ValidationInfo) -> ScalingSpec:
        batch, micro = info.data.get("global_batch_size"), info.data.get("micro_batch_size")
        if batch is not None and micro is not None and batch % (micro * scaling.num_workers):
            raise ValueError(
                f"global_batch_size ({batch}) must be a multiple of micro_batch_size ({micro})"
                f" x num_workers ({scaling.num_workers}): each step is gradient accumulation over equal micro-batches"
            )
        return scaling


class EvaluateSpec(_Spec):
    gold: str | None = Field(
        None, min_length=1, description="gold file or folder; null: the gold the judged rows carry"
    )
    gold_format: InputFormat | None = Field(None, description="format of the gold file; null: input.format")
    parse_failures: Literal[PARSE_FAILURE_POLICIES] = Field(
        "tie", description="how unparseable verdicts count: tie (as JudgeLM and PandaLM), exclude or wrong"
    )
    group_by: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, description="also break the metrics down by these columns or meta keys"
    )
    bootstrap: int = Field(1000, ge=0, description="resamples for the 95 % intervals; 0: none")
    out: str | None = Field(None, min_length=1, description="folder for metrics.json and report.md; null: <output>/eval")


class JobSpec(_Spec):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="the run's name; {name} in output expands to it")
    seed: int = Field(0, description="engine and bootstrap seed")
    input: InputSpec | None = Field(None, description="the rows to judge")
    # Sections run in this order; a spec needs a teacher, a train or a judge section.
    teacher: TeacherSpec | None = Field(None, description="label answer pairs with a teacher judge (runs first)")
    train: TrainSpec | None = Field(None, description="fine-tune a judge (runs after the teacher)")
    judge: JudgeSpec | None = Field(None, validate_default=True, description="judge the input rows")
    evaluate: EvaluateSpec | None = Field(None, description="score the judgments against gold (runs last)")
    output: str = Field(
        "runs/{name}", min_length=1, validate_default=True,  # so the default expands too
        description="run folder, local or s3://",
    )

    @field_validator("evaluate")
    @classmethod
    def _evaluate_needs_judge(cls, evaluate: EvaluateSpec | None, info: ValidationInfo) -> EvaluateSpec | None:
        # It scores the judge section's output; a judge section that failed validation has its own error.
        if evaluate is not None and "judge" in info.data and info.data["judge"] is None:
            raise ValueError("needs a judge section (evaluation scores the judgments it writes)")
        return evaluate

    @field_validator("judge")
    @classmethod
    def _judge_or_train(cls, judge: JudgeSpec | None, info: ValidationInfo) -> JudgeSpec | None:
        # A section that failed validation is absent from info.data: its own error is enough.
        if judge is None and all(name in info.data and info.data[name] is None for name in ("teacher", "train")):
            raise ValueError("a spec needs a teacher, a train or a judge section")
        if judge is not None and "input" in info.data and info.data["input"] is None:
            raise ValueError("needs an input section (the rows to judge)")
        return judge

    @field_validator("name")
    @classmethod
    def _not_a_path_step(cls, value: str) -> str:
        # The name becomes a path component; "." and ".." would escape the run folder.
        if set(value) == {"."}:
            raise ValueError("must not consist only of dots")
        return value

    @field_validator("output")
    @classmethod
    def _expand_name(cls, value: str, info: ValidationInfo) -> str:
        # Expanding during validation keeps dump_yaml -> load_spec a fixed point.
        name = info.data.get("name")
        return value.replace("{name}", name) if name is not None else value


class SpecError(ValueError):
    """Invalid job spec; `.errors` holds one "<dotted.path>: <message>" line per problem."""

    def __init__(self, errors: list[str], source: str = "<spec>") -> None:
        self.errors = errors
        self.source = source
        super().__init__("\n".join(f"{source}: {line}" for line in errors))

    def __reduce__(self) -> tuple[type[SpecError], tuple[list[str], str]]:
        # Ray pickles exceptions across processes; rebuild from the fields, not the joined text.
        return type(self), (self.errors, self.source)


def _model_at(loc: Sequence[Any]) -> type[BaseModel] | None:
    """The spec model that owns the mapping at `loc`, if any."""
    model: type[BaseModel] = JobSpec
    for part in loc:
        field = model.model_fields.get(str(part))
        # Optional sections are `Model | None`: look through the union for the model.
        candidates = get_args(field.annotation) or (field.annotation,) if field else ()
        models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not models:
            return None
        model = models[0]
    return model


def _unknown_key(key: str, allowed: Sequence[str], what: str = "key") -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        return f"unknown {what}; did you mean '{close[0]}'?"
    return f"unknown {what}; allowed: {', '.join(allowed)}"


def _error_line(err: dict[str, Any]) -> str:
    loc = [str(p) for p in err["loc"]]
    kind = err["type"]
    if kind == "extra_forbidden":
        owner = _model_at(err["loc"][:-1])
        allowed = list(owner.model_fields) if owner else []
        return f"{'.'.join(loc)}: {_unknown_key(loc[-1], allowed)}"
    if kind == "literal_error" and loc[-1] == "[key]":  # bad key in input.fields
        return f"{'.'.join(loc[:-1])}: {_unknown_key(loc[-2], get_args(CanonicalKey), 'canonical key')}"
    if kind == "model_type":  # pydantic's message names our internal class
        msg = "expected a mapping"
    else:
        msg = err["msg"].removeprefix("Value error, ").split(", unable to")[0]
    value = err.get("input")
    if kind not in ("missing", "value_error") and isinstance(value, (str, int, float, bool, type(None))):
        msg += f" (got {value!r})"
    return f"{'.'.join(loc)}: {msg}"


def spec_from_dict(data: dict, source: str = "<spec>") -> JobSpec:
    """Validate an already-parsed spec mapping; errors name `source`."""
    if not isinstance(data, dict):
        raise SpecError([f"top level must be a mapping, got {type(data).__name__}"], source)
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError([_error_line(e) for e in exc.errors()], source) from None


def _apply_override(data: dict, override: str, source: str) -> None:
    key, sep, raw = override.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise SpecError([f"override {override!r}: expected dotted.key=value"], source)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise SpecError([f"override {override!r}: value is not valid YAML ({exc})"], source) from None
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise SpecError([f"override {override!r}: {'.'.join(parts[: i + 1])} is not a mapping"], source)
        node = child
    node[parts[-1]] = value


def load_spec(path: str | Path, overrides: Sequence[str] = ()) -> JobSpec:
    """Read a YAML spec, apply "a.b.c=value" overrides and return the validated spec."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(["file not found"], source) from None
    except OSError as exc:
        raise SpecError([f"cannot read file ({exc.strerror})"], source) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([f"invalid YAML: {where}{problem}"], source) from None
    if not isinstance(data, dict):
        raise SpecError([f"top level must be a mapping, got {type(data).__name__}"], source)
    for override in overrides:
        _apply_override(data, override, source)
    return spec_from_dict(data, source)


def resolved_dict(spec: JobSpec) -> dict:
    """The spec as plain JSON-able data with every default filled in."""
    return spec.model_dump(mode="json")


def fingerprint(spec: JobSpec) -> str:
    """SHA-256 of the canonical JSON of the resolved spec: equal iff the runs are configured alike."""
    canonical = json.dumps(resolved_dict(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def dump_yaml(spec: JobSpec) -> str:
    """The resolved spec as YAML, in schema order; loading it yields the same fingerprint."""
    return yaml.safe_dump(resolved_dict(spec), sort_keys=False, allow_unicode=True)
