#!/bin/sh
# The SQLite example's container entrypoint (the same script in an ECS task definition and in
# local mode). `lifeboat agent` restores the newest snapshot into an empty SQLITE_DIR, runs
# sqlite-example (the HTTP API over data.db) under it and follows the primary role through the
# hooks; snapshots go through the sqlite recipe (VACUUM INTO a staging directory). In a drill
# task it restores the drill's snapshot, opens it with the recipe and runs the checks.
set -e
: "${SQLITE_DIR:?set SQLITE_DIR to the data directory}"
exec lifeboat agent --service "${LIFEBOAT_SERVICE:-sqlite}" --restore --dir "$SQLITE_DIR" \
  --on-promote 'sqlite-example-ctl promote' --on-demote 'sqlite-example-ctl demote' \
  -- sqlite-example serve
