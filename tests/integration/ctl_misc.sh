#!/bin/bash
# tests/integration/ctl_misc.sh - the controllers that are not replica sets or
# deployments, driven only by the mount: endpoints following pods, a silent
# node going Ready=Unknown, tainted and evicted, namespace deletion, and the
# garbage collector (background, orphan, foreground).
. "$(dirname "$0")/lib.sh"
[ -e /dev/fuse ] && command -v fusermount3 >/dev/null || skip_all "no FUSE"
command -v kubectl >/dev/null || skip_all "kubectl is not installed (make deps installs it)"
command -v setfattr >/dev/null || skip_all "no setfattr (attr)"
start_server
M=$T/mnt
start_mount "$M"
K() { kubectl --request-timeout=20s "$@"; }

start_kube9 node.log node --mount "$M" --hollow 2 --heartbeat 1
start_kube9 dead.log node --mount "$M" --hollow 1 --name dead --heartbeat 1
DEAD=$BG_PID
start_kube9 sched.log sched --mount "$M"
start_kube9 ctl.log controllers --mount "$M" --node-grace 3 --eviction-timeout 3 \
	--node-monitor-period 1

check "the nodes register" wait_for 10 test -f "$M/nodes/hollow-00001.yaml" -a -f "$M/nodes/dead-00000.yaml"

# pod NS NAME LABELS_FLOW NODE [EXTRA SPEC LINES]: write a pod bound by nodeSelector.
mkpod() {
	printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  labels: %s\nspec:\n  nodeSelector: {kubernetes.io/hostname: %s}\n  containers:\n  - name: c\n    image: x\n    ports: [{name: web, containerPort: 9090}]\n%s' \
		"$2" "$3" "$4" "${5-}" >"$M/namespaces/$1/pods/$2.yaml"
}
field() { # field FILE JQ: the value, or nothing when the file is gone
	jq -r "$2" "$1" 2>/dev/null
}
pod_ip() { field "$M/namespaces/$1/pods/$2.json" '.status.podIP // empty'; }
running() { [ -n "$(pod_ip "$1" "$2")" ]; }
# ep_ips NS SVC [addresses|notReadyAddresses]: the IPs listed, sorted, one line.
ep_ips() {
	field "$M/namespaces/$1/endpoints/$2.json" "[.subsets[]?.${3:-addresses}[]?.ip] | sort | join(\" \")"
}
ep_is() { [ "$(ep_ips "$1" "$2")" = "$3" ]; }
gone() { test ! -e "$1"; }

# --- a node goes silent: started first, checked at the end (it takes ~8 s)
mkdir "$M/namespaces/nl"
mkpod nl victim '{}' dead-00000 '  terminationGracePeriodSeconds: 1
'
mkpod nl stayer '{}' dead-00000 '  tolerations: [{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute}]
'
check "pods run on the node that will go silent" \
	wait_for 10 sh -c "[ -n \"\$(jq -r '.status.podIP // empty' '$M/namespaces/nl/pods/victim.json')\" ] && [ -n \"\$(jq -r '.status.podIP // empty' '$M/namespaces/nl/pods/stayer.json')\" ]"
kill -STOP "$DEAD"
STOPPED=$(date +%s)

# --- endpoints
mkdir "$M/namespaces/ep"
cat >"$M/namespaces/ep/services/web.yaml" <<'Y'
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
Y
cat >"$M/namespaces/ep/services/named.yaml" <<'Y'
apiVersion: v1
kind: Service
metadata: {name: named}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: web, protocol: TCP}]
Y
cat >"$M/namespaces/ep/services/manual.yaml" <<'Y'
apiVersion: v1
kind: Service
metadata: {name: manual}
spec:
  ports: [{port: 80}]
Y
for p in w1 w2 w3; do mkpod ep $p '{app: web}' hollow-00001; done
mkpod ep other '{app: db}' hollow-00001
check "the pods run" wait_for 10 sh -c "for p in w1 w2 w3 other; do [ -n \"\$(jq -r '.status.podIP // empty' '$M/namespaces/ep/pods/'\$p.json)\" ] || exit 1; done"
ips=$(for p in w1 w2 w3; do pod_ip ep $p; done | sort | tr '\n' ' ' | sed 's/ $//')
check "endpoints list the ready pods of the selector, by IP" wait_for 10 ep_is ep web "$ips"
E=$M/namespaces/ep/endpoints/web.json
check "...with the service's port resolved (targetPort 8080)" \
	test "$(field "$E" '[.subsets[].ports[] | "\(.name) \(.port) \(.protocol)"] | join(",")')" = "http 8080 TCP"
check "...and targetRefs naming the pods" \
	test "$(field "$E" '[.subsets[].addresses[].targetRef | "\(.kind)/\(.namespace)/\(.name)"] | sort | join(" ")')" = "Pod/ep/w1 Pod/ep/w2 Pod/ep/w3"
check "...and nodeName" test "$(field "$E" '.subsets[0].addresses[0].nodeName')" = hollow-00001
check "a named targetPort is looked up in the containers' ports" \
	wait_for 10 test "$(field "$M/namespaces/ep/endpoints/named.json" '.subsets[0].ports[0].port')" = 9090
check "a service without selector gets no endpoints from the controller" \
	not test -e "$M/namespaces/ep/endpoints/manual.yaml"
rv=$(field "$E" .metadata.resourceVersion)
sleep 1.5
check "endpoints are not rewritten when nothing changed" test "$(field "$E" .metadata.resourceVersion)" = "$rv"
ip1=$(pod_ip ep w1)
setfattr -n user.app -v x "$M/namespaces/ep/pods/w1.yaml"
check "a pod relabelled with setfattr leaves the endpoints" \
	wait_for 10 sh -c "! jq -r '.subsets[].addresses[].ip' '$E' | grep -qx '$ip1'"
setfattr -n user.app -v web "$M/namespaces/ep/pods/w1.yaml"
check "...and comes back when relabelled back" wait_for 10 ep_is ep web "$ips"
ip2=$(pod_ip ep w2)
rm "$M/namespaces/ep/pods/w2.yaml"
check "a deleted pod leaves the endpoints" \
	wait_for 10 sh -c "! jq -r '.subsets[].addresses[]?.ip' '$E' | grep -qx '$ip2'"
mkpod ep w4 '{app: web}' hollow-00001
check "a new pod joins when it runs" wait_for 10 sh -c "jq -r '.subsets[].addresses[].ip' '$E' | grep -c . | grep -qx 3"
rm "$M/namespaces/ep/services/web.yaml"
check "deleting the service deletes its endpoints" wait_for 10 gone "$E"

# --- garbage collector (owners are Services: no controller manages them)
mkdir "$M/namespaces/gc"
svc_owner() { # NAME: create a selector-less service; prints its uid
	printf 'apiVersion: v1\nkind: Service\nmetadata: {name: %s}\nspec:\n  ports: [{port: 80}]\n' "$1" \
		>"$M/namespaces/gc/services/$1.yaml"
	wait_for 5 test -s "$M/namespaces/gc/services/$1.json"
	field "$M/namespaces/gc/services/$1.json" .metadata.uid
}
owned_pod() { # NAME OWNER_KIND OWNER_NAME UID [APIVERSION]
	printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  ownerReferences: [{apiVersion: %s, kind: %s, name: %s, uid: "%s"}]\nspec:\n  nodeSelector: {kubernetes.io/hostname: hollow-00000}\n  containers: [{name: c, image: x}]\n' \
		"$1" "${5:-v1}" "$2" "$3" "$4" >"$M/namespaces/gc/pods/$1.yaml"
}
u1=$(svc_owner own1)
u2=$(svc_owner own2)
u3=$(svc_owner own3)
cat >"$M/namespaces/gc/configmaps/cm1.yaml" <<'Y'
apiVersion: v1
kind: ConfigMap
metadata: {name: cm1}
data: {a: b}
Y
wait_for 5 test -s "$M/namespaces/gc/configmaps/cm1.json"
ucm=$(field "$M/namespaces/gc/configmaps/cm1.json" .metadata.uid)
owned_pod dep1 Service own1 "$u1"
owned_pod dep2 Service own2 "$u2"
owned_pod dep3 Service own3 "$u3"
owned_pod depcm ConfigMap cm1 "$ucm"
owned_pod orphan1 Service never "00000000-0000-0000-0000-000000000000"
check "the dependents exist" wait_for 5 sh -c "ls '$M/namespaces/gc/pods' | grep -c yaml | grep -qx 5"
check "a pod whose owner never existed is collected" wait_for 10 gone "$M/namespaces/gc/pods/orphan1.yaml"
rm "$M/namespaces/gc/services/own1.yaml"
check "deleting the owner deletes its dependent (background)" \
	wait_for 15 gone "$M/namespaces/gc/pods/dep1.yaml"
K -n gc delete service own2 --cascade=orphan >"$T/o" 2>&1
check "kubectl delete --cascade=orphan returns" grep -q deleted "$T/o"
check "...the owner goes" wait_for 10 gone "$M/namespaces/gc/services/own2.yaml"
check "...the dependent stays" test -e "$M/namespaces/gc/pods/dep2.yaml"
check "...without its ownerReference" \
	wait_for 5 test "$(field "$M/namespaces/gc/pods/dep2.json" '.metadata.ownerReferences // [] | length')" = 0
K -n gc delete service own3 --cascade=foreground --wait=false >"$T/o" 2>&1
check "kubectl delete --cascade=foreground: the dependent is deleted" \
	wait_for 15 gone "$M/namespaces/gc/pods/dep3.yaml"
check "...and then the owner" wait_for 10 gone "$M/namespaces/gc/services/own3.yaml"
check "a pod owned by an existing ConfigMap (no informer) is kept" \
	test -e "$M/namespaces/gc/pods/depcm.yaml"

# --- namespaces
K create namespace gone1 >/dev/null
wait_for 5 test -d "$M/namespaces/gone1/pods"
mkpod gone1 a '{}' hollow-00000
mkpod gone1 b '{}' hollow-00001
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n' >"$M/namespaces/gone1/configmaps/c.yaml"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  selector: {x: y}\n  ports: [{port: 80}]\n' >"$M/namespaces/gone1/services/s.yaml"
wait_for 10 running gone1 a
wait_for 10 running gone1 b
K delete namespace gone1 --wait=false >/dev/null 2>&1
check "kubectl delete namespace: it disappears with everything in it" \
	wait_for 20 gone "$M/namespaces/gone1"
check "...for the API too" not K get namespace gone1
api GET /api/v1/namespaces/gone1/pods >"$T/pl"
check "...its pods too" test "$(jget '.items | length' <"$T/pl"),$CODE" = 0,200 || sed 's/^/# /' "$T/pl"
mkdir "$M/namespaces/gone2"
mkpod gone2 a '{}' hollow-00000
wait_for 10 running gone2 a
rm "$M/namespaces/gone2/pods/a.yaml"
check "rm then rmdir deletes a namespace" wait_for 15 rmdir "$M/namespaces/gone2"
check "...and the controller finalizes it" wait_for 10 gone "$M/namespaces/gone2"

# --- the silent node (stopped at $STOPPED)
N=$M/nodes/dead-00000.json
check "a silent node becomes Ready=Unknown" \
	wait_for 10 test "$(field "$N" '.status.conditions[] | select(.type == "Ready") | .status')" = Unknown
check "...with reason NodeStatusUnknown on every condition" \
	test "$(field "$N" '[.status.conditions[].reason] | unique | join(",")')" = NodeStatusUnknown
check "...and the unreachable NoExecute taint" \
	wait_for 5 test "$(field "$N" '.spec.taints[]? | select(.key == "node.kubernetes.io/unreachable") | .effect')" = NoExecute
check "its pod is deleted after the eviction timeout" \
	wait_for 15 gone "$M/namespaces/nl/pods/victim.yaml"
check "...not before it ($(($(date +%s) - STOPPED)) s >= 6)" test $(($(date +%s) - STOPPED)) -ge 6
check "...logged" grep -q 'pod nl/victim: deleted: its node dead-00000' "$T/ctl.log"
check "a pod tolerating unreachable stays" test -e "$M/namespaces/nl/pods/stayer.yaml"
kill -CONT "$DEAD"
check "heartbeats again: Ready=True" \
	wait_for 10 test "$(field "$N" '.status.conditions[] | select(.type == "Ready") | .status')" = True
check "...and the taint is gone" \
	wait_for 10 test -z "$(field "$N" '.spec.taints[]? | select(.key == "node.kubernetes.io/unreachable") | .key')"

check "the controllers logged no warning" not grep -Eq ' (warn|error|WARN|ERR)' "$T/ctl.log"
[ "$failed" = 0 ] || sed 's/^/# ctl: /' "$T/ctl.log" | tail -40
done_testing
