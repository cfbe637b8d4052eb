"""Judge throughput of the two engines on the same job: the PandaLM test set (999 pairs, both orders,
fast mode) judged by the tiny model through the whole pipeline on a local Ray.

    .venv/bin/python benchmarks/judge_throughput.py [--data ../shared/data/pandalm/testset-v1.json]

Writes benchmarks/results/judge_throughput.json and prints a table. Times include the actor's
engine start-up, as a real run's do; compare engines within one run of this script.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

import ray

from judgelm_ray.demo.tiny_model import build_tiny_model
from judgelm_ray.judge import run_judge
from judgelm_ray.spec import spec_from_dict

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data" / "pandalm" / "testset-v1.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    model = str(build_tiny_model(work / "model"))
    ray.init(include_dashboard=False, log_to_driver=False)
    # The data set by name, not where it sat on the machine that ran it.
    data_name = "/".join(Path(args.data).parts[-2:])
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "data": data_name, "engines": {}}
    for engine in ("vllm", "hf"):
        spec = spec_from_dict({
            "name": f"bench-{engine}",
            "input": {"path": args.data, "format": "pandalm"},
            "judge": {"model": model, "engine": engine, "swap": True, "fast": True, "sampling": {"max_tokens": 16},
                      "pool": {"gpus_per_actor": 0, "cpus_per_actor": 1, "batch_size": 64}},
            "output": str(work / engine),
        })
        manifest = run_judge(spec)
        stats = manifest["stats"]
        results["engines"][engine] = {
            "rows": manifest["counts"]["judged"],
            "judge_seconds": stats["judge_seconds"],
            "rows_per_second": round(stats["rows_per_second"], 2),
            "tokens_per_second": round(stats["tokens_per_second"], 1),
            "generated_tokens_per_second": round(stats["generated_tokens_per_second"], 1),
        }
    vllm, hf = results["engines"]["vllm"], results["engines"]["hf"]
    results["vllm_over_hf_rows_per_second"] = round(vllm["rows_per_second"] / hf["rows_per_second"], 2)
    out = HERE / "results" / "judge_throughput.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    for engine, row in results["engines"].items():
        print(f"{engine:5} {row['rows']} rows in {row['judge_seconds']:.1f} s: {row['rows_per_second']} rows/s, "
              f"{row['tokens_per_second']} tokens/s")
    print(f"vLLM / HF rows/s: {results['vllm_over_hf_rows_per_second']}x  ->  {out}")


if __name__ == "__main__":
    main()
