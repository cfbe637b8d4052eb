"""Judge inference backends behind one interface; backends are imported lazily."""

from judgelm_ray.engines.base import Generation, GenerationParams, JudgeEngine

ENGINE_KINDS = ("vllm", "hf")


def load_engine(
    kind: str,
    model: str,
    *,
    dtype: str = "auto",
    max_model_len: int | None = None,
    tensor_parallel_size: int = 1,
    seed: int = 0,
) -> JudgeEngine:
    """Load `model` with the backend `kind` ("vllm" or "hf").

    "hf" runs on one device and ignores `max_model_len` and `tensor_parallel_size`.
    """
    # Imports are local: importing vllm takes seconds and is not needed for "hf".
    if kind == "vllm":
        from judgelm_ray.engines.vllm import VLLMEngine

        return VLLMEngine(
            model,
            dtype=dtype,
            max_model_len=max_model_len,
            tensor_parallel_size=tensor_parallel_size,
            seed=seed,
        )
    if kind == "hf":
        from judgelm_ray.engines.hf import HFEngine

        return HFEngine(model, dtype=dtype, seed=seed)
    raise ValueError(f"unknown engine kind {kind!r}; choices: {', '.join(ENGINE_KINDS)}")


__all__ = ["ENGINE_KINDS", "Generation", "GenerationParams", "JudgeEngine", "load_engine"]
