"""The container image's Dockerfile and the Kubernetes files, checked without a container engine or a
cluster: the Dockerfile parsed (each COPY source in the build context), the manifests validated
against Kubernetes' own schema (kubernetes-validate, offline), the Helm values parsed for the
community chart's keys (its schema is not published: YAML and required fields only)."""

from __future__ import annotations

from locust import argument_parser

import fnmatch
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from .conftest import ROOT

KUBERNETES_VERSION = "1.33.0"
MANIFESTS = ROOT / "deploy" / "kubernetes" / "wslocust.yaml"


def _dockerfile() -> list[dict[str, Any]]:
    return list(DockerfileParser(path=str(ROOT / "Dockerfile")).structure)


def _ignored(path: str) -> bool:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    return any(
        fnmatch.fnmatch(path, pattern) for pattern in patterns if pattern and not pattern.startswith("#")
    )


def test_every_copy_source_of_the_dockerfile_is_in_the_build_context() -> None:
    copies = [i["value"].split() for i in _dockerfile() if i["instruction"] == "COPY"]
    sources = [
        source for words in copies if not any(word.startswith("--from") for word in words)
        for source in [word for word in words if not word.startswith("--")][:-1]
    ]  # fmt: skip
    assert {"wslocust", "locustfiles", "datasets", "pyproject.toml"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not _ignored(source), f"{source} is left out of the build context by .dockerignore"


def test_the_image_runs_wslocust_as_a_user_with_the_shipped_locustfile_able_to_find_its_prompts() -> None:
    instructions = _dockerfile()
    final = instructions[max(i for i, step in enumerate(instructions) if step["instruction"] == "FROM") :]
    values = {step["instruction"]: step["value"] for step in final}
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert values["ENTRYPOINT"] == '["wslocust"]'
    assert "wslocust" in scripts
    assert set(values["EXPOSE"].split()) == {"8089", "5557"}  # the web UI, the workers' port
    assert values["USER"] not in ("root", "0")
    workdir = values["WORKDIR"]
    copied = {step["value"].split()[-1].removeprefix("./") for step in final if step["instruction"] == "COPY"}
    prompts = Path(
        "datasets/support_bot.jsonl"
    )  # locustfiles/chatbot.py's, relative to the working directory
    assert f'prompts = "{prompts}"' in (ROOT / "locustfiles" / "chatbot.py").read_text()
    assert prompts.parts[0] in copied
    assert workdir.startswith("/")


def _manifests() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(MANIFESTS.read_text()))


@pytest.mark.parametrize("index", range(4))
def test_each_kubernetes_manifest_passes_the_kubernetes_schema_strictly(index: int) -> None:
    kubernetes_validate.validate(_manifests()[index], KUBERNETES_VERSION, strict=True)


def test_the_schema_check_refuses_a_misspelt_field() -> None:
    worker = _manifests()[3]
    worker["spec"]["template"]["spec"]["containers"][0]["argz"] = []
    with pytest.raises(kubernetes_validate.ValidationError, match="argz"):
        kubernetes_validate.validate(worker, KUBERNETES_VERSION, strict=True)


def _container_args(manifests: list[dict[str, Any]], name: str) -> list[str]:
    [deployment] = [m for m in manifests if m["kind"] == "Deployment" and m["metadata"]["name"] == name]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return list(container["args"])


def test_one_master_and_workers_that_reach_it_through_its_service() -> None:
    manifests = _manifests()
    kinds = [m["kind"] for m in manifests]
    assert kinds == ["ConfigMap", "Service", "Deployment", "Deployment"]
    service = manifests[1]
    master = next(
        m for m in manifests if m["metadata"]["name"] == "wslocust-master" and m["kind"] == "Deployment"
    )
    assert master["spec"]["replicas"] == 1
    assert service["spec"]["selector"] == master["spec"]["template"]["metadata"]["labels"]
    assert {port["port"] for port in service["spec"]["ports"]} == {5557, 8089}
    master_args = _container_args(manifests, "wslocust-master")
    worker_args = _container_args(manifests, "wslocust-worker")
    assert "--master" in master_args
    assert "--worker" in worker_args
    assert f"--master-host={service['metadata']['name']}" in worker_args
    parser = argument_parser.get_parser()
    for args in (master_args, worker_args):  # every option is one wslocust's Locust takes
        parser.parse_args(args)


def test_the_configmaps_locustfile_is_the_shipped_one() -> None:
    config_map = _manifests()[0]
    assert config_map["data"]["locustfile.py"] == (ROOT / "locustfiles" / "chatbot.py").read_text()
    assert any(
        arg == "--locustfile=/mnt/locustfile/locustfile.py"
        for arg in _container_args(_manifests(), "wslocust-worker")
    )


def test_the_helm_values_set_the_community_charts_keys_for_the_wslocust_image() -> None:
    values = yaml.safe_load((ROOT / "deploy" / "helm" / "values.yaml").read_text())
    assert values["image"]["repository"] == "wslocust"
    assert values["loadtest"]["locust_locustfile_configmap"]
    assert values["loadtest"]["locust_host"].startswith(("ws://", "wss://"))
    assert values["loadtest"]["locustCmd"] == "/usr/local/bin/locust"  # pip's script in python:*-slim
    assert isinstance(values["worker"]["replicas"], int)
    assert values["worker"]["replicas"] >= 1
    assert values["worker"]["resources"]["limits"]["cpu"] == "1"  # one worker process: one core
