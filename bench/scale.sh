#!/bin/bash
# bench/scale.sh - the seed's full scale through the filesystem:
# BENCH_NODES hollow nodes (default 5000) and BENCH_DEPLOYS deployments
# (5000) of BENCH_REPLICAS replicas (30), 150,000 pods, written as one
# multi-document file into namespaces/scale/; the figure is the time from
# that write to the last pod Running (seen in namespaces/scale/pods/.watch),
# with each process's peak RSS and the database's size. Scheduler,
# controllers and nodes all work through one mount.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
B=${B:-build}
KUBE9=${KUBE9:-bin/kube9}
WC=$B/bench/watch_count
NODES=${BENCH_NODES:-5000}
DEPLOYS=${BENCH_DEPLOYS:-5000}
REPLICAS=${BENCH_REPLICAS:-30}
TOTAL=$((DEPLOYS * REPLICAS))
. bench/lib.sh

start_cluster
log "registering $NODES hollow nodes"
"$KUBE9" node --mount "$M" --hollow "$NODES" --cpu 8 --memory 64Gi --pods 100 \
	--zones zone-a,zone-b,zone-c --regions region-1,region-2 \
	--heartbeat "${BENCH_HEARTBEAT:-10}" 2>>"$T/node.log" &
NODE_PID=$!
PIDS="$PIDS $NODE_PID"
until [ "$(ls "$M/nodes" | wc -l)" -ge "$NODES" ]; do sleep 0.5; done
"$KUBE9" sched --mount "$M" 2>>"$T/sched.log" &
SCHED_PID=$!
"$KUBE9" controllers --mount "$M" 2>>"$T/controllers.log" &
CTL_PID=$!
PIDS="$PIDS $SCHED_PID $CTL_PID"
mkdir "$M/namespaces/scale"
awk -v n="$DEPLOYS" -v r="$REPLICAS" 'BEGIN { for (i = 0; i < n; i++) printf "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-%d\nspec:\n  replicas: %d\n  selector:\n    matchLabels:\n      app: app-%d\n  template:\n    metadata:\n      labels:\n        app: app-%d\n    spec:\n      containers:\n      - name: c\n        image: registry.k8s.io/pause:3.10\n        resources:\n          requests:\n            cpu: 10m\n            memory: 16Mi\n---\n", i, r, i, i }' > "$T/deploys.yaml"
ALL="server:$SERVER_PID mount:$MOUNT_PID node:$NODE_PID sched:$SCHED_PID controllers:$CTL_PID"
log "writing $DEPLOYS deployments of $REPLICAS replicas ($TOTAL pods)"
"$WC" "$M/namespaces/scale/pods/.watch" running "$TOTAL" "${BENCH_TIMEOUT:-1800}" from-start > "$T/running" &
WPID=$!
sleep 0.5
cpu_mark "$ALL"
cp "$T/deploys.yaml" "$M/namespaces/scale/deployments.yaml"
log "deployments written"
wait $WPID
read -r n _ _ secs _ rate < "$T/running"
rate=${rate#(}
echo "scale: $NODES nodes, $DEPLOYS deployments x $REPLICAS = $n pods Running $secs s after the write (${rate%/s)} pods/s)"
cpu_report
report_rss "$ALL"
echo "  database: $(du -sh "$T/data" | cut -f1) ($(ls "$T/data" | tr '\n' ' '))"
if [ -n "${BENCH_METRICS:-}" ]; then
	TOKEN=$(head -1 "$T/data/tokens.csv" | cut -d, -f1)
	curl -sk -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$port/metrics" | grep '^apiserver_request_total' | sort -t' ' -k2 -rn | head -20
fi
