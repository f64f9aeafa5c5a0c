#!/usr/bin/env bash
# Refreshes the vendored schemas from the package registries, at the versions in ../base/versions.yaml:
#   Kubernetes   PyPI          kubernetes-validate (its strict JSON schemas of every Kubernetes release)
#   Strimzi      Maven Central io.strimzi:api, whose classes Strimzi's crd-generator turns into the CRDs
#   CloudNativePG, KEDA, Prometheus Operator
#                Go module proxy: each operator's own Go module, which carries its CRDs
# Then writes only the kinds the manifests use (vendor.py). Run from anywhere:
#   bash deploy/k8s/schemas/refresh.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
version() { sed -n "s/^  $1: *\"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" "$here/../base/versions.yaml"; }
KUBERNETES_VALIDATE=${KUBERNETES_VALIDATE:-1.37.0}
work=$(mktemp -d -t lrs-schemas.XXXXXX)
trap 'rm -rf "$work"' EXIT

python3 -m pip download --quiet --disable-pip-version-check --no-deps \
  "kubernetes-validate==$KUBERNETES_VALIDATE" -d "$work/wheel"
mkdir -p "$work/kubernetes-validate"
(cd "$work/kubernetes-validate" && python3 -m zipfile -e "$work"/wheel/kubernetes_validate-*.whl .)

mvn -B -q -ntp -C -f "$here/strimzi-crds.pom.xml" -Dstrimzi.version="$(version strimzi)" \
  org.apache.maven.plugins:maven-dependency-plugin:3.8.1:build-classpath -Dmdep.outputFile="$work/strimzi.classpath"
mkdir -p "$work/strimzi"
generate() {
  java -cp "$(cat "$work/strimzi.classpath")" io.strimzi.crdgenerator.CrdGenerator --target-kube 1.16+ \
    --crd-api-version v1 --storage-version v1beta2 "$@" 2>/dev/null
}
generate --api-versions v1beta2 --yaml \
  io.strimzi.api.kafka.model.kafka.Kafka="$work/strimzi/040-Crd-kafka.yaml" \
  io.strimzi.api.kafka.model.nodepool.KafkaNodePool="$work/strimzi/045-Crd-kafkanodepool.yaml"
generate --api-versions v1alpha1,v1beta1,v1beta2 --yaml \
  io.strimzi.api.kafka.model.topic.KafkaTopic="$work/strimzi/043-Crd-kafkatopic.yaml" \
  io.strimzi.api.kafka.model.user.KafkaUser="$work/strimzi/044-Crd-kafkauser.yaml"

export GOPATH="$work/go" GOMODCACHE="$work/go/mod" GOFLAGS=-modcacherw
module() {
  local dir
  dir=$(go mod download -json "$1@v$2" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  ln -s "$dir" "$work/$3"
}
module github.com/cloudnative-pg/cloudnative-pg "$(version cloudnative-pg)" cloudnative-pg
module github.com/kedacore/keda/v2 "$(version keda)" keda
module github.com/prometheus-operator/prometheus-operator "$(version prometheus-operator)" prometheus-operator

# Strimzi's jars carry no licence file; its POM declares Apache-2.0, the licence CloudNativePG ships in full.
licence=$(sed -n 's:.*<name>\(Apache License.*\)</name>.*:\1:p' "$HOME/.m2/repository/io/strimzi/strimzi/$(version strimzi)/strimzi-$(version strimzi).pom")
{ echo "Strimzi $(version strimzi): $licence (the licence io.strimzi:strimzi's POM declares)."; echo
  cat "$work/cloudnative-pg/LICENSE"; } >"$work/strimzi/LICENSE"

"$python" "$here/vendor.py" "$work"
echo "schemas refreshed in $here" >&2
