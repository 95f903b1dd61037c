#!/bin/bash
# tests/integration/ctl_pv.sh - the PersistentVolume controller through the
# mount, no nodes: claims bound by size, class, access mode, selector,
# claimRef and volumeName; a claim nothing fits stays Pending with one
# FailedBinding Event (ProvisioningFailed with a class) and binds when a
# volume comes; Retain, Delete and Recycle once the claim is gone; a claim
# Lost with its volume; a binding cut short by a stopped controller
# completed by the next one.
. "$(dirname "$0")/lib.sh"
[ -e /dev/fuse ] && command -v fusermount3 >/dev/null || skip_all "no FUSE"
start_server
M=$T/mnt
start_mount "$M"
PV=$M/persistentvolumes
C=$M/namespaces/pv/persistentvolumeclaims
mkdir "$M/namespaces/pv"

start_ctl() {
	start_kube9 ctl.log controllers --mount "$M" --leader-elect false
	CTL=$BG_PID
}
start_ctl

# pv NAME SIZE MODES_FLOW CLASS [EXTRA SPEC LINES] [LABELS_FLOW]: a hostPath volume.
pv() {
	printf 'apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: %s\n  labels: %s\nspec:\n  capacity: {storage: %s}\n  accessModes: %s\n  storageClassName: "%s"\n  hostPath: {path: %s}\n%s' \
		"$1" "${6:-{\}}" "$2" "$3" "$4" "$T/data-$1" "${5-}" >"$PV/$1.yaml"
}
# pvc NAME SIZE MODES_FLOW CLASS [EXTRA SPEC LINES]: a claim in namespace pv.
pvc() {
	printf 'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: %s\nspec:\n  accessModes: %s\n  resources: {requests: {storage: %s}}\n%s%s' \
		"$1" "$3" "$2" "${4:+  storageClassName: $4
}" "${5-}" >"$C/$1.yaml"
}
field() { jq -r "$2" "$1" 2>/dev/null; } # field FILE JQ
is() { [ "$(field "$1" "$2")" = "$3" ]; } # is FILE JQ VALUE
bound() { # bound CLAIM VOLUME: both sides say so
	is "$C/$1.json" '.status.phase + " " + .spec.volumeName' "Bound $2" &&
		is "$PV/$2.json" '.status.phase + " " + .spec.claimRef.name' "Bound $1"
}
# check_bound WHAT CLAIM VOLUME: they get bound within 10 s; if not, show both and the log.
check_bound() {
	check "$1" wait_for 10 bound "$2" "$3"
	bound "$2" "$3" && return
	{ jq -c '{metadata, spec, status}' "$C/$2.json" "$PV/$3.json"
	  grep -E "$2|$3" "$T/ctl.log" | tail -20; } 2>&1 | sed 's/^/# /'
}
# all_events NS: every Event of NS as JSON (NAME.json is not listed, NAME.yaml is).
all_events() {
	for e in "$M/namespaces/$1/events/"*.yaml; do
		[ -e "$e" ] && cat "${e%.yaml}.json"
	done 2>/dev/null
}
# events NS NAME REASON: how many Events about NAME have that reason.
events() {
	all_events "$1" | jq -s --arg n "$2" --arg r "$3" '[.[] | select(.involvedObject.name == $n and .reason == $r)] | length'
}
has_event() { [ "$(events "$@")" -ge 1 ]; }

# --- a new volume becomes Available
pv s-1g 1Gi '[ReadWriteOnce]' size
pv s-5g 5Gi '[ReadWriteOnce]' size
pv s-10g 10Gi '[ReadWriteOnce]' size
all_available() { for v in "$@"; do is "$PV/$v.json" .status.phase Available || return 1; done; }
check "new volumes become Available" wait_for 10 all_available s-1g s-5g s-10g

# --- the smallest volume that fits
pvc c-size 3Gi '[ReadWriteOnce]' size
check_bound "a 3Gi claim binds the 5Gi volume of three" c-size s-5g
uid=$(field "$C/c-size.json" .metadata.uid)
check "claimRef names the claim with its uid" is "$PV/s-5g.json" \
	'.spec.claimRef | [.kind, .apiVersion, .namespace, .name, .uid, (.resourceVersion | length > 0)] | join(" ")' \
	"PersistentVolumeClaim v1 pv c-size $uid true"
check "the claim's status has the volume's capacity and access modes" is "$C/c-size.json" \
	'.status.capacity.storage + " " + (.status.accessModes | join(","))' "5Gi ReadWriteOnce"
check "the claim is annotated bind-completed and bound-by-controller" is "$C/c-size.json" \
	'.metadata.annotations | .["pv.kubernetes.io/bind-completed"] + .["pv.kubernetes.io/bound-by-controller"]' yesyes
check "the volume is annotated bound-by-controller" is "$PV/s-5g.json" \
	'.metadata.annotations["pv.kubernetes.io/bound-by-controller"]' yes
check "the other volumes stay Available" sh -c "[ \"\$(jq -r .status.phase '$PV/s-1g.json' '$PV/s-10g.json' | sort -u)\" = Available ]"

# --- storage class
pv gold-1 1Gi '[ReadWriteOnce]' gold
pv silver-1 1Gi '[ReadWriteOnce]' silver
pvc c-class 1Gi '[ReadWriteOnce]' silver
check_bound "a claim binds a volume of its class only" c-class silver-1
check "the volume of another class stays Available" is "$PV/gold-1.json" .status.phase Available

# --- access modes: the smaller volume lacks ReadWriteMany
pv am-rwo 1Gi '[ReadWriteOnce]' am
pv am-rwx 2Gi '[ReadWriteOnce, ReadWriteMany]' am
pvc c-rwx 1Gi '[ReadWriteMany]' am
check_bound "a ReadWriteMany claim binds the volume offering it" c-rwx am-rwx
check "the claim's access modes are the volume's" is "$C/c-rwx.json" '.status.accessModes | join(",")' \
	ReadWriteOnce,ReadWriteMany

# --- selectors: matchLabels and matchExpressions against the volumes' labels
pv sel-fast 2Gi '[ReadWriteOnce]' sel '' '{tier: fast}'
pv sel-slow 1Gi '[ReadWriteOnce]' sel '' '{tier: slow}'
pv sel-other 1Gi '[ReadWriteOnce]' sel '' '{tier: other}'
pvc c-sel 1Gi '[ReadWriteOnce]' sel '  selector: {matchLabels: {tier: fast}}
'
pvc c-expr 1Gi '[ReadWriteOnce]' sel '  selector: {matchExpressions: [{key: tier, operator: In, values: [slow, gone]}]}
'
check_bound "matchLabels picks the labelled volume over a smaller one" c-sel sel-fast
check_bound "matchExpressions picks the volume it selects" c-expr sel-slow
check "the unselected volume stays Available" is "$PV/sel-other.json" .status.phase Available

# --- pre-bound: a volume whose claimRef names the claim wins over a smaller one
pv pre-small 1Gi '[ReadWriteOnce]' pre
pv pre-big 5Gi '[ReadWriteOnce]' pre '  claimRef: {namespace: pv, name: c-pre}
'
check "a volume pre-bound to a claim to come is Available" wait_for 10 is "$PV/pre-big.json" .status.phase Available
pvc c-pre 1Gi '[ReadWriteOnce]' pre
check_bound "the claim binds the volume pre-bound to it" c-pre pre-big
check "its claimRef gets the claim's uid" is "$PV/pre-big.json" .spec.claimRef.uid "$(field "$C/c-pre.json" .metadata.uid)"
check "a pre-bound volume is not annotated bound-by-controller" is "$PV/pre-big.json" \
	'.metadata.annotations["pv.kubernetes.io/bound-by-controller"] // "none"' none

# --- volumeName: the claim names its volume
pv vn-a 1Gi '[ReadWriteOnce]' vn
pv vn-b 5Gi '[ReadWriteOnce]' vn
pvc c-vn 1Gi '[ReadWriteOnce]' vn '  volumeName: vn-b
'
check_bound "a claim with volumeName binds that volume" c-vn vn-b
check "a claim that named its volume is bind-completed, not bound-by-controller" is "$C/c-vn.json" \
	'.metadata.annotations | (.["pv.kubernetes.io/bind-completed"] // "") + (.["pv.kubernetes.io/bound-by-controller"] // "none")' yesnone
check "the volume it did not name stays Available" is "$PV/vn-a.json" .status.phase Available

# --- nothing fits: Pending, one FailedBinding Event, then a volume comes
pvc c-none 1Gi '[ReadWriteOnce]'
check "a claim nothing fits gets a FailedBinding Event" wait_for 10 has_event pv c-none FailedBinding
failed_binding_is_k8s() {
	all_events pv | jq -se 'map(select(.involvedObject.name == "c-none" and .reason == "FailedBinding"))[0] |
		.type == "Normal" and .message == "no persistent volumes available for this claim and no storage class is set" and
		.involvedObject.kind == "PersistentVolumeClaim" and .source.component == "persistentvolume-controller"' >/dev/null
}
check "its Event is Kubernetes' Normal one" failed_binding_is_k8s
check "it stays Pending" is "$C/c-none.json" '.status.phase + (.spec.volumeName // "")' Pending
pv poke-1 1Gi '[ReadWriteOnce]' poke # every new volume looks at the pending claims again
pv poke-2 1Gi '[ReadWriteOnce]' poke
wait_for 10 all_available poke-1 poke-2
sleep 1
check "at most one FailedBinding Event a minute" test "$(events pv c-none FailedBinding)" = 1
pv none-1 2Gi '[ReadWriteOnce]' ''
check_bound "a volume without a class that fits binds the pending claim" c-none none-1
pvc c-nope 1Gi '[ReadWriteOnce]' nope
check "a claim of a class nothing has gets Kubernetes' ProvisioningFailed (no StorageClass is served)" \
	wait_for 10 has_event pv c-nope ProvisioningFailed
check "and stays Pending" is "$C/c-nope.json" '.status.phase + (.spec.volumeName // "")' Pending

# --- Retain: the volume is Released, keeps its claimRef, and is not bound again
rm "$C/c-size.yaml"
check "a Retain volume whose claim is deleted is Released" wait_for 10 is "$PV/s-5g.json" .status.phase Released
check "a Released volume keeps its claimRef" is "$PV/s-5g.json" '.spec.claimRef.name + " " + .spec.claimRef.uid' "c-size $uid"
pvc c-size2 3Gi '[ReadWriteOnce]' size
check_bound "a new claim binds another volume" c-size2 s-10g
check "the Released volume stays Released" is "$PV/s-5g.json" .status.phase Released

# --- Delete: the PersistentVolume object is deleted, the data is not
mkdir -p "$T/data-del-1" && echo keep >"$T/data-del-1/file"
pv del-1 1Gi '[ReadWriteOnce]' del '  persistentVolumeReclaimPolicy: Delete
'
pvc c-del 1Gi '[ReadWriteOnce]' del
check_bound "a Delete volume binds" c-del del-1
rm "$C/c-del.yaml"
check "a Delete volume is deleted with its claim" wait_for 10 not test -e "$PV/del-1.json"
check "the data at its path is left" grep -qx keep "$T/data-del-1/file"

# --- Recycle: not supported, a Warning, and the volume stays Released
pv rec-1 1Gi '[ReadWriteOnce]' rec '  persistentVolumeReclaimPolicy: Recycle
'
pvc c-rec 1Gi '[ReadWriteOnce]' rec
check_bound "a Recycle volume binds" c-rec rec-1
rm "$C/c-rec.yaml"
check "a Recycle volume is Released" wait_for 10 is "$PV/rec-1.json" .status.phase Released
check "with a VolumeFailedRecycle Warning (in default)" wait_for 10 has_event default rec-1 VolumeFailedRecycle
check "and stays" is "$PV/rec-1.json" .status.phase Released

# --- a bound volume deleted: its claim is Lost
pv lost-1 1Gi '[ReadWriteOnce]' lost
pvc c-lost 1Gi '[ReadWriteOnce]' lost
check_bound "a volume to lose binds" c-lost lost-1
rm "$PV/lost-1.yaml"
check "the claim of a deleted volume is Lost" wait_for 10 is "$C/c-lost.json" .status.phase Lost
check "with a ClaimLost Warning" wait_for 10 has_event pv c-lost ClaimLost

# --- a binding cut short: the volume written, the claim not, the controller gone
kill "$CTL"
wait "$CTL" 2>/dev/null
pvc c-crash 1Gi '[ReadWriteOnce]' crash
wait_for 10 test -s "$C/c-crash.json"
cuid=$(field "$C/c-crash.json" .metadata.uid)
pv crash-1 1Gi '[ReadWriteOnce]' crash "  claimRef: {kind: PersistentVolumeClaim, apiVersion: v1, namespace: pv, name: c-crash, uid: $cuid}
"
wait_for 10 test -s "$PV/crash-1.json"
echo '{"status":{"phase":"Bound"}}' >"$PV/crash-1.status"
check "without a controller the claim stays Pending" is "$C/c-crash.json" '.status.phase + (.spec.volumeName // "")' Pending
start_ctl
check_bound "a restarted controller completes the claim" c-crash crash-1
check "the completed claim is bind-completed" is "$C/c-crash.json" \
	'.metadata.annotations["pv.kubernetes.io/bind-completed"]' yes
check "earlier bindings are left as they were" sh -c "[ \"\$(jq -r .spec.volumeName '$C/c-class.json' '$C/c-sel.json' '$C/c-vn.json' | tr '\n' ' ')\" = 'silver-1 sel-fast vn-b ' ]"
check "the controllers logged no warning" not grep -Eq ' (warn|error|WARN|ERR)' "$T/ctl.log"

done_testing
