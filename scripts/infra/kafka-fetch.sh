#!/usr/bin/env bash
# Resolves the Apache Kafka broker jars from Maven Central into a git-ignored cache (.cache/kafka/lib).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
KAFKA_VERSION=${KAFKA_VERSION:-3.9.1}
KAFKA_LIB=${KAFKA_LIB:-$root/.cache/kafka/lib}
if ls "$KAFKA_LIB"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1; then exit 0; fi
rm -rf "$KAFKA_LIB"; mkdir -p "$KAFKA_LIB"
mvn -B -q -ntp -C -f "$here/kafka-broker.pom.xml" -Dkafka.version="$KAFKA_VERSION" \
  org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIB"
