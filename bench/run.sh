#!/bin/bash
# bench/run.sh - kube9's benchmarks (`make bench`); prints figures, passes or
# fails nothing. See bench/README.md for what each figure means.
#
# Builds bin/kube9 and build/bench/api_bench if needed, starts a fresh API
# server in a temp dir on a free loopback port, and measures over HTTPS with
# keep-alive and ~2 KB pods: creates (8 clients), GETs (8 clients), a list of
# 10,000 pods (median of 5), watch delivery to 100 watchers, the server's
# memory with BENCH_PODS pods stored and its restart time; then the same
# creates as puts against Debian's etcd (plain HTTP JSON gateway) for the
# ratio. Progress goes to stderr, the table to stdout. A trap stops the
# server and etcd and removes the temp dir, also on failure or ^C.
#
# Environment: BENCH_PODS (150000) pods stored for the memory figure,
# BENCH_CREATES (30000) creates and etcd puts, BENCH_GETS (40000),
# BENCH_CHANGES (1000) watched writes, BENCH_SYNC_FULL (1) also measure
# creates with --sync-full, ETCD (/usr/bin/etcd), B (build), KUBE9 (bin/kube9).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
B=${B:-build}
KUBE9=${KUBE9:-bin/kube9}
BENCH_PODS=${BENCH_PODS:-150000}
BENCH_CREATES=${BENCH_CREATES:-30000}
BENCH_GETS=${BENCH_GETS:-40000}
BENCH_CHANGES=${BENCH_CHANGES:-1000}
BENCH_SYNC_FULL=${BENCH_SYNC_FULL:-1}
ETCD=${ETCD:-/usr/bin/etcd}
CLIENTS=8
WATCHERS=100
BIN=$B/bench/api_bench

log() { echo "bench: $*" >&2; }

make --no-print-directory -s B="$B" "$KUBE9" "$BIN" >&2

T=$(mktemp -d /tmp/kube9-bench.XXXXXX)
SERVER_PID=
ETCD_PID=
stop_pid() { # stop_pid PID: TERM, up to 10 s, then KILL
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null || return 0
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
cleanup() {
	stop_pid "$SERVER_PID"
	stop_pid "$ETCD_PID"
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
	while :; do
		p=$((($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000) + 20000))
		ss -ltnH "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
	done
}
ms_now() { echo $(($(date +%s%N) / 1000000)); }
# val KEY: the last figure KEY the client printed.
val() { awk -v k="$1" '$1 == k { v = $2 } END { print v }' "$T/results"; }
# proc_kb FIELD: VmRSS/VmHWM of the server in kB.
proc_kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$SERVER_PID/status"; }
fig() { echo "$1 $2" >>"$T/results"; }

# cpu_busy: percent of all CPU time that was not idle during one second.
cpu_busy() {
	read -r _ a b c d e f g h _ </proc/stat
	t1=$((a + b + c + d + e + f + g + h)) i1=$((d + e))
	sleep 1
	read -r _ a b c d e f g h _ </proc/stat
	t2=$((a + b + c + d + e + f + g + h)) i2=$((d + e))
	echo $((100 * ((t2 - t1) - (i2 - i1)) / (t2 - t1 + 1)))
}
# wait_quiet PHASE: the figures need the machine to themselves, so before
# each phase wait (up to BENCH_QUIET_WAIT s) until under 15% of the CPU is busy.
BENCH_QUIET_WAIT=${BENCH_QUIET_WAIT:-300}
wait_quiet() {
	s=$(date +%s)
	while b=$(cpu_busy) && [ "$b" -gt 15 ]; do
		top=$(ps -eo stat=,comm= | awk '$1 ~ /^R/ && $2 != "ps" { printf "%s%s", s, $2; s = ", " }')
		if [ $(($(date +%s) - s)) -ge "$BENCH_QUIET_WAIT" ]; then
			log "machine still $b% busy before $1 (running: $top); measuring anyway"
			fig "busy.$1" "$b%"
			return
		fi
		log "machine $b% busy before $1 (running: $top); waiting"
		sleep 4
	done
}

start_server() { # start_server DATADIR [ARGS...]
	dir=$1
	shift
	PORT=$(free_port)
	URL=https://127.0.0.1:$PORT
	t0=$(ms_now)
	"$KUBE9" server --data-dir "$dir" --listen "127.0.0.1:$PORT" "$@" >>"$T/server.log" 2>&1 &
	SERVER_PID=$!
	until curl -fsk "$URL/readyz" >/dev/null 2>&1; do
		if ! kill -0 "$SERVER_PID" 2>/dev/null || [ $(($(ms_now) - t0)) -gt 600000 ]; then
			log "the server did not start:"
			tail -20 "$T/server.log" >&2
			exit 1
		fi
		sleep 0.01
	done
	READY_MS=$(($(ms_now) - t0))
	TOKEN=$(head -1 "$dir/tokens.csv" | cut -d, -f1)
	CA=$dir/pki/ca.crt
}
stop_server() {
	stop_pid "$SERVER_PID"
	SERVER_PID=
}

# CPU accounting around each phase, to tell the server's CPU time from the
# client's and from anything else's (other processes, steal, interrupts).
HZ=$(getconf CLK_TCK)
NCPU=$(nproc)
busy_jiffies() {
	read -r _ a b c d e f g h _ </proc/stat
	echo $((a + b + c + f + g + h))
}
pid_jiffies() {
	if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then
		awk '{ print $14 + $15 }' "/proc/$1/stat"
	else
		echo 0
	fi
}
# account TAG MS BUSY PIDCPU: figures TAG.server_cpu_s, TAG.other_cpu_s.
account() {
	c=$(val "$1.client_cpu_s")
	read -r srv oth warn < <(awk -v ms="$2" -v b="$3" -v p="$4" -v c="${c:-0}" -v hz="$HZ" \
		-v n="$NCPU" 'BEGIN { s = p / hz; o = b / hz - s - c; if (o < 0) o = 0
			w = (ms > 1000 && o > 0.15 * n * ms / 1000); printf "%.2f %.2f %d\n", s, o, w }')
	fig "$1.server_cpu_s" "$srv"
	fig "$1.other_cpu_s" "$oth"
	fig "$1.wall_s" "$(awk -v ms="$2" 'BEGIN { printf "%.2f", ms / 1000 }')"
	if [ "$warn" = 1 ]; then
		log "   WARNING: $oth CPU-s went to neither server nor client during $1"
		fig "busy.$1" "${oth}CPU-s"
	fi
}

# kb TAG MODE ARGS...: api_bench against the server ($SERVER_PID, or
# $ETCD_PID for etcd); figures appended to results.
kb() {
	tag=$1 mode=$2
	shift 2
	pid=${SERVER_PID:-$ETCD_PID}
	b0=$(busy_jiffies) p0=$(pid_jiffies "$pid") t0=$(ms_now)
	if ! "$BIN" "$mode" --tag "$tag" --url "$URL" ${TOKEN:+--token "$TOKEN"} \
		${CA:+--cacert "$CA"} "$@" >>"$T/results"; then
		log "api_bench $mode failed"
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			log "the server is gone"
		fi
		tail -20 "$T/server.log" "$T/etcd.log" >&2
		exit 1
	fi
	t1=$(ms_now) b1=$(busy_jiffies) p1=$(pid_jiffies "$pid")
	if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
		log "the server died during $mode; its log:"
		tail -20 "$T/server.log" "$T/etcd.log" >&2
		exit 1
	fi
	account "$tag" $((t1 - t0)) $((b1 - b0)) $((p1 - p0))
	if [ -n "$SERVER_PID" ]; then
		fig "$tag.vmrss_kb" "$(proc_kb VmRSS)"
		fig "$tag.vmhwm_kb" "$(proc_kb VmHWM)"
		fig "$tag.rssanon_kb" "$(proc_kb RssAnon)"
		fig "$tag.rssfile_kb" "$(proc_kb RssFile)"
	fi
}

: >"$T/results"
: >"$T/server.log"
: >"$T/etcd.log"
START=$(date +%s)
log "temp dir $T; load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- kube9 -------------------------------------------------------------
DATA=$T/data
start_server "$DATA"
log "kube9 server pid $SERVER_PID on $URL"

wait_quiet create
log "1. $BENCH_CREATES creates from $CLIENTS clients"
kb create create --ns bench --prefix p --count "$BENCH_CREATES" --clients $CLIENTS

wait_quiet get
log "2. $BENCH_GETS GETs of single pods from $CLIENTS clients"
kb get get --ns bench --prefix p --pool "$BENCH_CREATES" --count "$BENCH_GETS" \
	--clients $CLIENTS

log "3. list of 10,000 pods, 5 times"
kb listfill create --ns list10k --prefix l --count 10000 --clients $CLIENTS
wait_quiet list
kb list list --ns list10k --runs 5 --expect 10000

wait_quiet watch
log "4. $WATCHERS watchers, $BENCH_CHANGES changes one at a time"
kb watch watch --ns watch --prefix w --watchers $WATCHERS --changes "$BENCH_CHANGES"

wait_quiet load
log "5. memory with $BENCH_PODS pods stored"
kb before count
LOAD=$((BENCH_PODS - $(val before.pods)))
if [ "$LOAD" -gt 0 ]; then
	kb load create --ns load --prefix x --count "$LOAD" --clients $CLIENTS
fi
kb stored count
fig rss.vmrss_kb "$(proc_kb VmRSS)"
fig rss.vmhwm_kb "$(proc_kb VmHWM)"
fig rss.rssanon_kb "$(proc_kb RssAnon)"
fig rss.rssfile_kb "$(proc_kb RssFile)"
fig rss.threads "$(awk '$1 == "Threads:" { print $2 }' "/proc/$SERVER_PID/status")"
db=$(stat -c %s "$DATA/state.db")
wal=$(stat -c %s "$DATA/state.db-wal" 2>/dev/null || echo 0)
fig rss.db_bytes "$db"
fig rss.wal_bytes "$wal"
log "   VmRSS $(($(val rss.vmrss_kb) / 1024)) MiB, VmHWM $(($(val rss.vmhwm_kb) / 1024)) MiB," \
	"state.db $((db >> 20)) MiB + WAL $((wal >> 20)) MiB"
stop_server
start_server "$DATA"
fig restart.ready_ms "$READY_MS"
kb restarted count
fig restart.vmrss_kb "$(proc_kb VmRSS)"
log "   restart with $(val restarted.pods) pods: ready in $READY_MS ms," \
	"VmRSS $(($(val restart.vmrss_kb) / 1024)) MiB"
stop_server

if [ "$BENCH_SYNC_FULL" = 1 ]; then
	wait_quiet syncfull
	log "1b. $BENCH_CREATES creates with --sync-full (fsync per commit, like etcd)"
	start_server "$T/data-sync" --sync-full
	kb syncfull create --ns bench --prefix p --count "$BENCH_CREATES" --clients $CLIENTS
	stop_server
fi

# ---- etcd --------------------------------------------------------------
wait_quiet etcd
log "6. $BENCH_CREATES etcd puts from $CLIENTS clients ($ETCD, plain HTTP)"
EC=$(free_port)
EP=$(free_port)
while [ "$EP" = "$EC" ]; do EP=$(free_port); done
"$ETCD" --name bench --data-dir "$T/etcd" \
	--listen-client-urls "http://127.0.0.1:$EC" --advertise-client-urls "http://127.0.0.1:$EC" \
	--listen-peer-urls "http://127.0.0.1:$EP" --initial-advertise-peer-urls "http://127.0.0.1:$EP" \
	--initial-cluster "bench=http://127.0.0.1:$EP" --logger zap --log-level warn \
	>"$T/etcd.log" 2>&1 &
ETCD_PID=$!
i=0
until curl -fs "http://127.0.0.1:$EC/health" 2>/dev/null | grep -q '"health":"true"'; do
	i=$((i + 1))
	if [ $i -gt 1000 ] || ! kill -0 "$ETCD_PID" 2>/dev/null; then
		log "etcd did not start:"
		tail -20 "$T/etcd.log" >&2
		exit 1
	fi
	sleep 0.02
done
URL=http://127.0.0.1:$EC
TOKEN=
CA=
kb etcd etcd-put --ns bench --prefix p --count "$BENCH_CREATES" --clients $CLIENTS
ETCD_VERSION=$("$ETCD" --version 2>/dev/null | awk '/etcd Version/ { print $3 }')
stop_pid "$ETCD_PID"
ETCD_PID=

# ---- the table ---------------------------------------------------------
ELAPSED=$(($(date +%s) - START))
# goal VALUE OP LIMIT: "yes" or "NO"
goal() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
	ok = (op == ">=") ? v + 0 >= l + 0 : v + 0 <= l + 0; print (v != "" && ok) ? "yes" : "NO" }'; }
# per TAG / cper TAG: server / client CPU ms per request of a phase.
per() { awk -v c="$(val "$1.server_cpu_s")" -v n="$(val "$1.count")" 'BEGIN { printf "%.2f", 1000 * c / n }'; }
cper() { awk -v c="$(val "$1.client_cpu_s")" -v n="$(val "$1.count")" 'BEGIN { printf "%.2f", 1000 * c / n }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
ratio=$(awk -v a="$(val create.rate)" -v b="$(val etcd.rate)" 'BEGIN { printf "%.2f", a / b }')
rss_mib=$(mib "$(val rss.vmrss_kb)")
hwm_mib=$(mib "$(val rss.vmhwm_kb)")
load_s=$(val load.seconds)
load_rate=$(val load.rate)

cat <<EOF

## kube9 benchmarks

- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), \
$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, \
$(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)
- date: $(date -u '+%Y-%m-%d %H:%M UTC'); kube9 $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- fs lib cmd include 2>/dev/null || echo "+uncommitted")
- kube9 over HTTPS (TLS via GnuTLS), keep-alive, one connection per client thread; pods of
  2,048 bytes of JSON (2 containers, env, resources, labels, annotations); client and server
  share the machine. etcd $ETCD_VERSION is plain HTTP (JSON gateway), one node, same machine.
- total time $ELAPSED s

| # | figure | measured | goal | met |
| --- | --- | --- | --- | --- |
| 1 | creates/s, $CLIENTS clients, $(val create.count) pods | $(val create.rate)/s | ≥ 5,000/s | $(goal "$(val create.rate)" ">=" 5000) |
| 1 | create latency p50 / p99 (max) | $(val create.p50_ms) / $(val create.p99_ms) ms ($(val create.max_ms)) | p99 ≤ 20 ms | $(goal "$(val create.p99_ms)" "<=" 20) |
| 2 | GET one pod p50 / p99 (max), $CLIENTS clients, $(val get.count) GETs | $(val get.p50_ms) / $(val get.p99_ms) ms ($(val get.max_ms)) | p99 ≤ 5 ms | $(goal "$(val get.p99_ms)" "<=" 5) |
| 3 | list $(val list.items) pods ($(val list.mbytes) MB), median of 5 (min–max) | $(val list.median_ms) ms ($(val list.min_ms)–$(val list.max_ms)) | ≤ 200 ms | $(goal "$(val list.median_ms)" "<=" 200) |
| 4 | watch delivery p50 / p99 (max), $(val watch.watchers) watchers × $(val watch.changes) changes | $(val watch.p50_ms) / $(val watch.p99_ms) ms ($(val watch.max_ms)); $(val watch.delivered) of $(val watch.expected) delivered | p99 ≤ 50 ms | $(goal "$(val watch.p99_ms)" "<=" 50) |
| 4 | the writer meanwhile: changes/s, write p50 / p99 | $(val watch.write_rate)/s, $(val watch.write_p50_ms) / $(val watch.write_p99_ms) ms | | |
| 5 | server VmRSS (RssAnon + RssFile) / VmHWM (peak) with $(val stored.pods) pods | $rss_mib ($(mib "$(val rss.rssanon_kb)") + $(mib "$(val rss.rssfile_kb)")) / $hwm_mib MiB | ≤ 500 MiB | $(goal "$rss_mib" "<=" 500) / $(goal "$hwm_mib" "<=" 500) |
| 5 | loading them: $(val load.count) creates after the above | $(if [ -n "$load_s" ]; then echo "$load_s s ($load_rate/s, p99 $(val load.p99_ms) ms)"; else echo "none needed"; fi) | | |
| 5 | state.db / WAL size | $(($(val rss.db_bytes) >> 20)) / $(($(val rss.wal_bytes) >> 20)) MiB | | |
| 5 | restart with $(val restarted.pods) pods: ready, then VmRSS | $(val restart.ready_ms) ms, $(mib "$(val restart.vmrss_kb)") MiB | | |
EOF
if [ "$BENCH_SYNC_FULL" = 1 ]; then
	echo "| 1b | creates/s with --sync-full, p50 / p99 | $(val syncfull.rate)/s, $(val syncfull.p50_ms) / $(val syncfull.p99_ms) ms | | |"
fi
cat <<EOF
| 6 | etcd puts/s, $CLIENTS clients, $(val etcd.count) × 2 KB values (HTTP) | $(val etcd.rate)/s | | |
| 6 | etcd put latency p50 / p99 (max) | $(val etcd.p50_ms) / $(val etcd.p99_ms) ms ($(val etcd.max_ms)) | | |
| 6 | kube9 creates/s ÷ etcd puts/s | $ratio | ≥ 1 | $(goal "$ratio" ">=" 1) |
| | CPU per request, server / client: create, GET, etcd put | $(per create) / $(cper create), $(per get) / $(cper get), $(per etcd) / $(cper etcd) ms | | |

- CPU-s used by neither server nor client (others, kernel, steal) during: creates $(val create.other_cpu_s) of $(val create.wall_s) s wall, GETs $(val get.other_cpu_s) of $(val get.wall_s), list $(val list.other_cpu_s) of $(val list.wall_s), watch $(val watch.other_cpu_s) of $(val watch.wall_s), load $(val load.other_cpu_s) of $(val load.wall_s), etcd $(val etcd.other_cpu_s) of $(val etcd.wall_s) ($NCPU CPUs).
- server memory after each phase, MiB, VmRSS (RssAnon + RssFile) / VmHWM: $(for p in create get listfill list watch load; do
	printf '%s %s (%s + %s) / %s; ' "$p" "$(mib "$(val $p.vmrss_kb)")" "$(mib "$(val $p.rssanon_kb)")" \
		"$(mib "$(val $p.rssfile_kb)")" "$(mib "$(val $p.vmhwm_kb)")"
done)
  (RssFile: the binary and shared libraries; SQLite does not mmap the database)
- reconnects after warm-up (keep-alive check): creates $(val create.reconnects), GETs $(val get.reconnects), etcd $(val etcd.reconnects).
EOF
busy=$(awk '/^busy\./ { sub(/^busy\./, "", $1); printf "%s%s (%s)", sep, $1, $2; sep = ", " }' "$T/results")
if [ -n "$busy" ]; then
	echo
	echo "WARNING: other processes kept the machine busy before or during: $busy (before: % of all CPU; during: CPU-s used by neither server nor client); those figures are low."
fi
n=$(grep -ciE 'error|warn|fatal' "$T/server.log" || true)
if [ "$n" -gt 0 ]; then
	echo
	echo "The server logged $n warning/error lines; the first ones:"
	grep -iE 'error|warn|fatal' "$T/server.log" | head -10 | sed 's/^/    /'
fi
