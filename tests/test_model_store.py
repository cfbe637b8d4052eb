"""model_store's checks that need no S3 server: where each object lands, and whether a local model is there.

SeaweedFS (the tests' real S3 server) refuses keys with ".." segments (InvalidRequest on
put_object), so a traversal key cannot be planted there; AWS S3 accepts them, hence this unit
test of the path check, which `ensure_local_model` runs on the whole listing before writing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from judgelm_ray import model_store


def listing(*relatives: str) -> dict[str, dict]:
    return {rel: {"key": f"models/m1/{rel}", "size": 1, "etag": "e"} for rel in relatives}


def test_objects_land_in_the_models_folder(tmp_path):
    local = tmp_path / "judgelm" / "models" / "m1"
    targets = model_store.local_targets(local, listing("config.json", "tokenizer/vocab.json", "a//b.bin"))
    assert targets == {"config.json": local / "config.json", "tokenizer/vocab.json": local / "tokenizer" / "vocab.json",
                       "a//b.bin": local / "a" / "b.bin"}


@pytest.mark.parametrize("relative", ["../../../../escaped/PWNED.txt", "..", ".", "a/../../x", "/etc/passwd"])
def test_a_key_that_would_land_outside_the_models_folder_is_refused(tmp_path, relative):
    local = tmp_path / "m1"
    objects = listing("config.json", relative)
    with pytest.raises(ValueError) as refused:
        model_store.local_targets(local, objects)
    assert str(refused.value).startswith(f"refusing to copy s3 object {objects[relative]['key']!r}: it would be "
                                         f"written outside {local}")
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("uri", ["s3://../x", "s3://./x", "s3://bucket/../../x", "s3://bucket/a/../../x"])
def test_a_model_uri_that_climbs_out_of_the_cache_is_refused(tmp_path, monkeypatch, uri):
    monkeypatch.setenv("JUDGELM_RAY_MODEL_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ValueError, match="its copy would land outside the model cache"):
        model_store.ensure_local_model(uri)
    assert not (tmp_path / "cache").exists()


def test_require_model_accepts_a_folder_with_config_json(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    model_store.require_model(str(tmp_path))


def test_require_model_names_the_field_and_the_fix(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError) as raised:
        model_store.require_model(str(missing))
    assert str(raised.value) == f"judge.model: {missing} does not exist (give a local model folder or an s3:// URI)"

    with pytest.raises(FileNotFoundError) as raised:
        model_store.require_model(str(tmp_path), field="train.base_model")  # a folder, but no model in it
    assert str(raised.value) == (f"train.base_model: {tmp_path} is not a model folder (no config.json in it; "
                                 "give a local model folder or an s3:// URI)")

    weights = Path(tmp_path / "model.safetensors")
    weights.write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="is not a model folder"):
        model_store.require_model(str(weights))  # a file, not a folder


def test_require_model_leaves_hub_ids_to_the_hub_but_not_paths_that_look_like_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    for hub_id in ("lmsys/vicuna-7b-v1.3", "gpt2"):
        model_store.require_model(hub_id)  # no local folder of that name: a hub id, fetched where a hub is reachable
    for path in ("runs/tiny-model", "./model", "models/a/b"):
        with pytest.raises(FileNotFoundError, match="does not exist"):
            model_store.require_model(path)
