#!/bin/bash
# tests/integration/workloads.sh - the ReplicaSet and Deployment controllers
# with the scheduler and hollow nodes, driven through the mount: a
# ReplicaSet keeps its pods (deleted or failed ones replaced, extras
# deleted); a Deployment makes a ReplicaSet, scales (.scale, kubectl
# scale), rolls out a new image within maxUnavailable, rolls back, keeps
# revisionHistoryLimit old sets, and takes its sets and pods along when deleted.
. "$(dirname "$0")/lib.sh"
[ -e /dev/fuse ] && command -v fusermount3 >/dev/null || skip_all "no FUSE"
command -v kubectl >/dev/null || skip_all "kubectl is not installed (make deps installs it)"
start_server
M=$T/mnt
start_mount "$M"
K() { kubectl --request-timeout=20s "$@"; }

# w-00000..5 in zones za zb zc za zb zc
start_kube9 node.log node --mount "$M" --hollow 6 --name w --zones za,zb,zc --heartbeat 1
start_kube9 sched.log sched --mount "$M"
check "the nodes register" wait_for 10 test -f "$M/nodes/w-00005.yaml"
# a deployment and a replica set there before the controllers start
mkdir "$M/namespaces/pre"
printf 'apiVersion: apps/v1\nkind: %s\nmetadata: {name: %s}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: %s}}\n  template:\n    metadata: {labels: {app: %s}}\n    spec:\n      containers: [{name: c, image: x}]\n' \
	Deployment early early early >"$M/namespaces/pre/deployments/early.yaml"
printf 'apiVersion: apps/v1\nkind: %s\nmetadata: {name: %s}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: %s}}\n  template:\n    metadata: {labels: {app: %s}}\n    spec:\n      containers: [{name: c, image: x}]\n' \
	ReplicaSet old old old >"$M/namespaces/pre/replicasets/old.yaml"
start_kube9 ctl.log controllers --mount "$M"

# pods NS: every pod of the namespace, one JSON array (files may vanish meanwhile)
pods() {
	f=("$M/namespaces/$1/pods/"*.yaml)
	[ -e "${f[0]}" ] || { echo '[]'; return; }
	cat "${f[@]/%.yaml/.json}" 2>/dev/null | jq -s .
}
# q NS JQ: JQ on the pods array
q() { pods "$1" | jq -r "$2"; }
ACTIVE='map(select(.metadata.deletionTimestamp == null and .status.phase != "Failed" and .status.phase != "Succeeded"))'
READY='map(select(.status.conditions // [] | any(.type == "Ready" and .status == "True")))'
# n_active NS [OWNER_UID]: pods not terminating nor finished (of the owner)
n_active() {
	q "$1" "$ACTIVE | map(select(\"${2-}\" == \"\" or .metadata.ownerReferences[0].uid == \"${2-}\")) | length"
}
# n_running NS [OWNER_UID]: of those, Running and Ready
n_running() {
	q "$1" "$ACTIVE | $READY | map(select(.status.phase == \"Running\" and (\"${2-}\" == \"\" or .metadata.ownerReferences[0].uid == \"${2-}\"))) | length"
}
is() { [ "$($1 "${@:2:$#-2}")" = "${!#}" ]; } # is CMD ARGS... WANT

check "a deployment made before the controllers started gets its pods" \
	wait_for 10 is q pre "$ACTIVE | map(select(.metadata.labels.app == \"early\" and .status.phase == \"Running\")) | length" 2
check "...so does a replica set" \
	wait_for 10 is q pre "$ACTIVE | map(select(.metadata.labels.app == \"old\" and .status.phase == \"Running\")) | length" 2
check "...no more than that" test "$(q pre length)" = 4

# --- ReplicaSet
mkdir "$M/namespaces/rs"
cat >"$T/front.yaml" <<'Y'
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: front}
spec:
  replicas: 3
  selector: {matchLabels: {app: front}}
  template:
    metadata: {labels: {app: front}}
    spec:
      containers: [{name: c, image: front:1}]
Y
cp "$T/front.yaml" "$M/namespaces/rs/replicasets/"
wait_for 5 test -s "$M/namespaces/rs/replicasets/front.json"
RSUID=$(jq -r .metadata.uid "$M/namespaces/rs/replicasets/front.json")
check "a ReplicaSet creates its 3 pods, and they run" wait_for 10 is n_running rs "$RSUID" 3
check "...each with a controlling ownerReference to it" \
	test "$(q rs "map(.metadata.ownerReferences[] | select(.controller == true and .kind == \"ReplicaSet\" and .name == \"front\" and .uid == \"$RSUID\" and .apiVersion == \"apps/v1\")) | length")" = 3
check "...named front-XXXXX, labelled from the template" \
	test "$(q rs 'map(select((.metadata.name | test("^front-[a-z0-9]{5}$")) and .metadata.labels.app == "front")) | length')" = 3
check "...spread over 3 nodes" test "$(q rs 'map(.spec.nodeName) | unique | length')" = 3
rsstat() { jq -r '"\(.status.replicas) \(.status.readyReplicas) \(.status.availableReplicas)"' "$M/namespaces/rs/replicasets/front.json"; }
check "...status: 3 replicas, 3 ready, 3 available" wait_for 5 is rsstat "3 3 3"
first=$(q rs '.[0].metadata.name')
rm "$M/namespaces/rs/pods/$first.yaml"
check "a deleted pod goes" wait_for 10 test ! -e "$M/namespaces/rs/pods/$first.yaml"
check "...and is replaced: 3 run" wait_for 10 is n_running rs "$RSUID" 3
check "...by a new pod (3 active, none of them $first)" \
	test "$(q rs "$ACTIVE | map(select(.metadata.name != \"$first\")) | length")" = 3
victim=$(q rs "$ACTIVE | .[0].metadata.name")
printf '{"status":{"phase":"Failed"}}' >"$M/namespaces/rs/pods/$victim.status"
check "a pod the node failed (status.phase Failed) is replaced: 3 running" \
	wait_for 10 sh -c "[ \"\$(jq -r .status.phase '$M/namespaces/rs/pods/$victim.json')\" = Failed ]"
check "...3 running besides it" wait_for 10 is n_running rs "$RSUID" 3
check "...4 pods in all, the failed one kept" test "$(q rs 'length')" = 4
echo 1 >"$M/namespaces/rs/replicasets/front.scale"
check "scaled down to 1 (.scale): the extras are deleted" wait_for 10 is n_active rs "$RSUID" 1
check "...and gone" wait_for 10 is q rs "$ACTIVE | length" 1
check "...the one left runs" is n_running rs "$RSUID" 1
check "...status says 1" wait_for 5 is rsstat "1 1 1"
check "reading .scale gives 1" test "$(cat "$M/namespaces/rs/replicasets/front.scale")" = 1
K -n rs scale replicaset front --replicas=4 >/dev/null
check "kubectl scale replicaset --replicas=4: 4 run" wait_for 10 is n_running rs "$RSUID" 4

# --- Deployment
mkdir "$M/namespaces/dep"
D=$M/namespaces/dep/deployments
cat >"$T/web.yaml" <<'Y'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  revisionHistoryLimit: 1
  selector: {matchLabels: {app: web}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 1, maxSurge: 1}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: web:1
        resources: {requests: {cpu: 100m}}
Y
cp "$T/web.yaml" "$D/"
wait_for 5 test -s "$D/web.json"
DUID=$(jq -r .metadata.uid "$D/web.json")
# rsets: the deployment's ReplicaSets as "NAME REVISION REPLICAS IMAGE", by revision
rsets() {
	for f in "$M/namespaces/dep/replicasets/"*.yaml; do
		[ -e "$f" ] && cat "${f%.yaml}.json" 2>/dev/null
	done | jq -rs --arg u "$DUID" 'map(select(.metadata.ownerReferences[0].uid == $u and .metadata.deletionTimestamp == null))
		| sort_by(.metadata.annotations["deployment.kubernetes.io/revision"] | tonumber)
		| .[] | "\(.metadata.name) \(.metadata.annotations["deployment.kubernetes.io/revision"]) \(.spec.replicas) \(.spec.template.spec.containers[0].image)"'
}
n_rsets() { rsets | grep -c .; }
check "cp of a Deployment manifest makes one ReplicaSet" wait_for 10 is n_rsets 1
read -r RS1 rev1 rep1 img1 <<<"$(rsets)"
check "...named web-HASH, revision 1, 4 replicas, the image ($RS1 $rev1 $rep1 $img1)" \
	test "$rev1 $rep1 $img1" = "1 4 web:1" -a "${RS1#web-}" != "$RS1"
check "...owned by the deployment" \
	test "$(jq -r '.metadata.ownerReferences[0] | "\(.kind) \(.name) \(.controller)"' "$M/namespaces/dep/replicasets/$RS1.json")" = "Deployment web true"
check "...labelled pod-template-hash" \
	test "web-$(jq -r '.metadata.labels["pod-template-hash"]' "$M/namespaces/dep/replicasets/$RS1.json")" = "$RS1"
RS1UID=$(jq -r .metadata.uid "$M/namespaces/dep/replicasets/$RS1.json")
check "...its 4 pods run" wait_for 10 is n_running dep "$RS1UID" 4
dstat() { jq -r '"\(.status.replicas) \(.status.updatedReplicas) \(.status.readyReplicas) \(.status.availableReplicas)"' "$D/web.json"; }
check "...deployment status: 4 replicas, 4 updated, 4 ready, 4 available" wait_for 5 is dstat "4 4 4 4"
check "...Available=True" wait_for 5 test "$(jq -r '.status.conditions[]? | select(.type == "Available") | .status' "$D/web.json")" = True

echo 6 >"$D/web.scale"
check "echo 6 > web.scale: 6 pods run" wait_for 10 is n_running dep "$RS1UID" 6
check "...reading web.scale gives 6" test "$(cat "$D/web.scale")" = 6
check "...the ReplicaSet has 6 replicas" test "$(rsets | awk '{print $3}')" = 6
zones() {
	q dep "$ACTIVE | map(.spec.nodeName) | .[]" | while read -r nd; do
		jq -r '.metadata.labels["topology.kubernetes.io/zone"]' "$M/nodes/$nd.json"
	done | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' '
}
z=$(zones)
check "...spread 2 per zone ($z)" test "$z" = "za=2 zb=2 zc=2 "
K -n dep scale deployment web --replicas=2 >/dev/null
check "kubectl scale deployment --replicas=2: 2 pods left" wait_for 10 is n_active dep "$RS1UID" 2
check "...and only 2 exist" wait_for 10 is q dep length 2
check "...the deployment's spec says 2" test "$(jq -r .spec.replicas "$D/web.json")" = 2
echo 4 >"$D/web.scale"
check "back to 4" wait_for 10 is n_running dep "$RS1UID" 4
check "...status 4 4 4 4" wait_for 5 is dstat "4 4 4 4"

# rollout NEWIMAGE: change the image in the mount, sampling every 50 ms the
# ready pods of the deployment until all 4 are of a set with that image.
sample() {
	while [ ! -e "$T/stop" ]; do
		f=("$M/namespaces/dep/pods/"*.yaml)
		cat "${f[@]/%.yaml/.json}" 2>/dev/null |
			jq -rs "$ACTIVE"' | . as $a | ('"$READY"' | length) as $r | "\($r) \($a | length)"' >>"$T/samples"
		sleep 0.05
	done
}
done_rolling() { # IMAGE: 4 pods, all ready, all with the image, nothing else
	[ "$(q dep "map(select(.metadata.deletionTimestamp == null)) | [length, ($READY | length), (map(select(.spec.containers[0].image == \"$1\")) | length)] | join(\" \")")" = "4 4 4" ]
}
rollout() { # FROM TO
	rm -f "$T/stop" "$T/samples"
	cat "$M/namespaces/dep/pods/.watch" >"$T/events" 2>/dev/null &
	EVW=$!
	wait_for 5 grep -q BOOKMARK "$T/events"
	sample &
	SAMPLER=$!
	sed -i "s/image: $1\$/image: $2/" "$D/web.yaml"
	ok_=0
	wait_for 30 done_rolling "$2" && ok_=1
	sleep 0.3
	touch "$T/stop"
	wait "$SAMPLER"
	kill "$EVW"
	wait "$EVW" 2>/dev/null
	[ $ok_ = 1 ]
}
# replay: the ready pods after each event of the rollout's watch, one a line
# (every state the pods went through, not only the sampled ones)
replay() {
	jq -rn 'foreach inputs as $e ({live: false, r: {}};
		if $e.type == "BOOKMARK" then .live = true
		elif $e.type == "DELETED" then .r |= del(.[$e.object.metadata.uid])
		elif $e.type == "ADDED" or $e.type == "MODIFIED" then
			.r[$e.object.metadata.uid] = ($e.object | .metadata.deletionTimestamp == null
				and .status.phase == "Running"
				and any(.status.conditions[]?; .type == "Ready" and .status == "True"))
		else . end;
		select(.live and $e.type != "BOOKMARK") | [.r[] | select(.)] | length)' "$T/events"
}
minreplay() { replay | sort -n | head -1; }
nreplay() { replay | grep -c .; }
minready() { awk 'NR == 1 || $1 < m {m = $1} END {print m}' "$T/samples"; }
maxpods() { awk '$2 > m {m = $2} END {print m}' "$T/samples"; }
check "rolling update to web:2 (maxUnavailable 1, maxSurge 1): all 4 pods end up with web:2" rollout web:1 web:2
check "...never fewer than 3 ready pods in $(wc -l <"$T/samples") samples (min $(minready), most pods at once $(maxpods))" \
	test "$(minready)" -ge 3
check "...sampled many times during it" test "$(wc -l <"$T/samples")" -ge 5
check "...nor in any of the $(nreplay) states the pod watch went through (min $(minreplay))" \
	test "$(nreplay)" -ge 10 -a "$(minreplay)" -ge 3
rs_after=$(rsets)
echo "$rs_after" | sed 's/^/# /'
read -r RS2 rev2 rep2 img2 <<<"$(echo "$rs_after" | tail -1)"
check "...a new ReplicaSet, revision 2, 4 replicas" test "$rev2 $rep2 $img2" = "2 4 web:2" -a "$RS2" != "$RS1"
check "...the old one scaled to 0, kept" test "$(echo "$rs_after" | head -1)" = "$RS1 1 0 web:1"
RS2UID=$(jq -r .metadata.uid "$M/namespaces/dep/replicasets/$RS2.json")
check "...all pods are the new set's" test "$(q dep "map(select(.metadata.ownerReferences[0].uid == \"$RS2UID\")) | length")" = 4
check "...deployment status 4 4 4 4" wait_for 5 is dstat "4 4 4 4"

check "rollback (web:1 written back): all pods are web:1 again" rollout web:2 web:1
check "...never fewer than 3 ready (min $(minready) in $(wc -l <"$T/samples") samples)" test "$(minready)" -ge 3
check "...nor in the $(nreplay) states of the watch (min $(minreplay))" test "$(nreplay)" -ge 10 -a "$(minreplay)" -ge 3
rs_after=$(rsets)
echo "$rs_after" | sed 's/^/# /'
check "...the old ReplicaSet is the new one again, now revision 3" \
	test "$(echo "$rs_after" | tail -1)" = "$RS1 3 4 web:1"
check "...its pods are the ones running" test "$(n_running dep "$RS1UID")" = 4
check "...the web:2 set is the old one, at 0" test "$(echo "$rs_after" | head -1)" = "$RS2 2 0 web:2"

check "another update (web:3)" rollout web:1 web:3
check "...never fewer than 3 ready (min $(minready) sampled, $(minreplay) in the watch)" \
	test "$(minready)" -ge 3 -a "$(minreplay)" -ge 3
check "revisionHistoryLimit 1: one old set left, the latest old one" \
	wait_for 10 sh -c "[ \"\$(ls '$M/namespaces/dep/replicasets' | grep -c 'yaml$')\" = 2 ]"
rs_after=$(rsets)
echo "$rs_after" | sed 's/^/# /'
check "...it is $RS1 (revision 3), $RS2 (revision 2) was deleted" \
	test "$(echo "$rs_after" | head -1)" = "$RS1 3 0 web:1" -a -z "$(ls "$M/namespaces/dep/replicasets" | grep -x "$RS2.yaml")"
check "...the new set is revision 4 with 4 replicas" test "$(echo "$rs_after" | tail -1 | cut -d' ' -f2-)" = "4 4 web:3"

rm "$D/web.yaml"
check "deleting the deployment deletes its ReplicaSets (garbage collector)" \
	wait_for 15 sh -c "[ \"\$(ls '$M/namespaces/dep/replicasets' | grep -c 'yaml$')\" = 0 ]"
check "...and their pods" wait_for 15 sh -c "[ \"\$(ls '$M/namespaces/dep/pods' | grep -c 'yaml$')\" = 0 ]"
check "the ReplicaSet elsewhere is untouched" is n_running rs "$RSUID" 4

check "the controllers logged no warning" not grep -Eq ' (warn|error|WARN|ERR)' "$T/ctl.log"
check "the scheduler logged no warning" not grep -Eq ' (warn|error|WARN|ERR)' "$T/sched.log"
[ "$failed" = 0 ] || sed 's/^/# ctl: /' "$T/ctl.log" | tail -40
done_testing
