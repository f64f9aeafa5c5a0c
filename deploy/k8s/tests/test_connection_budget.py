"""The connection budget (docs/deploy.md): every pool every pod may open, at the most pods its autoscaler or
replica count allows, live and Sandpit, and a rebuild's workers, fits PostgreSQL's `max_connections` with
room to spare. Past it PostgreSQL answers "too many clients": requests get 503 while `/readyz` stays green."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
from deploy.k8s.tests.kube import ROOT, Doc, containers, env_of, named, of_kind, render

from ingest.config import IngestSettings
from lrs_contracts.topics import PLR_EVENTS
from lrs_platform.service import service_resources

# What one pod opens at most, as its code sizes its pools (`test_the_pool_sizes_are_the_codes` reads them
# there): the pool every pod has, and the pools only a pod given their database URL opens.
POOL_OF_IMAGE = {
    "ingest": 10,  # INGEST_POOL_MAX_SIZE
    "validation": 8,  # 5 shared by its HTTP API, outbox relay and followers, 3 the decider's own (POOLS_OF_IMAGE)
    "plr-projector": 10,  # the writer, its readers and the Sandpit's
    "challenges": 5,
    "notifier": 5,
    "reporting": 5,
    "portal": 5,
}
# An image whose pods open more than one pool on their database: each pool's size, adding up to POOL_OF_IMAGE. The
# validation decider's own pool keeps a burst of registry requests from taking every connection it needs.
POOLS_OF_IMAGE = {"validation": [5, 3]}
POOL_OF_URL = {"VALIDATION_LIVE_DATABASE_URL": 2, "PORTAL_SANDPIT_DATABASE_URL": 2}
REBUILD_WORKER_POOL = 2  # `python -m plr_projector.rebuild`: each indexed Job pod, and each worker a pod forks
SUPERUSER_RESERVED = 3  # PostgreSQL's superuser_reserved_connections: CloudNativePG's own sessions
# A rollout's extra pods at full scale (maxSurge 25%: two plr-readers of 10) and operators' sessions
# (`lrs` commands, 2 each; psql).
HEADROOM = 30
BOOTSTRAPS = {
    "ingest": "services/ingest/src/ingest/bootstrap.py",
    "validation": "services/validation/src/validation/bootstrap.py",
    "plr-projector": "services/plr-projector/src/plr_projector/bootstrap.py",
    "challenges": "services/challenges/src/challenges/bootstrap.py",
    "notifier": "services/notifier/src/notifier/bootstrap.py",
    "reporting": "services/reporting/src/reporting/bootstrap.py",
    "portal": "services/portal/src/portal/bootstrap.py",
}


def _image_name(container: Doc) -> str:
    """`registry.example.invalid/lrs/ingest:1.0.0` → `ingest`."""
    return str(container["image"]).rsplit("/", 1)[-1].split(":", 1)[0]


def _pods_at_most(docs: list[Doc], workload: Doc) -> int:
    name = workload["metadata"]["name"]
    if workload["kind"] == "Job":
        return int(workload["spec"]["parallelism"])
    most = [int(workload["spec"].get("replicas", 1))]
    most += [
        int(hpa["spec"]["maxReplicas"])
        for hpa in of_kind(docs, "HorizontalPodAutoscaler")
        if hpa["spec"]["scaleTargetRef"]["name"] == name
    ]
    most += [
        int(scaler["spec"]["maxReplicaCount"])
        for scaler in of_kind(docs, "ScaledObject")
        if scaler["spec"]["scaleTargetRef"]["name"] == name
    ]
    return max(most)


def rebuild_workers_in_the_pod(container: Doc) -> int:
    """The worker processes a PLR writer forks for a rebuild in its own pod (any PROJECTOR_REBUILD_LAUNCH but
    `external`, as the Sandpit's), each opening a pool of its own; an indexed Job's workers are counted as the Job,
    and a reader starts none. Unset, PROJECTOR_REBUILD_WORKERS is the node's cores, bounded by the PLR topic's
    partitions."""
    env = env_of(container)
    if (
        _image_name(container) != "plr-projector"
        or env.get("PROJECTOR_RUN_CONSUMER") == "false"
        or env.get("PROJECTOR_REBUILD_LAUNCH") == "external"
    ):
        return 0
    return int(env.get("PROJECTOR_REBUILD_WORKERS", PLR_EVENTS.partitions))


def _pools_of_a_pod(workload: Doc) -> int:
    total = 0
    for container in containers(workload):
        env = env_of(container)
        if not any(variable.endswith("DATABASE_URL") for variable in env):
            continue
        if container.get("command", [])[-1:] == ["plr_projector.rebuild"]:
            total += REBUILD_WORKER_POOL
            continue
        pool = POOL_OF_IMAGE[_image_name(container)]
        if _image_name(container) == "ingest" and "INGEST_POOL_MAX_SIZE" in env:
            pool = int(env["INGEST_POOL_MAX_SIZE"])
        total += pool + sum(size for url, size in POOL_OF_URL.items() if url in env)
        total += rebuild_workers_in_the_pod(container) * REBUILD_WORKER_POOL
    return total


def connection_budget(docs: list[Doc]) -> dict[str, tuple[int, int]]:
    """Per workload that logs in to PostgreSQL: (pods at most, connections a pod may open)."""
    budget = {}
    for workload in of_kind(docs, "Deployment") + of_kind(docs, "Job"):
        per_pod = _pools_of_a_pod(workload)
        if per_pod:
            budget[workload["metadata"]["name"]] = (_pods_at_most(docs, workload), per_pod)
    return budget


def max_connections(docs: list[Doc]) -> int:
    return int(named(docs, "Cluster", "lrs-db")["spec"]["postgresql"]["parameters"]["max_connections"])


def _production() -> list[Doc]:
    return render("overlays/prod") + render("overlays/prod/rebuild")


def budget_problems(docs: list[Doc]) -> list[str]:
    wanted = sum(pods * per_pod for pods, per_pod in connection_budget(docs).values())
    allowed = max_connections(docs) - SUPERUSER_RESERVED - HEADROOM
    return [] if wanted <= allowed else [f"{wanted} connections at full scale, {allowed} allowed"]


def test_every_pool_at_full_scale_fits_max_connections_with_headroom() -> None:
    docs = _production()
    budget = connection_budget(docs)
    # every workload that logs in is counted, the Sandpit's and a rebuild's too
    assert {"ingest", "validation", "plr-reader", "sandpit-validation", "plr-rebuild"} <= set(budget)
    assert budget["plr-reader"] == (6, 10) and budget["sandpit-validation"] == (2, 10)
    assert budget_problems(docs) == []


def test_the_sandpits_writer_rebuilds_in_its_pod_with_one_worker_whose_pool_is_counted() -> None:
    """The Sandpit's PLR writer runs a rebuild's workers as processes of its own pod (1 CPU, 512Mi): one worker,
    not one per core of the node, and its pool counts beside the writer's. The live writer's run as the Job."""
    docs = _production()
    [writer] = containers(named(docs, "Deployment", "sandpit-plr-projector"))
    assert env_of(writer).get("PROJECTOR_REBUILD_LAUNCH", "process") == "process"
    assert env_of(writer)["PROJECTOR_REBUILD_WORKERS"] == "1"
    assert connection_budget(docs)["sandpit-plr-projector"] == (1, POOL_OF_IMAGE["plr-projector"] + REBUILD_WORKER_POOL)
    [live_writer] = containers(named(docs, "Deployment", "plr-projector"))
    assert rebuild_workers_in_the_pod(live_writer) == 0
    assert connection_budget(docs)["plr-projector"] == (1, POOL_OF_IMAGE["plr-projector"])


def test_the_budget_counts_a_rebuild_in_the_pod_at_the_partitions_when_its_workers_are_not_set() -> None:
    docs = _production()
    writer = named(docs, "Deployment", "sandpit-plr-projector")
    [container] = containers(writer)
    container["env"] = [item for item in container["env"] if item["name"] != "PROJECTOR_REBUILD_WORKERS"]
    assert _pools_of_a_pod(writer) == POOL_OF_IMAGE["plr-projector"] + PLR_EVENTS.partitions * REBUILD_WORKER_POOL
    assert budget_problems(docs) != []


def test_the_budget_check_finds_an_autoscaler_raised_past_it() -> None:
    docs = _production()
    named(docs, "HorizontalPodAutoscaler", "plr-reader")["spec"]["maxReplicas"] = 12
    assert budget_problems(docs) != []


def test_the_restored_cluster_allows_as_many_connections() -> None:
    [restored] = render("overlays/prod/restore")
    assert restored["spec"]["postgresql"]["parameters"]["max_connections"] == str(max_connections(_production()))


def _pool_sizes_in(path: Path) -> list[int]:
    """The `max_size` of each `create_pool` and the `pool_size` of each `service_resources` in a module, an
    attribute of the settings read as its default."""
    sizes = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        if node.func.id == "service_resources":
            given = {keyword.arg: keyword.value for keyword in node.keywords}.get("pool_size")
            if given is None:
                sizes.append(int(inspect.signature(service_resources).parameters["pool_size"].default))
            elif isinstance(given, ast.Constant) and isinstance(given.value, int):
                sizes.append(given.value)
            else:
                assert isinstance(given, ast.Attribute) and given.attr == "pool_max_size", ast.unparse(given)
                sizes.append(int(IngestSettings.model_fields["pool_max_size"].default))
        elif node.func.id == "create_pool":
            [size] = [keyword.value for keyword in node.keywords if keyword.arg == "max_size"]
            assert isinstance(size, ast.Constant) and isinstance(size.value, int), ast.unparse(size)
            sizes.append(size.value)
    return sizes


@pytest.mark.parametrize("image", sorted(BOOTSTRAPS))
def test_the_pool_sizes_are_the_codes(image: str) -> None:
    url_pools = {"validation": ["VALIDATION_LIVE_DATABASE_URL"], "portal": ["PORTAL_SANDPIT_DATABASE_URL"]}
    pools = POOLS_OF_IMAGE.get(image, [POOL_OF_IMAGE[image]])
    assert sum(pools) == POOL_OF_IMAGE[image]
    expected = [*pools, *(POOL_OF_URL[url] for url in url_pools.get(image, []))]
    assert sorted(_pool_sizes_in(ROOT / BOOTSTRAPS[image])) == sorted(expected)
    rebuild = ROOT / "services/plr-projector/src/plr_projector/rebuild.py"
    assert _pool_sizes_in(rebuild) == [REBUILD_WORKER_POOL]


def test_the_deploy_guide_states_the_budget_the_manifests_make() -> None:
    docs = _production()
    total = sum(pods * per_pod for pods, per_pod in connection_budget(docs).values())
    guide = (ROOT / "docs" / "deploy.md").read_text()
    section = guide[guide.index("## Connection budget") :]
    assert re.search(rf"\|\s*\*\*total\*\*.*\*\*{total}\*\*", section), f"the guide's total is not {total}"
    assert f"max_connections` is {max_connections(docs)}" in section
