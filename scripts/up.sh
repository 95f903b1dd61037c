#!/bin/sh
# scripts/up.sh DATA_DIR [MOUNTPOINT] - start the all-in-one cluster in the
# background: the API server, the cluster mounted at MOUNTPOINT (default
# /mnt/kube9), and, working through that mount, the scheduler, the
# controllers and a real node agent for this host, which runs pods under
# crun (its state, logs and images in DATA_DIR/node; the examples' image is
# imported from build/images/busybox, so no network is needed). With
# KUBE9_HOLLOW=N, N hollow nodes join as well. KUBE9_BRIDGE, KUBE9_POD_CIDR and
# KUBE9_NODE_PORT change the pods' bridge (kube9br0), their addresses
# (10.88.0.0/24) and the node's HTTP port (10250). Waits until each answers
# and says where things are. `make down` stops it.
set -eu
data=${1:-/var/lib/kube9}
mnt=${2:-/mnt/kube9}
listen=${KUBE9_LISTEN:-127.0.0.1:6443}
bin=$(cd "$(dirname "$0")/.." && pwd)/bin/kube9
mkdir -p "$data"
pidfile=$data/server.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
	echo "up: the API server is already running (pid $(cat "$pidfile"))" >&2
else
	echo "up: starting the API server on $listen, data in $data" >&2
	setsid "$bin" server --data-dir "$data" --listen "$listen" \
		>>"$data/server.log" 2>&1 </dev/null &
	echo $! >"$pidfile"
	i=0
	until curl -fsk "https://$listen/readyz" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
			echo "up: the API server did not start; the end of $data/server.log:" >&2
			tail -20 "$data/server.log" >&2
			exit 1
		fi
		sleep 0.1
	done
fi
echo "up: API server ready at https://$listen" >&2
if mountpoint -q "$mnt"; then
	echo "up: $mnt is already mounted" >&2
else
	mkdir -p "$mnt"
	# returns once the mount is ready; its log goes on in mount.log
	"$bin" mount --kubeconfig "$data/admin.kubeconfig" "$mnt" >>"$data/mount.log" 2>&1 </dev/null || {
		echo "up: mounting $mnt failed; the end of $data/mount.log:" >&2
		tail -5 "$data/mount.log" >&2
		exit 1
	}
	echo "up: the cluster is mounted at $mnt" >&2
fi
# start_daemon NAME ARGS...: kube9 ARGS in the background, pid in DATA/NAME.pid, log in DATA/NAME.log
start_daemon() {
	name=$1
	shift
	pf=$data/$name.pid
	if [ -f "$pf" ] && kill -0 "$(cat "$pf")" 2>/dev/null; then
		echo "up: $name is already running (pid $(cat "$pf"))" >&2
		return
	fi
	setsid "$bin" "$@" >>"$data/$name.log" 2>&1 </dev/null &
	echo $! >"$pf"
	sleep 0.2
	if ! kill -0 "$(cat "$pf")" 2>/dev/null; then
		echo "up: $name did not start; the end of $data/$name.log:" >&2
		tail -5 "$data/$name.log" >&2
		exit 1
	fi
	echo "up: $name running, log in $data/$name.log" >&2
}
start_daemon sched sched --mount "$mnt"
start_daemon controllers controllers --mount "$mnt"
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$root/build/images/busybox/index.json" ]; then
	"$bin" image import --store "$data/node/images" "$root/build/images/busybox" \
		kube9.local/busybox:1.35 >>"$data/node.log" 2>&1 ||
		echo "up: importing the examples' image failed; see $data/node.log" >&2
fi
start_daemon node node --mount "$mnt" --state-dir "$data/node" --bridge "${KUBE9_BRIDGE:-kube9br0}" \
	--pod-cidr "${KUBE9_POD_CIDR:-10.88.0.0/24}" --port "${KUBE9_NODE_PORT:-10250}"
if [ "${KUBE9_HOLLOW:-0}" -gt 0 ]; then
	start_daemon hollow node --mount "$mnt" --hollow "$KUBE9_HOLLOW" --zones zone-a,zone-b,zone-c
fi
echo "kubeconfig: $data/admin.kubeconfig"
echo "try: kubectl --kubeconfig $data/admin.kubeconfig get nodes"
echo "try: cp examples/pod.yaml $mnt/namespaces/default/pods/; cat $mnt/namespaces/default/pods/pod.yaml"
