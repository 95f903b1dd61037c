/*
 * decode.c - libFuzzer target for the object decoder and encoder.
 *
 * Any input goes through obj_decode and obj_decode_all; whatever decodes is
 * encoded as YAML, decoded again and must be equal (json_equal) to the
 * first decoding, and validation of it as a Pod must not crash. Run with
 * `make fuzz`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube9/obj.h"
#include "kube9/sel.h"

static void roundtrip(const json_t *v)
{
	size_t n;
	k9_err e;
	char *y = obj_encode_yaml(v, &n);
	json_t *back = obj_decode(y, n, NULL, &e);
	if (!back || !json_equal(back, v)) {
		char *j = json_dumps(v, JSON_ENCODE_ANY);
		fprintf(stderr, "round trip failed: %s\njson: %s\nyaml:\n%s\n",
		        back ? "not equal" : e.msg, j ? j : "?", y);
		abort();
	}
	json_decref(back);
	free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	k9_err e;
	obj_lines *l = NULL;
	const char *buf = (const char *)data;
	json_t *v = obj_decode(buf, size, &l, &e);
	if (v) {
		roundtrip(v);
		obj_validate(obj_kind_by_gvk("v1", "Pod"), v, l, &e);
		obj_validate(obj_kind_by_gvk("apps/v1", "Deployment"), v, l, &e);
		json_decref(v);
	}
	obj_lines_free(l);
	l = NULL;
	json_t *all = obj_decode_all(buf, size, &l, &e);
	if (all) {
		size_t i;
		json_t *d;
		json_array_foreach(all, i, d) roundtrip(d);
		json_decref(all);
	}
	obj_lines_free(l);
	/* selectors and quantities on the raw bytes, when they are a C string */
	if (size < 512 && !memchr(data, 0, size)) {
		char *s = strndup(buf, size);
		int64_t m;
		sel_free(sel_parse_labels(s, &e));
		sel_free(sel_parse_fields(s, &e));
		obj_quantity_parse(s, &m, &e);
		free(s);
	}
	return 0;
}
