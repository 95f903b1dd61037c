/*
 * obj_yaml.c - YAML documents to json_t with libyaml's event parser.
 *
 * An explicit stack of open containers (never deeper than OBJ_MAX_DEPTH)
 * builds each document; the current field path is kept alongside so every
 * node's line goes into the obj_lines map under its path. Plain scalars are
 * typed the Kubernetes way (null/~/empty, true/false, integers - 0x hex,
 * 0o and YAML 1.1 0644 octal - floats, else string); quoted scalars are always strings; mapping
 * keys are always the key's text. Anchors and aliases are refused (no billion laughs), as are
 * duplicate keys and non-scalar keys.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "obj_priv.h"

static bool digits(const char *s, size_t n, size_t *i, const char *set)
{
	size_t start = *i;
	while (*i < n && s[*i] && strchr(set, s[*i]))
		(*i)++;
	return *i > start;
}

static bool is_word(const char *s, size_t n, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == n && memcmp(*words, s, n) == 0)
			return true;
	return false;
}

enum obj_scalar obj_scalar_kind(const char *s, size_t n)
{
	static const char *const nulls[] = {"~", "null", "Null", "NULL", NULL};
	static const char *const bools[] = {"true",  "True",  "TRUE", "false",
	                                    "False", "FALSE", NULL};
	static const char dec[] = "0123456789";
	size_t i = 0;
	if (n == 0 || is_word(s, n, nulls))
		return OBJ_SC_NULL;
	if (is_word(s, n, bools))
		return OBJ_SC_BOOL;
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
		i = 2;
		if (digits(s, n, &i, s[1] == 'x' ? "0123456789abcdefABCDEF" : "01234567") && i == n)
			return OBJ_SC_INT;
		return OBJ_SC_STRING;
	}
	if (s[0] == '+' || s[0] == '-')
		i++;
	bool intpart = digits(s, n, &i, dec), frac = false, exp = false;
	if (intpart && i == n)
		return OBJ_SC_INT;
	if (i < n && s[i] == '.') {
		i++;
		frac = digits(s, n, &i, dec);
		if (!intpart && !frac)
			return OBJ_SC_STRING;
		exp = true; /* a '.' makes it a float */
	} else if (!intpart) {
		return OBJ_SC_STRING;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!digits(s, n, &i, dec))
			return OBJ_SC_STRING;
		exp = true;
	}
	return exp && i == n ? OBJ_SC_REAL : OBJ_SC_STRING;
}

/* Integer text to int64; false on overflow. */
static bool parse_int(const char *s, size_t n, json_int_t *out)
{
	int base = 10;
	size_t i = 0;
	bool neg = false;
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
		base = s[1] == 'x' ? 16 : 8;
		i = 2;
	} else if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		i = 1;
	}
	if (base == 10 && n - i > 1 && s[i] == '0') {
		/* YAML 1.1 octal, as in "defaultMode: 0644"; "09" is no integer */
		base = 8;
		if (strspn(s + i, "01234567") < n - i)
			return false;
	}
	unsigned long long v = 0, lim = neg ? (unsigned long long)INT64_MAX + 1 : INT64_MAX;
	for (; i < n; i++) {
		int c = s[i];
		int d = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
		if (v > (lim - (unsigned)d) / (unsigned)base)
			return false;
		v = v * (unsigned)base + (unsigned)d;
	}
	*out = neg ? (json_int_t)(0 - v) : (json_int_t)v;
	return true;
}

json_t *obj_scalar_value(const char *s, size_t n)
{
	json_int_t iv;
	char *tmp;
	double d;
	switch (obj_scalar_kind(s, n)) {
	case OBJ_SC_NULL:
		return json_null();
	case OBJ_SC_BOOL:
		return json_boolean(s[0] == 't' || s[0] == 'T');
	case OBJ_SC_INT:
		if (parse_int(s, n, &iv))
			return json_integer(iv);
		if (s[0] == '0' && n > 1 && (s[1] == 'x' || s[1] == 'o'))
			break;
		/* a decimal too large for int64 reads as a float */
		__attribute__((fallthrough));
	case OBJ_SC_REAL:
		tmp = xstrndup(s, n);
		errno = 0;
		d = strtod(tmp, NULL);
		free(tmp);
		if (isfinite(d))
			return json_real(d);
		break;
	case OBJ_SC_STRING:
		break;
	}
	return json_stringn(s, n);
}

struct frame {
	json_t *node;
	size_t base; /* path length before this node's own component */
	char *key;   /* pending mapping key */
	int keyline;
};

struct yb {
	struct frame st[OBJ_MAX_DEPTH + 1];
	int depth;
	json_t *root;
	k9_buf path;
	obj_lines *l;
	size_t doc;
	k9_err *e;
};

static int fail_at(k9_err *e, yaml_mark_t m, const char *msg)
{
	return k9_errf(e, 400, "BadRequest", "line %zu, column %zu: %s", m.line + 1, m.column + 1,
	               msg);
}

/* Attach v (a new reference) at the current position; push it if a container. */
static int attach(struct yb *b, json_t *v, yaml_mark_t m)
{
	int line = (int)m.line + 1;
	size_t base = b->path.len;
	if (b->depth == 0) {
		b->root = v;
		obj_lines_set_path(b->l, b->doc, "", line);
	} else {
		struct frame *f = &b->st[b->depth - 1];
		if (json_is_array(f->node)) {
			obj_path_index(&b->path, json_array_size(f->node));
			obj_lines_set_path(b->l, b->doc, b->path.data, line);
			json_array_append_new(f->node, v);
		} else {
			obj_path_key(&b->path, f->key);
			obj_lines_set_path(b->l, b->doc, b->path.data, f->keyline);
			json_object_set_new(f->node, f->key, v);
			free(f->key);
			f->key = NULL;
		}
	}
	obj_lines_set_node(b->l, v, line);
	if (!json_is_object(v) && !json_is_array(v)) {
		obj_path_cut(&b->path, base);
		return 0;
	}
	if (b->depth >= OBJ_MAX_DEPTH) {
		char msg[80];
		snprintf(msg, sizeof msg, "document nested deeper than %d levels", OBJ_MAX_DEPTH);
		return fail_at(b->e, m, msg);
	}
	b->st[b->depth++] = (struct frame){.node = v, .base = base};
	return 0;
}

/* A scalar, start of a mapping or sequence where a mapping key is expected. */
static int key_event(struct yb *b, yaml_event_t *ev)
{
	struct frame *f = &b->st[b->depth - 1];
	if (ev->type != YAML_SCALAR_EVENT)
		return fail_at(b->e, ev->start_mark, "mapping keys must be scalars");
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	if (memchr(s, 0, n))
		return fail_at(b->e, ev->start_mark, "mapping key contains a NUL character");
	if (json_object_get(f->node, s)) {
		char msg[300];
		k9_buf p = {0};
		buf_puts(&p, b->path.data ? b->path.data : "");
		obj_path_key(&p, s);
		int first = obj_lines_get_doc_path(b->l, b->doc, p.data);
		buf_free(&p);
		if (first)
			snprintf(msg, sizeof msg,
			         "mapping key \"%.200s\" already defined at line %d", s, first);
		else
			snprintf(msg, sizeof msg, "mapping key \"%.200s\" already defined", s);
		return fail_at(b->e, ev->start_mark, msg);
	}
	f->key = xstrndup(s, n);
	f->keyline = (int)ev->start_mark.line + 1;
	return 0;
}

static bool expecting_key(const struct yb *b)
{
	return b->depth > 0 && json_is_object(b->st[b->depth - 1].node) && !b->st[b->depth - 1].key;
}

static json_t *scalar(const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
	    (tag && (strcmp(tag, YAML_STR_TAG) == 0 || strcmp(tag, "!") == 0)))
		return json_stringn(s, n);
	return obj_scalar_value(s, n);
}

static void reset(struct yb *b)
{
	for (int i = 0; i < b->depth; i++)
		free(b->st[i].key);
	b->depth = 0;
	json_decref(b->root);
	b->root = NULL;
	obj_path_cut(&b->path, 0);
}

/* One event; -1 with b->e on error. */
static int event(struct yb *b, yaml_event_t *ev, json_t *docs, size_t doc_base)
{
	const unsigned char *anchor = NULL;
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return fail_at(b->e, ev->start_mark, "YAML aliases are not allowed");
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		break;
	default:
		break;
	}
	if (anchor)
		return fail_at(b->e, ev->start_mark, "YAML anchors are not allowed");
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		reset(b);
		b->doc = doc_base + json_array_size(docs);
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		if (b->root && !json_is_null(b->root)) {
			obj_lines_set_root(b->l, b->root, b->doc);
			json_array_append(docs, b->root);
		}
		reset(b);
		return 0;
	case YAML_SCALAR_EVENT:
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		if (expecting_key(b))
			return key_event(b, ev);
		if (ev->type == YAML_SCALAR_EVENT)
			return attach(b, scalar(ev), ev->start_mark);
		return attach(b,
		              ev->type == YAML_MAPPING_START_EVENT ? json_object() : json_array(),
		              ev->start_mark);
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		if (b->depth > 0) {
			b->depth--;
			obj_path_cut(&b->path, b->st[b->depth].base);
		}
		return 0;
	default:
		return 0;
	}
}

int obj_yaml_load(const char *buf, size_t len, json_t *docs, obj_lines *l, size_t doc_base,
                  k9_err *e)
{
	yaml_parser_t p;
	struct yb *b = xcalloc(1, sizeof *b);
	int rc = 0;
	b->l = l;
	b->e = e;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p, &ev)) {
			char msg[512];
			if (p.context)
				snprintf(msg, sizeof msg, "%s (%s)",
				         p.problem ? p.problem : "invalid YAML", p.context);
			else
				snprintf(msg, sizeof msg, "%s",
				         p.problem ? p.problem : "invalid YAML");
			rc = fail_at(e, p.problem_mark, msg);
			break;
		}
		int done = ev.type == YAML_STREAM_END_EVENT;
		rc = event(b, &ev, docs, doc_base);
		yaml_event_delete(&ev);
		if (rc < 0 || done)
			break;
	}
	reset(b);
	buf_free(&b->path);
	free(b);
	yaml_parser_delete(&p);
	return rc;
}
