#!/bin/bash
# tests/integration/mount_watch.sh - labels as xattrs, selector directories,
# .events feeds, poll, inotify for changes made anywhere (the API, a second
# mount), and a mount riding out a server restart.
. "$(dirname "$0")/lib.sh"
[ -e /dev/fuse ] && command -v fusermount3 >/dev/null || skip_all "no FUSE"
command -v inotifywait >/dev/null || skip_all "no inotifywait (inotify-tools)"
start_server
M=$T/mnt
start_mount "$M"
MPID1=$MOUNT_PID
D=$M/namespaces/default
P=$D/pods
create_api() { # NAME LABELS_JSON
	api POST /api/v1/namespaces/default/pods \
		"{\"metadata\":{\"name\":\"$1\",\"labels\":${2:-{\}}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}" >/dev/null
}

# --- labels as xattrs
pod web '{app: web, tier: frontend}' >"$P/web.yaml"
check "getfattr -d lists the labels" \
	sh -c "getfattr --absolute-names -d '$P/web.yaml' | grep -q '^user.app=\"web\"'"
check "setfattr sets a label" setfattr -n user.track -v canary "$P/web.yaml"
check "...as one patch of metadata.labels" \
	test "$(api GET /api/v1/namespaces/default/pods/web | jget .metadata.labels.track)" = canary
check "getfattr -n reads it back" \
	test "$(getfattr --absolute-names --only-values -n user.track "$P/web.yaml")" = canary
check "setfattr -x removes a label" setfattr -x user.track "$P/web.yaml"
check "...from the API" \
	test "$(api GET /api/v1/namespaces/default/pods/web | jget .metadata.labels.track)" = null
out=$(setfattr -n user.bad -v 'no spaces allowed' "$P/web.yaml" 2>&1)
check "an invalid label value fails with EINVAL" grep -q 'Invalid argument' <<<"$out"
check "...and .errors says why" grep -q 'label bad=no spaces allowed' "$P/.errors"
check "removing a missing label fails with ENODATA" not setfattr -x user.nope "$P/web.yaml"

# --- selector directories
pod cache1 '{app: web, tier: cache}' >"$P/cache1.yaml"
pod canary1 '{app: web, tier: frontend, canary: "yes"}' >"$P/canary1.yaml"
pod db1 '{app: db}' >"$P/db1.yaml"
sel=$(ls "$P/@app=web,tier in (frontend,cache),!canary" | tr '\n' ' ')
check "a set-based selector directory lists exactly the matching objects" \
	test "$sel" = "cache1.yaml web.yaml "
check "equality selector" test "$(ls "$P/@app=db")" = db1.yaml
check "objects read through a selector directory" grep -q 'name: db1' "$P/@app=db/db1.yaml"
check "a bad selector is no directory" not ls "$P/@app in (x"

# --- .events
cat "$P/.events" >"$T/ev" &
EVPID=$!
PIDS="$PIDS $EVPID"
cat "$P/@app=web/.events" >"$T/selev" &
SELPID=$!
PIDS="$PIDS $SELPID"
sleep 0.2
create_api ev1
rv=$(api GET /api/v1/namespaces/default/pods/ev1 | jget .metadata.resourceVersion)
check "cat .events shows ADDED NAME RESOURCEVERSION" wait_for 5 grep -qx "ADDED ev1 $rv" "$T/ev"
api PATCH /api/v1/namespaces/default/pods/ev1 '{"metadata":{"labels":{"a":"b"}}}' application/merge-patch+json >/dev/null
check "...MODIFIED" wait_for 5 grep -q "^MODIFIED ev1 " "$T/ev"
api DELETE /api/v1/namespaces/default/pods/ev1 >/dev/null
check "...DELETED" wait_for 5 grep -q "^DELETED ev1 " "$T/ev"
setfattr -x user.app "$P/cache1.yaml"
check "a selector's .events says DELETED when an object stops matching" \
	wait_for 5 grep -q "^DELETED cache1 " "$T/selev"
setfattr -n user.app -v web "$P/cache1.yaml"
check "...and ADDED when it matches again" wait_for 5 grep -q "^ADDED cache1 " "$T/selev"
check "a namespace's .events names the resource" wait_for 5 grep -q "ADDED pods/" <(timeout 3 cat "$D/.events" & sleep 0.3; create_api ev2; wait)

# poll: bash's read -t 0 asks select() whether a line is ready
exec 3<"$P/.events"
check "poll on .events: nothing to read while nothing changes" not read -t 0 -u 3
create_api ev3
check "poll on .events: readable after a change" wait_for 5 read -t 0 -u 3
exec 3<&-

# --- inotify, for changes through the API
inotifywait -m -q --format '%e %f' "$P" >"$T/inw" 2>/dev/null &
INWPID=$!
PIDS="$PIDS $INWPID"
sleep 0.5
create_api in1
check "IN_CREATE for an object created through the API" wait_for 5 grep -qx "CREATE in1.yaml" "$T/inw"
api PATCH /api/v1/namespaces/default/pods/in1 '{"metadata":{"labels":{"x":"y"}}}' application/merge-patch+json >/dev/null
check "IN_CLOSE_WRITE for a change through the API" \
	wait_for 5 sh -c "grep -c 'CLOSE_WRITE,CLOSE in1.yaml' '$T/inw' | grep -q '^[2-9]'"
api DELETE /api/v1/namespaces/default/pods/in1 >/dev/null
check "IN_DELETE for a deletion through the API" wait_for 5 grep -qx "DELETE in1.yaml" "$T/inw"
check "the echoes did not write anything back (no extra revisions)" \
	test "$(api GET '/api/v1/namespaces/default/pods?labelSelector=x' | jget '.items | length')" = 0

# --- a second mount of the same server
M2=$T/mnt2
start_mount "$M2"
pod from2 >"$M2/namespaces/default/pods/from2.yaml"
check "a file written through another mount raises IN_CREATE here" \
	wait_for 5 grep -qx "CREATE from2.yaml" "$T/inw"
check "...and is readable here" wait_for 5 grep -q 'name: from2' "$P/from2.yaml"
rm "$P/from2.yaml"
check "a deletion here removes it from the other mount" \
	wait_for 5 test ! -e "$M2/namespaces/default/pods/from2.yaml"

# --- the server goes away and comes back
stop_server
check "while the server is down, ls answers from the cache" test -n "$(ls "$P")"
check "...and cat too" grep -q 'name: web' "$P/web.yaml"
out=$(pod down1 2>&1 | tee "$P/down1.yaml" 2>&1 >/dev/null)
check "...writes fail with EIO" grep -q 'Input/output error' <<<"$out"
start_server
create_api back1
check "the mount recovers by itself when the server is back" wait_for 10 test -f "$P/back1.yaml"

# --- a watch that cannot resume (its revision was compacted away) relists
create_api gone1
wait_for 5 test -f "$P/gone1.yaml"
kill -STOP "$MPID1"
stop_server
start_server --history 5
for i in 1 2 3 4 5 6 7 8 9 10; do create_api "fill$i"; done
api DELETE /api/v1/namespaces/default/pods/gone1 >/dev/null
sleep 2.5 # the server compacts its history every second
kill -CONT "$MPID1"
check "after a 410 the mount relists: a deletion it missed is seen" \
	wait_for 10 test ! -e "$P/gone1.yaml"
check "...and what was created meanwhile" test -f "$P/fill10.yaml"
check "...and the relist raised inotify events for it" wait_for 5 grep -qx "DELETE gone1.yaml" "$T/inw"

# --- unmounting (nothing may hold a file open)
kill $EVPID $SELPID $INWPID 2>/dev/null
wait $EVPID $SELPID $INWPID 2>/dev/null
kill "$MOUNT_PID"
check "SIGTERM unmounts cleanly" wait_for 5 sh -c "! mountpoint -q '$M2'"
check "fusermount3 -u unmounts" fusermount3 -u "$M"
check "...and the mount process exits" wait_for 5 sh -c "! pgrep -f 'mount --kubeconfig .* $M\$' >/dev/null"

done_testing
