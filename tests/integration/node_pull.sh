#!/bin/bash
# tests/integration/node_pull.sh - pods whose images come from a registry on
# loopback (Debian's docker-registry, pushed with skopeo): an anonymous pull,
# a private registry answered with an imagePullSecret, and the waiting
# reasons Kubernetes gives: ErrImagePull with the registry's words, then
# ImagePullBackOff; InvalidImageName; ErrImageNeverPull.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
for c in docker-registry skopeo htpasswd; do
	command -v "$c" >/dev/null || skip_all "$c is not installed (make deps)"
done
start_server
M=$T/mnt
start_mount "$M"
start_kube9 sched.log sched --mount "$M"
start_node
D=$M/namespaces/default
layout=$ROOT/build/images/busybox
[ -f "$layout/index.json" ] || { layout=$T/busybox; sh "$ROOT/scripts/mkimage.sh" "$layout" >/dev/null 2>&1; }
start_registry open
OPEN=$REG
check "the image is pushed to a registry on loopback" push "$layout:1.35" "$OPEN/kube9/busybox:1.35"
htpasswd -Bbn k9user k9pass >"$T/htpasswd" 2>/dev/null
start_registry private "$(printf 'auth:\n  htpasswd:\n    realm: k9\n    path: %s' "$T/htpasswd")"
PRIV=$REG
check "... and to a private one" push "$layout:1.35" "$PRIV/kube9/busybox:1.35" k9user:k9pass

mkpod() { # NAME IMAGE [SPEC LINES]
	printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  terminationGracePeriodSeconds: 1\n%s  containers: [{name: c, image: "%s", command: [sh, -c, "echo pulled; sleep 3600"]%s}]\n' \
		"$1" "${3-}" "$2" "${4-}" >"$D/pods/$1.yaml"
}
waiting() { [ "$(pj default "$1" '.status.containerStatuses[0].state.waiting.reason // empty')" = "$2" ]; }
wmsg() { pj default "$1" '.status.containerStatuses[0].state.waiting.message // empty'; }

mkpod pulled "$OPEN/kube9/busybox:1.35"
check "a pod's image is pulled from the registry and it runs" wait_for 30 phase_is default pulled Running
check "... its imageID is a digest" [ "$(pj default pulled '.status.containerStatuses[0].imageID' | cut -c1-7)" = sha256: ]
check "... and it ran" wait_for 5 log_has default pulled c pulled

mkpod missing "$OPEN/kube9/busybox:nope"
check "a tag the registry does not have: ErrImagePull" wait_for 20 waiting missing ErrImagePull
check "... with the registry's words" sh -c "jq -r '.status.containerStatuses[0].state.waiting.message' $D/pods/missing.json | grep -q 'manifest unknown'"
check "... then ImagePullBackOff" wait_for 20 waiting missing ImagePullBackOff
check "... and the pod stays Pending" phase_is default missing Pending

mkpod badname "UPPER/Case:x"
check "a malformed reference: InvalidImageName" wait_for 20 waiting badname InvalidImageName

mkpod never "$OPEN/kube9/absent:1" "" ", imagePullPolicy: Never"
check "imagePullPolicy Never and no image: ErrImageNeverPull" wait_for 20 waiting never ErrImageNeverPull

mkpod noauth "$PRIV/kube9/busybox:1.35"
check "a private registry without credentials: ErrImagePull" wait_for 20 waiting noauth ErrImagePull
auth=$(printf k9user:k9pass | base64)
cfg=$(printf '{"auths":{"%s":{"auth":"%s"}}}' "$PRIV" "$auth" | base64 -w0)
printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: regcred}\ntype: kubernetes.io/dockerconfigjson\ndata: {.dockerconfigjson: %s}\n' "$cfg" >"$D/secrets/regcred.yaml"
mkpod withauth "$PRIV/kube9/busybox:1.35" "  imagePullSecrets: [{name: regcred}]
"
check "with an imagePullSecret it is pulled and runs" wait_for 30 phase_is default withauth Running
for p in pulled missing badname never noauth withauth; do rm -f "$D/pods/$p.yaml"; done
none_left() { [ -z "$(ls "$ST/pods")" ]; }
check "all cleaned up" wait_for 20 none_left
done_testing
