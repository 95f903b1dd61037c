#!/bin/sh
# The YAML/JSON decoder under libFuzzer (ASan+UBSan) for a short fixed time:
# `make fuzz` with FUZZ_SECONDS (20 by default here).
. "$(dirname "$0")/lib.sh"
command -v clang >/dev/null || skip_all "clang is not installed (make deps installs it)"
cd "$ROOT" || exit 1
if make --no-print-directory fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-20}" >"$T/fuzz.log" 2>&1; then
	ok "decoder fuzzed for ${FUZZ_SECONDS:-20}s without a crash, leak or UB ($(grep -o 'Done [0-9]* runs' "$T/fuzz.log"))"
else
	not_ok "the decoder fuzzer found a problem"
	grep -E 'ERROR|SUMMARY|artifact' "$T/fuzz.log" | head -20 | sed 's/^/# /'
fi
done_testing
