"""cert-manager can answer the HTTP-01 challenges of the certificates ingress.yaml asks for, under default-deny.

For an Ingress annotated `cert-manager.io/cluster-issuer`, cert-manager starts a solver pod in the Ingress's own
namespace, labelled `acme.cert-manager.io/http01-solver: "true"` and listening on 8089, and routes the challenge's
path to it through the ingress controller. The ACME server (and cert-manager's self-check) reach it only that way."""

from __future__ import annotations

import pytest
from deploy.k8s.tests.kube import OVERLAYS, Doc, named, of_kind, render

# the labels cert-manager gives a solver pod (pkg/issuer/acme/http/pod.go), with the challenge's domain and token
SOLVER_LABELS = {
    "acme.cert-manager.io/http01-solver": "true",
    "acme.cert-manager.io/http-domain": "1234567890",
    "acme.cert-manager.io/http-token": "1234567890",
}
SOLVER_PORT = 8089
POLICY = "acme-solver-from-ingress-controller"


def _selects(selector: Doc, labels: dict[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def ingress_controller_namespace(docs: list[Doc]) -> dict[str, str]:
    """The labels of the namespace the LRS's doors are opened to: where the ingress controller runs."""
    doors = named(docs, "NetworkPolicy", "doors-from-ingress-controller")
    [peer] = doors["spec"]["ingress"][0]["from"]
    labels: dict[str, str] = peer["namespaceSelector"]["matchLabels"]
    return labels


def admits_solver(docs: list[Doc]) -> bool:
    """Whether a NetworkPolicy lets the ingress controller's namespace reach a solver pod on TCP 8089."""
    controller = ingress_controller_namespace(docs)
    for policy in of_kind(docs, "NetworkPolicy"):
        spec = policy["spec"]
        if "Ingress" not in spec.get("policyTypes", ["Ingress"]) or not _selects(spec["podSelector"], SOLVER_LABELS):
            continue
        for rule in spec.get("ingress", []):
            from_controller = any(
                set(peer) == {"namespaceSelector"} and _selects(peer["namespaceSelector"], controller)
                for peer in rule.get("from", [])
            )
            on_solver_port = any(
                port.get("protocol", "TCP") == "TCP" and port.get("port") == SOLVER_PORT
                for port in rule.get("ports", [])
            )
            if from_controller and on_solver_port:
                return True
    return False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_controller_reaches_cert_managers_http01_solver(overlay: str) -> None:
    docs = render(f"overlays/{overlay}")
    assert any(
        "cert-manager.io/cluster-issuer" in ingress["metadata"].get("annotations", {})
        for ingress in of_kind(docs, "Ingress")
    )
    assert admits_solver(docs)
    # and only the solver: no LRS service is opened to the controller on 8089 by it
    policy = named(docs, "NetworkPolicy", POLICY)
    for deployment in of_kind(docs, "Deployment"):
        assert not _selects(policy["spec"]["podSelector"], deployment["spec"]["template"]["metadata"]["labels"])


def test_the_solver_check_finds_default_deny_alone() -> None:
    docs = render("overlays/prod")
    without = [doc for doc in docs if (doc["kind"], doc["metadata"]["name"]) != ("NetworkPolicy", POLICY)]
    assert not admits_solver(without)
    wrong_port = render("overlays/prod")
    policy = named(wrong_port, "NetworkPolicy", POLICY)
    policy["spec"]["ingress"][0]["ports"] = [{"protocol": "TCP", "port": 80}]
    assert not admits_solver(wrong_port)
