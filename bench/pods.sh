#!/bin/bash
# bench/pods.sh - pod startup latency on a real crun node (bench/pods.py):
# server, two mounts (pods written through one, Running seen through the
# other), scheduler, node agent on a bridge and pod network of its own.
# Needs root. Cleans up every container, sandbox and the bridge.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
KUBE9=${KUBE9:-bin/kube9}
. bench/lib.sh
ST=$T/state
BR=k9b$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
NODE_PID=
crun_() { unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun --root "$0" "$@"' "$ST/crun" "$@"; }
pods_cleanup() {
	[ -n "$NODE_PID" ] && kill -9 "$NODE_PID" 2>/dev/null
	ids=$(crun_ list -q 2>/dev/null)
	for id in $ids; do crun_ kill "$id" KILL 2>/dev/null; done
	sleep 0.5
	for id in $ids; do crun_ delete -f "$id" 2>/dev/null; done
	for f in "$ST"/pods/*/sandbox.json; do [ -f "$f" ] && kill -9 "$(jq -r .pid "$f")" 2>/dev/null; done
	for d in "$ST"/pods/*/; do
		[ -d "$d" ] && rmdir /sys/fs/cgroup/*/kube9/pod"$(basename "$d")" 2>/dev/null
	done
	ip link del "$BR" 2>/dev/null
	cleanup
}
trap pods_cleanup EXIT
make --no-print-directory -s B="$B" images >&2
start_cluster
MB=$T/mnt-b
mkdir -p "$MB"
MOUNTS="$MOUNTS $MB"
"$KUBE9" mount --kubeconfig "$T/data/admin.kubeconfig" -f "$MB" 2>>"$T/mount-b.log" &
PIDS="$PIDS $!"
until mountpoint -q "$MB" && [ -d "$MB/namespaces/default" ]; do sleep 0.05; done
"$KUBE9" image import --store "$ST/images" "$B/images/busybox" kube9.local/busybox:1.35 2>>"$T/node.log"
"$KUBE9" sched --mount "$M" 2>>"$T/sched.log" &
PIDS="$PIDS $!"
"$KUBE9" node --mount "$M" --state-dir "$ST" --bridge "$BR" --pod-cidr 10.251.$((RANDOM % 250)).0/24 \
	--port 0 --pods 250 2>>"$T/node.log" &
NODE_PID=$!
PIDS="$PIDS $NODE_PID"
until [ -e "$M/nodes/$(hostname).yaml" ]; do sleep 0.1; done
log "pod startup: $(nproc) CPUs, $(uname -r), crun $(crun --version | head -1 | awk '{print $3}')"
python3 bench/pods.py "$M" "$MB" default kube9.local/busybox:1.35 "$ST" "$NODE_PID"
