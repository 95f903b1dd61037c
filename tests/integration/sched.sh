#!/bin/bash
# tests/integration/sched.sh - kube9 sched against hollow nodes, driven only
# by the mount (and kubectl for node taints, labels, cordons): resource fit
# and the unschedulable condition and Event, the pod limit, nodeSelector and
# required node affinity, taints and tolerations, cordons, host ports,
# spreading of one owner's pods over zones, no pod bound twice, and leader
# election between two schedulers.
. "$(dirname "$0")/lib.sh"
[ -e /dev/fuse ] && command -v fusermount3 >/dev/null || skip_all "no FUSE"
command -v kubectl >/dev/null || skip_all "kubectl is not installed (make deps installs it)"
start_server
M=$T/mnt
start_mount "$M"
K() { kubectl --request-timeout=20s "$@"; }

# every pod change, from the start: to check no pod ever changes node
cat "$M/namespaces/pods.watch" >"$T/pods.watch" 2>/dev/null &
WATCH=$!
PIDS="$PIDS $WATCH"

# n-00000..5: zones za zb zc za zb zc, region r1; small-0000[01]: 2 pods each
start_kube9 node.log node --mount "$M" --hollow 6 --name n --zones za,zb,zc --regions r1 --cpu 4 \
	--memory 8Gi --pods 50 --heartbeat 1
start_kube9 small.log node --mount "$M" --hollow 2 --name small --zones zs --regions r9 --pods 2 \
	--heartbeat 1
start_kube9 sched1.log sched --mount "$M" --lease-duration 2 -v
SCHED1=$BG_PID

nodes_there() { [ "$(ls "$M/nodes" | grep -c '\.yaml$')" = "$1" ]; }
check "8 hollow nodes register" wait_for 10 nodes_there 8

# mkpod NS NAME [SPEC LINES] [CONTAINER LINES]: write a pod; lines end in \n,
# spec lines are indented 2, container lines 4. $META: extra metadata lines.
mkpod() {
	printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n%sspec:\n%s  containers:\n  - name: c\n    image: x\n%s' \
		"$2" "${META-}" "${3-}" "${4-}" >"$M/namespaces/$1/pods/$2.yaml"
}
pj() { jq -r "$3" "$M/namespaces/$1/pods/$2.json" 2>/dev/null; }
node_of() { pj "$1" "$2" '.spec.nodeName // empty'; }
running() { [ "$(pj "$1" "$2" '.status.phase // empty')" = Running ] && [ -n "$(node_of "$1" "$2")" ]; }
# the PodScheduled=False Unschedulable message, or nothing
unsched_msg() {
	pj "$1" "$2" '.status.conditions[]? | select(.type == "PodScheduled" and .status == "False" and .reason == "Unschedulable") | .message'
}
msg_is() { [ "$(unsched_msg "$1" "$2")" = "$3" ]; }
pending() { [ -z "$(node_of "$1" "$2")" ] && [ -n "$(unsched_msg "$1" "$2")" ]; }
all_running() { # NS NAME...
	ns=$1; shift
	for p in "$@"; do running "$ns" "$p" || return 1; done
}
# nodes NS NAME...: the nodes the pods are on, sorted and unique, one line
nodes() {
	ns=$1; shift
	for p in "$@"; do node_of "$ns" "$p"; done | sort -u | tr '\n' ' ' | sed 's/ $//'
}
# within "SET" NS NAME...: every pod is on a node of SET (space separated)
within() {
	set_=" $1 "; ns=$2; shift 2
	for p in "$@"; do
		nd=$(node_of "$ns" "$p")
		[ -n "$nd" ] && case "$set_" in *" $nd "*) ;; *) echo "# $ns/$p is on $nd, not in $1"; return 1 ;; esac
	done
}
show() { echo "# $1/$2: node=$(node_of "$1" "$2") msg=$(unsched_msg "$1" "$2")"; }

# --- resource fit, the condition, the Event, a bigger node joining
mkdir "$M/namespaces/fit"
REQ32='    resources: {requests: {cpu: "32"}}
'
mkpod fit huge '' "$REQ32"
mkpod fit huge-za '  nodeSelector: {topology.kubernetes.io/zone: za}
' "$REQ32"
M8="0/8 nodes are available: 8 Insufficient cpu."
check "a pod asking more cpu than any node has: PodScheduled=False Unschedulable, \"$M8\"" \
	wait_for 10 msg_is fit huge "$M8" || show fit huge
check "...it stays Pending with no node" \
	test "$(pj fit huge .status.phase),$(node_of fit huge)" = "Pending,"
M8za="0/8 nodes are available: 2 Insufficient cpu, 6 node(s) didn't match Pod's node affinity/selector."
check "reasons are counted and sorted: \"$M8za\"" wait_for 5 msg_is fit huge-za "$M8za" || show fit huge-za
event_for() { # NS POD MSG: a FailedScheduling Warning Event about the pod with the message
	for e in "$M/namespaces/$1/events/"*.yaml; do
		e=${e%.yaml}.json
		[ -e "$e" ] || continue
		jq -e --arg p "$2" --arg m "$3" '.involvedObject.kind == "Pod" and .involvedObject.name == $p and .reason == "FailedScheduling" and .type == "Warning" and .message == $m and (.involvedObject.uid | length) > 0' "$e" >/dev/null && return 0
	done
	return 1
}
check "an Event FailedScheduling says why" wait_for 5 event_for fit huge "$M8"
start_kube9 big.log node --mount "$M" --hollow 1 --name big --cpu 64 --memory 64Gi --zones zbig \
	--regions rbig --heartbeat 1
check "when a node with 64 cpu joins, the pod is scheduled there and runs" \
	wait_for 10 sh -c "[ \"\$(jq -r '.spec.nodeName // empty' '$M/namespaces/fit/pods/huge.json')\" = big-00000 ] && [ \"\$(jq -r .status.phase '$M/namespaces/fit/pods/huge.json')\" = Running ]"
M9za="0/9 nodes are available: 2 Insufficient cpu, 7 node(s) didn't match Pod's node affinity/selector."
check "the other one stays Pending, its message now counting 9 nodes" wait_for 10 msg_is fit huge-za "$M9za" || show fit huge-za
tries() { grep -c "pod $1: 0/" "$T/sched1.log"; }
t0=$(tries fit/huge-za)
sleep 3
t1=$(tries fit/huge-za)
check "...and is not tried again on every heartbeat of the 9 nodes (tried $((t1 - t0)) times in 3 s)" \
	test $((t1 - t0)) -le 1
K taint node big-00000 reserved=big:NoSchedule >/dev/null
check "kubectl taint puts the taint on the node" \
	wait_for 5 test "$(jq -r '.spec.taints[]? | .key + "=" + .value + ":" + .effect' "$M/nodes/big-00000.json")" = reserved=big:NoSchedule
rm "$M/namespaces/fit/pods/huge-za.yaml"
BIG="1 node(s) had untolerated taint {reserved: big}"

# --- the pod limit: small-0000[01] take 2 pods each
mkdir "$M/namespaces/lim"
ONSMALL='  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - {key: kubernetes.io/hostname, operator: In, values: [small-00000, small-00001]}
'
for i in 1 2 3 4 5; do mkpod lim l$i "$ONSMALL"; done
count_running() { ns=$1; shift; c=0; for p in "$@"; do running "$ns" "$p" && c=$((c + 1)); done; echo $c; }
check "5 pods for two nodes of 2 pods: 4 run" wait_for 10 test "$(count_running lim l1 l2 l3 l4 l5)" = 4
check "...2 on each" test "$(for p in l1 l2 l3 l4 l5; do node_of lim $p; done | sort | uniq -c | awk '{print $1}' | tr '\n' ' ')" = "2 2 "
left=
for p in l1 l2 l3 l4 l5; do running lim $p || left=$p; done
MLIM="0/9 nodes are available: $BIG, 2 Too many pods, 6 node(s) didn't match Pod's node affinity/selector."
check "the fifth is Pending: \"$MLIM\"" wait_for 5 msg_is lim "$left" "$MLIM" || show lim "$left"
victim=l1; [ "$left" = l1 ] && victim=l2
rm "$M/namespaces/lim/pods/$victim.yaml"
check "deleting a running pod makes room: the fifth runs" wait_for 10 running lim "$left"

# --- nodeSelector and required node affinity
K label node n-00001 n-00004 disk=ssd >/dev/null
K label node n-00000 gen=3 >/dev/null
K label node n-00002 gen=5 >/dev/null
K label node n-00003 gen=7 >/dev/null
labelled() { [ "$(jq -r '.metadata.labels.gen // empty' "$M/nodes/n-00003.json")" = 7 ]; }
check "kubectl label labels nodes" wait_for 5 labelled
mkdir "$M/namespaces/aff"
affpod() { # NAME EXPRESSIONS: a pod with one required term
	mkpod aff "$1" "  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions: [$2]
"
}
R1='{key: topology.kubernetes.io/region, operator: In, values: [r1]}'
for i in 1 2 3; do
	mkpod aff sel$i '  nodeSelector: {disk: ssd}
'
	affpod in$i '{key: disk, operator: In, values: [ssd, nvme]}'
	affpod notin$i "{key: disk, operator: NotIn, values: [ssd]}, $R1"
	affpod ex$i '{key: gen, operator: Exists}'
	affpod dne$i "{key: gen, operator: DoesNotExist}, $R1"
	affpod gt$i '{key: gen, operator: Gt, values: ["4"]}'
done
affpod none1 '{key: disk, operator: In, values: [nvme]}'
check "the pods with a matching node run" wait_for 10 all_running aff sel1 sel2 sel3 in1 in2 in3 \
	notin1 notin2 notin3 ex1 ex2 ex3 dne1 dne2 dne3 gt1 gt2 gt3
check "nodeSelector {disk: ssd}: only on the ssd nodes" within "n-00001 n-00004" aff sel1 sel2 sel3
check "affinity disk In [ssd, nvme]: only there" within "n-00001 n-00004" aff in1 in2 in3
check "affinity disk NotIn [ssd], region r1: never there" within "n-00000 n-00002 n-00003 n-00005" aff notin1 notin2 notin3
check "affinity gen Exists: the nodes with gen" within "n-00000 n-00002 n-00003" aff ex1 ex2 ex3
check "affinity gen DoesNotExist, region r1: the others" within "n-00001 n-00004 n-00005" aff dne1 dne2 dne3
check "affinity gen Gt 4: gen 5 and 7" within "n-00002 n-00003" aff gt1 gt2 gt3
MNONE="0/9 nodes are available: $BIG, 8 node(s) didn't match Pod's node affinity/selector."
check "no node matches: Pending, \"$MNONE\"" wait_for 5 msg_is aff none1 "$MNONE" || show aff none1
K label node n-00005 disk=nvme >/dev/null
check "...it runs once a node is labelled to match" wait_for 10 running aff none1
check "...there" test "$(node_of aff none1)" = n-00005

# --- taints and tolerations (n-00000 and n-00003 are the zone za nodes)
K taint node n-00000 dedicated=db:NoSchedule >/dev/null
K taint node n-00003 dedicated=db:NoExecute >/dev/null
tainted() { [ -n "$(jq -r '.spec.taints[]? | select(.key == "dedicated") | .key' "$M/nodes/$1.json")" ]; }
wait_for 5 tainted n-00000
check "kubectl taint: both nodes tainted" wait_for 5 tainted n-00003
mkdir "$M/namespaces/tnt"
ZA='  nodeSelector: {topology.kubernetes.io/zone: za}
'
mkpod tnt plain1 "$ZA"
mkpod tnt plain2 "$ZA"
MT="0/9 nodes are available: $BIG, 2 node(s) had untolerated taint {dedicated: db}, 6 node(s) didn't match Pod's node affinity/selector."
check "an untolerating pod stays off the tainted nodes: \"$MT\"" wait_for 10 msg_is tnt plain1 "$MT" || show tnt plain1
check "...both of them" pending tnt plain2
for i in 1 2 3; do
	mkpod tnt ns$i "$ZA  tolerations: [{key: dedicated, operator: Equal, value: db, effect: NoSchedule}]
"
	mkpod tnt any$i "$ZA  tolerations: [{key: dedicated, operator: Exists}]
"
done
mkpod tnt all1 "$ZA  tolerations: [{operator: Exists}]
"
check "tolerating pods run" wait_for 10 all_running tnt ns1 ns2 ns3 any1 any2 any3 all1
check "tolerating NoSchedule only: on the NoSchedule node, not the NoExecute one" within n-00000 tnt ns1 ns2 ns3
check "tolerating the key with Exists: on either" within "n-00000 n-00003" tnt any1 any2 any3
check "tolerating everything (empty key, Exists): on a za node" within "n-00000 n-00003" tnt all1
K taint node n-00000 dedicated- >/dev/null
check "the taint removed, the untolerating pods run" wait_for 10 all_running tnt plain1 plain2
check "...on the untainted node" within n-00000 tnt plain1 plain2
K taint node n-00003 dedicated- >/dev/null
check "kubectl taint KEY- removes the taint" wait_for 5 not tainted n-00003

# --- cordon
K cordon n-00002 >/dev/null
cordoned() { [ "$(jq -r '.spec.unschedulable // false' "$M/nodes/$1.json")" = "$2" ]; }
check "kubectl cordon sets spec.unschedulable" wait_for 5 cordoned n-00002 true
mkdir "$M/namespaces/cdn"
mkpod cdn c1 '  nodeSelector: {kubernetes.io/hostname: n-00002}
'
MC="0/9 nodes are available: $BIG, 1 node(s) were unschedulable, 7 node(s) didn't match Pod's node affinity/selector."
check "a pod for the cordoned node stays Pending: \"$MC\"" wait_for 10 msg_is cdn c1 "$MC" || show cdn c1
R1SEL='  nodeSelector: {topology.kubernetes.io/region: r1}
'
for i in 1 2 3 4 5 6; do mkpod cdn r$i "$R1SEL"; done
check "pods for region r1 run" wait_for 10 all_running cdn r1 r2 r3 r4 r5 r6
check "...none on the cordoned node" within "n-00000 n-00001 n-00003 n-00004 n-00005" cdn r1 r2 r3 r4 r5 r6
K patch node n-00002 -p '{"spec":{"unschedulable":false}}' >/dev/null
check "uncordoned (spec.unschedulable false): it runs there" wait_for 10 running cdn c1
check "...on n-00002" test "$(node_of cdn c1)" = n-00002
K cordon n-00004 >/dev/null
wait_for 5 cordoned n-00004 true
mkpod cdn c2 '  nodeSelector: {kubernetes.io/hostname: n-00004}
'
check "cordoned again: a pod for it stays Pending" wait_for 10 pending cdn c2
K uncordon n-00004 >/dev/null
check "kubectl uncordon: it runs" wait_for 10 running cdn c2

# --- host ports (zone zc: n-00002 and n-00005)
mkdir "$M/namespaces/hp"
ZC='  nodeSelector: {topology.kubernetes.io/zone: zc}
'
PORT8080='    ports: [{containerPort: 80, hostPort: 8080}]
'
for i in 1 2 3; do mkpod hp h$i "$ZC" "$PORT8080"; done
check "three pods wanting host port 8080 on two nodes: two run" \
	wait_for 10 test "$(count_running hp h1 h2 h3)" = 2
check "...on different nodes" test "$(nodes hp h1 h2 h3)" = "n-00002 n-00005"
left=
for p in h1 h2 h3; do running hp $p || left=$p; done
MP="0/9 nodes are available: $BIG, 2 node(s) didn't have free ports for the requested pod ports, 6 node(s) didn't match Pod's node affinity/selector."
check "the third is Pending: \"$MP\"" wait_for 5 msg_is hp "$left" "$MP" || show hp "$left"
mkpod hp udp "$ZC" '    ports: [{containerPort: 80, hostPort: 8080, protocol: UDP}]
'
mkpod hp other "$ZC" '    ports: [{containerPort: 80, hostPort: 8081}]
'
check "UDP 8080 and TCP 8081 still fit" wait_for 10 all_running hp udp other
victim=h1; [ "$left" = h1 ] && victim=h2
vnode=$(node_of hp $victim)
rm "$M/namespaces/hp/pods/$victim.yaml"
check "the port freed, the third runs" wait_for 10 running hp "$left"
check "...where the port was freed" test "$(node_of hp "$left")" = "$vnode"

# --- spreading: six pods of one ReplicaSet over 3 zones of 2 nodes
mkdir "$M/namespaces/spr"
cat >"$M/namespaces/spr/replicasets/web.yaml" <<'Y'
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: x}]
Y
wait_for 5 test -s "$M/namespaces/spr/replicasets/web.json"
uid=$(jq -r .metadata.uid "$M/namespaces/spr/replicasets/web.json")
META="  labels: {app: web}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web, uid: \"$uid\", controller: true}]
"
REQ='    resources: {requests: {cpu: 100m, memory: 64Mi}}
'
for i in 1 2 3 4 5 6; do mkpod spr w$i "$R1SEL" "$REQ"; done
META=
check "the ReplicaSet's 6 pods run" wait_for 10 all_running spr w1 w2 w3 w4 w5 w6
zones_of() {
	for p in w1 w2 w3 w4 w5 w6; do
		jq -r '.metadata.labels["topology.kubernetes.io/zone"]' "$M/nodes/$(node_of spr $p).json"
	done | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' '
}
z=$(zones_of)
check "...2 in each zone ($z)" test "$z" = "za=2 zb=2 zc=2 "
check "...one on each node" test "$(nodes spr w1 w2 w3 w4 w5 w6 | wc -w)" = 6

# --- a second scheduler waits for the lease, and takes over
start_kube9 sched2.log sched --mount "$M" --lease-duration 2 -v
SCHED2=$BG_PID
check "a second scheduler waits for the lease" wait_for 5 grep -q "waiting to lead" "$T/sched2.log"
mkdir "$M/namespaces/ha"
mkpod ha a1
check "the first still schedules" wait_for 10 running ha a1
check "...the second did not" not grep -q "pod ha/a1 bound" "$T/sched2.log"
kill -9 "$SCHED1"
wait "$SCHED1" 2>/dev/null
killed=$(date +%s%N)
mkpod ha a2 "$R1SEL"
check "the first killed (-9), the second takes the lease" wait_for 10 grep -q "leading (lease kube9-scheduler" "$T/sched2.log"
check "...and schedules the pod created meanwhile" wait_for 10 running ha a2
took=$((($(date +%s%N) - killed) / 1000000))
check "...within the lease duration and a bit (${took} ms < 6000)" test "$took" -lt 6000
check "...it was the second that bound it" grep -q "pod ha/a2 bound to" "$T/sched2.log"
mkpod ha a3 '  nodeSelector: {topology.kubernetes.io/zone: zb}
'
check "the new leader goes on scheduling, by the rules" wait_for 10 running ha a3
check "...(zone zb)" within "n-00001 n-00004" ha a3
mkpod ha big1 '' "$REQ32"
check "...and knows the cluster: a second 32-cpu pod: the small nodes are full, the others too small" \
	wait_for 10 msg_is ha big1 "0/9 nodes are available: $BIG, 2 Too many pods, 6 Insufficient cpu."

# --- no pod bound twice
kill "$SCHED2"
wait "$SCHED2" 2>/dev/null
check "the second scheduler stops on SIGTERM, no binding refused" grep -q "kube9 sched: stopping (.* 0 refused)" "$T/sched2.log"
kill "$WATCH" 2>/dev/null
# per pod uid, the node names it was ever seen with
jq -r 'select(.type != "BOOKMARK" and .type != "ERROR") | .object | select(.kind == "Pod") | "\(.metadata.uid) \(.spec.nodeName // "")"' \
	"$T/pods.watch" 2>/dev/null | awk '$2 != ""' | sort -u >"$T/bindings"
check "the pod watch saw the bindings ($(wc -l <"$T/bindings") pods)" test "$(wc -l <"$T/bindings")" -ge 40
check "no pod ever had two nodes" test -z "$(awk '{print $1}' "$T/bindings" | uniq -d)"
grep -h "bound to" "$T/sched1.log" "$T/sched2.log" | sed 's/.*pod \([^ ]*\) bound to.*/\1/' | sort >"$T/bound"
check "every pod was bound once by the schedulers ($(wc -l <"$T/bound") bindings)" \
	test -z "$(uniq -d "$T/bound")" -a "$(wc -l <"$T/bound")" -ge 40
check "the schedulers logged no warning" not grep -Eq ' (warn|error|WARN|ERR)' "$T/sched1.log" "$T/sched2.log"
[ "$failed" = 0 ] || { sed 's/^/# sched1: /' "$T/sched1.log" | grep -v 'bound to' | tail -30; sed 's/^/# sched2: /' "$T/sched2.log" | grep -v 'bound to' | tail -20; }
done_testing
