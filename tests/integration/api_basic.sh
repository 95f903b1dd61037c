#!/bin/sh
# The API server's REST surface with curl: authentication, CRUD, selectors,
# paging, conflicts, validation errors, subresources, finalizers.
. "$(dirname "$0")/lib.sh"
start_server

code=$(curl -sk -o /dev/null -w '%{http_code}' "$URL/healthz")
check "/healthz answers without credentials" [ "$code" = 200 ]
v=$(curl -sk "$URL/version" | jget .major)
check "/version answers without credentials" [ "$v" = 1 ]
code=$(curl -sk -o "$T/o" -w '%{http_code}' "$URL/api/v1/pods")
check "no token: 401" [ "$code" = 401 ]
check "401 is a Status object" [ "$(jget .kind <"$T/o")/$(jget .reason <"$T/o")" = Status/Unauthorized ]
code=$(curl -sk -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$URL/api/v1/pods")
check "bad token: 401" [ "$code" = 401 ]

api GET /api/v1/namespaces >"$T/o"
check "default and kube-system exist" sh -c "grep -q '\"name\":\"default\"' $T/o && grep -q '\"name\":\"kube-system\"' $T/o"

pod='apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
    tier: frontend
spec:
  containers:
  - name: c
    image: busybox
    ports:
    - containerPort: 80
'
api POST /api/v1/namespaces/default/pods "$pod" application/yaml >"$T/o"
check "create pod from YAML: 201" [ "$CODE" = 201 ]
uid=$(jget .metadata.uid <"$T/o")
rv=$(jget .metadata.resourceVersion <"$T/o")
check "server sets uid, creationTimestamp, resourceVersion" \
	sh -c "[ -n '$uid' ] && [ '$uid' != null ] && [ -n \"\$(jq -r .metadata.creationTimestamp <$T/o)\" ] && [ '$rv' -gt 0 ]"
check "new pod is Pending, defaulted" \
	[ "$(jget .status.phase <"$T/o")/$(jget .spec.restartPolicy <"$T/o")" = Pending/Always ]

api POST /api/v1/namespaces/default/pods "$pod" application/yaml >"$T/o"
check "duplicate create: 409 AlreadyExists" [ "$CODE/$(jget .reason <"$T/o")" = 409/AlreadyExists ]

api POST /api/v1/namespaces/nosuch/pods "$pod" application/yaml >"$T/o"
check "create in a missing namespace: 404" [ "$CODE" = 404 ]
check "404 names the namespace" grep -q 'namespaces \\"nosuch\\" not found' "$T/o"

bad='apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  containers:
  - name: c
    imagee: busybox
'
api POST /api/v1/namespaces/default/pods "$bad" application/yaml >"$T/o"
check "invalid pod: 422" [ "$CODE" = 422 ]
check "422 names the unknown field and its line" sh -c "grep -q 'imagee' $T/o && grep -q 'line 8' $T/o"
check "422 names the missing image" grep -q 'spec.containers\[0\].image' "$T/o"
api GET /api/v1/namespaces/default/pods/bad >/dev/null
check "invalid pod was not stored" [ "$CODE" = 404 ]

api POST /api/v1/namespaces/default/pods 'metadata: [oops' application/yaml >"$T/o"
check "malformed YAML: 400 with line" sh -c "[ $CODE = 400 ] && grep -q 'line' $T/o"
api POST /api/v1/namespaces/default/pods '{"metadata": {"name": "x",}}' >"$T/o"
check "malformed JSON: 400 with line and column" sh -c "[ $CODE = 400 ] && grep -q 'column' $T/o"
deep=$(python3 -c 'print("["*100000 + "]"*100000)' 2>/dev/null || printf '%0100000d' 0 | tr 0 '[')
api POST /api/v1/namespaces/default/pods "$deep" >"$T/o"
check "absurd nesting refused with 400" [ "$CODE" = 400 ]
head -c 3200000 /dev/zero | tr '\0' 'a' >"$T/big"
code=$(curl -sS --cacert "$DATA/pki/ca.crt" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	--data-binary @"$T/big" -o /dev/null -w '%{http_code}' "$URL/api/v1/namespaces/default/pods")
check "body over 3 MiB: 413" [ "$code" = 413 ]

for i in 1 2 3 4 5; do
	api POST /api/v1/namespaces/default/pods "{\"metadata\":{\"generateName\":\"gen-\",\"labels\":{\"app\":\"gen\",\"i\":\"n$i\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}" >"$T/o"
done
check "generateName makes a name" sh -c "jq -r .metadata.name <$T/o | grep -Eq '^gen-[a-z0-9]{5}$'"

api GET '/api/v1/namespaces/default/pods?labelSelector=app%3Dgen' >"$T/o"
check "labelSelector equality: 5 pods" [ "$(jget '.items|length' <"$T/o")" = 5 ]
api GET '/api/v1/namespaces/default/pods?labelSelector=i%20in%20(n1,n2),app' >"$T/o"
check "labelSelector set-based: 2 pods" [ "$(jget '.items|length' <"$T/o")" = 2 ]
api GET '/api/v1/namespaces/default/pods?labelSelector=app!%3Dgen' >"$T/o"
check "labelSelector !=: only web" [ "$(jget '.items[0].metadata.name' <"$T/o")/$(jget '.items|length' <"$T/o")" = web/1 ]
api GET '/api/v1/pods?fieldSelector=metadata.name%3Dweb' >"$T/o"
check "fieldSelector metadata.name across namespaces" [ "$(jget '.items|length' <"$T/o")" = 1 ]
api GET '/api/v1/namespaces/default/pods?labelSelector=a%20in%20(' >"$T/o"
check "bad selector: 400" [ "$CODE" = 400 ]

api GET '/api/v1/namespaces/default/pods?limit=2' >"$T/o"
c1=$(jget .metadata.continue <"$T/o")
check "limit=2 gives 2 items and a continue token" sh -c "[ \"\$(jq -r '.items|length' <$T/o)\" = 2 ] && [ '$c1' != null ]"
check "remainingItemCount is 4" [ "$(jget .metadata.remainingItemCount <"$T/o")" = 4 ]
api GET "/api/v1/namespaces/default/pods?limit=10&continue=$c1" >"$T/o"
check "continue returns the other 4" [ "$(jget '.items|length' <"$T/o")" = 4 ]

# optimistic concurrency
api GET /api/v1/namespaces/default/pods/web >"$T/o"
jq '.metadata.labels.tier="backend"' "$T/o" >"$T/upd"
api PUT /api/v1/namespaces/default/pods/web "$(cat "$T/upd")" >"$T/o"
check "PUT with current resourceVersion: 200" [ "$CODE" = 200 ]
check "PUT changed the label" [ "$(jget .metadata.labels.tier <"$T/o")" = backend ]
api PUT /api/v1/namespaces/default/pods/web "$(cat "$T/upd")" >"$T/o"
check "PUT with a stale resourceVersion: 409 Conflict" [ "$CODE/$(jget .reason <"$T/o")" = 409/Conflict ]

api PATCH /api/v1/namespaces/default/pods/web '{"metadata":{"labels":{"tier":null,"x":"y"}}}' application/merge-patch+json >"$T/o"
check "merge patch" [ "$CODE/$(jget .metadata.labels.tier <"$T/o")/$(jget .metadata.labels.x <"$T/o")" = 200/null/y ]
api PATCH /api/v1/namespaces/default/pods/web '[{"op":"add","path":"/metadata/annotations","value":{"a":"b"}}]' application/json-patch+json >"$T/o"
check "JSON patch" [ "$CODE/$(jget .metadata.annotations.a <"$T/o")" = 200/b ]
api PATCH /api/v1/namespaces/default/pods/web '{"metadata":{"labels":{"bad key!":"v"}}}' application/merge-patch+json >"$T/o"
check "patch producing an invalid label: 422" [ "$CODE" = 422 ]
# a patch naming no resourceVersion applies to whatever is current: concurrent ones all land
CP=
for i in $(seq 1 16); do
	curl -sS --cacert "$DATA/pki/ca.crt" -H "Authorization: Bearer $TOKEN" -X PATCH \
		-H "Content-Type: application/merge-patch+json" -o /dev/null -w '%{http_code}\n' \
		--data-binary "{\"metadata\":{\"labels\":{\"c$i\":\"v\"}}}" \
		"$URL/api/v1/namespaces/default/pods/web" >"$T/cp$i" &
	CP="$CP $!"
done
wait $CP
api GET /api/v1/namespaces/default/pods/web >"$T/o"
check "16 concurrent patches without resourceVersion: all 200" \
	[ "$(cat "$T"/cp* | sort | uniq -c | tr -s ' ')" = " 16 200" ]
check "...and all 16 labels are there" [ "$(jget '[.metadata.labels | keys[] | select(startswith("c"))] | length' <"$T/o")" = 16 ]
rv=$(jget .metadata.resourceVersion <"$T/o")
api PATCH /api/v1/namespaces/default/pods/web '{"metadata":{"resourceVersion":"1","labels":{"z":"1"}}}' application/merge-patch+json >"$T/o"
check "a patch naming a stale resourceVersion: 409" [ "$CODE" = 409 ]
api PATCH /api/v1/namespaces/default/pods/web "{\"metadata\":{\"resourceVersion\":\"$rv\",\"labels\":{\"z\":\"1\"}}}" application/merge-patch+json >"$T/o"
check "...naming the current one: 200" [ "$CODE" = 200 ]

# status subresource
api GET /api/v1/namespaces/default/pods/web >"$T/o"
jq '.status.phase="Running" | .spec.containers[0].image="changed"' "$T/o" >"$T/upd"
api PUT /api/v1/namespaces/default/pods/web/status "$(cat "$T/upd")" >"$T/o"
check "PUT /status changes the status only" \
	[ "$CODE/$(jget .status.phase <"$T/o")/$(jget .spec.containers[0].image <"$T/o")" = 200/Running/busybox ]
api PATCH /api/v1/namespaces/default/pods/web '{"status":{"phase":"Failed"}}' application/merge-patch+json >"$T/o"
check "the main resource ignores status changes" [ "$(jget .status.phase <"$T/o")" = Running ]

# finalizers
api POST /api/v1/namespaces/default/configmaps '{"metadata":{"name":"cm","finalizers":["example.com/hold"]},"data":{"k":"v"}}' >/dev/null
api DELETE /api/v1/namespaces/default/configmaps/cm >"$T/o"
check "delete with a finalizer marks deletionTimestamp" sh -c "[ $CODE = 200 ] && [ \"\$(jq -r .metadata.deletionTimestamp <$T/o)\" != null ]"
api GET /api/v1/namespaces/default/configmaps/cm >/dev/null
check "the object stays while the finalizer is there" [ "$CODE" = 200 ]
api PATCH /api/v1/namespaces/default/configmaps/cm '{"metadata":{"finalizers":null}}' application/merge-patch+json >/dev/null
api GET /api/v1/namespaces/default/configmaps/cm >/dev/null
check "removing the last finalizer deletes it" [ "$CODE" = 404 ]

# graceful deletion of a bound pod
api POST /api/v1/namespaces/default/pods '{"metadata":{"name":"bound"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox"}]}}' >/dev/null
api DELETE /api/v1/namespaces/default/pods/bound >"$T/o"
check "deleting a bound pod is graceful (grace 30)" \
	[ "$CODE/$(jget .metadata.deletionGracePeriodSeconds <"$T/o")" = 200/30 ]
api DELETE '/api/v1/namespaces/default/pods/bound?gracePeriodSeconds=0' >/dev/null
api GET /api/v1/namespaces/default/pods/bound >/dev/null
check "gracePeriodSeconds=0 removes it" [ "$CODE" = 404 ]
api DELETE /api/v1/namespaces/default/pods/web >/dev/null
api GET /api/v1/namespaces/default/pods/web >/dev/null
check "an unscheduled pod is deleted at once" [ "$CODE" = 404 ]
api POST /api/v1/namespaces '{"metadata":{"name":"fresh"}}' >/dev/null
api POST /api/v1/namespaces/fresh/configmaps '{"metadata":{"name":"c"}}' >/dev/null
check "a namespace is usable right after it is created" [ "$CODE" = 201 ]
api DELETE /api/v1/namespaces/fresh >"$T/o"
check "deleting a namespace makes it Terminating" [ "$CODE/$(jget .status.phase <"$T/o")" = 200/Terminating ]
sleep 0.3
api POST /api/v1/namespaces/fresh/configmaps '{"metadata":{"name":"d"}}' >"$T/o"
check "no new objects in a terminating namespace: 403" sh -c "[ $CODE = 403 ] && grep -q 'being terminated' $T/o"
api DELETE /api/v1/namespaces/default >"$T/o"
check "namespace default may not be deleted" [ "$CODE" = 403 ]

# deployments: scale subresource and v1beta2 by conversion
dep='{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"d"}},"template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}'
api POST /apis/apps/v1/namespaces/default/deployments "$dep" >"$T/o"
check "create deployment: 201, generation 1" [ "$CODE/$(jget .metadata.generation <"$T/o")" = 201/1 ]
api GET /apis/apps/v1/namespaces/default/deployments/d/scale >"$T/o"
check "scale subresource reads replicas" [ "$(jget .kind <"$T/o")/$(jget .spec.replicas <"$T/o")" = Scale/2 ]
api PATCH /apis/apps/v1/namespaces/default/deployments/d/scale '{"spec":{"replicas":5}}' application/merge-patch+json >"$T/o"
check "patching scale sets replicas" [ "$CODE/$(jget .spec.replicas <"$T/o")" = 200/5 ]
api GET /apis/apps/v1/namespaces/default/deployments/d >"$T/o"
check "deployment has 5 replicas, generation 2" [ "$(jget .spec.replicas <"$T/o")/$(jget .metadata.generation <"$T/o")" = 5/2 ]
api GET /apis/apps/v1beta2/namespaces/default/deployments/d >"$T/o"
check "apps/v1beta2 serves the same deployment" [ "$CODE/$(jget .apiVersion <"$T/o")/$(jget .spec.replicas <"$T/o")" = 200/apps/v1beta2/5 ]

# discovery and metrics
api GET /apis/apps/v1 >"$T/o"
check "discovery lists deployments/scale" grep -q '"deployments/scale"' "$T/o"
api GET /api >"$T/o"
check "/api lists v1" [ "$(jget .versions[0] <"$T/o")" = v1 ]
api GET /metrics >"$T/o"
check "/metrics counts requests by verb and resource" grep -q 'apiserver_request_total{verb="create",resource="pods",code="201"}' "$T/o"
check "/metrics has latency histograms" grep -q 'apiserver_request_duration_seconds_bucket' "$T/o"

# other identities
echo 'tok-alice,alice,1001,"dev"' >"$T/tokens"
stop_server
start_server --token-file "$T/tokens"
code=$(curl -sS --cacert "$DATA/pki/ca.crt" -H 'Authorization: Bearer tok-alice' -o "$T/o" -w '%{http_code}' "$URL/api/v1/namespaces/default/pods")
check "a user outside system:masters: 403" [ "$code" = 403 ]
check "403 says who and what" grep -q 'User \\"alice\\" cannot list' "$T/o"
ntok=$(sed -n 2p "$DATA/tokens.csv" | cut -d, -f1)
code=$(curl -sS --cacert "$DATA/pki/ca.crt" -H "Authorization: Bearer $ntok" -o /dev/null -w '%{http_code}' "$URL/api/v1/pods")
check "the node identity may list pods" [ "$code" = 200 ]
code=$(curl -sS --cacert "$DATA/pki/ca.crt" -H "Authorization: Bearer $ntok" -o /dev/null -w '%{http_code}' "$URL/api/v1/secrets")
check "the node identity may not list secrets" [ "$code" = 403 ]
api GET /apis/apps/v1/namespaces/default/deployments/d >"$T/o"
check "state survives a restart" [ "$(jget .spec.replicas <"$T/o")" = 5 ]
done_testing
