"""The engine interface shared by the backends: in-process models (vLLM, Hugging Face) and OpenAI-compatible APIs."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from judgelm_ray.engines.score_line import ScoreLine
from judgelm_ray.tokenizer import IMAGE_TOKEN_KEYS


@dataclass(frozen=True)
class GenerationParams:
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    max_tokens: int = 512
    seed: int | None = None
    # Output is cut at the first stop string where one occurs; the stop string is not included.
    stop: tuple[str, ...] = ()
    # Top-k logprobs returned for every generated token (`Generation.logprobs`); 0: none.
    logprobs: int = 0
    # Decoding of the first line is constrained to this score line, then free (judge.constrain: score_line).
    score_line: ScoreLine | None = None


@dataclass(frozen=True)
class TokenLogprobs:
    """One generated token: its text as the engine decodes it alone (it may carry a leading space, or
    SentencePiece's "▁" / byte-level BPE's "Ġ"), and the top-k candidates at its position,
    {text: logprob}, the chosen one included."""

    token: str
    top: dict[str, float]


@dataclass(frozen=True)
class Generation:
    """One prompt's answer. `error`: the request failed for this prompt only (an API engine, after its
    retries); text is then "" and the token counts 0."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    error: str | None = None
    # Per generated token, with GenerationParams.logprobs > 0 (an engine may stop after the first line).
    logprobs: list[TokenLogprobs] | None = None


@dataclass(frozen=True)
class ImagePrompt:
    """Token ids with images, for a vision-language judge (as vLLM's TokensPrompt with multi_modal_data).

    `prompt_token_ids` holds ONE image placeholder id per image (the model's image token:
    `tokenizer.image_token`), in the order of `images`; the engine expands each into the image's
    features. `images` are encoded image files (PNG, JPEG, ...), as `inputs.images.load_images` returns
    them: bytes travel well in Arrow, and each engine decodes them the same way (`decode_image`).
    """

    prompt_token_ids: list[int]
    images: list[bytes]


@dataclass(frozen=True)
class ChatPrompt:
    """Chat messages for an API judge, which applies its own chat template: [{"role": ..., "content": ...}, ...]."""

    messages: list[dict]


# A prompt as text, as the token ids the judge job's CPU stage already made from it (so the GPU
# actor does not tokenize again), as token ids with images, or as chat messages (API judges).
Prompt = str | list[int] | ImagePrompt | ChatPrompt


class JudgeEngine(Protocol):
    def generate(self, prompts: list[Prompt], params: GenerationParams | Sequence[GenerationParams]) -> list[Generation]:
        """One generation per prompt, in prompt order. `params`: one for all, or one per prompt (those
        differ only in `score_line`: rows of mode multi have different numbers of answers). ValueError: a prompt the engine cannot take (too
        long for its context once images are expanded, images a text model cannot read); the engine
        stays usable, and the judge actor then sends the prompts one by one."""
        ...


def cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    """Cut text at the earliest occurrence of any stop string (excluded)."""
    cut = min((i for s in stop if (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]


def decode_image(data: bytes):
    """An encoded image as the RGB PIL image both engines hand their model (its first frame, for an
    animation), so the vLLM and HF engines see the same pixels."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def image_token_id(config) -> int | None:
    """A transformers config's image placeholder id; None for a text-only model (the keys the tokenizer
    reads from config.json, `tokenizer.IMAGE_TOKEN_KEYS`)."""
    return next((value for name in IMAGE_TOKEN_KEYS if isinstance(value := getattr(config, name, None), int)), None)


def check_placeholders(prompt: ImagePrompt, image_id: int, index: int) -> None:
    """A prompt must carry one placeholder per image: the engines would fail on a mismatch with errors
    that do not say which prompt."""
    found = prompt.prompt_token_ids.count(image_id)
    if found != len(prompt.images):
        raise ValueError(
            f"prompt {index}: {found} image placeholder(s) (token id {image_id}) for {len(prompt.images)} image(s); "
            "put one placeholder id per image in prompt_token_ids"
        )
