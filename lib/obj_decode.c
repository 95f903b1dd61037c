/*
 * obj_decode.c - obj_decode and obj_decode_all: detect JSON or YAML, load
 * the documents, expand Lists and renumber the line map so document i of
 * the result is document i of the map.
 */
#include <string.h>

#include "obj_priv.h"

/* Raw documents are recorded at RAW + i, then moved to their final index. */
#define RAW ((size_t)1 << 24)

static bool is_json(const char *buf, size_t len)
{
	size_t i = 0;
	while (buf && i < len && strchr(" \t\r\n", buf[i]) && buf[i])
		i++;
	return buf && i < len && (buf[i] == '{' || buf[i] == '[');
}

static int load(const char *buf, size_t len, json_t *docs, obj_lines *l, k9_err *e)
{
	if (!buf)
		buf = "", len = 0;
	if (is_json(buf, len))
		return obj_json_load(buf, len, docs, l, RAW, e);
	return obj_yaml_load(buf, len, docs, l, RAW, e);
}

/*
 * A position map when the caller wants one, or for YAML (whose error
 * messages cite lines); JSON decoded without one skips the position scan.
 */
static obj_lines *want_lines(const char *buf, size_t len, obj_lines **lines)
{
	if (lines || !is_json(buf, len))
		return obj_lines_new();
	return NULL;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "a mapping";
	case JSON_ARRAY:
		return "a sequence";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

static int not_object(const json_t *v, int line, k9_err *e)
{
	return k9_errf(e, 400, "BadRequest",
	               "line %d: a document must be a mapping (an object with apiVersion and "
	               "kind), not %s",
	               line ? line : 1, type_name(v));
}

static bool is_list(const json_t *d)
{
	const char *kind = json_string_value(json_object_get(d, "kind"));
	size_t n = kind ? strlen(kind) : 0;
	return n >= 4 && strcmp(kind + n - 4, "List") == 0 &&
	       json_is_array(json_object_get(d, "items"));
}

static int add(json_t *out, json_t *doc, obj_lines *l, size_t from, const char *prefix, k9_err *e)
{
	size_t to = json_array_size(out);
	if (!json_is_object(doc))
		return not_object(doc, obj_lines_near(l, from, prefix), e);
	obj_lines_move(l, from, prefix, to);
	obj_lines_set_root(l, doc, to);
	json_array_append(out, doc);
	return 0;
}

json_t *obj_decode_all(const char *buf, size_t len, obj_lines **lines, k9_err *e)
{
	obj_lines *l = want_lines(buf, len, lines);
	json_t *raw = json_array(), *out = json_array();
	if (lines)
		*lines = NULL;
	if (load(buf, len, raw, l, e) < 0)
		goto fail;
	for (size_t i = 0; i < json_array_size(raw); i++) {
		json_t *d = json_array_get(raw, i), *items = d;
		const char *fmt = "[%zu]";
		if (is_list(d)) {
			items = json_object_get(d, "items");
			fmt = "items[%zu]";
		} else if (!json_is_array(d)) {
			if (add(out, d, l, RAW + i, "", e) < 0)
				goto fail;
			continue;
		}
		for (size_t j = 0; j < json_array_size(items); j++) {
			char prefix[48];
			snprintf(prefix, sizeof prefix, fmt, j);
			if (add(out, json_array_get(items, j), l, RAW + i, prefix, e) < 0)
				goto fail;
		}
	}
	json_decref(raw);
	if (lines)
		*lines = l;
	else
		obj_lines_free(l);
	return out;
fail:
	json_decref(raw);
	json_decref(out);
	obj_lines_free(l);
	return NULL;
}

json_t *obj_decode(const char *buf, size_t len, obj_lines **lines, k9_err *e)
{
	obj_lines *l = want_lines(buf, len, lines);
	json_t *raw = json_array(), *doc = NULL;
	if (lines)
		*lines = NULL;
	if (load(buf, len, raw, l, e) < 0)
		goto out;
	if (json_array_size(raw) == 0) {
		k9_errf(e, 400, "BadRequest", "line 1: the document is empty");
		goto out;
	}
	if (json_array_size(raw) > 1) {
		k9_errf(e, 400, "BadRequest",
		        "line %d: expected one document, found %zu (use a List or separate "
		        "requests)",
		        obj_lines_near(l, RAW + 1, ""), json_array_size(raw));
		goto out;
	}
	doc = json_array_get(raw, 0);
	if (!json_is_object(doc)) {
		not_object(doc, obj_lines_near(l, RAW, ""), e);
		doc = NULL;
		goto out;
	}
	obj_lines_move(l, RAW, "", 0);
	obj_lines_set_root(l, doc, 0);
	json_incref(doc);
out:
	json_decref(raw);
	if (doc && lines)
		*lines = l;
	else
		obj_lines_free(l);
	return doc;
}
