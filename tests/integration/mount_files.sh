#!/bin/bash
# tests/integration/mount_files.sh - kube9 mount read and written with the
# standard tools: cp, cat, tee, dd, sed -i, mv, rm, mkdir, rmdir, jq.
. "$(dirname "$0")/lib.sh"
[ -e /dev/fuse ] && command -v fusermount3 >/dev/null || skip_all "no FUSE"
start_server
M=$T/mnt
start_mount "$M"
D=$M/namespaces/default
P=$D/pods

get() { api GET "/api/v1/namespaces/default/$1"; }

# --- the tree
check "the mount is a mount point" mountpoint -q "$M"
check "namespaces/default is a directory" test -d "$D"
check "cluster-scoped kinds at the top" test -d "$M/nodes" -a -d "$M/persistentvolumes"
for r in pods services endpoints secrets configmaps persistentvolumeclaims events deployments replicasets; do
	check "namespaces/default/$r exists" test -d "$D/$r"
done
check "namespaces/default.yaml is the Namespace" grep -q '^kind: Namespace' "$M/namespaces/default.yaml"

# --- cp, cat, ls -l, json
pod web '{app: web, tier: frontend}' >"$T/web.yaml"
check "cp of a manifest succeeds" cp "$T/web.yaml" "$P/"
get pods/web >/dev/null
check "cp created the pod in the API" test "$CODE" = 200
check "cat shows server metadata (uid, resourceVersion)" \
	sh -c "grep -q '^  uid:' '$P/web.yaml' && grep -q '^  resourceVersion:' '$P/web.yaml'"
check "NAME.json reads the same object (jq)" \
	test "$(jq -r .metadata.uid "$P/web.json")" = "$(get pods/web | jget .metadata.uid)"
size=$(stat -c %s "$P/web.yaml")
check "ls -l shows the true size" test "$size" = "$(wc -c <"$P/web.yaml")"
check "files belong to the mounting user" test "$(stat -c %u "$P/web.yaml")" = "$(id -u)"
check "the mtime is recent" test $(($(date +%s) - $(stat -c %Y "$P/web.yaml"))) -lt 60

# --- secrets are 0600
printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: s1\ndata:\n  k: dmFsdWU=\n' >"$T/s1.yaml"
cp "$T/s1.yaml" "$D/secrets/"
check "secrets are mode 0600" test "$(stat -c %a "$D/secrets/s1.yaml")" = 600

# --- name, kind, namespace implied by the path
printf 'spec:\n  containers:\n  - name: c\n    image: busybox\n' >"$P/implied.yaml"
get pods/implied >/dev/null
check "cat > with name and kind left out creates the pod named by the file" test "$CODE" = 200
# --- replace with tee, sed -i, dd, mv
pod web '{app: web, tier: frontend}' nginx | tee "$P/web.yaml" >/dev/null
check "tee over an existing file replaces the object" \
	test "$(get pods/web | jget '.spec.containers[0].image')" = nginx
check "sed -i edits the object" sed -i 's/image: nginx/image: nginx:1.27/' "$P/web.yaml"
check "sed -i's change reached the API" \
	test "$(get pods/web | jget '.spec.containers[0].image')" = nginx:1.27
check "no temp file is left behind by sed -i" test "$(ls -A "$P" | grep -vc '^web\.\|^implied\.\|^\.e\|^\.watch$')" = 0
pod ddpod >"$T/dd.yaml"
check "dd writes a new object" dd if="$T/dd.yaml" of="$P/ddpod.yaml" status=none
get pods/ddpod >/dev/null
check "dd's object exists" test "$CODE" = 200
pod mvpod >"$T/mvpod.yaml"
check "mv from another filesystem creates the object" mv "$T/mvpod.yaml" "$P/"
get pods/mvpod >/dev/null
check "mv's object exists" test "$CODE" = 200
pod edited '{}' busybox:edited >"$P/.edited.yaml.tmp"
check "an editor's rename of a temp file over the target applies it" \
	mv "$P/.edited.yaml.tmp" "$P/edited.yaml"
check "the renamed object is stored" \
	test "$(get pods/edited | jget '.spec.containers[0].image')" = busybox:edited
check "a write is visible through the mount as soon as it returns" \
	grep -q 'image: busybox:edited' "$P/edited.yaml"

# --- refusals: errno, nothing stored, .errors explains
printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers:\n  - name: c\n' >"$T/bad.yaml"
out=$(cp "$T/bad.yaml" "$P/" 2>&1)
rc=$?
check "cp of an invalid manifest fails" test $rc != 0
check "with EINVAL (Invalid argument)" grep -q 'Invalid argument' <<<"$out"
get pods/bad >/dev/null
check "nothing is stored" test "$CODE" = 404
check "no file is left behind" test ! -e "$P/bad.yaml"
check ".errors names the file, the field and the line" \
	grep -q 'pods/bad.yaml: .*spec.containers\[0\].image: Required value (line 7)' "$P/.errors"
pod other >"$T/other.yaml"
check "a name that disagrees with the file name is refused" not cp "$T/other.yaml" "$P/thename.yaml"
check "...and explained" grep -q 'metadata.name "other" does not agree with the file name "thename"' "$P/.errors"
printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\nspec:\n  ports:\n  - port: 80\n' >"$T/svc.yaml"
check "a kind that does not belong in the directory is refused" not cp "$T/svc.yaml" "$P/svc.yaml"
printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: yy\n  namespace: kube-system\nspec: {}\n' >"$T/ns.yaml"
check "a namespace that disagrees with the directory is refused" not cp "$T/ns.yaml" "$P/yy.yaml"
printf 'kind: Pod\nmetadata: [\n' >"$T/syntax.yaml"
check "a YAML syntax error is refused" not cp "$T/syntax.yaml" "$P/syntax.yaml"
check "...with its line" grep -q 'syntax.yaml: line [0-9]*, column [0-9]*: ' "$P/.errors"
sed 's/resourceVersion: .*/resourceVersion: "1"/' "$P/web.yaml" >"$T/stale.yaml"
out=$(cp "$T/stale.yaml" "$P/web.yaml" 2>&1)
check "a stale resourceVersion fails with EBUSY" grep -q 'Device or resource busy' <<<"$out"
check "...and changes nothing" test "$(get pods/web | jget '.spec.containers[0].image')" = nginx:1.27

# --- multi-document into a namespace directory
cat >"$T/app.yaml" <<'Y'
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  mode: fast
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: 2
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
      - name: c
        image: busybox
Y
check "cp of a multi-document file into the namespace succeeds" cp "$T/app.yaml" "$D/"
check "it created the ConfigMap" test -f "$D/configmaps/app-config.yaml"
check "and the Deployment" test "$(jq -r .spec.replicas "$D/deployments/app.json")" = 2
check "and left no file in the namespace directory" test ! -e "$D/app.yaml"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok-one\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n' >"$T/half.yaml"
check "a stream with one bad document is refused" not cp "$T/half.yaml" "$D/"
check "...and none of it is stored" test ! -e "$D/configmaps/ok-one.yaml"

# --- rm
check "rm deletes the object" rm "$P/ddpod.yaml"
get pods/ddpod >/dev/null
check "...in the API" test "$CODE" = 404
check "...and in the mount" test ! -e "$P/ddpod.yaml"

# --- namespaces
check "mkdir creates a namespace" mkdir "$M/namespaces/team-a"
api GET /api/v1/namespaces/team-a >/dev/null
check "...in the API" test "$CODE" = 200
pod a1 >"$M/namespaces/team-a/pods/a1.yaml"
out=$(rmdir "$M/namespaces/team-a" 2>&1)
check "rmdir of a namespace with objects fails with ENOTEMPTY" grep -q 'not empty' <<<"$out"
check "rm -r deletes a namespace with everything in it" rm -r "$M/namespaces/team-a"
api GET /api/v1/namespaces/team-a/pods/a1 >/dev/null
check "...its objects are gone" test "$CODE" = 404
check "...and the namespace is terminating" \
	test "$(api GET /api/v1/namespaces/team-a | jget .status.phase)" = Terminating
mkdir "$M/namespaces/team-b"
check "rmdir deletes an empty namespace" rmdir "$M/namespaces/team-b"
check "...which is terminating" \
	test "$(api GET /api/v1/namespaces/team-b | jget .metadata.deletionTimestamp)" != null

# --- changes made elsewhere show up
api POST /api/v1/namespaces/default/configmaps '{"metadata":{"name":"from-api"},"data":{"x":"1"}}' >/dev/null
check "an object created through the API appears" wait_for 5 test -f "$D/configmaps/from-api.yaml"
api PATCH /api/v1/namespaces/default/configmaps/from-api '{"data":{"x":"2"}}' application/merge-patch+json >/dev/null
check "a change through the API is seen by cat" wait_for 5 grep -q "x: \"2\"" "$D/configmaps/from-api.yaml"
api DELETE /api/v1/namespaces/default/configmaps/from-api >/dev/null
check "a deletion through the API removes the file" wait_for 5 test ! -e "$D/configmaps/from-api.yaml"

# --- deleted and made again under the same name: all its names work at once
# (the kernel must not keep NAME.json and the others bound to the old object)
C=$D/configmaps
cm() { printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  labels: {x: y}\ndata:\n  v: "%s"\n' "$1" "$2"; }
jv() { jq -r .data.v "$1" 2>/dev/null; }
check "NAME.json of an object not made yet is not there" not cat "$C/again.json"
cm again 1 >"$C/again.yaml"
check "...and reads the object as soon as it is made" test "$(jv "$C/again.json")" = 1
check "...also in a selector directory" test "$(jv "$C/@x=y/again.json")" = 1
stat "$C/again.json" "$C/@x=y/again.json" >/dev/null # the kernel caches their attributes
rm "$C/again.yaml"
check "rm of NAME.yaml: NAME.json is gone too" wait_for 2 not test -e "$C/again.json"
check "...also in a selector directory" wait_for 2 not test -e "$C/@x=y/again.json"
cm again 2 >"$C/again.yaml"
check "rm and re-create: NAME.json reads the new object at once" test "$(jv "$C/again.json")" = 2
check "...also in a selector directory" test "$(jv "$C/@x=y/again.json")" = 2
cat "$C/again.yaml" >/dev/null
rm "$C/again.json"
check "rm of NAME.json: NAME.yaml can be written again at once" \
	sh -c "printf 'data: {v: \"3\"}\n' >'$C/again.yaml'"
check "...and NAME.json reads it" test "$(jv "$C/again.json")" = 3
pod again >"$P/again.yaml"
cat "$P/again.json" >/dev/null
rm "$P/again.yaml"
pod again >"$P/again.yaml"
check "a pod re-created: NAME.json at once" test "$(jq -r .metadata.name "$P/again.json")" = again
check "...NAME.status can be written at once" sh -c "echo 'status: {phase: Running}' >'$P/again.status'"
check "...and the status reached the API" test "$(get pods/again | jget .status.phase)" = Running
mkcm() { api POST /api/v1/namespaces/default/configmaps "{\"metadata\":{\"name\":\"$1\"},\"data\":{\"v\":\"$2\"}}" >/dev/null; }
mkcm viaapi 1
wait_for 5 test -e "$C/viaapi.yaml"
cat "$C/viaapi.json" "$P/again.json" >/dev/null
stat "$C/viaapi.json" >/dev/null
api DELETE /api/v1/namespaces/default/configmaps/viaapi >/dev/null
check "deleted through the API: NAME.json goes with NAME.yaml" \
	wait_for 5 sh -c "test ! -e '$C/viaapi.yaml' && test ! -e '$C/viaapi.json'"
mkcm viaapi 2
wait_for 5 test -e "$C/viaapi.yaml"
check "re-created through the API: NAME.json reads the new object at once" test "$(jv "$C/viaapi.json")" = 2
api DELETE '/api/v1/namespaces/default/pods/again?gracePeriodSeconds=0' >/dev/null
wait_for 5 test ! -e "$P/again.yaml"
api POST /api/v1/namespaces/default/pods \
	'{"metadata":{"name":"again"},"spec":{"containers":[{"name":"c","image":"x"}]}}' >/dev/null
wait_for 5 test -e "$P/again.yaml"
check "a pod re-created through the API: NAME.json at once" \
	test "$(jq -r .metadata.name "$P/again.json")" = again
check "...NAME.status can be written at once" sh -c "echo 'status: {phase: Failed}' >'$P/again.status'"
check "...and the status reached the API" test "$(get pods/again | jget .status.phase)" = Failed
M2=$T/mnt2
start_mount "$M2"
M3=$T/mnt3
start_mount "$M3" --no-inotify
C2=$M2/namespaces/default/configmaps
C3=$M3/namespaces/default/configmaps
cm viamnt 1 >"$C2/viamnt.yaml"
wait_for 5 test -e "$C3/viamnt.yaml"
cat "$C/viamnt.json" "$C3/viamnt.yaml" "$C3/viamnt.json" >/dev/null
rm "$C2/viamnt.yaml"
wait_for 5 test ! -e "$C/viamnt.yaml"
cm viamnt 2 >"$C2/viamnt.yaml"
wait_for 5 test -e "$C/viamnt.yaml"
check "re-created through another mount: NAME.json reads the new object at once" \
	test "$(jv "$C/viamnt.json")" = 2
check "a --no-inotify mount reads the new object under both names" \
	wait_for 5 sh -c "grep -qs 'v: \"2\"' '$C3/viamnt.yaml' && test \"\$(jq -r .data.v '$C3/viamnt.json')\" = 2"

done_testing
