/*
 * obj_json.c - JSON documents to json_t with jansson, plus positions.
 *
 * Before jansson sees the text, a bracket pre-scan refuses documents nested
 * deeper than OBJ_MAX_DEPTH (jansson recurses). jansson reports syntax
 * errors with line and column but keeps no positions, so after a successful
 * parse a second light scan walks the (now known valid) text in step with
 * the tree (objects keep insertion order and duplicates are rejected) and
 * records the line of every node.
 */
#include <string.h>

#include "obj_priv.h"

static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end && *p != '"'; p++)
		if (*p == '\\')
			p++;
	return p < end ? p + 1 : end;
}

static int depth_check(const char *p, const char *end, k9_err *e)
{
	int depth = 0, line = 1;
	const char *bol = p;
	while (p < end) {
		char c = *p;
		if (c == '"') {
			p = skip_string(p, end);
			continue;
		}
		if (c == '\n') {
			line++;
			bol = p + 1;
		} else if (c == '{' || c == '[') {
			if (++depth > OBJ_MAX_DEPTH)
				return k9_errf(e, 400, "BadRequest",
				               "line %d, column %d: document nested deeper than %d "
				               "levels",
				               line, (int)(p - bol) + 1, OBJ_MAX_DEPTH);
		} else if (c == '}' || c == ']') {
			depth--;
		}
		p++;
	}
	return 0;
}

struct scan {
	const char *p, *end;
	int line;
	obj_lines *l;
	size_t doc;
	k9_buf path;
};

static void ws(struct scan *s)
{
	while (s->p < s->end && strchr(" \t\r\n", *s->p) && *s->p) {
		if (*s->p == '\n')
			s->line++;
		s->p++;
	}
}

/* Walk one value of the text in step with v; keyline is the line of its key. */
static void scan_value(struct scan *s, json_t *v, int keyline)
{
	ws(s);
	if (s->p >= s->end)
		return;
	obj_lines_set_path(s->l, s->doc, s->path.data ? s->path.data : "",
	                   keyline ? keyline : s->line);
	obj_lines_set_node(s->l, v, s->line);
	size_t base = s->path.len;
	if (*s->p == '{' && json_is_object(v)) {
		s->p++;
		void *it = json_object_iter(v);
		for (;;) {
			ws(s);
			if (s->p >= s->end || *s->p == '}' || !it)
				break;
			int kl = s->line;
			s->p = skip_string(s->p, s->end);
			ws(s);
			if (s->p < s->end && *s->p == ':')
				s->p++;
			obj_path_key(&s->path, json_object_iter_key(it));
			scan_value(s, json_object_iter_value(it), kl);
			obj_path_cut(&s->path, base);
			it = json_object_iter_next(v, it);
			ws(s);
			if (s->p < s->end && *s->p == ',')
				s->p++;
		}
		if (s->p < s->end && *s->p == '}')
			s->p++;
	} else if (*s->p == '[' && json_is_array(v)) {
		s->p++;
		for (size_t i = 0;; i++) {
			ws(s);
			if (s->p >= s->end || *s->p == ']' || i >= json_array_size(v))
				break;
			obj_path_index(&s->path, i);
			scan_value(s, json_array_get(v, i), 0);
			obj_path_cut(&s->path, base);
			ws(s);
			if (s->p < s->end && *s->p == ',')
				s->p++;
		}
		if (s->p < s->end && *s->p == ']')
			s->p++;
	} else if (*s->p == '"') {
		s->p = skip_string(s->p, s->end);
	} else {
		while (s->p < s->end && !strchr(",]} \t\r\n", *s->p) && *s->p)
			s->p++;
	}
}

int obj_json_load(const char *buf, size_t len, json_t *docs, obj_lines *l, size_t doc_base,
                  k9_err *e)
{
	json_error_t je;
	if (depth_check(buf, buf + len, e) < 0)
		return -1;
	json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!v)
		return k9_errf(e, 400, "BadRequest", "line %d, column %d: %s", je.line, je.column,
		               je.text);
	if (l) {
		struct scan s = {.p = buf, .end = buf + len, .line = 1, .l = l, .doc = doc_base};
		scan_value(&s, v, 0);
		buf_free(&s.path);
	}
	obj_lines_set_root(l, v, doc_base);
	json_array_append_new(docs, v);
	return 0;
}
