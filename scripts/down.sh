#!/bin/sh
# scripts/down.sh DATA_DIR [MOUNTPOINT] - stop what `make up` started.
data=${1:-/var/lib/kube9}
mnt=${2:-/mnt/kube9}
for name in node controllers sched; do
	pf=$data/$name.pid
	if [ -f "$pf" ] && kill -0 "$(cat "$pf")" 2>/dev/null; then
		kill "$(cat "$pf")"
		echo "down: stopped $name" >&2
	fi
	rm -f "$pf"
done
if mountpoint -q "$mnt"; then
	fusermount3 -u "$mnt" || umount -l "$mnt"
	echo "down: unmounted $mnt" >&2
fi
pidfile=$data/server.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
	kill "$(cat "$pidfile")"
	echo "down: stopped the API server" >&2
else
	echo "down: the API server was not running" >&2
fi
rm -f "$pidfile"
