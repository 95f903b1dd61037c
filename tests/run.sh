#!/bin/sh
# tests/run.sh [unit|integration] [NAME...] - run the test programs and
# scripts, each with a timeout, and end with "N passed, N failed, N skipped".
# Every test prints TAP lines ("ok N - ...", "not ok N - ...", "ok N # SKIP ...");
# a test that exits 77 without output counts as one skip, one that dies
# without reporting a failure counts as one failure.
cd "$(dirname "$0")/.." || exit 2
tier=${1:-all}
[ $# -gt 0 ] && shift
unit_dir=${K9_UNIT_DIR:-build/tests}
timeout_s=${K9_TEST_TIMEOUT:-300}
pass=0 fail=0 skip=0
failed_names=
log=$(mktemp /tmp/kube9-test.XXXXXX)
trap 'rm -f "$log"' EXIT

want() { # want NAME: selected by the NAME... arguments?
	[ -z "$filter" ] && return 0
	for f in $filter; do case "$1" in *"$f"*) return 0 ;; esac; done
	return 1
}
filter="$*"

run_one() { # run_one NAME CMD...
	name=$1; shift
	want "$name" || return 0
	start=$(date +%s)
	timeout -k 10 "$timeout_s" "$@" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$log" | tr -d ' ')
	s=$(grep -c '^ok .*# SKIP' "$log" | tr -d ' ')
	f=$(grep -c '^not ok ' "$log" | tr -d ' ')
	p=$((p - s))
	if [ "$rc" = 77 ] && [ $((p + f + s)) = 0 ]; then s=1; fi
	if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ "$f" = 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc" >>"$log"
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	status=ok; [ "$f" -gt 0 ] && status=FAIL
	printf '%-40s %4s passed %3s failed %3s skipped  %ss  %s\n' "$name" "$p" "$f" "$s" \
		$(( $(date +%s) - start )) "$status"
	if [ "$f" -gt 0 ]; then
		failed_names="$failed_names $name"
		grep -v '^ok ' "$log" | tail -40 | sed 's/^/    /'
	fi
}

if [ "$tier" = all ] || [ "$tier" = unit ]; then
	for t in "$unit_dir"/*; do
		[ -x "$t" ] && [ -f "$t" ] || continue
		run_one "unit/$(basename "$t")" "$t"
	done
fi
if [ "$tier" = all ] || [ "$tier" = integration ]; then
	for t in tests/integration/*.sh; do
		[ -f "$t" ] || continue
		case "$t" in */lib.sh | *_lib.sh) continue ;; esac
		run_one "integration/$(basename "$t" .sh)" bash "$t"
	done
fi
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
