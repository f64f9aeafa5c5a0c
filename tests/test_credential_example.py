"""docs/credentials/example/, the test vector for outside verifiers: its files are what the generator makes
(`scripts/dev/export_credential_example.py`, deterministic: Ed25519 signatures are), and the PyJWT recipe its README
gives, run as written with PyJWT alone (no code of the LRS's), accepts the credential and refuses each tampered copy
with the error `verdicts.json` names."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jwt
import pytest
from scripts.dev.export_credential_example import EXAMPLE, main, render, stale

ROOT = Path(__file__).resolve().parent.parent
README = EXAMPLE / "README.md"
REGENERATE = "docs/credentials/example is stale: run `.venv/bin/python scripts/dev/export_credential_example.py`"


def test_the_committed_files_are_what_the_generator_makes() -> None:
    made = render()

    assert made == render()  # the same on every run
    for path, content in made.items():
        assert (EXAMPLE / path).read_bytes() == content, f"{path}: {REGENERATE}"
    on_disk = {str(path.relative_to(EXAMPLE)) for path in EXAMPLE.rglob("*") if path.is_file()}
    assert on_disk == {*made, "README.md"}  # nothing left over from an earlier generator


def test_check_says_whether_the_files_are_stale(tmp_path: Path) -> None:
    assert main(["--check"]) == 0
    assert stale() == []
    assert stale(tmp_path) == list(render())  # an empty directory lacks them all
    run = subprocess.run(  # as a developer runs it
        [sys.executable, "scripts/dev/export_credential_example.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def _recipe() -> str:
    (code,) = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    return str(code)


class _JwksFile(jwt.PyJWKClient):
    """PyJWT's own client, answered from jwks.json instead of the network (the URL it was given is recorded)."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri, cache_jwk_set=False)
        self.fetched: list[str] = []

    def fetch_data(self) -> Any:
        self.fetched.append(self.uri)
        return json.loads((EXAMPLE / "jwks.json").read_text(encoding="utf-8"))


@pytest.fixture
def recipe() -> dict[str, Any]:
    """The README's recipe run as written, its JWKS client then answered from the file."""
    namespace: dict[str, Any] = {}
    exec(compile(_recipe(), str(README), "exec"), namespace)  # the README's own code, as a reader runs it
    namespace["jwks"] = _JwksFile(namespace["JWKS_URL"])
    return namespace


def _token(path: str) -> str:
    return (EXAMPLE / path).read_text(encoding="ascii").strip()


def test_the_recipe_is_short_pins_the_issuer_and_allows_eddsa_only_with_a_leeway() -> None:
    code = _recipe()

    assert len(code.strip().splitlines()) <= 20
    assert 'ISSUER = "https://api.lrs.example"' in code
    assert 'algorithms=["EdDSA"]' in code and "issuer=ISSUER" in code and "leeway=60" in code
    assert "jwt.PyJWKClient(JWKS_URL)" in code


def test_pyjwt_verifies_the_example_credential(recipe: dict[str, Any]) -> None:
    claims = recipe["verify"](_token("credential.jws"))

    assert recipe["jwks"].fetched == ["https://api.lrs.example/.well-known/jwks.json"]  # the pinned URL, not the kid
    assert claims == json.loads((EXAMPLE / "credential.json").read_text(encoding="utf-8"))
    assert claims["iss"] == "https://api.lrs.example"
    header = jwt.get_unverified_header(_token("credential.jws"))
    assert header == {
        "alg": "EdDSA",
        "kid": json.loads((EXAMPLE / "jwks.json").read_text())["keys"][0]["kid"],
        "typ": "JWT",
    }
    verdicts = json.loads((EXAMPLE / "verdicts.json").read_text(encoding="utf-8"))
    assert verdicts["credential.jws"]["verdict"] == "valid"


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("tampered/grade-changed.jws", jwt.InvalidSignatureError),
        ("tampered/signed-by-another-key.jws", jwt.InvalidSignatureError),
        ("tampered/forged-issuer.jws", jwt.PyJWKClientError),
        ("tampered/alg-none.jws", jwt.InvalidAlgorithmError),
        ("tampered/hs256-with-the-public-key.jws", jwt.InvalidAlgorithmError),
    ],
)
def test_pyjwt_refuses_each_tampered_copy_as_its_verdict_says(
    path: str, error: type[Exception], recipe: dict[str, Any]
) -> None:
    verdict = json.loads((EXAMPLE / "verdicts.json").read_text(encoding="utf-8"))[path]

    with pytest.raises(error):
        recipe["verify"](_token(path))
    assert verdict == {"verdict": "refused", "pyjwt": error.__name__, "why": verdict["why"]}
    assert f"`{path}`" in README.read_text(encoding="utf-8") and f"`{error.__name__}`" in README.read_text(
        encoding="utf-8"
    )


def test_every_file_is_listed_in_the_readme() -> None:
    listed = README.read_text(encoding="utf-8")
    for path in render():
        assert f"| `{path}` |" in listed, path
    assert set(json.loads((EXAMPLE / "verdicts.json").read_text(encoding="utf-8"))) == {
        path for path in render() if path.endswith(".jws")
    }
