# tests/integration/node_lib.sh - for tests that run real pods (sourced after
# lib.sh): a cluster with a real crun node on a bridge and pod network of
# the test's own (unique names), the busybox image in the node's store, and
# a cleanup hook that kills every container and sandbox the test made and
# removes the bridge, also when the test fails.
[ "$(id -u)" = 0 ] || skip_all "needs root"
[ -e /dev/fuse ] || skip_all "no FUSE"
for c in crun /usr/lib/cni/bridge busybox ip jq; do
	command -v "$c" >/dev/null 2>&1 || [ -x "$c" ] || skip_all "$c is not installed (make deps)"
done

ST=$T/state
BR=k9t$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
NET=10.$((200 + RANDOM % 50)).$((RANDOM % 250)).0/24
NODE_PID=
IMG=kube9.local/busybox:1.35

# crun as the agent sees cgroups: v1 only where the host is in hybrid mode
crun_host() {
	unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun --root "$0" "$@"' "$ST/crun" "$@"
}

node_cleanup() {
	[ -n "$NODE_PID" ] && kill -9 "$NODE_PID" 2>/dev/null
	for f in "$ST"/pods/*/sandbox.json; do
		[ -f "$f" ] && kill -9 "$(jq -r .pid "$f")" 2>/dev/null
	done
	if [ -d "$ST/crun" ]; then
		for id in $(crun_host list -q 2>/dev/null); do crun_host kill "$id" KILL 2>/dev/null; done
		sleep 0.3
		for id in $(crun_host list -q 2>/dev/null); do crun_host delete -f "$id" 2>/dev/null; done
	fi
	for d in "$ST"/pods/*/; do
		[ -d "$d" ] || continue
		u=$(basename "$d")
		rmdir /sys/fs/cgroup/*/kube9/pod"$u"/* /sys/fs/cgroup/*/kube9/pod"$u" 2>/dev/null
	done
	ip link del "$BR" 2>/dev/null
}
CLEANUP_HOOKS="$CLEANUP_HOOKS node_cleanup"

# the busybox image: built once per test into $T, imported into the node's store
node_image() {
	layout=$ROOT/build/images/busybox
	if [ ! -f "$layout/index.json" ]; then
		layout=$T/busybox
		sh "$ROOT/scripts/mkimage.sh" "$layout" >>"$T/image.log" 2>&1 || return 1
	fi
	"$KUBE9" image import --store "$ST/images" "$layout" "$IMG" >>"$T/image.log" 2>&1
}

# start_node [ARGS...]: the real node agent (NODE_PID) on the test's bridge
start_node() {
	NODE_PORT=${NODE_PORT:-$(free_port)}
	start_kube9 node.log node --mount "$M" --state-dir "$ST" --pod-cidr "$NET" --bridge "$BR" \
		--backoff 1 --heartbeat 2 --port "$NODE_PORT" "$@"
	NODE_PID=$BG_PID
}

# pj NS NAME FILTER: jq on the pod's JSON through the mount
pj() { jq -r "$3" "$M/namespaces/$1/pods/$2.json" 2>/dev/null; }
phase_is() { [ "$(pj "$1" "$2" '.status.phase // empty')" = "$3" ]; }
# pod_log NS NAME CTR [RUN]: the container's log file on the node
pod_log() {
	uid=$(pj "$1" "$2" .metadata.uid)
	cat "$ST/logs/$1_$2_$uid/$3/${4:-0}.log" 2>/dev/null
}
log_has() { pod_log "$1" "$2" "$3" | grep -q -- "$4"; }
