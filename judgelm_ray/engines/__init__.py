"""Judge inference backends behind one interface (`base.JudgeEngine`), imported lazily.

``ENGINES`` maps a kind to (module, class), as vLLM's model registry does: importing vLLM takes
seconds and is not needed for "hf". A new engine is one file plus one line here. Every engine is
built as ``Class(model, dtype=..., max_model_len=..., tensor_parallel_size=..., seed=...)``.
"""

from __future__ import annotations

import importlib

from judgelm_ray.engines.base import Generation, GenerationParams, JudgeEngine

ENGINES: dict[str, tuple[str, str]] = {
    "vllm": ("vllm", "VLLMEngine"),
    "hf": ("hf", "HFEngine"),
    # A model behind an OpenAI-compatible API (a hosted teacher, a `vllm serve` endpoint): HTTP, no GPU.
    "openai": ("openai", "OpenAIEngine"),
    # Benchmarks only: no model, a fixed wait per prompt, to measure the pipeline's own cost.
    "fixed-latency": ("fixed_latency", "FixedLatencyEngine"),
}


def load_engine(
    kind: str,
    model: str,
    *,
    dtype: str = "auto",
    max_model_len: int | None = None,
    tensor_parallel_size: int = 1,
    seed: int = 0,
    **options,
) -> JudgeEngine:
    """Load `model` with the backend `kind` (a key of ENGINES); `options` are that engine's own."""
    if kind not in ENGINES:
        raise ValueError(f"unknown engine kind {kind!r}; choices: {', '.join(ENGINES)}")
    module, name = ENGINES[kind]
    engine_class = getattr(importlib.import_module(f"judgelm_ray.engines.{module}"), name)
    return engine_class(
        model, dtype=dtype, max_model_len=max_model_len, tensor_parallel_size=tensor_parallel_size, seed=seed, **options
    )


__all__ = ["ENGINES", "Generation", "GenerationParams", "JudgeEngine", "load_engine"]
