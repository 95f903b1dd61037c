#!/bin/sh
# scripts/down.sh DATA_DIR [MOUNTPOINT] - stop what `make up` started.
data=${1:-/var/lib/kube9}
mnt=${2:-/mnt/kube9}
# stop PID: SIGTERM, then wait for it to exit (SIGKILL after 10 s)
stop() {
	kill "$1" 2>/dev/null || return 0
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	kill -9 "$1" 2>/dev/null || true
}
# the programs working through the mount first, so nothing holds it open
for name in node hollow controllers sched; do
	pf=$data/$name.pid
	if [ -f "$pf" ] && kill -0 "$(cat "$pf")" 2>/dev/null; then
		stop "$(cat "$pf")"
		echo "down: stopped $name" >&2
	fi
	rm -f "$pf"
done
# the node's pods: their containers and sandboxes go too (KUBE9_KEEP_PODS=1
# keeps them running; the next agent adopts them, as a kubelet would)
st=$data/node
if [ -d "$st/crun" ] && [ "${KUBE9_KEEP_PODS:-0}" != 1 ]; then
	# crun sees cgroups as the agent does: v1 only on a host in hybrid mode
	crun_() { unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun --root "$0" "$@"' "$st/crun" "$@"; }
	ids=$(crun_ list -q 2>/dev/null)
	for id in $ids; do crun_ kill "$id" KILL 2>/dev/null; done
	[ -n "$ids" ] && sleep 0.5
	for id in $ids; do crun_ delete -f "$id" 2>/dev/null; done
	for f in "$st"/pods/*/sandbox.json; do
		p=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$f" 2>/dev/null)
		[ -n "$p" ] && grep -q pause "/proc/$p/cmdline" 2>/dev/null && kill -9 "$p"
	done
	for d in "$st"/pods/*/; do
		[ -d "$d" ] && rmdir /sys/fs/cgroup/*/kube9/pod"$(basename "$d")" /sys/fs/cgroup/kube9/pod"$(basename "$d")" 2>/dev/null
	done
	[ -n "$ids" ] && echo "down: stopped the node's containers" >&2
	br=${KUBE9_BRIDGE:-kube9br0}
	ip link del "$br" 2>/dev/null && echo "down: removed the pods' bridge $br" >&2
fi
if mountpoint -q "$mnt"; then
	fusermount3 -u "$mnt" || umount -l "$mnt"
	echo "down: unmounted $mnt" >&2
fi
pidfile=$data/server.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
	stop "$(cat "$pidfile")"
	echo "down: stopped the API server" >&2
else
	echo "down: the API server was not running" >&2
fi
rm -f "$pidfile"
