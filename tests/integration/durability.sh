#!/bin/sh
# No acknowledged write is lost when the server is killed with SIGKILL while
# clients write: every create that got a 201 is there after a restart.
. "$(dirname "$0")/lib.sh"
start_server
writer() { # writer ID: create until the server dies; log acknowledged names
	j=0
	while :; do
		code=$(curl -sS --cacert "$DATA/pki/ca.crt" -H "Authorization: Bearer $TOKEN" \
			-H 'Content-Type: application/json' -o /dev/null -w '%{http_code}' \
			--data "{\"metadata\":{\"name\":\"w$1-$j\"},\"data\":{\"k\":\"v\"}}" \
			"$URL/api/v1/namespaces/default/configmaps" 2>/dev/null) || break
		[ "$code" = 201 ] && echo "w$1-$j" >>"$T/acked.$1"
		j=$((j + 1))
	done
}
for w in 1 2 3 4; do writer $w & done
sleep 2
kill -9 "$SERVER_PID"
wait 2>/dev/null
cat "$T"/acked.* | sort >"$T/acked"
acked=$(wc -l <"$T/acked")
check "writers got acknowledgements before the kill ($acked)" [ "$acked" -gt 10 ]
start_server
api GET /api/v1/namespaces/default/configmaps >"$T/o"
jq -r '.items[].metadata.name' <"$T/o" | sort >"$T/have"
missing=$(comm -23 "$T/acked" "$T/have" | wc -l)
check "every acknowledged create survived SIGKILL (missing: $missing)" [ "$missing" = 0 ]
maxrv=$(jq -r '[.items[].metadata.resourceVersion|tonumber]|max' <"$T/o")
api POST /api/v1/namespaces/default/configmaps '{"metadata":{"name":"after"}}' >"$T/o2"
rv=$(jget .metadata.resourceVersion <"$T/o2")
check "revisions keep increasing after the restart ($maxrv < $rv)" [ "$rv" -gt "$maxrv" ]
done_testing
