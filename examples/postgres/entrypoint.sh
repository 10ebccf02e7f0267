#!/bin/sh
# The Postgres example's container entrypoint (the same script in an ECS task definition and
# in local mode). `lifeboat agent` restores the newest snapshot into an empty PGDATA, runs
# pg-example (Postgres + its HTTP API) under it, follows the primary role through the hooks,
# and takes the snapshots the control plane asks for through the postgres recipe
# (pg_basebackup over the socket in $PGHOST). In a drill task (LIFEBOAT_MODE=drill) it
# restores the drill's snapshot instead, opens it with the recipe and runs the checks.
set -e
: "${PGDATA:?set PGDATA to the data directory}"
# A socket directory of our own (no TCP port): the agent's recipe and the server share it.
PGHOST="${PGHOST:-$(mktemp -d /tmp/lbpg-XXXXXX)}"
export PGHOST PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
exec lifeboat agent --service "${LIFEBOAT_SERVICE:-postgres}" --restore --dir "$PGDATA" \
  --on-promote 'pg-example-ctl promote' --on-demote 'pg-example-ctl demote' \
  -- pg-example serve
