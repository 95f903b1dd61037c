# tests/integration/lib.sh - shared by the integration tests (sourced).
# Gives each test its own temp dir and API server on a free loopback port,
# TAP output helpers, and a trap that stops every process it started and
# removes the temp dir, also when the test fails.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KUBE9=${KUBE9:-$ROOT/bin/kube9}
T=$(mktemp -d /tmp/kube9-it.XXXXXX)
PIDS=
n=0
failed=0

MOUNTS=
CLEANUP_HOOKS=
cleanup() {
	# a test's own teardown first (containers, links), while the mounts are there
	for h in $CLEANUP_HOOKS; do "$h"; done
	# unmount first: nothing below may ever walk into a live mount
	for m in $MOUNTS; do
		fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$p" 2>/dev/null
	done
	rm -rf --one-file-system "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
# check "what" CMD...: ok when CMD succeeds.
check() { what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
skip_all() { echo "# SKIP: $*"; exit 77; }
done_testing() { echo "1..$n"; [ "$failed" = 0 ]; }

free_port() {
	while :; do
		p=$(( (($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000)) + 20000 ))
		ss -ltnH "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
	done
}

# start_server [ARGS...]: start an API server with data in $T/data.
start_server() {
	PORT=${PORT:-$(free_port)}
	DATA=$T/data
	"$KUBE9" server --data-dir "$DATA" --listen "127.0.0.1:$PORT" "$@" >>"$T/server.log" 2>&1 &
	SERVER_PID=$!
	PIDS="$PIDS $SERVER_PID"
	i=0
	until curl -fsk "https://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
			echo "# server did not start:"; sed 's/^/# /' "$T/server.log"
			exit 1
		fi
		sleep 0.05
	done
	KUBECONFIG=$DATA/admin.kubeconfig
	export KUBECONFIG
	TOKEN=$(head -1 "$DATA/tokens.csv" | cut -d, -f1)
	URL=https://127.0.0.1:$PORT
}

stop_server() {
	kill "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
}

# api METHOD PATH [BODY [CONTENT-TYPE]]: prints the body, sets CODE.
api() {
	m=$1 p=$2 b=${3-} ct=${4:-application/json}
	if [ -n "$b" ]; then
		printf '%s' "$b" >"$T/req"
		CODE=$(curl -sS --cacert "$DATA/pki/ca.crt" -H "Authorization: Bearer $TOKEN" \
			-X "$m" -H "Content-Type: $ct" --data-binary @"$T/req" \
			-o "$T/resp" -w '%{http_code}' "$URL$p")
	else
		CODE=$(curl -sS --cacert "$DATA/pki/ca.crt" -H "Authorization: Bearer $TOKEN" \
			-X "$m" -o "$T/resp" -w '%{http_code}' "$URL$p")
	fi
	cat "$T/resp"
}

# jget FILTER: jq -r FILTER on stdin.
jget() { jq -r "$1"; }

# start_mount DIR [ARGS...]: mount the test server's cluster at DIR (in the
# background); MOUNT_PID is the mount's process.
start_mount() {
	dir=$1
	shift
	mkdir -p "$dir"
	MOUNTS="$MOUNTS $dir"
	"$KUBE9" mount --kubeconfig "$KUBECONFIG" -f "$@" "$dir" >>"$T/mount.log" 2>&1 &
	MOUNT_PID=$!
	PIDS="$PIDS $MOUNT_PID"
	i=0
	until mountpoint -q "$dir" && [ -d "$dir/namespaces/default" ]; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 "$MOUNT_PID" 2>/dev/null; then
			echo "# mount did not come up:"; sed 's/^/# /' "$T/mount.log"
			exit 1
		fi
		sleep 0.05
	done
}

# start_kube9 LOG ARGS...: kube9 ARGS in the background, output appended to
# $T/LOG; BG_PID is its process, stopped with the others at exit.
start_kube9() {
	bg_log=$1
	shift
	"$KUBE9" "$@" >>"$T/$bg_log" 2>&1 &
	BG_PID=$!
	PIDS="$PIDS $BG_PID"
}

# wait_for SECONDS CMD...: retry CMD until it succeeds or time runs out.
wait_for() {
	deadline=$(($(date +%s%N) / 1000000 + $1 * 1000))
	shift
	until "$@"; do
		[ $(($(date +%s%N) / 1000000)) -gt $deadline ] && return 1
		sleep 0.05
	done
}

# not CMD...: succeeds when CMD fails (its output is dropped).
not() { ! "$@" >/dev/null 2>&1; }

# pod NAME [LABELS_FLOW] [IMAGE]: a pod manifest on stdout.
pod() {
	printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  labels: %s\nspec:\n  containers:\n  - name: c\n    image: %s\n' \
		"$1" "${2:-{\}}" "${3:-busybox}"
}

# start_registry NAME [AUTH_YAML]: docker-registry on a free loopback port; sets REG.
start_registry() {
	name=$1
	port=$(free_port)
	{
		printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n'
		printf 'storage:\n  filesystem:\n    rootdirectory: %s\n' "$T/$name"
		printf 'http:\n  addr: 127.0.0.1:%s\n' "$port"
		[ -n "${2:-}" ] && printf '%s\n' "$2"
	} >"$T/$name.yml"
	/usr/bin/docker-registry serve "$T/$name.yml" >>"$T/$name.log" 2>&1 &
	PIDS="$PIDS $!"
	REG=127.0.0.1:$port
	wait_for 20 sh -c "curl -s -o /dev/null -w '%{http_code}' http://$REG/v2/ | grep -qv 000" ||
		{ echo "# registry $name did not start:"; sed 's/^/# /' "$T/$name.log"; exit 1; }
}

# push LAYOUT:TAG DEST [CREDS]
push() {
	skopeo copy -q --dest-tls-verify=false ${3:+--dest-creds "$3"} "oci:$1" "docker://$2" \
		>>"$T/skopeo.log" 2>&1
}
