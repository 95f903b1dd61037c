#!/bin/bash
# tests/integration/make_up.sh - what the README promises: scripts/up.sh (make
# up) starts the cluster with a real node, `cp examples/pod.yaml` into the
# mount gives a Running pod whose web server answers on its pod IP, and
# scripts/down.sh (make down) stops everything and leaves nothing behind.
# Runs on its own data dir, mount point, port, bridge and pod network.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root"
[ -e /dev/fuse ] || skip_all "no FUSE"
command -v crun >/dev/null || skip_all "crun is not installed (make deps)"
make --no-print-directory -s -C "$ROOT" images >"$T/images.log" 2>&1 || { cat "$T/images.log"; exit 1; }
DD=$T/data-up
MP=$T/mnt-up
export KUBE9_LISTEN=127.0.0.1:$(free_port) KUBE9_NODE_PORT=$(free_port)
export KUBE9_BRIDGE=k9u$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n') KUBE9_POD_CIDR=10.$((200 + RANDOM % 50)).$((RANDOM % 250)).0/24
down() { sh "$ROOT/scripts/down.sh" "$DD" "$MP" >>"$T/down.log" 2>&1; }
CLEANUP_HOOKS="$CLEANUP_HOOKS down"
up() { sh "$ROOT/scripts/up.sh" "$DD" "$MP" >"$T/up.log" 2>&1 || { sed 's/^/# /' "$T/up.log"; false; }; }
check "make up starts the cluster" up
check "... mounted" mountpoint -q "$MP"
ready() { [ "$(jq -r '.status.conditions[] | select(.type=="Ready") | .status' "$MP/nodes/$(hostname).json" 2>/dev/null)" = True ]; }
check "... with this host as a Ready node" wait_for 15 ready
check "cp examples/pod.yaml into pods/" cp "$ROOT/examples/pod.yaml" "$MP/namespaces/default/pods/"
running() { [ "$(jq -r .status.phase "$MP/namespaces/default/pods/pod.json" 2>/dev/null)" = Running ]; }
check "... gives a Running pod" wait_for 30 running
IP=$(jq -r .status.podIP "$MP/namespaces/default/pods/pod.json")
check "... whose web server answers on its pod IP ($IP)" sh -c "curl -fsS -m 5 http://$IP:8080/ | grep -q kube9"
check "kubectl works with the kubeconfig make up wrote" sh -c "KUBECONFIG=$DD/admin.kubeconfig kubectl get pod pod -o name | grep -qx pod/pod"
down
check "make down unmounts" not mountpoint -q "$MP"
check "... stops every kube9 process it started" sh -c "! pgrep -f '[k]ube9 .*$DD' >/dev/null"
check "... stops the pod's containers" sh -c "! pgrep -f '[k]ube9-shim.*$DD' >/dev/null"
check "... and removes the bridge" not ip link show "$KUBE9_BRIDGE"
done_testing
