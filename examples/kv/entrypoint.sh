#!/bin/sh
# The example service's container entrypoint: the same script in an ECS task definition and
# in local mode's task definition. In a drill task (RunTask overrides set LIFEBOAT_MODE=drill)
# it restores and verifies the drill's snapshot; otherwise it restores the newest snapshot into
# an empty data directory and runs kv-server under the agent, which follows the primary role.
set -e
: "${KV_DIR:?set KV_DIR to the data directory}"
if [ "$LIFEBOAT_MODE" = drill ]; then
  exec lifeboat drill-agent --dir "$KV_DIR"
fi
exec lifeboat agent --service "${LIFEBOAT_SERVICE:-kv}" --restore --dir "$KV_DIR" \
  --on-promote 'kv-ctl promote' --on-demote 'kv-ctl demote' \
  -- kv-server
