"""`make sbom`: a CycloneDX 1.5 document per service image, written to dist/sbom/<service>.cdx.json (git-ignored).

Each is the image's Python environment as uv.lock gives it (`uv export --no-dev --package lrs-<service>`, the
packages `uv sync` installs in the image) plus what no lock records, kept by hand in vendored-components.json:
the vendored front-end assets and data files, each added to the images whose packages ship it. The Debian
packages of the base image are not listed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = ROOT / "dist" / "sbom"
VENDORED = HERE / "vendored-components.json"


def image_services(root: Path = ROOT) -> list[str]:
    """Every workspace member that is a runnable service, as scripts/images/common.sh's image_services."""
    return sorted(main.relative_to(root / "services").parts[0] for main in root.glob("services/*/src/*/main.py"))


def python_environment(service: str) -> dict[str, Any]:
    command = ["uv", "export", "--frozen", "--no-dev", "--preview", "--quiet", "--format", "cyclonedx1.5"]
    exported = subprocess.run(  # noqa: S603 - uv with this workspace's own member name
        [*command, "--package", f"lrs-{service}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    document: dict[str, Any] = json.loads(exported)
    return document


def vendored_component(entry: dict[str, str]) -> dict[str, Any]:
    component: dict[str, Any] = {
        "type": entry["type"],
        "bom-ref": f"vendored:{entry['name']}@{entry['version']}",
        "name": entry["name"],
        "version": entry["version"],
        "licenses": [{"license": {"id": entry["licence"]}}],
        "properties": [{"name": "lrs:vendored:source", "value": entry["source"]}],
    }
    if entry["purl"]:
        component["purl"] = entry["purl"]
    if entry["modified"]:
        component["modified"] = True
        component["pedigree"] = {"notes": entry["modified"]}
    return component


def with_vendored(document: dict[str, Any], vendored: list[dict[str, str]]) -> dict[str, Any]:
    """The document with each vendored component whose shipping package is in it, as that package's dependency."""
    refs = {component["name"]: component["bom-ref"] for component in document["components"]}
    root = document["metadata"]["component"]
    refs[root["name"]] = root["bom-ref"]
    dependencies = {dependency["ref"]: dependency for dependency in document.setdefault("dependencies", [])}
    for entry in vendored:
        carrier = refs.get(entry["package"])
        if carrier is None:
            continue
        component = vendored_component(entry)
        document["components"].append(component)
        if carrier not in dependencies:
            dependencies[carrier] = {"ref": carrier, "dependsOn": []}
            document["dependencies"].append(dependencies[carrier])
        dependencies[carrier].setdefault("dependsOn", []).append(component["bom-ref"])
    return document


def main(services: list[str], out: Path = OUT) -> None:
    vendored = json.loads(VENDORED.read_text())["components"]
    out.mkdir(parents=True, exist_ok=True)
    for service in services or image_services():
        document = with_vendored(python_environment(service), vendored)
        path = out / f"{service}.cdx.json"
        path.write_text(json.dumps(document, indent=2) + "\n")
        print(f"{path}: {len(document['components'])} components")


if __name__ == "__main__":
    main(sys.argv[1:])
