#!/usr/bin/env bash
# Starts a single-node KRaft Kafka on 127.0.0.1 with free ports. Prints the bootstrap address.
# Leaves kafka.pid, kafka.log, bootstrap and server.properties in $KAFKA_WORK.
set -euo pipefail
umask 077  # the work dir, its data and logs are this user's alone
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bash "$here/kafka-fetch.sh" >&2
KAFKA_LIB=${KAFKA_LIB:-$root/.cache/kafka/lib}
KAFKA_WORK=${KAFKA_WORK:-$(mktemp -d -t lrs-kafka.XXXXXX)}
CLUSTER_ID=${KAFKA_CLUSTER_ID:-4L6g3nShT-eMCtK--X86sw}
JVM_OPTS=${KAFKA_JVM_OPTS:-"-Xms256m -Xmx768m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true"}
LOG_OPTS="-Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dorg.slf4j.simpleLogger.showDateTime=true"

read -r BROKER_PORT CONTROLLER_PORT < <(python3 "$here/free_ports.py" 2)
BROKER_PORT=${KAFKA_PORT:-$BROKER_PORT}

mkdir -p "$KAFKA_WORK/data"
cat > "$KAFKA_WORK/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${CONTROLLER_PORT}
listeners=PLAINTEXT://127.0.0.1:${BROKER_PORT},CONTROLLER://127.0.0.1:${CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://127.0.0.1:${BROKER_PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${KAFKA_WORK}/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
auto.create.topics.enable=false
delete.topic.enable=true
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=33554432
message.max.bytes=10485760
PROPS

java $JVM_OPTS $LOG_OPTS -cp "$KAFKA_LIB/*" kafka.tools.StorageTool format \
  -t "$CLUSTER_ID" -c "$KAFKA_WORK/server.properties" > "$KAFKA_WORK/format.log" 2>&1 \
  || { cat "$KAFKA_WORK/format.log" >&2; exit 1; }

nohup java $JVM_OPTS $LOG_OPTS -cp "$KAFKA_LIB/*" kafka.Kafka "$KAFKA_WORK/server.properties" \
  > "$KAFKA_WORK/kafka.log" 2>&1 < /dev/null &
echo $! > "$KAFKA_WORK/kafka.pid"

deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-120}))
until grep -qs "Kafka Server started" "$KAFKA_WORK/kafka.log"; do
  if ! kill -0 "$(cat "$KAFKA_WORK/kafka.pid")" 2>/dev/null; then
    echo "kafka died during startup:" >&2; tail -50 "$KAFKA_WORK/kafka.log" >&2; exit 1; fi
  if (( SECONDS > deadline )); then
    echo "kafka not ready in time:" >&2; tail -50 "$KAFKA_WORK/kafka.log" >&2; exit 1; fi
  sleep 0.2
done
echo "127.0.0.1:${BROKER_PORT}" > "$KAFKA_WORK/bootstrap"
echo "127.0.0.1:${BROKER_PORT}"
