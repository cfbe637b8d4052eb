"""The judge pipeline at scale, without a model: the `fixed-latency` engine stands in for the GPU.

    .venv/bin/python benchmarks/judge_scale.py [--only scale|efficiency|resume] [--sizes 100000,1000000]
        [--files 1,100]

The tiny model with compact template pieces stands in for the judge's tokenizer. Each case runs
the whole `judgelm-ray run` as a child process on its own local Ray and samples the
resident memory (RSS) of the driver and of every process under it (Ray's workers) every 0.2 s:
- scale: short rows (~40 words), as one JSONL file and as 100 files, near-zero latency, no swap:
  wall time and the peak RSS of the driver and of the largest worker.
- efficiency: 20K rows, 5 ms per prompt, 2 actors with cpus_per_actor 0.5: rows/s over the ideal
  (actors / service time), for the whole run and in the steady state (between committed files).
- resume: 200K rows, the driver (and its local Ray) killed at about half way, then run again:
  rows in the output, duplicate ids, rows judged again, and the re-run's time against a full run's.

Writes benchmarks/results/judge_scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import yaml

HERE = Path(__file__).resolve().parent
CLI = str(Path(sys.executable).parent / "judgelm-ray")
WORDS = "the judge reads every answer and scores it for help relevance accuracy and detail".split()


def write_rows(folder: Path, rows: int, files: int) -> str:
    """`rows` short canonical rows over `files` JSONL files; returns the input path."""
    folder.mkdir(parents=True, exist_ok=True)
    per_file = -(-rows // files)
    for f in range(files):
        with open(folder / f"part-{f:03d}.jsonl", "w") as out:
            for i in range(f * per_file, min(rows, (f + 1) * per_file)):
                words = [WORDS[(i + k) % len(WORDS)] for k in range(12)]
                out.write(json.dumps({
                    "id": f"r{i}", "question": " ".join(words[:8]) + "?",
                    "answers": [" ".join(words), " ".join(reversed(words))],
                }) + "\n")
    return str(folder / "part-000.jsonl") if files == 1 else str(folder)


def write_spec(work: Path, name: str, data: str, model: str, latency_ms: float, actors: int, cpus: float) -> Path:
    spec = {
        "name": name,
        "input": {"path": data},
        "judge": {
            "model": model, "engine": "fixed-latency", "engine_settings": {"engine_kwargs": {"latency_ms": latency_ms}}, "fast": True,
            "sampling": {"max_tokens": 8},
            "pool": {"min_actors": actors, "max_actors": actors, "gpus_per_actor": 0, "cpus_per_actor": cpus,
                     "batch_size": 64},
        },
        "output": str(work / "out" / name),
    }
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def run(spec: Path, kill_when=None) -> dict:
    """Run the CLI, sampling RSS; `kill_when(output)` true: SIGKILL the driver's whole process group."""
    started = time.monotonic()
    process = subprocess.Popen([CLI, "run", str(spec)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    driver = psutil.Process(process.pid)
    peak_driver, peak_worker, killed = 0, 0, False
    output = Path(yaml.safe_load(spec.read_text())["output"])
    while process.poll() is None:
        try:
            peak_driver = max(peak_driver, driver.memory_info().rss)
            for child in driver.children(recursive=True):
                try:
                    peak_worker = max(peak_worker, child.memory_info().rss)
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        if kill_when is not None and not killed and kill_when(output):
            os.killpg(process.pid, signal.SIGKILL)
            killed = True
        time.sleep(0.2)
    return {"seconds": round(time.monotonic() - started, 1), "rc": process.returncode,
            "driver_rss_gb": round(peak_driver / 2**30, 2), "largest_worker_rss_gb": round(peak_worker / 2**30, 2),
            "killed": killed}


def output_rows(output: Path) -> tuple[int, int]:
    """(rows in judgments/, distinct ids among them)."""
    ids = [i for part in sorted((output / "judgments").glob("part-*.parquet"))
           for i in pq.read_table(part, columns=["id"]).column("id").to_pylist()]
    return len(ids), len(set(ids))


def scale(work: Path, model: str, sizes: list[int], layouts: list[int], results: dict) -> dict:
    for rows in sizes:
        for files in layouts:
            name = f"scale-{rows}-{files}"
            data = write_rows(work / "data" / name, rows, files)
            result = run(write_spec(work, name, data, model, 0, 1, 1))
            result["rows"] = rows
            result["files"] = files
            results[name] = result
            print(name, result, flush=True)
    for files in (1, 100):
        small, large = results.get(f"scale-100000-{files}"), results.get(f"scale-1000000-{files}")
        if small and large:
            results[f"time_ratio_{files}_files"] = round(large["seconds"] / small["seconds"], 2)
    return results


def efficiency(work: Path, model: str) -> dict:
    rows, latency_ms, actors = 20_000, 5.0, 2
    data = write_rows(work / "data" / "efficiency", rows, 1)
    spec = write_spec(work, "efficiency", data, model, latency_ms, actors, 0.5)
    result = run(spec)
    manifest = json.loads((work / "out" / "efficiency" / "manifest.json").read_text())
    ideal = actors / (latency_ms / 1000)
    # Steady state: rows committed after the first file, over the time to the last one (the
    # whole-run figure also pays for starting the actors).
    parts = sorted((work / "out" / "efficiency" / "judgments").glob("part-*.parquet"), key=lambda p: p.stat().st_mtime)
    after_first = sum(pq.read_metadata(p).num_rows for p in parts[1:])
    steady = after_first / (parts[-1].stat().st_mtime - parts[0].stat().st_mtime)
    result.update(rows=rows, rows_per_second=round(manifest["stats"]["rows_per_second"], 1), ideal_rows_per_second=ideal,
                  efficiency=round(manifest["stats"]["rows_per_second"] / ideal, 3),
                  steady_rows_per_second=round(steady, 1), steady_efficiency=round(steady / ideal, 3),
                  judge_seconds=manifest["stats"]["judge_seconds"])
    print("efficiency", result, flush=True)
    return result


def resume(work: Path, model: str) -> dict:
    rows = 200_000
    data = write_rows(work / "data" / "resume", rows, 1)
    full = run(write_spec(work, "resume-full", data, model, 0, 1, 1))
    spec = write_spec(work, "resume", data, model, 0, 1, 1)

    def half_judged(output: Path) -> bool:
        parts = list((output / "judgments").glob("part-*.parquet"))
        return len(parts) * 1024 >= rows // 2

    killed = run(spec, kill_when=half_judged)
    before, _ = output_rows(work / "out" / "resume")
    again = run(spec)
    total, distinct = output_rows(work / "out" / "resume")
    manifest = json.loads((work / "out" / "resume" / "manifest.json").read_text())
    result = {
        "rows": rows, "full_run_seconds": full["seconds"], "killed_run": killed, "rows_kept_at_kill": before,
        "rerun": again, "rows_in_output": total, "distinct_ids": distinct,
        "rows_judged_by_rerun": manifest["counts"]["judged"] - manifest["counts"]["reused"],
        "reused": manifest["counts"]["reused"], "resumed": manifest["resumed"],
        "rerun_over_full_time": round(again["seconds"] / full["seconds"], 2),
    }
    print("resume", result, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["scale", "efficiency", "resume"])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--files", default="1,100", help="input layouts: the rows in this many files")
    args = parser.parse_args()
    from judgelm_ray.demo.tiny_model import build_tiny_model

    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    # Compact template pieces (one token each): short prompts, so that the tiny BPE tokenizer's
    # cost (~1.5 µs a token here; stage_cost.py measures it) does not drown the pipeline's own.
    model = str(build_tiny_model(work / "model", compact_template=True))
    out = HERE / "results" / "judge_scale.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    results["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB"
    if args.only in (None, "efficiency"):
        results["efficiency"] = efficiency(work, model)
    if args.only in (None, "resume"):
        results["resume"] = resume(work, model)
    if args.only in (None, "scale"):
        sizes, layouts = ([int(n) for n in arg.split(",")] for arg in (args.sizes, args.files))
        results["scale"] = scale(work, model, sizes, layouts, results.get("scale", {}))
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
