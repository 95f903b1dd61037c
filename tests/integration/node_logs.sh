#!/bin/bash
# tests/integration/node_logs.sh - container logs and usage out of a node:
# the node agent's endpoint serves log files written in the CRI format
# (rotated files, P/F parts, stderr, restarts) and /metrics/resource; the
# server's pods/NAME/log and nodes/NAME/proxy reach it (kubectl logs with -c,
# --tail, --timestamps, --previous, -f; kubectl get --raw; Kubernetes' error
# messages), and so do the mount's NAME.log, NAME.CONTAINER.log and
# nodes/NAME.metrics.
#
# The node is `kube9 node --hollow 1 --address 127.0.0.1 --port P` when that
# agent registers with --address as its InternalIP; otherwise the endpoint
# alone (build/tests/test_node_http --serve) with a Node object made here.
. "$(dirname "$0")/lib.sh"
[ -e /dev/fuse ] && command -v fusermount3 >/dev/null || skip_all "no FUSE"
command -v kubectl >/dev/null || skip_all "kubectl is not installed (make deps installs it)"
STANDIN=$ROOT/build/tests/test_node_http
start_server
M=$T/mnt
start_mount "$M"
K() { kubectl --request-timeout=20s "$@"; }
D=$M/namespaces/default
STATE=$T/state
NP=$(free_port)
mkdir -p "$STATE"

internal_ip() { jq -r '.status.addresses[]? | select(.type == "InternalIP") | .address' "$M/nodes/$1.json" 2>/dev/null; }
kubelet_port() { jq -r '.status.daemonEndpoints.kubeletEndpoint.Port // empty' "$M/nodes/$1.json" 2>/dev/null; }
port_is() { [ "$(kubelet_port "$1")" = "$2" ]; }

NODE=
if "$KUBE9" node --help 2>/dev/null | grep -q -- '--port'; then
	start_kube9 node.log node --mount "$M" --hollow 1 --name h --state-dir "$STATE" \
		--address 127.0.0.1 --port "$NP" --heartbeat 1
	check "kube9 node --hollow --port: the node registers its kubelet port" wait_for 10 port_is h-00000 "$NP"
	check "the agent's endpoint answers /healthz" wait_for 5 curl -fso /dev/null "http://127.0.0.1:$NP/healthz"
	curl -fs "http://127.0.0.1:$NP/metrics/resource" >"$T/hm" 2>&1
	check "the agent's /metrics/resource has the node's cpu and memory" \
		grep -Eq '^node_memory_working_set_bytes [0-9.e+]+ [0-9]+$' "$T/hm"
	if [ "$(internal_ip h-00000)" = 127.0.0.1 ]; then
		NODE=h-00000
	else
		echo "# the hollow node's InternalIP is $(internal_ip h-00000), not --address: the server" \
			"cannot reach it; the endpoint alone stands in for the node below"
		STATE=$T/state2
		mkdir -p "$STATE"
	fi
fi
if [ -z "$NODE" ]; then
	[ -x "$STANDIN" ] || skip_all "$STANDIN is not built"
	NODE=n1
	[ -n "$(kubelet_port h-00000)" ] && NP=$(free_port)
	"$STANDIN" --serve "$STATE" "$NP" "$NODE" >>"$T/standin.log" 2>&1 &
	PIDS="$PIDS $!"
	K apply -f - >"$T/o" 2>&1 <<EOF
apiVersion: v1
kind: Node
metadata: {name: $NODE}
status:
  addresses: [{type: InternalIP, address: 127.0.0.1}, {type: Hostname, address: $NODE}]
  daemonEndpoints: {kubeletEndpoint: {Port: $NP}}
EOF
	wait_for 5 curl -fs "http://127.0.0.1:$NP/healthz" >/dev/null || { echo "# no endpoint:"; cat "$T/standin.log"; }
fi
echo "# node $NODE, endpoint 127.0.0.1:$NP, state $STATE"

# web: httpd (the default container) and sidecar; two: a and b; lonely: not bound
K apply -f - >"$T/o" 2>&1 <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations: {kubectl.kubernetes.io/default-container: httpd}
spec:
  nodeName: $NODE
  containers: [{name: sidecar, image: x}, {name: httpd, image: x}]
---
apiVersion: v1
kind: Pod
metadata: {name: two}
spec:
  nodeName: $NODE
  containers: [{name: a, image: x}, {name: b, image: x}]
---
apiVersion: v1
kind: Pod
metadata: {name: web.sidecar}
spec:
  nodeName: $NODE
  containers: [{name: c, image: x}]
---
apiVersion: v1
kind: Pod
metadata: {name: lonely}
spec:
  containers: [{name: c, image: x}]
EOF
check "pods created" grep -q 'pod/lonely created' "$T/o" || cat "$T/o"
wait_for 5 test -f "$D/pods/lonely.json"
uid() { jq -r .metadata.uid "$D/pods/$1.json"; }
W=$STATE/logs/default_web_$(uid web)
mkdir -p "$W/httpd" "$W/sidecar" "$STATE/logs/default_two_$(uid two)/a" \
	"$STATE/logs/default_web.sidecar_$(uid web.sidecar)/c"
cat >"$W/httpd/0.log.1" <<'EOF'
2026-11-28T03:00:00.000000001Z stdout F starting
EOF
cat >"$W/httpd/0.log" <<'EOF'
2026-11-28T03:00:01.5Z stdout F listening on :80
2026-11-28T03:00:02Z stderr F GET / 404
2026-11-28T03:00:03Z stdout P a long li
2026-11-28T03:00:03.1Z stdout F ne in two parts
EOF
cat >"$W/httpd/1.log" <<'EOF'
2026-11-28T04:00:00Z stdout F restarted
2026-11-28T04:00:01.123456789Z stderr F ready
EOF
echo '2026-11-28T03:00:00Z stdout F from the sidecar' >"$W/sidecar/0.log"
echo '2026-11-28T03:00:00Z stdout F from a' >"$STATE/logs/default_two_$(uid two)/a/0.log"
echo '2026-11-28T03:00:00Z stdout F the pod web.sidecar' \
	>"$STATE/logs/default_web.sidecar_$(uid web.sidecar)/c/0.log"

# --- kubectl logs
K logs web >"$T/o" 2>&1
check "kubectl logs: the default container's current log, prefixes stripped" \
	diff <(printf 'restarted\nready\n') "$T/o"
K logs web -c sidecar >"$T/o" 2>&1
check "kubectl logs -c sidecar" diff <(echo 'from the sidecar') "$T/o"
K logs web --previous >"$T/o" 2>&1
check "kubectl logs --previous: the rotated file first, parts joined, stderr too" \
	diff <(printf 'starting\nlistening on :80\nGET / 404\na long line in two parts\n') "$T/o"
K logs web --tail=1 >"$T/o" 2>&1
check "kubectl logs --tail=1" diff <(echo ready) "$T/o"
K logs web --timestamps >"$T/o" 2>&1
check "kubectl logs --timestamps" \
	diff <(printf '2026-11-28T04:00:00Z restarted\n2026-11-28T04:00:01.123456789Z ready\n') "$T/o"
K logs web --limit-bytes=4 >"$T/o" 2>&1
check "kubectl logs --limit-bytes=4" diff <(printf rest) "$T/o"
K logs two >"$T/o" 2>&1
check "kubectl logs of a pod of two containers picks the first" grep -qx 'from a' "$T/o"

# -f: a line appended meanwhile arrives; other requests go on meanwhile
timeout 10 kubectl logs -f web >"$T/f" 2>&1 &
FPID=$!
PIDS="$PIDS $FPID"
wait_for 5 grep -q ready "$T/f"
echo '2026-11-28T04:00:02Z stdout F appended while following' >>"$W/httpd/1.log"
check "kubectl logs -f shows a line appended meanwhile" wait_for 5 grep -q 'appended while following' "$T/f"
check "...while another request is answered" sh -c "kubectl logs web -c sidecar | grep -q sidecar"
echo '2026-11-28T04:00:03Z stdout F after a rotation' >"$W/httpd/1.log.tmp"
mv "$W/httpd/1.log" "$W/httpd/1.log.1" && mv "$W/httpd/1.log.tmp" "$W/httpd/1.log"
check "kubectl logs -f follows a rotation" wait_for 5 grep -q 'after a rotation' "$T/f"
kill "$FPID" 2>/dev/null
wait "$FPID" 2>/dev/null
K logs web --tail=2 >"$T/o" 2>&1
check "after the rotation: R.log.1 then R.log" \
	diff <(printf 'appended while following\nafter a rotation\n') "$T/o"

# --- errors, in Kubernetes' words
kubectl get --raw /api/v1/namespaces/default/pods/two/log >"$T/o" 2>&1
check "no container named for a pod of two: 400" \
	grep -q 'a container name must be specified for pod two, choose one of: \[a b\]' "$T/o"
kubectl get --raw /api/v1/namespaces/default/pods/web/log >"$T/o" 2>&1
check "...the default-container annotation picks one" grep -qx ready "$T/o"
K logs web -c nope >"$T/o" 2>&1
check "an unknown container" grep -q 'container nope is not valid for pod web' "$T/o"
K logs lonely >"$T/o" 2>&1
check "a pod not bound to a node" grep -q 'pod lonely does not have a host assigned' "$T/o"
K logs web.sidecar -c c --previous >"$T/o" 2>&1
check "--previous without a restart: the node's 400" \
	grep -q 'previous terminated container "c" in pod "web.sidecar" not found' "$T/o"
K logs nothere >"$T/o" 2>&1
check "an unknown pod: NotFound" grep -q 'pods "nothere" not found' "$T/o"

# --- the node's usage through the server
kubectl get --raw "/api/v1/nodes/$NODE/proxy/metrics/resource" >"$T/o" 2>&1
check "kubectl get --raw nodes/NODE/proxy/metrics/resource: HELP and TYPE lines" \
	grep -q '^# TYPE node_cpu_usage_seconds_total counter$' "$T/o"
check "...the node's cpu and memory" sh -c "grep -Eq '^node_cpu_usage_seconds_total [0-9.]+ [0-9]+$' $T/o &&
	grep -Eq '^node_memory_working_set_bytes [0-9]+ [0-9]+$' $T/o"
kubectl get --raw "/api/v1/nodes/$NODE/proxy/stats/summary" >"$T/o" 2>&1
check "nodes/NODE/proxy/stats/summary" test "$(jq -r '.node.nodeName' "$T/o")" = "$NODE"
kubectl get --raw "/api/v1/nodes/nothere/proxy/healthz" >"$T/o" 2>&1
check "the proxy of an unknown node: NotFound" grep -q 'nodes "nothere" not found' "$T/o"
# (on a node of its own: an agent's heartbeats may report usage too)
api POST /api/v1/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"used"},
	"status":{"addresses":[{"type":"InternalIP","address":"127.0.0.1"}]}}' >/dev/null
api PATCH /api/v1/nodes/used/status '{"status":{"usage":{"cpu":"250m","memory":"123456"}}}' \
	application/merge-patch+json >/dev/null
check "a node's status.usage is kept (what node_usage_node_status gives)" \
	test "$CODE,$(K get node used -o jsonpath='{.status.usage.cpu}')" = "200,250m"
api PATCH /api/v1/nodes/used/status '{"status":{"usage":{"cpu":"lots"}}}' \
	application/merge-patch+json >/dev/null
check "...and checked as quantities" test "$CODE" = 422
api POST /api/v1/namespaces/default/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"there"},
	"spec":{"nodeName":"used","containers":[{"name":"c","image":"x"}]}}' >/dev/null
K logs there >"$T/o" 2>&1
check "the log of a pod on a node without an endpoint: 503 at once" \
	grep -q 'node "used" has no endpoint for logs and usage' "$T/o"

# --- the mount
check "cat pods/web.log: the default container's log" \
	diff <(printf 'restarted\nready\nappended while following\nafter a rotation\n') "$D/pods/web.log"
check "cat pods/web.sidecar.log: a pod of that name comes first" \
	diff <(echo 'the pod web.sidecar') "$D/pods/web.sidecar.log"
check "cat pods/web.httpd.log: POD.CONTAINER.log" grep -qx restarted "$D/pods/web.httpd.log"
check "cat pods/two.b.log of a container without a log fails" not cat "$D/pods/two.b.log"
check "tail -n 1 pods/web.log" test "$(tail -n 1 "$D/pods/web.log")" = 'after a rotation'
check "pods/NAME.log is not listed" sh -c "! ls $D/pods | grep -q '\.log$'"
check "an unknown POD.CONTAINER.log is not there" not stat "$D/pods/nope.c.log"
check "cat pods/lonely.log fails" not cat "$D/pods/lonely.log"
check "...and pods/.errors says why" grep -q 'lonely.log: pod lonely does not have a host assigned' "$D/pods/.errors"
check "a log file is read-only" not sh -c "echo x > $D/pods/web.log"
check "cat nodes/$NODE.metrics" grep -Eq '^node_memory_working_set_bytes [0-9]+ [0-9]+$' "$M/nodes/$NODE.metrics"
done_testing
