"""Writes the vendored schemas from the releases refresh.sh downloaded (see README.md).

Kubernetes kinds: the strict JSON schemas of kubernetes-validate (PyPI), each cut down to the
definitions it references, so one file validates one kind. Operator kinds: the `openAPIV3Schema` of
the served version in each operator's CRD, unchanged. Only the kinds the manifests use are kept.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent

KUBERNETES_KINDS = (
    ("", "v1", "ConfigMap"),
    ("", "v1", "Namespace"),
    ("", "v1", "PersistentVolumeClaim"),
    ("", "v1", "Secret"),
    ("", "v1", "Service"),
    ("", "v1", "ServiceAccount"),
    ("apps", "v1", "Deployment"),
    ("autoscaling", "v2", "HorizontalPodAutoscaler"),
    ("batch", "v1", "CronJob"),
    ("batch", "v1", "Job"),
    ("networking.k8s.io", "v1", "Ingress"),
    ("networking.k8s.io", "v1", "NetworkPolicy"),
    ("policy", "v1", "PodDisruptionBudget"),
)
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

# (source, CRD file inside the source, served version, licence file inside the source)
OPERATOR_CRDS = {
    "strimzi": (
        ("040-Crd-kafka.yaml", "v1beta2"),
        ("043-Crd-kafkatopic.yaml", "v1beta2"),
        ("044-Crd-kafkauser.yaml", "v1beta2"),
        ("045-Crd-kafkanodepool.yaml", "v1beta2"),
    ),
    "cloudnative-pg": (
        ("config/crd/bases/postgresql.cnpg.io_clusters.yaml", "v1"),
        ("config/crd/bases/postgresql.cnpg.io_scheduledbackups.yaml", "v1"),
    ),
    "keda": (
        ("config/crd/bases/keda.sh_scaledobjects.yaml", "v1alpha1"),
        ("config/crd/bases/keda.sh_triggerauthentications.yaml", "v1alpha1"),
    ),
    "prometheus-operator": (("example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml", "v1"),),
}


def _api_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def _closure(definitions: dict[str, Any], root: str) -> dict[str, Any]:
    wanted, found = [root], {}
    while wanted:
        name = wanted.pop()
        if name in found:
            continue
        found[name] = definitions[name]
        wanted += _refs(definitions[name])
    return dict(sorted(found.items()))


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        here = [node["$ref"].split("/")[-1]] if isinstance(node.get("$ref"), str) else []
        return here + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _definition_of(definitions: dict[str, Any], group: str, version: str, kind: str) -> str:
    for name, definition in definitions.items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            if (gvk.get("group", ""), gvk["version"], gvk["kind"]) == (group, version, kind):
                return name
    raise LookupError(f"no schema for {_api_version(group, version)} {kind}")


def vendor_kubernetes(source: Path, version: str, out: Path) -> dict[str, str]:
    definitions = json.loads((source / f"v{version}-local-strict" / "_definitions.json").read_text())["$defs"]
    index: dict[str, str] = {}
    roots = [(_api_version(g, v), k, _definition_of(definitions, g, v, k)) for g, v, k in KUBERNETES_KINDS]
    for api_version, kind, root in [*roots, ("meta/v1", "ObjectMeta", OBJECT_META)]:
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": f"#/$defs/{root}",
            "$defs": _closure(definitions, root),
        }
        path = out / f"{api_version.replace('/', '-')}-{kind.lower()}.json"
        path.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
        index[f"{api_version}/{kind}"] = str(path.relative_to(HERE))
    return index


def vendor_crds(source: Path, crds: tuple[tuple[str, str], ...], out: Path) -> dict[str, str]:
    index: dict[str, str] = {}
    for crd_file, served in crds:
        crd = yaml.safe_load((source / crd_file).read_text())
        spec = crd["spec"]
        [version] = [entry for entry in spec["versions"] if entry["name"] == served]
        api_version = f"{spec['group']}/{served}"
        kind = spec["names"]["kind"]
        path = out / f"{api_version.replace('/', '-')}-{kind.lower()}.json"
        path.write_text(json.dumps(version["schema"]["openAPIV3Schema"], indent=1, sort_keys=True) + "\n")
        index[f"{api_version}/{kind}"] = str(path.relative_to(HERE))
    return index


def main(work: Path) -> None:
    versions = yaml.safe_load((HERE.parent / "base" / "versions.yaml").read_text())["data"]
    index: dict[str, str] = {}
    kubernetes_out = HERE / "kubernetes" / f"v{versions['kubernetes']}"
    shutil.rmtree(HERE / "kubernetes", ignore_errors=True)
    kubernetes_out.mkdir(parents=True)
    source = work / "kubernetes-validate" / "kubernetes_validate" / "kubernetes-json-schema"
    index |= vendor_kubernetes(source, versions["kubernetes"], kubernetes_out)
    licences = HERE / "LICENSES"
    shutil.rmtree(licences, ignore_errors=True)
    licences.mkdir()
    shutil.copy(
        next((work / "kubernetes-validate").glob("*.dist-info/licenses/LICENSE")), licences / "kubernetes-validate"
    )
    for operator, crds in OPERATOR_CRDS.items():
        out = HERE / operator / versions[operator]
        shutil.rmtree(HERE / operator, ignore_errors=True)
        out.mkdir(parents=True)
        index |= vendor_crds(work / operator, crds, out)
        licence = work / operator / "LICENSE"
        if licence.exists():
            shutil.copy(licence, licences / operator)
    (HERE / "index.json").write_text(json.dumps(dict(sorted(index.items())), indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
