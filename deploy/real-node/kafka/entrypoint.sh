#!/bin/bash
# Apache Kafka (KRaft) configured as the apache/kafka image is: each KAFKA_FOO_BAR variable is the
# property foo.bar (KAFKA_HEAP_OPTS and KAFKA_OPTS are JVM options), and CLUSTER_ID formats a log
# directory that holds no data yet, so a restarted pod keeps its data.
set -euo pipefail
props=/tmp/server.properties
: >"$props"
while IFS='=' read -r var _; do
  case $var in
    KAFKA_HEAP_OPTS | KAFKA_OPTS) ;;
    KAFKA_*) key=${var#KAFKA_}; key=${key,,}; echo "${key//_/.}=${!var}" >>"$props" ;;
  esac
done < <(env)
classpath='/opt/kafka/libs/*'
log_dir=$(sed -n 's/^log\.dirs=//p' "$props")
if [ ! -f "$log_dir/meta.properties" ]; then
  java -cp "$classpath" kafka.tools.StorageTool format --ignore-formatted -t "${CLUSTER_ID:?CLUSTER_ID is required}" -c "$props"
fi
# shellcheck disable=SC2086 # JVM options are words
exec java ${KAFKA_HEAP_OPTS:--Xmx512m} ${KAFKA_OPTS:-} -XX:+UseG1GC -Djava.awt.headless=true \
  -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties -cp "$classpath" kafka.Kafka "$props"
