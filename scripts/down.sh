#!/bin/sh
# scripts/down.sh DATA_DIR - stop what `make up` started.
data=${1:-/var/lib/kube9}
pidfile=$data/server.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
	kill "$(cat "$pidfile")"
	echo "down: stopped the API server" >&2
else
	echo "down: the API server was not running" >&2
fi
rm -f "$pidfile"
