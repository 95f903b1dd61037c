#!/bin/sh
# Watch streams: live events, resume from a revision, selectors, 410 Gone
# once a revision left the history window.
. "$(dirname "$0")/lib.sh"
start_server --history 50

watch_bg() { # watch_bg FILE QUERY
	curl -sSN --cacert "$DATA/pki/ca.crt" -H "Authorization: Bearer $TOKEN" \
		"$URL/api/v1/namespaces/default/configmaps?watch=1&$2" >"$1" 2>/dev/null &
	PIDS="$PIDS $!"
}
wait_lines() { # wait_lines FILE N
	i=0
	while [ "$(wc -l <"$1")" -lt "$2" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
}

api POST /api/v1/namespaces/default/configmaps '{"metadata":{"name":"pre"},"data":{"a":"1"}}' >"$T/o"
rv0=$(jget .metadata.resourceVersion <"$T/o")
watch_bg "$T/w1" ""
watch_bg "$T/w2" "labelSelector=team%3Dx"
wait_lines "$T/w1" 1
check "a watch without resourceVersion starts with ADDED for what exists" \
	sh -c "head -1 $T/w1 | grep -q '\"type\":\"ADDED\".*\"name\":\"pre\"'"
api POST /api/v1/namespaces/default/configmaps '{"metadata":{"name":"a","labels":{"team":"x"}},"data":{"a":"1"}}' >/dev/null
api PATCH /api/v1/namespaces/default/configmaps/a '{"data":{"a":"2"}}' application/merge-patch+json >/dev/null
api DELETE /api/v1/namespaces/default/configmaps/a >"$T/o"
delrv=$(jget .metadata.resourceVersion <"$T/o")
wait_lines "$T/w1" 4
check "live ADDED, MODIFIED, DELETED in order" \
	[ "$(sed -n '2,4p' "$T/w1" | jq -r .type | tr '\n' ,)" = ADDED,MODIFIED,DELETED, ]
check "the DELETED event carries the deletion's resourceVersion" \
	[ "$(sed -n 4p "$T/w1" | jq -r .object.metadata.resourceVersion)" = "$delrv" ]
wait_lines "$T/w2" 3
check "a label-selected watch sees only matching objects" \
	[ "$(jq -r .object.metadata.name <"$T/w2" | sort -u | tr '\n' ,)" = a, ]

out=$(curl -sSN --max-time 3 --cacert "$DATA/pki/ca.crt" -H "Authorization: Bearer $TOKEN" \
	"$URL/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$rv0&timeoutSeconds=1")
check "resuming from a revision replays what followed it" \
	[ "$(echo "$out" | jq -r .type | tr '\n' ,)" = ADDED,MODIFIED,DELETED, ]
check "timeoutSeconds ends the stream" [ -n "$out" ]

i=0
while [ $i -lt 120 ]; do
	api PATCH /api/v1/namespaces/default/configmaps/pre "{\"data\":{\"a\":\"$i\"}}" application/merge-patch+json >/dev/null
	i=$((i + 1))
done
sleep 1
out=$(curl -sSN --max-time 3 --cacert "$DATA/pki/ca.crt" -H "Authorization: Bearer $TOKEN" \
	"$URL/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$rv0&timeoutSeconds=1")
check "a compacted revision gives an ERROR event with 410 Expired" \
	[ "$(echo "$out" | head -1 | jq -r '.type + "/" + (.object.code|tostring) + "/" + .object.reason')" = ERROR/410/Expired ]
check "the watcher following along saw all 120 changes" sh -c "[ \$(grep -c MODIFIED $T/w1) -ge 121 ]"
done_testing
