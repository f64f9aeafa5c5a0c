#!/usr/bin/env bash
# Installs what a fresh machine lacks: uv (from PyPI), the Python workspace, PostgreSQL server
# binaries and Chromium (Debian) and the Kafka jars (Maven Central). Idempotent and quick when all is there.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check --require-hashes -r services/uv-requirements.txt
fi
if ! ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
command -v java >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null; }
command -v mvn >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null; }
# The portal's browser tests drive Debian's Chromium through Playwright (never `playwright install`, which
# downloads a browser from outside); LRS_CHROMIUM may name another binary.
[ -x "${LRS_CHROMIUM:-/usr/bin/chromium}" ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
# Bytecode compiled once here: with PYTHONDONTWRITEBYTECODE set, as on these machines, every test's
# service process would otherwise compile its imports again (~0.5 s of CPU a start).
uv sync --frozen --quiet --compile-bytecode
bash scripts/infra/kafka-fetch.sh
