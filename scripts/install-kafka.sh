#!/usr/bin/env bash
# Installs the Apache Kafka broker that the kafka connector's tests start
# (plugins/kafka/kafkatest runs a single-node KRaft broker as a child process,
# `java -cp 'libs/*' kafka.Kafka server.properties`). The broker, its command
# line tools (kafka-tools: StorageTool's format, ProducerPerformance) and all
# their dependencies are jars on Maven Central, fetched with Maven's
# dependency:copy-dependencies from a generated pom into
# $HOME/.cache/weir/kafka-$KAFKA_VERSION/libs (override the cache root with
# WEIR_KAFKA_CACHE). Idempotent: it does nothing when the libs directory is
# complete (its .complete marker exists). Needs java (17+) and mvn, which it
# installs from Debian when they are missing.
set -euo pipefail

version="${KAFKA_VERSION:-4.1.1}"
root="${WEIR_KAFKA_CACHE:-$HOME/.cache/weir}"
dir="$root/kafka-$version"
if [ -f "$dir/libs/.complete" ]; then
	exit 0
fi
if ! command -v mvn >/dev/null || ! command -v java >/dev/null; then
	echo "install-kafka: installing maven and a JDK" >&2
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then
		SUDO="sudo"
	fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends maven openjdk-17-jdk-headless >/dev/null
fi
echo "install-kafka: fetching Apache Kafka $version jars from Maven Central into $dir/libs (once)" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The broker is kafka_2.13 (kafka.Kafka); kafka-tools holds the perf tools;
# kafka-storage the KRaft StorageTool. log4j-slf4j2-impl + log4j-core give the
# broker a logger (it logs through slf4j and otherwise prints a warning and
# nothing else); slf4j-api is pinned to 2.x because Maven's nearest-wins
# mediation would otherwise pick an older 1.7 that cannot find that binding.
cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>weir</groupId>
  <artifactId>kafka-install</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-clients</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-storage</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>2.0.17</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
POM
mkdir -p "$dir"
rm -rf "$dir/libs.tmp"
mvn -q -B -f "$work/pom.xml" dependency:copy-dependencies \
	-DincludeScope=runtime -DoutputDirectory="$dir/libs.tmp" >&2
rm -rf "$dir/libs"
mv "$dir/libs.tmp" "$dir/libs"
touch "$dir/libs/.complete"
echo "install-kafka: $(ls "$dir/libs" | wc -l) jars in $dir/libs" >&2
