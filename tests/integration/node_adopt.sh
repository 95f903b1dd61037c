#!/bin/bash
# tests/integration/node_adopt.sh - the node agent killed with SIGKILL and
# started again: running pods are adopted (same container process, no
# restart counted, no duplicate), a container that died meanwhile is
# restarted and counted, a pod deleted meanwhile is finished and cleaned up,
# a pod created meanwhile starts, what a force-deleted pod left is removed;
# and data on a PersistentVolume survive the pod's deletion, the agent's
# SIGKILL and a crash of every kube9 process at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
start_server
M=$T/mnt
start_mount "$M"
node_image >/dev/null || { echo "# no image"; exit 1; }
start_kube9 sched.log sched --mount "$M"
start_kube9 ctl.log controllers --mount "$M"
start_node
D=$M/namespaces/default
mkpod() { # NAME [GRACE]
	printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  terminationGracePeriodSeconds: %s\n  containers: [{name: c, image: %s, command: [sleep, "3600"]}]\n' \
		"$1" "${2:-1}" "$IMG" >"$D/pods/$1.yaml"
}
ctr_pid() { crun_host list 2>/dev/null | awk -v id="k9-$(pj default "$1" .metadata.uid)-c" '$1 == id && $3 == "running" {print $2}'; }
n_ctrs() { crun_host list -q 2>/dev/null | grep -c -- "$(pj default "$1" .metadata.uid)"; }

for p in keep dies gone orphan; do mkpod $p; done
all_running() { for p in "$@"; do phase_is default "$p" Running || return 1; done; }
check "four pods run" wait_for 40 all_running keep dies gone orphan
PID_KEEP=$(ctr_pid keep)
UID_GONE=$(pj default gone .metadata.uid)
UID_ORPHAN=$(pj default orphan .metadata.uid)
check "keep's container has a process ($PID_KEEP)" [ -n "$PID_KEEP" ]

kill -9 "$NODE_PID"
wait "$NODE_PID" 2>/dev/null
check "with the agent killed, the containers go on running" kill -0 "$PID_KEEP"
# meanwhile: one container dies, one pod is deleted, one force-deleted, one created
kill -9 "$(ctr_pid dies)"
rm "$D/pods/gone.yaml"
curl -fsS --cacert "$DATA/pki/ca.crt" -H "Authorization: Bearer $TOKEN" -X DELETE \
	"$URL/api/v1/namespaces/default/pods/orphan?gracePeriodSeconds=0" >/dev/null
mkpod later
sleep 1
start_node
check "after the restart keep is still Running" wait_for 20 all_running keep later
check "... with the same container process, not a new one" [ "$(ctr_pid keep)" = "$PID_KEEP" ]
check "... no restart counted" [ "$(pj default keep '.status.containerStatuses[0].restartCount')" = 0 ]
check "... and no duplicate container" [ "$(n_ctrs keep)" = 1 ]
dies_restarted() { [ "$(pj default dies '.status.containerStatuses[0].restartCount // 0')" = 1 ] && phase_is default dies Running; }
check "the container that died while no agent watched is restarted and counted" wait_for 20 dies_restarted
check "... its lastState has the SIGKILL (137)" [ "$(pj default dies '.status.containerStatuses[0].lastState.terminated.exitCode')" = 137 ]
gone() { [ ! -e "$D/pods/$1.json" ]; }
check "the pod deleted meanwhile is finished" wait_for 20 gone gone
gone_clean() { [ ! -e "$ST/pods/$UID_GONE" ] && ! crun_host list -q | grep -q "$UID_GONE"; }
check "... and its containers and state are gone" wait_for 10 gone_clean
orphan_clean() { [ ! -e "$ST/pods/$UID_ORPHAN" ] && ! crun_host list -q | grep -q "$UID_ORPHAN"; }
check "what the force-deleted pod left is removed" wait_for 20 orphan_clean
check "the pod created meanwhile runs" phase_is default later Running

# a sandbox that dies: its containers are restarted in a new one
PAUSE=$(jq -r .pid "$ST/pods/$(pj default later .metadata.uid)/sandbox.json")
kill -9 "$PAUSE"
resandboxed() { [ "$(pj default later '.status.containerStatuses[0].restartCount')" = 1 ] && phase_is default later Running; }
check "when a pod's sandbox dies its container is restarted in a new one" wait_for 20 resandboxed
check "... whose pause process is a new one" sh -c "[ \"\$(jq -r .pid $ST/pods/$(pj default later .metadata.uid)/sandbox.json)\" != $PAUSE ]"

# --- persistent volumes ---
mkdir -p "$T/pv"
cat >"$M/persistentvolumes/pv-$BR.yaml" <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-$BR}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: $T/pv}
EOF
cat >"$D/persistentvolumeclaims/data.yaml" <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 100Mi}}
EOF
dbpod() {
	cat >"$D/pods/db.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: db}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]
  containers:
  - name: c
    image: $IMG
    command: [sh, -c, 'echo "run \$(hostname)" >> /data/runs; cat /data/runs; sleep 3600']
    volumeMounts: [{name: d, mountPath: /data}]
EOF
}
bound() { [ "$(jq -r .status.phase "$D/persistentvolumeclaims/data.json" 2>/dev/null)" = Bound ]; }
check "the claim is bound to the volume" wait_for 20 bound
dbpod
check "a pod with the claim runs" wait_for 30 phase_is default db Running
check "it wrote to the volume" wait_for 5 grep -q "run db" "$T/pv/runs"
rm "$D/pods/db.yaml"
wait_for 20 gone db
dbpod
check "a new pod with the claim sees the first one's data" wait_for 30 sh -c "[ \$(grep -c 'run db' $T/pv/runs) = 2 ]"
kill -9 "$NODE_PID"
wait "$NODE_PID" 2>/dev/null
start_node
check "after an agent SIGKILL the data are there and the pod still runs" wait_for 20 sh -c "[ \$(grep -c 'run db' $T/pv/runs) = 2 ] && [ \"\$(jq -r .status.phase $D/pods/db.json)\" = Running ]"
# every kube9 process at once
kill -9 $PIDS 2>/dev/null
for p in $PIDS; do wait "$p" 2>/dev/null; done
fusermount3 -u "$M" 2>/dev/null || umount -l "$M"
PIDS=
PORT=$PORT start_server
start_mount "$M"
start_kube9 sched.log sched --mount "$M"
start_kube9 ctl.log controllers --mount "$M"
start_node
check "after every kube9 process was killed at once the pod is adopted, Running" wait_for 30 phase_is default db Running
check "... the volume's data are intact" [ "$(grep -c 'run db' "$T/pv/runs")" = 2 ]
check "... and the claim is still Bound" bound
done_testing
