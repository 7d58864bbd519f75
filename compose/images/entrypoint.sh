#!/bin/sh
# Every container's entrypoint: the stack's network delay first (tc netem on eth0, needs NET_ADMIN), then the service
# itself by exec, so it keeps the container's main PID (the one the harness profiles and stops).
set -eu
delay="${BASELINE_NET_DELAY_MS:-0}"
if [ "$delay" != "0" ]; then
    tc qdisc replace dev eth0 root netem delay "${delay}ms"
    echo "baseline-entrypoint: netem delay ${delay}ms on eth0" >&2
fi
exec "$@"
