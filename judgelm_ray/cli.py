"""`judgelm-ray`: a thin command line over the modules; every verb's logic lives elsewhere."""

from __future__ import annotations

import argparse
import json
import sys

from judgelm_ray.spec import SpecError, dump_yaml, load_spec


def _add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="job spec (YAML)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a spec key, e.g. --set judge.swap=true (repeatable)",
    )


def cmd_validate(args: argparse.Namespace) -> int:
    print(dump_yaml(load_spec(args.spec, args.overrides)), end="")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from judgelm_ray.job import run_job

    results = run_job(load_spec(args.spec, args.overrides))
    for section, _, summary in results:
        print(f"== {section} ==")
        print(summary)
    return 0 if all(manifest["status"] == "succeeded" for _, manifest, _ in results) else 1


def cmd_render(args: argparse.Namespace) -> int:
    from judgelm_ray.render import render_prompts

    for row_id, order, prompt in render_prompts(load_spec(args.spec, args.overrides), args.limit):
        print(f"===== {row_id} ({order}) =====")
        print(prompt)
    return 0


def cmd_tiny_model(args: argparse.Namespace) -> int:
    from judgelm_ray.tiny import build_tiny_model

    print(build_tiny_model(args.dir, seed=args.seed))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="judgelm-ray", description="JudgeLM judges at scale on Ray")
    verbs = parser.add_subparsers(dest="verb", required=True)

    run = verbs.add_parser("run", help="run a job spec (local Ray, or the cluster in RAY_ADDRESS)")
    _add_spec_arguments(run)
    run.set_defaults(func=cmd_run)

    validate = verbs.add_parser("validate", help="print the resolved spec, or its errors")
    _add_spec_arguments(validate)
    validate.set_defaults(func=cmd_validate)

    render = verbs.add_parser("render", help="print the exact prompts the engine will get")
    _add_spec_arguments(render)
    render.add_argument("--limit", type=int, default=3, help="rows to render (default 3)")
    render.set_defaults(func=cmd_render)

    tiny = verbs.add_parser("tiny-model", help="build a small random Llama + local tokenizer (no downloads)")
    tiny.add_argument("dir")
    tiny.add_argument("--seed", type=int, default=0)
    tiny.set_defaults(func=cmd_tiny_model)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SpecError as error:
        print(str(error), file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
