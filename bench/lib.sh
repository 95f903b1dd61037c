# bench/lib.sh - shared by the cluster benchmarks (sourced): a server and one
# mount in a temp dir, cleanup on exit, pod manifests, peak memory.
T=$(mktemp -d /tmp/kube9-bench.XXXXXX)
PIDS=
MOUNTS=
cleanup() {
	for m in $MOUNTS; do fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
	for p in $PIDS; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$p" 2>/dev/null || true
	done
	[ -n "${KEEP:-}" ] || rm -rf --one-file-system "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
log() { echo "bench: $*" >&2; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
make --no-print-directory -s B="$B" "$KUBE9" "$B/bench/watch_count" >&2

# start_cluster: server and mount ($M); SERVER_PID, MOUNT_PID.
start_cluster() {
	port=$((($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000) + 20000))
	"$KUBE9" server --data-dir "$T/data" --listen "127.0.0.1:$port" >"$T/server.log" 2>&1 &
	SERVER_PID=$!
	PIDS="$PIDS $SERVER_PID"
	until curl -fsk "https://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.05; done
	M=$T/mnt
	mkdir -p "$M"
	MOUNTS="$MOUNTS $M"
	"$KUBE9" mount --kubeconfig "$T/data/admin.kubeconfig" --no-inotify -f "$M" 2>>"$T/mount.log" &
	MOUNT_PID=$!
	PIDS="$PIDS $MOUNT_PID"
	until mountpoint -q "$M" && [ -d "$M/namespaces/default" ]; do sleep 0.05; done
}

# pods PREFIX N: N pod manifests (requests as scheduler_perf's pod-default) on stdout.
pods() {
	awk -v p="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s-%d\nspec:\n  containers:\n  - name: pause\n    image: registry.k8s.io/pause:3.10\n    resources:\n      requests:\n        cpu: 100m\n        memory: 500Mi\n---\n", p, i }'
}

# report_rss "name:pid ...": each process's peak and current RSS.
report_rss() {
	for np in $1; do
		n=${np%%:*} p=${np#*:}
		hwm=$(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
		rss=$(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
		echo "  $n: peak RSS $((hwm / 1024)) MiB, now $((rss / 1024)) MiB"
	done
}

# cpu_mark "name:pid ...": remember each process's CPU time; cpu_report: seconds used since.
cpu_mark() {
	CPU_MARK=
	for np in $1; do CPU_MARK="$CPU_MARK $np:$(awk '{print $14+$15}' "/proc/${np#*:}/stat")"; done
}
cpu_report() {
	out=
	for npc in $CPU_MARK; do
		n=${npc%%:*} rest=${npc#*:} p=${rest%%:*} c0=${rest#*:}
		c1=$(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo "$c0")
		out="$out $n $(awk -v d=$((c1 - c0)) -v h="$(getconf CLK_TCK)" "BEGIN { printf \"%.2fs\", d / h }")"
	done
	echo "  CPU used:$out"
}
