"""CPU cost per row of each judge stage, in one process, on JudgeLM-val-shaped rows.

    .venv/bin/python benchmarks/stage_cost.py [--rows 5000]

Rows: two answers of ~120 words and a reference of ~60 words, swap on (two prompts per row),
the tiny tokenizer. Stages, timed on the same batch:
- adapt: JSON lines -> canonical rows (`inputs.adapt_record` over a split's records, to a table)
- validate + prompt: `stages.prepare_rows` without its tokenizer call
- tokenize: the batched tokenizer call of `prepare_rows` (both prompts of every row), and for
  comparison transformers' tokenizer called once per prompt (what the pipeline did before)
- parse: `stages.parse_judgments` on score lines

Writes benchmarks/results/stage_cost.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
from transformers import AutoTokenizer

from judgelm_ray import inputs
from judgelm_ray.demo.tiny_model import build_tiny_model
from judgelm_ray.inputs.splits import Split, split_records
from judgelm_ray.judge import stages
from judgelm_ray.judge.schemas import REQUESTS
from judgelm_ray.spec import JudgeSpec
from judgelm_ray.tokenizer import Tokenizer

HERE = Path(__file__).resolve().parent
VOCAB = ("answer question judge model score detail accuracy relevant helpful because therefore the a of "
         "and to in is that for it with as was on").split()


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(words))


def write_input(path: Path, rows: int) -> None:
    rng = random.Random(0)
    with open(path, "w") as out:
        for i in range(rows):
            out.write(json.dumps({"id": f"q{i}", "question": text(rng, 20) + "?",
                                  "answers": [text(rng, 120), text(rng, 120)], "reference": text(rng, 60)}) + "\n")


class UntimedTokenizer:
    """Stands in for the tokenizer so that `prepare_rows` is timed without it: fixed ids, no work."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def encode(self, prompts: list[str]) -> list[list[int]]:
        self.prompts.extend(prompts)
        return [[1] * 640] * len(prompts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-stages-"))
    model = str(build_tiny_model(work / "model"))
    data = work / "val.jsonl"
    write_input(data, args.rows)
    judge = JudgeSpec(model=model, swap=True, fast=True, sampling={"max_tokens": 16})
    fs = pafs.LocalFileSystem()
    adapter = inputs.get_format("canonical", None)

    clock = time.perf_counter()
    rows = [inputs.adapt_record(item, str(data), adapter, None, "val")
            for item in split_records(fs, Split(0, str(data)))]
    table = inputs.rows_table(rows)
    adapt = time.perf_counter() - clock

    # validate + prompt: prepare_rows with a stand-in tokenizer that costs nothing.
    stand_in = UntimedTokenizer()
    real_load = stages.load_tokenizer
    stages.load_tokenizer = lambda m: (stand_in, None)
    clock = time.perf_counter()
    prepared = pa.concat_tables([stages.prepare_rows(table.slice(i, 256), judge, {}) for i in range(0, len(table), 256)])
    prepare = time.perf_counter() - clock
    stages.load_tokenizer = real_load
    prompts = stand_in.prompts

    tokens = Tokenizer(model)  # what the pipeline uses: the `tokenizers` library, batches of 512
    clock = time.perf_counter()
    token_ids = [ids for start in range(0, len(prompts), 512) for ids in tokens.encode(prompts[start:start + 512])]
    tokenize = time.perf_counter() - clock
    hf = AutoTokenizer.from_pretrained(model)  # what the pipeline did before: one prompt at a time
    clock = time.perf_counter()
    for prompt in prompts[:500]:
        hf(prompt)
    one_at_a_time = (time.perf_counter() - clock) / 500 * len(prompts)

    requests = prepared.column("requests").to_pylist()
    for row in requests:
        for request in row:
            request.update(text="8 7\nBoth answers are relevant.", completion_tokens=9)
    answered = prepared.set_column(prepared.schema.get_field_index("requests"), "requests", pa.array(requests, type=REQUESTS))
    clock = time.perf_counter()
    for start in range(0, len(answered), 256):
        stages.parse_judgments(answered.slice(start, 256), judge)
    parse = time.perf_counter() - clock

    n = len(table)
    per_row = {name: round(seconds / n * 1e6, 1) for name, seconds in
               {"adapt": adapt, "validate_and_prompt": prepare, "tokenize_batched": tokenize,
                "tokenize_one_at_a_time": one_at_a_time, "parse": parse}.items()}
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "rows": n, "prompts_per_row": 2,
        "mean_prompt_tokens": round(sum(len(t) for t in token_ids) / len(token_ids)),
        "us_per_row": per_row,
        "us_per_row_without_tokenizing": round(per_row["adapt"] + per_row["validate_and_prompt"] + per_row["parse"], 1),
    }
    out = HERE / "results" / "stage_cost.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
