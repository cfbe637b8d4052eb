import pickle
from pathlib import Path

import pytest

from judgelm_ray.spec import JobSpec, SpecError, dump_yaml, fingerprint, load_spec, resolved_dict, spec_from_dict

MINIMAL = "name: demo\ninput:\n  path: data/x.jsonl\njudge:\n  model: /models/judgelm-7b\n"


def write(tmp_path: Path, text: str, name: str = "job.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def base(**top) -> dict:
    data = {"name": "demo", "input": {"path": "data/x.jsonl"}, "judge": {"model": "/models/judgelm-7b"}}
    data.update(top)
    return data


def judge(**kw) -> dict:
    return base(judge={"model": "m", **kw})


def errors_of(data: dict) -> list[str]:
    with pytest.raises(SpecError) as exc:
        spec_from_dict(data)
    return exc.value.errors


def test_defaults_filled(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL))
    assert isinstance(spec, JobSpec)
    assert resolved_dict(spec) == {
        "name": "demo",
        "seed": 0,
        "input": {"path": "data/x.jsonl", "format": "canonical", "fields": {}, "split_mb": 64, "block_rows": 4096,
                  "models": None, "pairs": None},
        "teacher": None,
        "judge": {
            "engine": "vllm",
            "model": "/models/judgelm-7b",
            "endpoint": None,
            "mode": "pairwise",
            "template": "judgelm",
            "rubric": None,
            "reference": "auto",
            "swap": False,
            "fast": False,
            "sampling": {"temperature": 0.0, "top_p": 1.0, "max_tokens": 512, "seed": None},
            "max_model_len": None,
            "dtype": "auto",
            "tensor_parallel_size": 1,
            "pool": {
                "min_actors": 1,
                "max_actors": 1,
                "gpus_per_actor": 1.0,
                "cpus_per_actor": 1.0,
                "accelerator_type": None,
                "batch_size": 32,
                "concurrent_batches": None,
            },
            "engine_settings": {"max_num_seqs": None, "max_num_batched_tokens": None, "gpu_memory_utilization": None,
                                "enable_prefix_caching": None, "kv_cache_dtype": None, "quantization": None,
                                "engine_kwargs": {}},
            "parse": "judgelm",
            "guard": "flag",
            "logprobs": False,
            "constrain": None,
            "preserve_order": False,
        },
        "train": None,
        "evaluate": None,
        "output": "runs/demo",
    }


def test_spec_is_frozen():
    spec = spec_from_dict(base())
    with pytest.raises(Exception):
        spec.judge.swap = True


@pytest.mark.parametrize(
    "section, key",
    [
        ("input", "format"),
        ("judge", "engine"),
        ("judge", "mode"),
        ("judge", "reference"),
        ("judge", "dtype"),
        ("judge", "parse"),
        ("judge", "guard"),
    ],
)
def test_enums_reject_bad_values(section, key):
    data = base()
    data[section] = {**data[section], key: "bogus"}
    [line] = errors_of(data)
    assert line.startswith(f"{section}.{key}: Input should be ")
    assert line.endswith("(got 'bogus')")


def test_type_error_message():
    [line] = errors_of(judge(sampling={"temperature": "hot"}))
    assert line == "judge.sampling.temperature: Input should be a valid number (got 'hot')"


def test_strict_types_no_silent_coercion():
    assert errors_of(judge(tensor_parallel_size="2")) == [
        "judge.tensor_parallel_size: Input should be a valid integer (got '2')"
    ]
    assert errors_of(judge(swap="yes-please"))[0].startswith("judge.swap: Input should be a valid boolean")


@pytest.mark.parametrize(
    "data, expected",
    [
        (base(nmae="x"), "nmae: unknown key; did you mean 'name'?"),
        (base(input={"path": "p", "formt": "judgelm"}), "input.formt: unknown key; did you mean 'format'?"),
        (judge(modle="x"), "judge.modle: unknown key; did you mean 'mode'?"),
        (judge(sampling={"temprature": 0.5}), "judge.sampling.temprature: unknown key; did you mean 'temperature'?"),
        (judge(pool={"max_actor": 2}), "judge.pool.max_actor: unknown key; did you mean 'max_actors'?"),
        (
            judge(pool={"zzz": 2}),
            "judge.pool.zzz: unknown key; allowed: min_actors, max_actors, gpus_per_actor,"
            " cpus_per_actor, accelerator_type, batch_size, concurrent_batches",
        ),
    ],
)
def test_unknown_keys_with_hint(data, expected):
    assert expected in errors_of(data)


def test_input_fields():
    spec = spec_from_dict(base(input={"path": "p", "fields": {"question": "q", "answers": ["a1", "a2"]}}))
    assert spec.input.fields == {"question": "q", "answers": ["a1", "a2"]}
    [line] = errors_of(base(input={"path": "p", "fields": {"questoin": "q"}}))
    assert line == "input.fields.questoin: unknown canonical key; did you mean 'question'?"
    [line] = errors_of(base(input={"path": "p", "fields": {"xyz": "q"}}))
    assert line.startswith("input.fields.xyz: unknown canonical key; allowed: id, question, answers")
    [line] = errors_of(base(input={"path": "p", "fields": {"id": 5}}))
    assert line.startswith("input.fields.id: expected a non-empty source key")


def test_section_must_be_mapping():
    assert errors_of(base(judge="foo")) == ["judge: expected a mapping (got 'foo')"]


def test_missing_required_fields():
    lines = errors_of({"input": {}, "judge": {}})
    assert set(lines) == {"name: Field required", "input.path: Field required",
                          "judge.model: required with engine 'vllm' (the judge model's folder or name)"}


@pytest.mark.parametrize("name", ["has space", "a/b", "..", ""])
def test_bad_names_rejected(name):
    assert errors_of(base(name=name))[0].startswith("name: ")


def test_overrides(tmp_path):
    path = write(tmp_path, MINIMAL)
    spec = load_spec(
        path,
        [
            "judge.swap=true",
            "judge.pool.max_actors=4",
            "input.fields={question: q, answers: [a, b]}",
            "judge.sampling.seed=7",
            "output=s3://bucket/runs/{name}",
        ],
    )
    assert spec.judge.swap is True
    assert spec.judge.pool.max_actors == 4
    assert spec.input.fields == {"question": "q", "answers": ["a", "b"]}
    assert spec.judge.sampling.seed == 7  # intermediate `sampling` mapping created
    assert spec.output == "s3://bucket/runs/demo"


def test_unknown_override_key_rejected(tmp_path):
    with pytest.raises(SpecError) as exc:
        load_spec(write(tmp_path, MINIMAL), ["judge.pool.max_actor=4"])
    assert exc.value.errors == ["judge.pool.max_actor: unknown key; did you mean 'max_actors'?"]


@pytest.mark.parametrize("override", ["judge.swap", "=1", "judge..swap=true", "name.x=1"])
def test_bad_override_syntax(tmp_path, override):
    path = write(tmp_path, MINIMAL)
    with pytest.raises(SpecError) as exc:
        load_spec(path, [override])
    assert str(path) in str(exc.value)
    assert "override" in exc.value.errors[0]


def test_name_expansion():
    assert spec_from_dict(base()).output == "runs/demo"
    assert spec_from_dict(base(output="s3://b/{name}/x")).output == "s3://b/demo/x"
    assert spec_from_dict(base(output="/abs/out")).output == "/abs/out"


def test_guard_choices():
    assert [spec_from_dict(judge(guard=g)).judge.guard for g in ("flag", "quarantine", "off")] == [
        "flag", "quarantine", "off"]
    [line] = errors_of(judge(guard="rewrite"))
    assert line == "judge.guard: Input should be 'flag', 'quarantine' or 'off' (got 'rewrite')"


def test_swap_with_single_rejected():
    [line] = errors_of(judge(mode="single", swap=True))
    assert line.startswith("judge.swap: cannot be true with mode 'single'")
    assert spec_from_dict(judge(mode="multi", swap=True)).judge.swap is True


@pytest.mark.parametrize(
    "pool, where",
    [
        ({"min_actors": 0}, "judge.pool.min_actors"),
        ({"min_actors": 3, "max_actors": 2}, "judge.pool.max_actors"),
        ({"gpus_per_actor": -1}, "judge.pool.gpus_per_actor"),
        ({"cpus_per_actor": 0}, "judge.pool.cpus_per_actor"),
        ({"batch_size": 0}, "judge.pool.batch_size"),
        ({"batch_size": 1.5}, "judge.pool.batch_size"),
    ],
)
def test_pool_bounds(pool, where):
    assert errors_of(judge(pool=pool))[0].startswith(f"{where}: ")


def test_pool_min_max_message():
    [line] = errors_of(judge(pool={"min_actors": 3, "max_actors": 2}))
    assert line == "judge.pool.max_actors: must be >= min_actors (3), got 2"


@pytest.mark.parametrize(
    "sampling, where",
    [
        ({"temperature": -0.1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
)
def test_sampling_bounds(sampling, where):
    assert errors_of(judge(sampling=sampling))[0].startswith(f"judge.sampling.{where}: ")


def test_max_model_len_bounds():
    assert errors_of(judge(max_model_len=8))[0].startswith("judge.max_model_len: ")
    assert spec_from_dict(judge(max_model_len=4096)).judge.max_model_len == 4096


def test_tensor_parallel_vs_gpus():
    [line] = errors_of(judge(tensor_parallel_size=2, pool={"gpus_per_actor": 1}))
    assert line.startswith("judge.pool: ")
    assert "gpus_per_actor" in line and "tensor_parallel_size" in line
    assert spec_from_dict(judge(tensor_parallel_size=2, pool={"gpus_per_actor": 2})).judge.tensor_parallel_size == 2
    # CPU-only actors (gpus_per_actor: 0) are exempt.
    assert spec_from_dict(judge(tensor_parallel_size=2, pool={"gpus_per_actor": 0})).judge.pool.gpus_per_actor == 0


def test_evaluate_section_defaults_and_errors():
    assert spec_from_dict(base()).evaluate is None
    section = spec_from_dict(base(evaluate={})).evaluate
    assert (section.gold, section.gold_format, section.parse_failures, section.group_by, section.bootstrap, section.out) == (
        None, None, "tie", [], 1000, None)
    assert errors_of(base(evaluate={"parse_failure": "tie"})) == ["evaluate.parse_failure: unknown key; did you mean 'parse_failures'?"]
    assert errors_of(base(evaluate={"parse_failures": "drop"})) == [
        "evaluate.parse_failures: Input should be 'tie', 'exclude' or 'wrong' (got 'drop')"]
    assert errors_of(base(evaluate=False)) == ["evaluate: expected a mapping (got False)"]
    train_only = {"name": "t", "train": {"base_model": "m", "data": {"path": "d.jsonl"}}, "evaluate": {}}
    assert errors_of(train_only) == ["evaluate: needs a judge section (evaluation scores the judgments it writes)"]


def test_train_section_is_validated():
    # The full train schema is tested in test_train_spec.py.
    assert set(errors_of(base(train={"epochs": 1}))) == {"train.base_model: Field required", "train.data: Field required"}
    assert errors_of(base(train=False)) == ["train: expected a mapping (got False)"]


def test_fingerprint_stable_across_spelling(tmp_path):
    reordered = (
        "# comment\njudge:\n  model: /models/judgelm-7b\n  swap: false\n"
        "  sampling: {temperature: 0, max_tokens: 512}\n"
        "input:\n  format: canonical\n  path: data/x.jsonl\n"
        "output: runs/{name}\nseed: 0\ntrain: null\nname: demo\n"
    )
    a = load_spec(write(tmp_path, MINIMAL, "a.yaml"))
    b = load_spec(write(tmp_path, reordered, "b.yaml"))
    c = load_spec(write(tmp_path, MINIMAL.replace("name: demo\n", "name: demo\noutput: runs/demo\n"), "c.yaml"))
    assert fingerprint(a) == fingerprint(b) == fingerprint(c)
    assert len(fingerprint(a)) == 64


@pytest.mark.parametrize(
    "override",
    [
        "seed=1",
        "name=demo2",
        "judge.swap=true",
        "judge.sampling.temperature=0.1",
        "judge.pool.batch_size=16",
        "input.fields={question: q}",
        "output=elsewhere",
    ],
)
def test_fingerprint_changes_with_any_value(tmp_path, override):
    path = write(tmp_path, MINIMAL)
    assert fingerprint(load_spec(path, [override])) != fingerprint(load_spec(path))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("name: demo\ninput: [\n", "invalid YAML: line "),
        ("name: demo\n  bad: indent\n", "invalid YAML: line 2"),
        ("- a\n- b\n", "top level must be a mapping, got list"),
        ("", "top level must be a mapping, got NoneType"),
    ],
)
def test_yaml_errors_name_the_file(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as exc:
        load_spec(path)
    assert str(exc.value).startswith(f"{path}: {expected}")


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(SpecError) as exc:
        load_spec(path)
    assert str(exc.value) == f"{path}: file not found"


def test_validation_errors_name_the_file(tmp_path):
    path = write(tmp_path, MINIMAL + "seed: x\nnmae: y\n")
    with pytest.raises(SpecError) as exc:
        load_spec(path)
    assert len(exc.value.errors) == 2
    assert all(line.startswith(f"{path}: ") for line in str(exc.value).splitlines())


def test_spec_error_pickles():
    err = SpecError(["a: b", "c: d"], "job.yaml")
    clone = pickle.loads(pickle.dumps(err))
    assert clone.errors == err.errors and str(clone) == str(err)


def test_dump_yaml_round_trips(tmp_path):
    spec = load_spec(
        write(tmp_path, MINIMAL),
        ["judge.swap=true", "input.fields={answers: [a, b]}", "judge.pool.accelerator_type=A100", "seed=3"],
    )
    again = load_spec(write(tmp_path, dump_yaml(spec), "dumped.yaml"))
    assert again == spec
    assert fingerprint(again) == fingerprint(spec)


def test_every_spec_field_is_described_where_it_is_declared():
    from pydantic import BaseModel

    from judgelm_ray import spec as spec_module

    models = [m for m in vars(spec_module).values()
              if isinstance(m, type) and issubclass(m, BaseModel) and m.__module__ == spec_module.__name__]
    assert JobSpec in models and len(models) > 10
    undescribed = [f"{m.__name__}.{name}" for m in models for name, field in m.model_fields.items()
                   if not field.description]
    assert undescribed == []


def test_judge_families_refuse_what_they_cannot_do():
    base = {"name": "x", "input": {"path": "in.jsonl"}, "judge": {"model": "m"}}
    with pytest.raises(SpecError, match=r"judge.fast: cannot be true with template 'mtbench': its verdict comes at the end"):
        spec_from_dict({**base, "judge": {"model": "m", "template": "mtbench", "fast": True}})
    with pytest.raises(SpecError, match=r"judge.template: has no prompts for mode 'multi'; with 'prometheus' use mode"):
        spec_from_dict({**base, "judge": {"model": "m", "template": "prometheus", "mode": "multi"}})
    spec = spec_from_dict({**base, "judge": {"model": "m", "template": "prometheus", "mode": "single", "rubric": "R"}})
    assert (spec.judge.template, spec.judge.rubric) == ("prometheus", "R")


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "jobs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_spec_validates(path):
    assert load_spec(path).name == path.stem


ENDPOINT = {"base_url": "http://127.0.0.1:8000/v1", "model": "judge"}


def test_an_api_judge_needs_an_endpoint_and_no_model_or_gpu():
    spec = spec_from_dict(base(judge={"engine": "openai", "endpoint": ENDPOINT}))
    assert spec.judge.model is None and spec.judge.model_name == "judge"
    assert spec.judge.pool.gpus_per_actor == 0  # the model runs behind the API
    assert spec.judge.endpoint.api == "completions" and spec.judge.endpoint.api_key_env is None
    assert errors_of(base(judge={"engine": "openai"})) == [
        "judge.endpoint: required with engine 'openai': give base_url and model"]
    assert errors_of(base(judge={"endpoint": ENDPOINT})) == [
        "judge.model: required with engine 'vllm' (the judge model's folder or name)",
        "judge.endpoint: only for engine 'openai' (engine 'vllm' runs the model itself)"]
    assert errors_of(base(judge={"engine": "openai", "endpoint": ENDPOINT, "pool": {"gpus_per_actor": 1.0}})) == [
        "judge.pool: gpus_per_actor must be 0 with engine 'openai' (its model runs behind the API)"]
    key_in_spec = base(judge={"engine": "openai", "endpoint": {**ENDPOINT, "api_key_env": "sk-abc 123"}})
    assert errors_of(key_in_spec)[0].startswith("judge.endpoint.api_key_env: String should match pattern")


def test_chat_families_reach_an_api_through_chat_or_a_local_chat_template():
    chat = base(judge={"engine": "openai", "endpoint": {**ENDPOINT, "api": "chat"}, "template": "mtbench"})
    assert spec_from_dict(chat).judge.template == "mtbench"
    raw = base(judge={"engine": "openai", "endpoint": ENDPOINT, "template": "mtbench"})
    assert errors_of(raw) == ["judge.template: 'mtbench' writes chat messages: set judge.endpoint.api to chat, or "
                              "judge.model to a local tokenizer folder whose chat template makes the raw prompt"]
    assert spec_from_dict(base(judge={**raw["judge"], "model": "tok"})).judge.model == "tok"
    vision = base(judge={"engine": "openai", "endpoint": ENDPOINT, "template": "judgelm-mmvet", "mode": "single"})
    assert errors_of(vision) == [
        "judge.template: cannot be judgelm-mmvet with engine 'openai': it does not send images"]


def test_pairs_only_for_formats_that_pair_answer_files():
    spec = spec_from_dict(base(input={"path": "f", "format": "mtbench", "pairs": {"per_question": 2, "seed": 3}}))
    assert (spec.input.pairs.per_question, spec.input.pairs.seed) == (2, 3)
    errors = errors_of(base(input={"path": "f", "pairs": {"per_question": 2}}))
    assert errors[0].startswith("input.pairs: only for the formats that pair answer files (mtbench")


def test_a_teacher_section_alone_is_a_spec_and_its_passes_are_judgelm_pairwise():
    teacher = {"engine": "openai", "endpoint": ENDPOINT, "input": {"path": "pairs.jsonl", "format": "judgelm"}}
    spec = spec_from_dict({"name": "t", "teacher": teacher})
    plain, shown = spec.teacher.judge_spec(False), spec.teacher.judge_spec(True)
    assert (plain.mode, plain.template, plain.reference, plain.fast, plain.swap) == (
        "pairwise", "judgelm", "never", False, False)
    assert shown.reference == "always" and shown.endpoint == spec.teacher.endpoint
    assert errors_of({"name": "t"}) == ["judge: a spec needs a teacher, a train or a judge section"]


def test_engine_settings_pass_through_where_the_engine_takes_them():
    spec = spec_from_dict(judge(engine_settings={"max_num_seqs": 512, "kv_cache_dtype": "fp8", "quantization": "fp8",
                                                 "engine_kwargs": {"swap_space": 4}}))
    assert spec.judge.engine_settings.chosen() == {"max_num_seqs": 512, "kv_cache_dtype": "fp8", "quantization": "fp8",
                                                   "swap_space": 4}
    assert errors_of(judge(engine="hf", engine_settings={"kv_cache_dtype": "fp8"})) == [
        "judge.engine_settings: kv_cache_dtype is not a setting of engine 'hf' (engine 'hf' takes max_num_seqs, "
        "engine_kwargs)"]
    assert errors_of(base(judge={"engine": "openai", "endpoint": ENDPOINT, "engine_settings": {"max_num_seqs": 8}})) == [
        "judge.engine_settings: max_num_seqs is not a setting of engine 'openai' (use judge.endpoint.extra_body for "
        "request fields)"]
    assert errors_of(judge(engine_settings={"engine_kwargs": {"tensor_parallel_size": 2}})) == [
        "judge.engine_settings.engine_kwargs: 'tensor_parallel_size' has its own key: set judge.tensor_parallel_size"]
    assert errors_of(judge(engine_settings={"quantization": "int3"}))[0].startswith("judge.engine_settings.quantization")


def test_batches_in_flight_default_to_four_for_vllm_on_gpus_and_need_vllm():
    assert spec_from_dict(judge()).judge.batches_in_flight == 4
    assert spec_from_dict(judge(pool={"gpus_per_actor": 0.0})).judge.batches_in_flight == 1
    assert spec_from_dict(judge(engine="hf")).judge.batches_in_flight == 1
    assert spec_from_dict(judge(pool={"gpus_per_actor": 0.0, "concurrent_batches": 3})).judge.batches_in_flight == 3
    assert errors_of(judge(engine="hf", pool={"concurrent_batches": 2})) == [
        "judge.pool: concurrent_batches above 1 needs engine 'vllm' (its AsyncLLM takes several batches)"]


def test_logprobs_and_the_constrained_score_line_read_judgelms_first_line():
    spec = spec_from_dict(judge(logprobs=True, constrain="score_line", mode="multi"))
    assert spec.judge.logprobs and spec.judge.constrain == "score_line"
    assert errors_of(judge(logprobs=True, template="mtbench")) == [
        "judge.logprobs: needs template 'judgelm' for now (its first line holds the scores), not 'mtbench'"]
    assert errors_of(judge(constrain="score_line", template="prometheus", mode="single")) == [
        "judge.constrain: needs template 'judgelm' (its score line), not 'prometheus'"]
    assert errors_of(base(judge={"engine": "openai", "endpoint": ENDPOINT, "constrain": "score_line"})) == [
        "judge.constrain: cannot constrain an API's decoding (engine 'openai'); judge with vllm or hf"]
    # An API judge can still return logprobs.
    assert spec_from_dict(base(judge={"engine": "openai", "endpoint": ENDPOINT, "logprobs": True})).judge.logprobs
