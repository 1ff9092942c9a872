#!/usr/bin/env bash
# Prints the path of Maven (`mvn`) once Flyway's Maven plugin 13.12.2, its PostgreSQL module and
# the JDBC driver (test/fixtures/flyway/pom.xml) are in Maven's local repository, fetching them
# from Maven Central when missing. The import tests run `mvn flyway:migrate` with that pom to
# apply the first half of a history exactly as Flyway does. Exit 3 (and a message on stderr) when
# Java, Maven or the plugin cannot be had: the tests then skip with that message.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM="$here/../test/fixtures/flyway/pom.xml"
REPO=${MAVEN_LOCAL_REPOSITORY:-$HOME/.m2/repository}
JARS=(
  org/flywaydb/flyway-maven-plugin/13.12.2/flyway-maven-plugin-13.12.2.jar
  org/flywaydb/flyway-database-postgresql/13.12.2/flyway-database-postgresql-13.12.2.jar
  org/postgresql/postgresql/42.7.14/postgresql-42.7.14.jar
)

if ! command -v java >/dev/null 2>&1; then
  echo "flyway: no java on PATH (Flyway 13 needs Java 17)" >&2
  exit 3
fi
if ! command -v mvn >/dev/null 2>&1; then
  echo "flyway: no mvn (Maven) on PATH" >&2
  exit 3
fi
missing=0
for jar in "${JARS[@]}"; do [ -f "$REPO/$jar" ] || missing=1; done
if [ "$missing" -eq 1 ]; then
  # no goal of the plugin runs without a database: `info` on a port where none listens resolves
  # the plugin and its dependencies, then stops at the connection, which says they are there
  out=$(mvn -B -Dstyle.color=never -f "$POM" flyway:info -Dflyway.url=jdbc:postgresql://127.0.0.1:1/none \
    -Dflyway.connectRetries=0 2>&1 || true)
  if ! grep -q 'Unable to obtain connection from database' <<<"$out"; then
    echo "$out" | tail -20 >&2
    echo "flyway: mvn could not fetch org.flywaydb:flyway-maven-plugin:13.12.2 and its dependencies (is Maven Central reachable?)" >&2
    exit 3
  fi
fi
command -v mvn
