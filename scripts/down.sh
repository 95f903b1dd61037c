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
for name in node controllers sched; do
	pf=$data/$name.pid
	if [ -f "$pf" ] && kill -0 "$(cat "$pf")" 2>/dev/null; then
		stop "$(cat "$pf")"
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
	stop "$(cat "$pidfile")"
	echo "down: stopped the API server" >&2
else
	echo "down: the API server was not running" >&2
fi
rm -f "$pidfile"
