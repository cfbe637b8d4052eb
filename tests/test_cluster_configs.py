"""Offline checks of the cluster configs in cluster/: schemas, Ray's own config preparation, and the
properties admins and users rely on (no cloud, no Kubernetes: nothing here talks to a network)."""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path

import jsonschema
import pytest
import ray.autoscaler
import yaml

from judgelm_ray import cli
from judgelm_ray.spec import load_spec
from support import REPO

CLUSTER = REPO / "cluster"
LAUNCHER_YAML = CLUSTER / "aws" / "judgelm-a100.yaml"
RAYCLUSTER_YAML = CLUSTER / "kuberay" / "raycluster.yaml"
RAYJOB_YAML = CLUSTER / "kuberay" / "rayjob-judge.yaml"
DOCKERFILE = CLUSTER / "image" / "Dockerfile"
KUBERAY_SCHEMAS = REPO.parent / "shared" / "schemas" / "kuberay"

PINNED_INSTALL = '"judgelm-ray[gpu]==0.1.0"'
RAY_GPU_IMAGE = "rayproject/ray:2.60.0-py311-gpu"
A100_WORKER_RESOURCES = {"CPU": 96, "GPU": 8, "accelerator_type:A100": 1}


def _project_version() -> str:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    return re.search(r'^version = "([^"]+)"', text, re.M).group(1)


# --------------------------------------------------------------------------- AWS cluster launcher


@pytest.fixture(scope="module")
def launcher() -> dict:
    return yaml.safe_load(LAUNCHER_YAML.read_text(encoding="utf-8"))


def _gpu_types(config: dict) -> dict:
    return {k: v for k, v in config["available_node_types"].items() if k != config["head_node_type"]}


def test_launcher_matches_ray_schema(launcher):
    schema_path = Path(ray.autoscaler.__file__).parent / "ray-schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    jsonschema.validate(launcher, schema)


def test_launcher_survives_rays_offline_config_preparation(launcher):
    # What `ray up` does before it contacts AWS: merge aws/defaults.yaml, merge setup commands, check
    # docker, fill per-type worker bounds, then validate the merged config. The next steps of `ray up`
    # (EC2 instance-type look-ups, IAM/key pair/subnet/security-group bootstrap) need AWS and are
    # not run here; the declared resources make the look-up's result irrelevant for scheduling.
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(launcher))
    validate_config(prepared)
    assert prepared["provider"]["type"] == "aws"
    assert prepared["available_node_types"][prepared["head_node_type"]]["max_workers"] == 0
    for commands in ("head_setup_commands", "worker_setup_commands"):
        assert any(PINNED_INSTALL in c for c in prepared[commands]), f"{commands} must install {PINNED_INSTALL}"


def test_launcher_head_takes_no_judge_work(launcher):
    head = launcher["available_node_types"][launcher["head_node_type"]]
    # CPU 0 keeps Ray Data tasks and judge actors off the head; GPU 0 since it has none.
    assert head["resources"] == {"CPU": 0, "GPU": 0}
    assert head.get("max_workers", 0) == 0
    assert not head["node_config"]["InstanceType"].startswith(("p", "g"))  # a CPU instance


def test_launcher_a100_worker_types(launcher):
    types = _gpu_types(launcher)
    on_demand = [t for t in types.values() if "InstanceMarketOptions" not in t["node_config"]]
    spot = [t for t in types.values() if t["node_config"].get("InstanceMarketOptions", {}).get("MarketType") == "spot"]
    assert len(on_demand) == 1 and len(spot) == 1, "one on-demand and one (optional) spot A100 type"
    for node_type in types.values():
        assert node_type["node_config"]["InstanceType"] == "p4d.24xlarge"
        # Exactly what p4d.24xlarge has, under the names Ray schedules on; `accelerator_type:A100`
        # is the resource Ray maps a pool's accelerator_type="A100" to.
        assert node_type["resources"] == A100_WORKER_RESOURCES
        assert 0 <= node_type["min_workers"] <= node_type["max_workers"]
    assert on_demand[0]["max_workers"] >= 1, "the on-demand type must be able to scale up"
    assert spot[0]["min_workers"] == 0, "spot is optional: it never holds nodes by itself"
    assert sum(t["min_workers"] for t in types.values()) <= launcher["max_workers"]
    assert sum(t["max_workers"] for t in types.values()) <= launcher["max_workers"]


def test_launcher_dashboard_is_not_public(launcher):
    # No extra ingress rule at all: Ray's default security group opens only SSH and intra-cluster.
    rules = launcher["provider"].get("security_group", {}).get("IpPermissions", [])
    for rule in rules:
        public = any(r.get("CidrIp") == "0.0.0.0/0" for r in rule.get("IpRanges", [])) or any(
            r.get("CidrIpv6") == "::/0" for r in rule.get("Ipv6Ranges", [])
        )
        low, high = rule.get("FromPort", 0), rule.get("ToPort", 65535)
        assert not (public and (low <= 8265 <= high or rule.get("IpProtocol") == "-1")), rule
    start = " ".join(launcher["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in start
    assert "0.0.0.0" not in start


def test_launcher_runs_pinned_ray_and_judgelm(launcher):
    assert launcher["docker"]["image"] == RAY_GPU_IMAGE
    assert any(PINNED_INSTALL in c for c in launcher["setup_commands"])
    assert f"=={_project_version()}" in PINNED_INSTALL, "pinned install must match pyproject's version"


def test_launcher_enables_token_auth_everywhere(launcher):
    options = " ".join(launcher["docker"]["run_options"])
    assert "RAY_AUTH_MODE=token" in options
    token_path = re.search(r"RAY_AUTH_TOKEN_PATH=(\S+)", options).group(1)
    # The token file from the laptop (`ray get-auth-token --generate`) lands where Ray reads it.
    mounted = {dst.replace("~", "/home/ray", 1): src for dst, src in launcher["file_mounts"].items()}
    assert mounted[token_path] == "~/.ray/auth_token"


def test_launcher_fits_the_example_7b_job(launcher):
    spec = load_spec(REPO / "jobs" / "judgelm-val-7b.yaml")
    pool = spec.judge.pool
    worker = _gpu_types(launcher)
    assert f"accelerator_type:{pool.accelerator_type}" in next(iter(worker.values()))["resources"]
    gpus = sum(t["max_workers"] * t["resources"]["GPU"] for t in worker.values())
    assert pool.max_actors * pool.gpus_per_actor <= gpus
    actors_per_node = A100_WORKER_RESOURCES["GPU"] // pool.gpus_per_actor
    assert actors_per_node * pool.cpus_per_actor <= A100_WORKER_RESOURCES["CPU"]


# --------------------------------------------------------------------------- KubeRay


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def _crd_schema(name: str) -> dict:
    path = KUBERAY_SCHEMAS / name
    if not path.is_file():
        pytest.skip(f"KubeRay CRD schema not found at {path} (a user's clone has no ../shared/schemas)")
    return _load_crd_schema(path)


@functools.cache
def _load_crd_schema(path: Path) -> dict:
    # The CRDs are ~20k lines each: parse once, with libyaml when present (the pure-Python parser takes seconds).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crd = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


def _unknown_fields(value, schema: dict, path: str = "") -> list[str]:
    """Keys the schema does not declare. The API server prunes them silently (a typo such as
    `minReplica` would just vanish), and plain JSON Schema allows them, so look for them here."""
    if isinstance(value, dict) and "properties" in schema:
        if schema.get("x-kubernetes-preserve-unknown-fields") or schema.get("additionalProperties"):
            return []
        found = []
        for key, item in value.items():
            if key not in schema["properties"]:
                found.append(f"{path}.{key}")
            else:
                found += _unknown_fields(item, schema["properties"][key], f"{path}.{key}")
        return found
    if isinstance(value, list) and "items" in schema:
        return [f for i, item in enumerate(value) for f in _unknown_fields(item, schema["items"], f"{path}[{i}]")]
    return []


def _validate_k8s(doc: dict, schema: dict) -> None:
    # The CRD schemas describe spec/status; apiVersion, kind and metadata are checked here.
    assert doc["apiVersion"] == "ray.io/v1"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])
    jsonschema.Draft7Validator(schema).validate(doc)
    assert _unknown_fields(doc["spec"], schema["properties"]["spec"], "spec") == []


def test_unknown_field_check_catches_typos():
    schema = _crd_schema("ray.io_rayclusters.yaml")
    doc = yaml.safe_load(RAYCLUSTER_YAML.read_text(encoding="utf-8"))
    doc["spec"]["workerGroupSpecs"][0]["minReplica"] = 1
    assert _unknown_fields(doc["spec"], schema["properties"]["spec"], "spec") == ["spec.workerGroupSpecs[0].minReplica"]


def _one(docs: list[dict], kind: str) -> dict:
    (doc,) = [d for d in docs if d.get("kind") == kind]
    return doc


@pytest.fixture(scope="module")
def raycluster() -> dict:
    return _one(_docs(RAYCLUSTER_YAML), "RayCluster")


@pytest.fixture(scope="module")
def rayjob_docs() -> list[dict]:
    return _docs(RAYJOB_YAML)


def _cluster_specs(raycluster: dict, rayjob_docs: list[dict]) -> list[tuple[str, dict]]:
    return [("RayCluster", raycluster["spec"]), ("RayJob", _one(rayjob_docs, "RayJob")["spec"]["rayClusterSpec"])]


def test_kuberay_manifests_have_only_known_kinds(rayjob_docs):
    assert [d["kind"] for d in _docs(RAYCLUSTER_YAML)] == ["RayCluster"]
    assert sorted(d["kind"] for d in rayjob_docs) == ["ConfigMap", "RayJob"]


def test_raycluster_matches_crd(raycluster):
    _validate_k8s(raycluster, _crd_schema("ray.io_rayclusters.yaml"))


def test_rayjob_matches_crd(rayjob_docs):
    _validate_k8s(_one(rayjob_docs, "RayJob"), _crd_schema("ray.io_rayjobs.yaml"))


def test_rayjob_configmap_is_a_valid_configmap(rayjob_docs):
    configmap = _one(rayjob_docs, "ConfigMap")
    assert configmap["apiVersion"] == "v1"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", configmap["metadata"]["name"])
    assert configmap["data"] and all(isinstance(v, str) for v in configmap["data"].values())
    assert all(re.fullmatch(r"[-._a-zA-Z0-9]+", k) for k in configmap["data"])


@pytest.mark.parametrize("which", ["RayCluster", "RayJob"])
def test_kuberay_autoscaling_and_a100_group(raycluster, rayjob_docs, which):
    spec = dict(_cluster_specs(raycluster, rayjob_docs))[which]
    assert spec["enableInTreeAutoscaling"] is True
    assert spec["rayVersion"].startswith("2.60.")
    assert spec["authOptions"]["mode"] == "token"

    head = spec["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0", "no tasks or actors on the head"
    assert head["rayStartParams"].get("num-gpus", "0") == "0"
    assert "nvidia.com/gpu" not in json.dumps(head["template"])
    assert head.get("serviceType", "ClusterIP") == "ClusterIP", "the dashboard is not exposed outside the cluster"

    (group,) = spec["workerGroupSpecs"]
    assert 0 <= group["minReplicas"] <= group.get("replicas", group["minReplicas"]) <= group["maxReplicas"]
    assert group["maxReplicas"] >= 1
    pod = group["template"]["spec"]
    (container,) = pod["containers"]
    limits = container["resources"]["limits"]
    # The pod's GPU limit and what Ray advertises must agree, or actors wait for GPUs that are not there.
    assert int(limits["nvidia.com/gpu"]) == int(group["rayStartParams"]["num-gpus"]) >= 1
    assert container["resources"]["requests"]["nvidia.com/gpu"] == limits["nvidia.com/gpu"]
    assert any("A100" in value for value in pod["nodeSelector"].values())
    custom = json.loads(group["rayStartParams"]["resources"][1:-1].replace("\\", ""))
    assert custom == {"accelerator_type:A100": 1}
    for c in [head["template"]["spec"]["containers"][0], container]:
        assert c["image"].endswith(":0.1.0-gpu"), "pods run the judgelm-ray 0.1.0 GPU image"


@pytest.mark.parametrize("which", ["RayCluster", "RayJob"])
def test_kuberay_autoscaler_reads_the_groups(raycluster, rayjob_docs, which):
    # The autoscaler inside the head derives its config from the RayCluster this way (offline code).
    from ray.autoscaler._private.kuberay.autoscaling_config import _derive_autoscaling_config_from_ray_cr

    spec = dict(_cluster_specs(raycluster, rayjob_docs))[which]
    config = _derive_autoscaling_config_from_ray_cr({"metadata": {"name": "judgelm", "namespace": "default"}, "spec": spec})
    head = config["available_node_types"][config["head_node_type"]]
    assert head["resources"]["CPU"] == 0 and head["resources"].get("GPU", 0) == 0
    a100 = config["available_node_types"]["a100"]
    assert a100["resources"]["GPU"] == 8 and a100["resources"]["accelerator_type:A100"] == 1
    assert a100["max_workers"] == spec["workerGroupSpecs"][0]["maxReplicas"]


def test_image_pins_ray_and_judgelm():
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert f"FROM {RAY_GPU_IMAGE}" in text
    assert PINNED_INSTALL in text


def test_rayjob_runs_the_mounted_spec_and_cleans_up(rayjob_docs):
    job = _one(rayjob_docs, "RayJob")["spec"]
    assert job["shutdownAfterJobFinishes"] is True
    assert job["ttlSecondsAfterFinished"] >= 0
    entry = job["entrypoint"].split()
    assert entry[:2] == ["judgelm-ray", "run"]
    spec_path = Path(entry[2])

    # The spec file comes from the ConfigMap, mounted on the head pod, where the entrypoint runs.
    head = job["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    mounts = {m["name"]: m["mountPath"] for m in head["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in head["volumes"]}
    (volume,) = [name for name, path in mounts.items() if Path(path) == spec_path.parent]
    configmap = _one(rayjob_docs, "ConfigMap")
    assert volumes[volume]["configMap"]["name"] == configmap["metadata"]["name"]
    assert spec_path.name in configmap["data"]


def test_rayjob_spec_validates_and_fits_the_cluster(rayjob_docs, tmp_path, capsys):
    configmap = _one(rayjob_docs, "ConfigMap")
    (key,) = configmap["data"]
    path = tmp_path / key
    path.write_text(configmap["data"][key], encoding="utf-8")

    assert cli.main(["validate", str(path)]) == 0, capsys.readouterr().err
    spec = load_spec(path)
    pool = spec.judge.pool
    (group,) = _one(rayjob_docs, "RayJob")["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    gpus_per_pod = int(group["rayStartParams"]["num-gpus"])
    cpus_per_pod = int(group["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"])
    assert pool.accelerator_type == "A100" and pool.gpus_per_actor >= 1
    assert pool.gpus_per_actor <= gpus_per_pod, "an actor's GPUs must fit in one pod"
    assert pool.max_actors * pool.gpus_per_actor <= group["maxReplicas"] * gpus_per_pod
    assert (gpus_per_pod // pool.gpus_per_actor) * pool.cpus_per_actor <= cpus_per_pod
