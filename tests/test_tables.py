"""Every choice a user can write (spec keys, CLI options) comes from the one table that registers it."""

from __future__ import annotations

from typing import get_args

from judgelm_ray import families, inputs, modes, verdicts
from judgelm_ray.cli import build_parser
from judgelm_ray.engines import ENGINES
from judgelm_ray.evaluate import scoring
from judgelm_ray.evaluate.predictions import PREDICTION_FORMATS
from judgelm_ray.inputs import canonical
from judgelm_ray.spec import EvaluateSpec, InputSpec, JudgeSpec, TrainDataSpec
from judgelm_ray.train import augment


def literal(model, field: str) -> tuple:
    annotation = model.model_fields[field].annotation
    args = get_args(annotation)
    if type(None) in args:  # Optional[Literal[...]]
        annotation = next(a for a in args if a is not type(None))
    return get_args(annotation)


def test_formats():
    assert tuple(inputs.FORMATS) == (
        "canonical", "judgelm", "pandalm", "llmbar", "mtbench", "prometheus", "preference", "evalbiasbench", "mmvet",
        "judgelm-answers",
    )
    assert literal(InputSpec, "format") == literal(EvaluateSpec, "gold_format") == tuple(inputs.FORMATS)
    assert set(literal(TrainDataSpec, "format")) == set(augment.JUDGMENT_KEYS) <= set(inputs.FORMATS)
    assert tuple(get_args(get_args(InputSpec.model_fields["fields"].annotation)[0])) == canonical.KEYS


def test_judge_choices():
    assert literal(JudgeSpec, "engine") == tuple(ENGINES)
    assert literal(JudgeSpec, "mode") == tuple(modes.MODES)
    assert literal(JudgeSpec, "template") == tuple(families.FAMILIES) == ("judgelm", "judgelm-mmvet", "mtbench", "prometheus")
    assert literal(JudgeSpec, "reference") == modes.REFERENCE_POLICIES
    assert literal(JudgeSpec, "parse") == verdicts.POLICIES
    assert literal(EvaluateSpec, "parse_failures") == scoring.POLICIES


def test_cli_choices():
    evaluate = build_parser()._subparsers._group_actions[0].choices["evaluate"]
    options = {action.dest: action.choices for action in evaluate._actions}
    assert tuple(options["predictions_format"]) == tuple(PREDICTION_FORMATS)
    assert tuple(options["gold_format"]) == tuple(inputs.FORMATS)
    assert tuple(options["parse_failures"]) == scoring.POLICIES
