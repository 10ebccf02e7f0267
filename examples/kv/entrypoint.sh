#!/bin/sh
# The example service's container entrypoint: the same script in an ECS task definition and
# in local mode's task definition. `lifeboat agent` restores the newest snapshot into an empty
# data directory, runs kv-server under it and follows the primary role (the hooks tell the
# server); it takes the snapshots the control plane asks for (the policy's pre/post hooks
# pause and resume the server). In a drill task (RunTask overrides set LIFEBOAT_MODE=drill) it
# restores the drill's snapshot instead, runs the verify command and the health check, and
# records the result.
set -e
: "${KV_DIR:?set KV_DIR to the data directory}"
exec lifeboat agent --service "${LIFEBOAT_SERVICE:-kv}" --restore --dir "$KV_DIR" \
  --on-promote 'kv-ctl promote' --on-demote 'kv-ctl demote' \
  -- kv-server
