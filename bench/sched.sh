#!/bin/bash
# bench/sched.sh - the shape of Kubernetes' scheduler_perf SchedulingBasic,
# through the filesystem: BENCH_NODES hollow nodes (default 5000), BENCH_WARM
# pods already running (1000), then BENCH_PODS pods (10000) created while the
# scheduler is paused; the figure is how fast it binds them once resumed
# (counted from the mount's namespaces/measured/pods/.watch). Every kube9
# process works through one mount. Progress to stderr, figures to stdout.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
B=${B:-build}
KUBE9=${KUBE9:-bin/kube9}
WC=$B/bench/watch_count
NODES=${BENCH_NODES:-5000}
WARM=${BENCH_WARM:-1000}
PODS=${BENCH_PODS:-10000}
. bench/lib.sh

start_cluster
log "registering $NODES hollow nodes"
"$KUBE9" node --mount "$M" --hollow "$NODES" --cpu 4 --memory 32Gi --pods 110 \
	--zones zone-a,zone-b,zone-c --heartbeat "${BENCH_HEARTBEAT:-10}" 2>>"$T/node.log" &
NODE_PID=$!
PIDS="$PIDS $NODE_PID"
t0=$(now_ms)
until [ "$(ls "$M/nodes" | wc -l)" -ge "$NODES" ]; do sleep 0.5; done
log "$NODES nodes registered in $(( ($(now_ms) - t0) / 1000 )) s"
"$KUBE9" sched --mount "$M" --bind-workers "${BENCH_BIND_WORKERS:-16}" 2>>"$T/sched.log" &
SCHED_PID=$!
PIDS="$PIDS $SCHED_PID"

mkdir "$M/namespaces/warm" "$M/namespaces/measured"
log "creating $WARM running pods"
pods warm "$WARM" > "$M/namespaces/warm/pods.yaml"
"$WC" "$M/namespaces/warm/pods/.watch" running "$WARM" 600 >/dev/null

kill -STOP "$SCHED_PID"
log "creating $PODS pods with the scheduler paused"
t0=$(now_ms)
pods measured "$PODS" > "$M/namespaces/measured/pods.yaml"
log "created in $(( ($(now_ms) - t0) / 1000 )) s; resuming the scheduler"
"$WC" "$M/namespaces/measured/pods/.watch" bound "$PODS" 600 > "$T/bound" &
WPID=$!
sleep 1
ALL="server:$SERVER_PID mount:$MOUNT_PID node:$NODE_PID sched:$SCHED_PID"
cpu_mark "$ALL"
kill -CONT "$SCHED_PID"
wait $WPID
CPU_LINE=$(cpu_report)
read -r n _ _ secs _ rate < "$T/bound"
rate=${rate#(}
echo "SchedulingBasic: $NODES nodes, $WARM pods running, $PODS pods bound in $secs s: ${rate%/s)} pods/s"
echo "$CPU_LINE"
report_rss "$ALL"
