"""A PLR rebuild's worker keeps its later passes' records on local disk (`PROJECTOR_REBUILD_SPILL_DIR`, ~1 KB an
event of its slice past the first pass). Wherever one runs, the spill has a volume of its own with a bound, and the
pod requests that disk, so that the scheduler puts no more spill on a node than it holds: an emptyDir counts
against the node's ephemeral storage, and a node short of it evicts pods, the LRS's among them."""

from __future__ import annotations

import re

import pytest
from deploy.k8s.tests.kube import Doc, containers, env_of, named, render

REBUILDS = ("overlays/dev", "overlays/prod", "overlays/dev/rebuild", "overlays/prod/rebuild")
UNITS = {"": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def quantity(text: str) -> int:
    """A Kubernetes quantity of bytes ("256Mi", "33Gi")."""
    match = re.fullmatch(r"(\d+)([KMGT]i|[kMGT])?", str(text))
    assert match is not None, text
    return int(match.group(1)) * UNITS[match.group(2) or ""]


def _pod(doc: Doc) -> Doc:
    template = doc["spec"]["jobTemplate"]["spec"]["template"] if doc["kind"] == "CronJob" else doc["spec"]["template"]
    pod: Doc = template["spec"]
    return pod


def _containers(doc: Doc) -> list[Doc]:
    pod = _pod(doc)
    return [*pod.get("initContainers", []), *pod["containers"]]


def _workloads(docs: list[Doc]) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] in ("Deployment", "Job", "CronJob")]


def rebuilds_here(container: Doc) -> bool:
    """Whether a rebuild's worker runs in this container: the Job's, or a projector that starts its own."""
    env = env_of(container)
    if container.get("command", [])[-1:] == ["plr_projector.rebuild"]:
        return True
    consumes = env.get("PROJECTOR_RUN_CONSUMER", "true") == "true"
    return "plr-projector" in container["image"] and consumes and env.get("PROJECTOR_REBUILD_LAUNCH") != "external"


def spill_problems(docs: list[Doc]) -> list[str]:
    problems = []
    for doc in _workloads(docs):
        pod = _pod(doc)
        volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
        for container in _containers(doc):
            if not rebuilds_here(container):
                continue
            name = f"{doc['metadata']['name']}/{container['name']}"
            spill_dir = env_of(container).get("PROJECTOR_REBUILD_SPILL_DIR")
            mounts = {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts", [])}
            if spill_dir is None or spill_dir == "/tmp" or spill_dir not in mounts:
                problems.append(f"{name}: spills to {spill_dir or 'the temporary directory'}, no volume of its own")
                continue
            limit = volumes[mounts[spill_dir]].get("emptyDir", {}).get("sizeLimit")
            if limit is None:
                problems.append(f"{name}: {spill_dir} is no emptyDir with a sizeLimit")
                continue
            requested = container["resources"].get("requests", {}).get("ephemeral-storage")
            if requested is None or quantity(requested) < quantity(limit):
                problems.append(f"{name}: requests {requested} of ephemeral storage for a spill of {limit}")
    return problems


@pytest.mark.parametrize("kustomization", REBUILDS)
def test_every_rebuild_worker_spills_to_a_bounded_volume_its_pod_requests(kustomization: str) -> None:
    docs = render(kustomization)
    assert spill_problems(docs) == []
    workers = {doc["metadata"]["name"] for doc in _workloads(docs) if any(map(rebuilds_here, _containers(doc)))}
    # not a check that passes for want of workers: the Job's, and the Sandpit's writer, which rebuilds in its pod
    assert workers == ({"plr-rebuild"} if kustomization.endswith("rebuild") else {"sandpit-plr-projector"})


def test_the_spill_check_finds_a_worker_on_tmp_and_a_job_that_requests_no_disk() -> None:
    sandpit = render("overlays/prod")
    [writer] = containers(named(sandpit, "Deployment", "sandpit-plr-projector"))
    writer["env"] = [item for item in writer["env"] if item["name"] != "PROJECTOR_REBUILD_SPILL_DIR"]
    job = render("overlays/prod/rebuild")
    [worker] = containers(named(job, "Job", "plr-rebuild"))
    del worker["resources"]["requests"]["ephemeral-storage"]

    assert spill_problems(sandpit + job) == [
        "sandpit-plr-projector/plr-projector: spills to the temporary directory, no volume of its own",
        "plr-rebuild/worker: requests None of ephemeral storage for a spill of 32Gi",
    ]
