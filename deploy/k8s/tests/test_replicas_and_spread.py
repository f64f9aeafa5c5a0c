"""Who owns a Deployment's pod count, and where its pods go.

An autoscaler (HPA, or KEDA's ScaledObject) owns the count of the Deployment it scales: a manifest that names
`spec.replicas` beside it sets the count back to that number at every `kubectl apply` (each release), under load or
in the middle of the Sandpit's work, until the autoscaler looks again. Kubernetes' own advice is to leave the field
out (docs/deploy.md says how to apply the first release without it).

Two or more pods of one service are meant for different nodes: the spread constraint must count that service's pods
per node, not every LRS pod together (with which both pods of a service may share one node)."""

from __future__ import annotations

from typing import Any

import pytest
from deploy.k8s.tests.kube import KUSTOMIZATIONS, Doc, named, of_kind, render

AUTOSCALERS = ("HorizontalPodAutoscaler", "ScaledObject")
HOSTNAME = "kubernetes.io/hostname"


def autoscaled(docs: list[Doc]) -> set[str]:
    """The Deployments an HPA or a ScaledObject scales (a ScaledObject's target is a Deployment unless it says)."""
    return {
        doc["spec"]["scaleTargetRef"]["name"]
        for kind in AUTOSCALERS
        for doc in of_kind(docs, kind)
        if doc["spec"]["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
    }


def replica_problems(docs: list[Doc]) -> list[str]:
    deployments = {doc["metadata"]["name"]: doc for doc in of_kind(docs, "Deployment")}
    problems = [f"{name}: scaled, but no such Deployment" for name in sorted(autoscaled(docs) - set(deployments))]
    problems += [
        f"{name}: replicas {deployments[name]['spec']['replicas']} beside its autoscaler"
        for name in sorted(autoscaled(docs) & set(deployments))
        if "replicas" in deployments[name]["spec"]
    ]
    return problems


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_no_autoscaled_deployment_sets_its_replicas(kustomization: str) -> None:
    assert replica_problems(render(kustomization)) == []


@pytest.mark.parametrize("kustomization", ["base", "overlays/dev", "overlays/prod"])
def test_every_autoscaler_is_checked(kustomization: str) -> None:
    """Not a check that passes for want of targets: the live and Sandpit services that scale are all found."""
    assert autoscaled(render(kustomization)) == {
        "ingest",
        "validation",
        "plr-reader",
        "sandpit-validation",
        "sandpit-plr-projector",
        "sandpit-notifier",
    }


@pytest.mark.parametrize(
    ("kind", "name", "count"),
    [("HorizontalPodAutoscaler", "plr-reader", 2), ("ScaledObject", "sandpit-validation", 0)],
)
def test_the_replicas_check_finds_a_count_beside_an_autoscaler(kind: str, name: str, count: int) -> None:
    docs = render("overlays/prod")
    named(docs, "Deployment", name)["spec"]["replicas"] = count
    assert replica_problems(docs) == [f"{name}: replicas {count} beside its autoscaler"]


# --- spread ------------------------------------------------------------------------------------


def _pod_labels(deployment: Doc) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def _counted(constraint: Doc, labels: dict[str, str]) -> dict[str, Any]:
    """The selector a constraint counts pods with for a pod of `labels`: its labelSelector, and each of its
    matchLabelKeys with the pod's own value (as the scheduler merges them)."""
    selector = constraint.get("labelSelector", {})
    assert not selector.get("matchExpressions"), "only matchLabels are read here"
    own = {key: labels[key] for key in constraint.get("matchLabelKeys", []) if key in labels}
    return {**selector.get("matchLabels", {}), **own}


def _pods_at_most(docs: list[Doc], deployment: Doc) -> int:
    name = deployment["metadata"]["name"]
    bounds = [int(deployment["spec"].get("replicas", 1))]
    bounds += [
        int(hpa["spec"]["maxReplicas"]) for hpa in of_kind(docs, "HorizontalPodAutoscaler") if _scales(hpa, name)
    ]
    bounds += [int(so["spec"]["maxReplicaCount"]) for so in of_kind(docs, "ScaledObject") if _scales(so, name)]
    return max(bounds)


def _scales(autoscaler: Doc, name: str) -> bool:
    target = autoscaler["spec"]["scaleTargetRef"]
    return bool(target["name"] == name and target.get("kind", "Deployment") == "Deployment")


def spread_problems(docs: list[Doc]) -> list[str]:
    """Every Deployment that may run two or more pods whose pods are not spread over nodes by themselves: no
    constraint on the node, or one that counts other Deployments' pods too."""
    deployments = of_kind(docs, "Deployment")
    problems = []
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        if _pods_at_most(docs, deployment) < 2:
            continue
        constraints = [
            constraint
            for constraint in deployment["spec"]["template"]["spec"].get("topologySpreadConstraints", [])
            if constraint["topologyKey"] == HOSTNAME
        ]
        if not constraints:
            problems.append(f"{name}: not spread over nodes")
        for constraint in constraints:
            selector = _counted(constraint, _pod_labels(deployment))
            counted = [
                other["metadata"]["name"] for other in deployments if selector.items() <= _pod_labels(other).items()
            ]
            if counted != [name]:
                problems.append(f"{name}: counted with {len(counted) - 1} other Deployments' pods")
    return problems


MULTI_POD = {
    "ingest",
    "validation",
    "plr-reader",
    "challenges",
    "notifier",
    "reporting",
    "portal",
    "sandpit-validation",
}


def test_each_service_with_two_or_more_pods_in_prod_spreads_them_over_nodes_by_itself() -> None:
    docs = render("overlays/prod")
    assert {name for name in MULTI_POD if _pods_at_most(docs, named(docs, "Deployment", name)) >= 2} == MULTI_POD
    assert spread_problems(docs) == []


def test_the_spread_check_finds_a_constraint_that_counts_every_lrs_pod_together_and_a_service_not_spread() -> None:
    docs = render("overlays/prod")
    others = len(of_kind(docs, "Deployment")) - 1
    for deployment in of_kind(docs, "Deployment"):
        for constraint in deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]:
            constraint.pop("matchLabelKeys")
    assert sorted(spread_problems(docs)) == sorted(
        f"{name}: counted with {others} other Deployments' pods" for name in MULTI_POD
    )

    docs = render("overlays/prod")
    named(docs, "Deployment", "portal")["spec"]["template"]["spec"].pop("topologySpreadConstraints")
    assert spread_problems(docs) == ["portal: not spread over nodes"]
