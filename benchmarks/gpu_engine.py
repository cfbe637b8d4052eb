"""The `hf` engine on one GPU: a random Vicuna-7B-shaped Llama judging JudgeLM-val-shaped prompts, fast mode.

    python benchmarks/gpu_engine.py [--rows 5000] [--out benchmarks/results/gpu_engine.json]
    python benchmarks/gpu_engine.py --cpu-check     # tiny float32 model on CPU: a smoke run of the script, no figures

Imports only torch, transformers (with its `tokenizers`) and the stdlib: `judgelm_ray/engines/hf.py` and the package
modules it imports (base, score_line, tokenizer: stdlib only) load without the package __init__ files running, so a
machine without Ray, vLLM, pyarrow or pydantic runs it.

- Model: Vicuna-7B v1.3's LlamaConfig (JudgeLM-7B's base), random weights, bfloat16, made on the GPU (no download).
  HFEngine's own __init__ runs on a folder holding the config and tokenizer, its from_pretrained handed the model
  in memory (13 GB of weights are not written and read back); its `generate` and batching run unchanged.
- Prompts: token ids (a BOS, then random ids). JudgeLM-val is not here; lengths are log-normal, median 700 tokens,
  sigma 0.4, clipped to [300, 1900], seed 0 (mean ~760, p95 ~1,350). Why: the fixed template (system line, block
  markers, instruction, "### Response:") is ~1,000 characters, ~250 Llama tokens; the val job judges with the
  reference (jobs/judgelm-val-7b.yaml), so a question (~30), a GPT-4 reference and two answers of 7B-13B chat
  models (~150-200 each) come on top; the tail is long answers, cut at 1,900 so 16 new tokens fit 2,048 positions.
  A row is one prompt: that job's swap: true sends two per pair.
- Fast mode: GenerationParams(temperature=0, max_tokens=16, stop=("\\n",)); the score line "8 9" is ~4 Llama tokens,
  but a random model seldom writes "\\n", so rows run to 16 tokens (reported). engine.generate gets 256 prompts a
  call, the val job's pool.batch_size (the judge actor hands a whole batch to one call; the engine sorts it).
- Batch size: the largest that runs the worst case (a batch of 1,900-token prompts, 16 new tokens), estimated from
  free memory and the KV cache per row, then run; a quarter off on OOM.
- FLOPs, useful work only (no padding), for a prompt of L tokens and g generated: prefill 2*P*L + 2*layers*hidden*L^2
  (causal QK^T and AV) + 2*V*hidden (one row of logits); each later token at position p: 2*P + 4*layers*hidden*p +
  2*V*hidden. P = the decoder layers' matmul weights (6.48e9). MFU = FLOPs / time / peak, for the peak measured here
  (8192^3 bf16 matmul, best of 3 x 20 after warmup) and 790 TFLOP/s. Prefill is timed by a sync around each batch's
  first forward only, so decoding runs as it would.
- Padding waste: (sum of rows x longest - real tokens) / (sum of rows x longest) over the left-padded batches the
  engine ran; for comparison, the same batch size unsorted and sorted over all rows.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import itertools
import json
import math
import os
import platform
import random
import shutil
import signal
import string
import sys
import tempfile
import time
import types
from pathlib import Path

os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")  # less fragmentation near the limit
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local; never wait on a hub
import torch  # noqa: E402
import transformers  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers  # noqa: E402
from transformers import AutoModelForCausalLM, GenerationConfig, LlamaConfig, PreTrainedTokenizerFast  # noqa: E402
from transformers.generation.stopping_criteria import StopStringCriteria  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# Stub packages: the engine modules' imports resolve in this checkout, and no package __init__ runs.
for _name in ("judgelm_ray", "judgelm_ray.engines"):
    sys.modules.setdefault(_name, types.ModuleType(_name)).__path__ = [str(REPO.joinpath(*_name.split(".")))]
GenerationParams = importlib.import_module("judgelm_ray.engines.base").GenerationParams
HFEngine = importlib.import_module("judgelm_ray.engines.hf").HFEngine

VICUNA_7B = dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                 num_key_value_heads=32, vocab_size=32000, max_position_embeddings=2048, rms_norm_eps=1e-6)
TINY = dict(VICUNA_7B, hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=2,
            num_key_value_heads=2)
LENGTHS = dict(distribution="lognormal", median=700, sigma=0.4, low=300, high=1900, seed=0)
CALL = 256  # prompts per engine.generate call
PEAK_REF = 790e12  # this H200 kind's 8192^3 bf16 matmul rate, measured before


def build_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE of Llama's size and special ids (<unk> 0, <s> 1, </s> 2), made without training: the byte
    alphabet, every pair of letters, then pairs of those. Any text encodes and every id decodes, as the stop-string
    check needs (transformers' StopStringCriteria reads the whole vocabulary)."""
    vocab = {piece: i for i, piece in enumerate(["<unk>", "<s>", "</s>", *pre_tokenizers.ByteLevel.alphabet()])}
    pairs = [(x, y) for x in string.ascii_lowercase for y in string.ascii_lowercase]
    merges = pairs + list(itertools.islice(((x + y, z + w) for x, y in pairs for z, w in pairs),
                                           vocab_size - len(vocab) - len(pairs)))
    vocab.update((x + y, len(vocab) + i) for i, (x, y) in enumerate(merges))
    tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>"))
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


class MeasuredEngine(HFEngine):
    """HFEngine that records each batch it runs (rows, longest, real tokens, times)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.batches, self._forwards = [], 0
        self.model.register_forward_pre_hook(self._before)
        self.model.register_forward_hook(self._after)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def _before(self, *_):
        if self._forwards == 0:  # the batch's prefill
            self._sync()
            self._t0 = time.perf_counter()

    def _after(self, *_):
        if self._forwards == 0:
            self._sync()
            self._prefill_s = time.perf_counter() - self._t0
        self._forwards += 1

    def _generate_batch(self, prompt_ids, *args, **kwargs):
        self._sync()
        start, self._forwards = time.perf_counter(), 0
        out = super()._generate_batch(prompt_ids, *args, **kwargs)  # ends in .tolist(): synced
        lengths = list(map(len, prompt_ids))
        self.batches.append(dict(rows=len(lengths), longest=max(lengths), real=sum(lengths), forwards=self._forwards,
                                 seconds=time.perf_counter() - start, prefill_s=self._prefill_s))
        return out

    def try_generate(self, prompts, params):
        """The generations, or None after an OOM (the failed call's batches dropped, memory given back)."""
        mark = len(self.batches)
        try:
            return self.generate(prompts, params)
        except torch.cuda.OutOfMemoryError:
            pass
        del self.batches[mark:]
        gc.collect()
        torch.cuda.empty_cache()
        return None


def load_engine(model, tokenizer, folder: str, dtype: str) -> MeasuredEngine:
    """The engine's own __init__ on `folder` (config and tokenizer written there), its from_pretrained handed the
    model in memory: 13 GB of random weights are not written to disk and read back."""
    model.config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    hf, real = sys.modules["judgelm_ray.engines.hf"], sys.modules["judgelm_ray.engines.hf"].AutoModelForCausalLM
    hf.AutoModelForCausalLM = types.SimpleNamespace(from_pretrained=lambda *_, **__: model)
    try:
        return MeasuredEngine(folder, dtype=dtype)
    finally:
        hf.AutoModelForCausalLM = real


def make_prompts(lengths: list[int], vocab: int) -> list[list[int]]:
    ids, at, out = torch.randint(3, vocab, (sum(lengths),), generator=torch.Generator().manual_seed(1)).tolist(), 0, []
    for n in lengths:
        out.append([1] + ids[at : at + n - 1])  # BOS first, as the tokenizer adds it
        at += n - 1
    return out


def padding_waste(batches) -> float:
    """batches: (rows, longest, real tokens) of each batch."""
    slots = sum(rows * longest for rows, longest, _ in batches)
    return round((slots - sum(real for *_, real in batches)) / slots, 4)


def waste_of(lengths: list[int], bs: int) -> float:
    return padding_waste([(len(b), max(b), sum(b)) for b in (lengths[i : i + bs] for i in range(0, len(lengths), bs))])


def timed(fn, sync, repeats: int) -> float:
    """Best wall time of `repeats` calls of fn."""
    best = math.inf
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_rate(n: int, device, dtype, sync) -> float:
    x, y = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    timed(lambda: x @ y, sync, 5)  # warmup
    return 2 * n**3 * 20 / timed(lambda: [x @ y for _ in range(20)], sync, 3)


def flops(cfg, matmul_params: int, lengths, generated) -> tuple[float, float]:
    d, layers, head = cfg.hidden_size, cfg.num_hidden_layers, 2 * cfg.vocab_size * cfg.hidden_size
    prefill = sum(2 * matmul_params * n + 2 * layers * d * n * n + head for n in lengths)
    decode = sum((g - 1) * (2 * matmul_params + head) + 4 * layers * d * ((g - 1) * n + (g - 1) * g / 2)
                 for n, g in zip(lengths, generated) if g > 1)
    return prefill, decode


def sig(x: float) -> float:
    return float(f"{x:.4g}")


def run(engine, prompts, params, deadline: float, cfg, matmul_params: int, peak: float) -> dict:
    """prompts through engine.generate, CALL at a time, until done or the deadline (an OOM: a quarter off the batch)."""
    first, gens, oom, start = len(engine.batches), [], 0, time.perf_counter()
    for lo in range(0, len(prompts), CALL):
        if lo and time.perf_counter() + (time.perf_counter() - start) / (lo // CALL) > deadline:
            break
        while (out := engine.try_generate(prompts[lo : lo + CALL], params)) is None:
            if engine.batch_size == 1:
                raise RuntimeError("out of memory at batch size 1")
            oom, engine.batch_size = oom + 1, max(1, engine.batch_size * 3 // 4)
        gens += out
    wall, batches = time.perf_counter() - start, engine.batches[first:]
    lengths, generated = [g.prompt_tokens for g in gens], [g.completion_tokens for g in gens]
    prefill_s = sum(b["prefill_s"] for b in batches)
    f_prefill, f_decode = flops(cfg, matmul_params, lengths, generated)
    return dict(
        rows=len(gens), batch_size_at_end=engine.batch_size, oom_retries=oom, batches=len(batches),
        wall_s=round(wall, 2), prefill_s=round(prefill_s, 2), decode_and_rest_s=round(wall - prefill_s, 2),
        rows_per_s=sig(len(gens) / wall), prompt_tokens_per_s=sig(sum(lengths) / wall),
        generated_tokens_per_s=sig(sum(generated) / wall), prefill_prompt_tokens_per_s=sig(sum(lengths) / prefill_s),
        prompt_tokens=sum(lengths), generated_tokens=sum(generated),
        rows_stopped_before_max_tokens=sum(g < params.max_tokens for g in generated),
        forwards_per_batch_max=max(b["forwards"] for b in batches),
        tflop=dict(prefill=sig(f_prefill / 1e12), decode=sig(f_decode / 1e12)),
        **{f"mfu_{name}": dict(overall=sig((f_prefill + f_decode) / wall / rate),
                               prefill=sig(f_prefill / prefill_s / rate))
           for name, rate in (("measured_peak", peak), ("790", PEAK_REF))},
        padding_waste=padding_waste([(b["rows"], b["longest"], b["real"]) for b in batches]),
        padding_waste_if=dict(unsorted=waste_of(lengths, engine.batch_size),
                              sorted_over_all_rows=waste_of(sorted(lengths), engine.batch_size)),
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, help="prompts (default 5000; 16 with --cpu-check)")
    p.add_argument("--batch-size", type=int, help="use this batch size instead of probing")
    p.add_argument("--compare-rows", type=int, help="rows also run at HFEngine's own batch size"
                   " (512; 4 with --cpu-check)")
    p.add_argument("--time-budget-s", type=float, default=480, help="start no new work after this long")
    p.add_argument("--cpu-check", action="store_true", help="tiny float32 model on CPU: a smoke run, no figures")
    p.add_argument("--out", help="results JSON (benchmarks/results/gpu_engine.json, or gpu_engine_cpu_check.json)")
    a = p.parse_args()
    launched, cpu = time.perf_counter(), a.cpu_check
    if not cpu and not torch.cuda.is_available():
        sys.exit("gpu_engine.py: no CUDA device here; run it on a GPU machine, or pass --cpu-check for a CPU smoke run")
    deadline = launched + a.time_budget_s
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))  # a timeout's SIGTERM still writes the JSON
    rows = a.rows or (16 if cpu else 5000)
    compare_rows = a.compare_rows if a.compare_rows is not None else (4 if cpu else 512)
    out = Path(a.out or REPO / "benchmarks" / "results" / f"gpu_engine{'_cpu_check' if cpu else ''}.json")
    device, dtype = (torch.device("cpu"), torch.float32) if cpu else (torch.device("cuda"), torch.bfloat16)
    sync = torch.cuda.synchronize if not cpu else (lambda: None)
    result = dict(
        what="CPU SMOKE RUN of gpu_engine.py (tiny model, float32): exercises the script's path, measures nothing"
        if cpu else "HFEngine, random Vicuna-7B-shaped Llama (bf16), JudgeLM-val-shaped prompts, fast mode",
        command="python " + " ".join(sys.argv), complete=False,
        machine=dict(device="cpu" if cpu else torch.cuda.get_device_name(), cpus=os.cpu_count(),
                     gpu_memory_gib=None if cpu else round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1),
                     torch=torch.__version__, transformers=transformers.__version__, cuda=torch.version.cuda,
                     python=platform.python_version()))
    folder = tempfile.mkdtemp(prefix="gpu-engine-")
    try:
        n = 1024 if cpu else 8192
        peak = matmul_rate(n, device, dtype, sync)
        result["peak_matmul"] = dict(n=n, dtype=str(dtype), timed="best of 3 x 20", tflop_per_s=sig(peak / 1e12))

        start = time.perf_counter()
        cfg = LlamaConfig(**(TINY if cpu else VICUNA_7B), bos_token_id=1, eos_token_id=2)
        torch.manual_seed(0)
        with torch.device(device):  # weights made where they run: seconds, not minutes
            model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
        model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=0)  # as Vicuna's
        matmul_params = sum(w.numel() for w in model.model.layers.parameters() if w.dim() == 2)
        engine = load_engine(model, build_tokenizer(cfg.vocab_size), folder, "float32" if cpu else "bfloat16")
        result["model"] = dict(config={k: getattr(cfg, k) for k in VICUNA_7B}, dtype=str(dtype),
                               parameters=sum(w.numel() for w in model.parameters()),
                               layer_matmul_parameters=matmul_params, attention=model.config._attn_implementation,
                               init_s=round(time.perf_counter() - start, 1))
        # What transformers' stop_strings paid on every model.generate call (its cache of the tables misses: the
        # vocabulary comes back in a new order each time); the engine now builds them once (`HFEngine._stop_criteria`).
        result["stop_string_setup_s"] = round(timed(lambda: StopStringCriteria(engine.tokenizer, ["\n"]), sync, 3), 3)

        params = GenerationParams(temperature=0.0, max_tokens=16, stop=("\n",))
        rng, d = random.Random(LENGTHS["seed"]), LENGTHS
        lengths = [min(d["high"], max(d["low"], round(rng.lognormvariate(math.log(d["median"]), d["sigma"]))))
                   for _ in range(rows)]
        prompts, s = make_prompts(lengths, cfg.vocab_size), sorted(lengths)
        result["prompts"] = dict(LENGTHS, rows=rows, mean=round(sum(s) / rows, 1), p5=s[rows // 20], p50=s[rows // 2],
                                 p95=s[rows * 19 // 20], max=s[-1], prompts_per_generate_call=CALL,
                                 clipped=sum(n in (d["low"], d["high"]) for n in s))
        result["params"] = dict(temperature=params.temperature, max_tokens=params.max_tokens, stop=params.stop)

        # The engine uses one batch size for every batch, so the worst case must fit. Doubles as warmup.
        if a.batch_size or cpu:
            bs = a.batch_size or 4
        else:
            per_row = 2 * cfg.num_hidden_layers * cfg.hidden_size * 2 * (d["high"] + params.max_tokens)  # KV cache
            per_row += d["high"] * (3 * cfg.intermediate_size + 6 * cfg.hidden_size) * 2  # prefill activations
            bs = max(8, min(CALL, int(0.85 * torch.cuda.mem_get_info()[0] / per_row)) // 8 * 8)
        probe = []
        while True:
            engine.batch_size, start = bs, time.perf_counter()
            fits = engine.try_generate(make_prompts([d["high"]] * bs, cfg.vocab_size), params) is not None
            probe.append(dict(batch_size=bs, fits=fits, s=round(time.perf_counter() - start, 1)))
            if fits:
                break
            if bs == 1:
                raise RuntimeError("out of memory at batch size 1")
            bs = max(1, bs * 3 // 4 // 8 * 8 or bs // 2)
        engine.batches.clear()
        result["batch_size"] = dict(used=bs, hf_engine_default=HFEngine.batch_size, probe=probe)
        if not cpu:
            torch.cuda.reset_peak_memory_stats()

        result["run"] = run(engine, prompts, params, deadline, cfg, matmul_params, peak)
        result["complete"] = result["run"]["rows"] == rows
        # The share of the run's time the stop-string setup would cost if it were paid before each batch again.
        result["run"]["stop_string_setup_share_if_per_batch"] = sig(
            result["stop_string_setup_s"] * result["run"]["batches"] / result["run"]["wall_s"])
        if not cpu:
            result["run"]["max_memory_allocated_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)

        # The engine as shipped: HFEngine.batch_size is a class attribute (16) that no spec setting changes.
        needed = 4 * result["run"]["wall_s"] / max(1, result["run"]["rows"]) * compare_rows
        if compare_rows and time.perf_counter() + needed < deadline:
            engine.batch_size = HFEngine.batch_size
            result["at_hf_engine_default_batch_size"] = run(engine, prompts[:compare_rows], params, deadline, cfg,
                                                            matmul_params, peak)
        elif compare_rows:
            result["at_hf_engine_default_batch_size"] = "skipped: not enough of --time-budget-s left"
    except BaseException as error:  # one call on a lent machine: keep what was measured
        result["error"] = f"{type(error).__name__}: {error}"
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        result["total_s"] = round(time.perf_counter() - launched, 1)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
