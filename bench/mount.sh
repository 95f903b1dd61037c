#!/bin/bash
# bench/mount.sh - kube9 mount's figures, each next to the same operation on
# tmpfs (the ratio): cp of BENCH_CP manifests into the mount, cat of as many
# cached objects, ls -l of BENCH_LS pods, the latency of an inotify event
# here for a change made through another mount (BENCH_CHANGES changes, p50
# and p99), and the mount's memory with BENCH_MOUNT_PODS pods cached (and how
# long a fresh mount takes to list them). Progress to stderr, the table to
# stdout; a trap unmounts, stops the server and removes the temp dirs.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
B=${B:-build}
KUBE9=${KUBE9:-bin/kube9}
BIN=$B/bench/api_bench
BENCH_CP=${BENCH_CP:-1000}
BENCH_LS=${BENCH_LS:-10000}
BENCH_CHANGES=${BENCH_CHANGES:-200}
BENCH_MOUNT_PODS=${BENCH_MOUNT_PODS:-150000}
log() { echo "bench: $*" >&2; }
make --no-print-directory -s B="$B" "$KUBE9" "$BIN" >&2

T=$(mktemp -d /tmp/kube9-mbench.XXXXXX)
S=$(mktemp -d /dev/shm/kube9-mbench.XXXXXX) # tmpfs
PIDS=
MOUNTS=
cleanup() {
	for m in $MOUNTS; do fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$p" 2>/dev/null || true
	done
	rm -rf --one-file-system "$T" "$S"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
now_us() { echo $(($(date +%s%N) / 1000)); }

port=$((($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000) + 20000))
"$KUBE9" server --data-dir "$T/data" --listen "127.0.0.1:$port" >"$T/server.log" 2>&1 &
PIDS="$PIDS $!"
until curl -fsk "https://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.05; done
KC=$T/data/admin.kubeconfig
TOKEN=$(head -1 "$T/data/tokens.csv" | cut -d, -f1)
mount_at() { # DIR -> pid in MPID
	mkdir -p "$1"
	MOUNTS="$MOUNTS $1"
	"$KUBE9" mount --kubeconfig "$KC" -f "$1" 2>>"$T/mount.log" &
	MPID=$!
	PIDS="$PIDS $MPID"
	until mountpoint -q "$1" && [ -d "$1/namespaces/default" ]; do
		kill -0 $MPID 2>/dev/null || { log "the mount of $1 failed:"; tail -3 "$T/mount.log" >&2; exit 1; }
		sleep 0.05
	done
}
mount_at "$T/m1"
M1PID=$MPID
mount_at "$T/m2"
P=$T/m1/namespaces/default/pods

# --- cp of BENCH_CP manifests
mkdir -p "$T/src" "$S/cp"
for i in $(seq 1 "$BENCH_CP"); do
	printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: cp%05d\n  labels:\n    app: bench\nspec:\n  containers:\n  - name: c\n    image: busybox\n    resources:\n      requests:\n        cpu: 100m\n        memory: 32Mi\n' "$i" >"$T/src/cp$(printf %05d "$i").yaml"
done
log "cp of $BENCH_CP manifests"
t0=$(now_us); cp "$T"/src/*.yaml "$P/"; t1=$(now_us)
cp_rate=$((BENCH_CP * 1000000 / (t1 - t0)))
t0=$(now_us); cp "$T"/src/*.yaml "$S/cp/"; t1=$(now_us)
cp_tmpfs=$((BENCH_CP * 1000000 / (t1 - t0)))
log "the same with 8 cp processes at once"
mkdir -p "$S/cp8"
rm -f "$T/m1/namespaces/kube-public/pods/"*.yaml 2>/dev/null || true
t0=$(now_us)
printf '%s\n' "$T"/src/*.yaml | xargs -P 8 -n $(((BENCH_CP + 7) / 8)) cp -t "$T/m1/namespaces/kube-public/pods/"
t1=$(now_us)
cp8_rate=$((BENCH_CP * 1000000 / (t1 - t0)))
t0=$(now_us)
printf '%s\n' "$T"/src/*.yaml | xargs -P 8 -n $(((BENCH_CP + 7) / 8)) cp -t "$S/cp8/"
t1=$(now_us)
cp8_tmpfs=$((BENCH_CP * 1000000 / (t1 - t0)))

# --- cat of as many cached objects (best of 5)
cp "$P"/cp*.yaml "$S/cp/" # same sizes as through the mount
best_cat() { # DIR
	best=0
	for _ in 1 2 3 4 5; do
		t0=$(now_us); cat "$1"/cp*.yaml >/dev/null; t1=$(now_us)
		r=$((BENCH_CP * 1000000 / (t1 - t0)))
		[ $r -gt $best ] && best=$r
	done
	echo $best
}
log "cat of $BENCH_CP cached objects"
cat_rate=$(best_cat "$P")
cat_tmpfs=$(best_cat "$S/cp")

# --- ls -l of BENCH_LS pods
more=$((BENCH_LS - BENCH_CP))
log "creating $more more pods through the API"
"$BIN" create --url "https://127.0.0.1:$port" --token "$TOKEN" --cacert "$T/data/pki/ca.crt" \
	--prefix ls --count "$more" --tag fill >/dev/null
until [ "$(ls "$P" | wc -l)" -ge "$BENCH_LS" ]; do sleep 0.2; done
mkdir -p "$S/ls"
cp "$P"/*.yaml "$S/ls/"
median_ls() { # DIR: median of 3 runs, attributes expired before each
	for _ in 1 2 3; do
		sleep 1.1
		t0=$(now_us); ls -l "$1" >/dev/null; t1=$(now_us)
		echo $((t1 - t0))
	done | sort -n | sed -n 2p
}
log "ls -l of $BENCH_LS pods"
ls_us=$(median_ls "$P")
ls_tmpfs_us=$(median_ls "$S/ls")

# --- inotify here for a change through the other mount
CM1=$T/m1/namespaces/default/configmaps
CM2=$T/m2/namespaces/default/configmaps
mkdir -p "$S/ino"
latency() { # WATCHDIR WRITEDIR OUT: sorted microseconds, one per line
	coproc INW { exec inotifywait -m -q -e close_write,create --format '%f' "$1"; }
	sleep 0.5
	: >"$3.raw"
	for i in $(seq 1 "$BENCH_CHANGES"); do
		t0=$(now_us)
		printf 'data:\n  i: "%d"\n' "$i" >"$2/lat.yaml"
		while read -r -u "${INW[0]}" f; do [ "$f" = lat.yaml ] && break; done
		t1=$(now_us)
		echo $((t1 - t0)) >>"$3.raw"
		# the first write raises CREATE and CLOSE_WRITE: drain what is left
		while read -r -t 0.05 -u "${INW[0]}" f; do :; done
	done
	kill "$INW_PID" 2>/dev/null || true
	wait "$INW_PID" 2>/dev/null || true
	sort -n "$3.raw" >"$3"
}
log "inotify latency over $BENCH_CHANGES changes"
latency "$CM1" "$CM2" "$T/lat"
latency "$S/ino" "$S/ino" "$T/lat_tmpfs"
pct() { sed -n "$(( ($(wc -l <"$1") * $2 + 99) / 100 ))p" "$1"; }
lat50=$(pct "$T/lat" 50) lat99=$(pct "$T/lat" 99)
tl50=$(pct "$T/lat_tmpfs" 50) tl99=$(pct "$T/lat_tmpfs" 99)

# --- memory with BENCH_MOUNT_PODS pods cached
have=$(ls "$P" | wc -l)
if [ "$BENCH_MOUNT_PODS" -gt "$have" ]; then
	log "creating $((BENCH_MOUNT_PODS - have)) more pods through the API"
	"$BIN" create --url "https://127.0.0.1:$port" --token "$TOKEN" --cacert "$T/data/pki/ca.crt" \
		--prefix rss --count $((BENCH_MOUNT_PODS - have)) --tag fill >/dev/null
fi
log "waiting for the mount to cache them"
until [ "$(ls "$P" | wc -l)" -ge "$BENCH_MOUNT_PODS" ]; do sleep 1; done
rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$M1PID/status)
hwm_kb=$(awk '/VmHWM/ {print $2}' /proc/$M1PID/status)
log "a fresh mount of $BENCH_MOUNT_PODS pods"
t0=$(now_us); mount_at "$T/m3"; t1=$(now_us)
fresh_ms=$(((t1 - t0) / 1000))
fresh_hwm=$(awk '/VmHWM/ {print $2}' /proc/$MPID/status)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-48s %12s %12s %8s\n' "figure" "kube9 mount" "tmpfs" "ratio"
printf '%-48s %12s %12s %8s\n' "cp of $BENCH_CP manifests (files/s)" "$cp_rate" "$cp_tmpfs" "$(ratio "$cp_tmpfs" "$cp_rate")"
printf '%-48s %12s %12s %8s\n' "cp by 8 processes at once (files/s)" "$cp8_rate" "$cp8_tmpfs" "$(ratio "$cp8_tmpfs" "$cp8_rate")"
printf '%-48s %12s %12s %8s\n' "cat of $BENCH_CP cached objects (files/s)" "$cat_rate" "$cat_tmpfs" "$(ratio "$cat_tmpfs" "$cat_rate")"
printf '%-48s %12s %12s %8s\n' "ls -l of $BENCH_LS pods (ms)" "$((ls_us / 1000))" "$((ls_tmpfs_us / 1000))" "$(ratio "$ls_us" "$ls_tmpfs_us")"
printf '%-48s %12s %12s %8s\n' "inotify after a change elsewhere, p50 (ms)" "$(ratio "$lat50" 1000)" "$(ratio "$tl50" 1000)" "$(ratio "$lat50" "$tl50")"
printf '%-48s %12s %12s %8s\n' "inotify after a change elsewhere, p99 (ms)" "$(ratio "$lat99" 1000)" "$(ratio "$tl99" 1000)" "$(ratio "$lat99" "$tl99")"
printf '%-48s %12s\n' "mount RSS with $BENCH_MOUNT_PODS pods cached (MiB)" "$((rss_kb / 1024))"
printf '%-48s %12s\n' "mount peak RSS, watch-fed (MiB)" "$((hwm_kb / 1024))"
printf '%-48s %12s\n' "fresh mount of $BENCH_MOUNT_PODS pods (ms)" "$fresh_ms"
printf '%-48s %12s\n' "fresh mount peak RSS (MiB)" "$((fresh_hwm / 1024))"
