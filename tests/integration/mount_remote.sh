#!/bin/bash
# tests/integration/mount_remote.sh - a mount on another "host": the API
# server in one network namespace, the mount in another, joined by a veth
# pair; and mounts that must fail with one clear sentence (wrong token,
# nothing listening, a CA that does not match).
. "$(dirname "$0")/lib.sh"
[ -e /dev/fuse ] && command -v fusermount3 >/dev/null || skip_all "no FUSE"
[ "$(id -u)" = 0 ] || skip_all "needs root for network namespaces"
command -v nsenter >/dev/null || skip_all "no nsenter"

id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
A=k9a-$id B=k9b-$id
o2=$((0x${id:0:2})) o3=$((0x${id:2:2}))
SRV_IP=10.$((200 + o2 % 50)).$o3.1 MNT_IP=10.$((200 + o2 % 50)).$o3.2
netns_cleanup() { ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null; }
trap 'cleanup; netns_cleanup' EXIT
ip netns add "$A" && ip netns add "$B" || skip_all "cannot create network namespaces"
ip link add "v$id" netns "$A" type veth peer name "w$id" netns "$B"
ip -n "$A" addr add "$SRV_IP/30" dev "v$id" && ip -n "$A" link set "v$id" up && ip -n "$A" link set lo up
ip -n "$B" addr add "$MNT_IP/30" dev "w$id" && ip -n "$B" link set "w$id" up && ip -n "$B" link set lo up

PORT=$(free_port)
DATA=$T/data
ip netns exec "$A" "$KUBE9" server --data-dir "$DATA" --listen "$SRV_IP:$PORT" >>"$T/server.log" 2>&1 &
PIDS="$PIDS $!"
check "the server answers in its namespace" \
	wait_for 10 ip netns exec "$A" curl -fsk "https://$SRV_IP:$PORT/readyz" -o /dev/null
check "the mount's namespace cannot reach it through loopback" \
	not nsenter --net=/run/netns/"$B" curl -fsk -m 1 "https://127.0.0.1:$PORT/readyz"
sed "s#https://[^ ]*#https://$SRV_IP:$PORT#" "$DATA/admin.kubeconfig" >"$T/remote.kubeconfig"
M=$T/mnt
mkdir -p "$M"
MOUNTS="$MOUNTS $M"
check "kube9 mount from the other network namespace succeeds" \
	nsenter --net=/run/netns/"$B" "$KUBE9" mount --kubeconfig "$T/remote.kubeconfig" "$M" 2>>"$T/mount.log"
check "...and the mount is ready when it returns" test -d "$M/namespaces/default/pods"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: remote\ndata:\n  k: v\n' >"$M/namespaces/default/configmaps/remote.yaml"
TOKEN=$(head -1 "$DATA/tokens.csv" | cut -d, -f1)
got=$(ip netns exec "$A" curl -fsk -H "Authorization: Bearer $TOKEN" \
	"https://$SRV_IP:$PORT/api/v1/namespaces/default/configmaps/remote" | jq -r .data.k)
check "a file written on the remote mount is an object on the server" test "$got" = v
ip netns exec "$A" curl -fsk -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	-X POST "https://$SRV_IP:$PORT/api/v1/namespaces/default/configmaps" \
	-d '{"metadata":{"name":"serverside"}}' -o /dev/null
check "an object created on the server appears on the remote mount" \
	wait_for 5 test -f "$M/namespaces/default/configmaps/serverside.yaml"
fusermount3 -u "$M"

# --- mounts that must fail, quickly and clearly
fail_mount() { # KUBECONFIG -> output in $out, rc in $rc
	out=$(timeout 30 nsenter --net=/run/netns/"$B" "$KUBE9" mount --timeout 2 \
		--kubeconfig "$1" "$M" 2>&1)
	rc=$?
}
sed "s/token: .*/token: not-a-valid-token/" "$T/remote.kubeconfig" >"$T/badtoken.kubeconfig"
fail_mount "$T/badtoken.kubeconfig"
check "wrong credentials fail the mount" test $rc = 1
check "...saying so" grep -q 'refused the credentials.*401' <<<"$out"
sed "s#https://[^ ]*#https://$SRV_IP:$(free_port)#" "$T/remote.kubeconfig" >"$T/noserver.kubeconfig"
fail_mount "$T/noserver.kubeconfig"
check "an unreachable server fails the mount" test $rc = 1
check "...saying so" grep -q 'cannot reach https://' <<<"$out"
sed "s#https://[^ ]*#https://10.254.254.254:$PORT#" "$T/remote.kubeconfig" >"$T/blackhole.kubeconfig"
start=$(date +%s)
fail_mount "$T/blackhole.kubeconfig"
check "a server that never answers fails the mount within the timeout, not a hang" \
	test $rc = 1 -a $(($(date +%s) - start)) -lt 15
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=other \
	-keyout "$T/other.key" -out "$T/other.crt" -days 1 2>/dev/null
ca=$(base64 -w0 "$T/other.crt")
sed "s#certificate-authority-data: .*#certificate-authority-data: $ca#" "$T/remote.kubeconfig" >"$T/badca.kubeconfig"
fail_mount "$T/badca.kubeconfig"
check "a CA that does not match fails the mount" test $rc = 1
check "...saying the server is not trusted" grep -q 'not trusted' <<<"$out"
check "no failed mount is left mounted" not mountpoint -q "$M"

done_testing
