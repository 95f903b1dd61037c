/*
 * obj_validate.c - obj_validate: the schema walk (unknown fields, types,
 * quantities), ObjectMeta rules, then the kind's own rules (obj_rules.c);
 * and the error collector every validation message goes through.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "obj_priv.h"
#include "obj_schema.h"

void obj_verr_init(obj_verr *v, const obj_lines *l, const json_t *root)
{
	memset(v, 0, sizeof *v);
	v->l = l;
	v->doc = l ? obj_lines_doc_of(l, root) : 0;
}

void obj_verr_add(obj_verr *v, const char *lpath, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (v->n++)
		buf_puts(&v->b, "; ");
	buf_puts(&v->b, msg ? msg : "?");
	free(msg);
	int line = obj_lines_near(v->l, v->doc, lpath);
	if (line)
		buf_printf(&v->b, " (line %d)", line);
}

int obj_verr_finish(obj_verr *v, const obj_kind *k, const json_t *obj, k9_err *e)
{
	if (!v->n) {
		buf_free(&v->b);
		return 0;
	}
	const char *name =
	    json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	k9_errf(e, 422, "Invalid", "%s \"%s\" is invalid: %s", k ? k->kind : "object",
	        name ? name : "", v->b.data);
	buf_free(&v->b);
	return -1;
}

char *obj_show(const json_t *v)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (!s)
		return xstrdup("null");
	if (strlen(s) > 200)
		strcpy(s + 190, "...");
	return s;
}

static void wrong_type(obj_verr *v, const char *path, const json_t *n, const char *want)
{
	char *s = obj_show(n);
	obj_verr_add(v, path, "%s: Invalid value: %s: must be %s", path, s, want);
	free(s);
}

static void walk(obj_verr *v, k9_buf *path, const json_t *n, int type, int elem,
                 const obj_field *fields);

static void walk_object(obj_verr *v, k9_buf *path, const json_t *n, const obj_field *fields)
{
	const char *key;
	json_t *c;
	size_t base = path->len;
	json_object_foreach((json_t *)n, key, c)
	{
		const obj_field *f = fields;
		while (f->name && strcmp(f->name, key) != 0)
			f++;
		obj_path_key(path, key);
		if (!f->name)
			obj_verr_add(v, path->data, "unknown field \"%s\"", path->data);
		else
			walk(v, path, c, f->type, f->elem, f->fields);
		obj_path_cut(path, base);
	}
}

static void check_quantity(obj_verr *v, const char *path, const json_t *n)
{
	char tmp[64];
	const char *s = tmp;
	int64_t m;
	k9_err e;
	if (json_is_string(n))
		s = json_string_value(n);
	else if (json_is_integer(n))
		snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(n));
	else if (json_is_real(n))
		snprintf(tmp, sizeof tmp, "%.17g", json_real_value(n));
	else
		return wrong_type(v, path, n, "a quantity (a string such as \"250m\" or \"1Gi\")");
	if (obj_quantity_parse(s, &m, &e) < 0) {
		char *sh = obj_show(n);
		const char *why = strstr(e.msg, "\": ");
		obj_verr_add(v, path, "%s: Invalid value: %s: %s", path, sh, why ? why + 3 : e.msg);
		free(sh);
	}
}

static void walk(obj_verr *v, k9_buf *path, const json_t *n, int type, int elem,
                 const obj_field *fields)
{
	const char *p = path->data ? path->data : "";
	if (json_is_null(n))
		return;
	switch (type) {
	case OBJ_T_STR:
		if (!json_is_string(n))
			wrong_type(v, p, n, "a string");
		break;
	case OBJ_T_INT:
		if (!json_is_integer(n) &&
		    !(json_is_real(n) &&
		      json_real_value(n) == (double)(long long)json_real_value(n)))
			wrong_type(v, p, n, "an integer");
		break;
	case OBJ_T_BOOL:
		if (!json_is_boolean(n))
			wrong_type(v, p, n, "a boolean");
		break;
	case OBJ_T_NUM:
		if (!json_is_number(n))
			wrong_type(v, p, n, "a number");
		break;
	case OBJ_T_IOS:
		if (!json_is_integer(n) && !json_is_string(n))
			wrong_type(v, p, n, "an integer or a string");
		break;
	case OBJ_T_QTY:
		check_quantity(v, p, n);
		break;
	case OBJ_T_OBJ:
		if (!json_is_object(n))
			wrong_type(v, p, n, "an object");
		else
			walk_object(v, path, n, fields);
		break;
	case OBJ_T_ARR: {
		size_t i, base = path->len;
		json_t *c;
		if (!json_is_array(n)) {
			wrong_type(v, p, n, "an array");
			break;
		}
		json_array_foreach(n, i, c)
		{
			obj_path_index(path, i);
			walk(v, path, c, elem, 0, fields);
			obj_path_cut(path, base);
		}
		break;
	}
	case OBJ_T_MAP: {
		const char *key;
		json_t *c;
		size_t base = path->len;
		if (!json_is_object(n)) {
			wrong_type(v, p, n, "an object");
			break;
		}
		json_object_foreach((json_t *)n, key, c)
		{
			obj_path_key(path, key);
			walk(v, path, c, elem, 0, fields);
			obj_path_cut(path, base);
		}
		break;
	}
	default:
		break;
	}
}

/* Label-like maps: labels (keys and values) or annotations (keys, total size). */
static void check_labels(obj_verr *v, const char *path, const json_t *m, bool annotations)
{
	const char *key, *why;
	json_t *val;
	size_t total = 0;
	if (!json_is_object(m))
		return;
	json_object_foreach((json_t *)m, key, val)
	{
		char *lp = xasprintf("%s.%s", path, key);
		if ((why = obj_check_label_key(key)))
			obj_verr_add(v, lp, "%s: Invalid value: \"%s\": %s", path, key, why);
		const char *s = json_string_value(val);
		if (s && !annotations && (why = obj_check_label_value(s)))
			obj_verr_add(v, lp, "%s: Invalid value: \"%s\": %s", path, s, why);
		total += strlen(key) + (s ? strlen(s) : 0);
		free(lp);
	}
	if (annotations && total > 256 * 1024)
		obj_verr_add(v, path, "%s: Too long: must have at most 262144 bytes", path);
}

static void check_meta(obj_verr *v, const obj_kind *k, const json_t *obj)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *gen = json_string_value(json_object_get(meta, "generateName"));
	bool label_name = !strcmp(k->kind, "Namespace") || !strcmp(k->kind, "Service");
	const char *why;
	if (!json_is_object(meta)) {
		obj_verr_add(v, "", "metadata: Required value");
		return;
	}
	if (!name || !*name)
		obj_verr_add(v, "metadata",
		             "metadata.name: Required value: name or generateName "
		             "is required");
	else if ((why = label_name ? obj_check_dns1123_label(name)
	                           : obj_check_dns1123_subdomain(name)))
		obj_verr_add(v, "metadata.name", "metadata.name: Invalid value: \"%s\": %s", name,
		             why);
	if (gen && *gen) {
		/* generateName is checked with the suffix the server would add */
		char *full = xasprintf("%sxxxxx", gen);
		if ((why = obj_check_dns1123_subdomain(full)))
			obj_verr_add(v, "metadata.generateName",
			             "metadata.generateName: Invalid value: \"%s\": %s", gen, why);
		free(full);
	}
	if (ns && *ns && k->namespaced && (why = obj_check_dns1123_label(ns)))
		obj_verr_add(v, "metadata.namespace",
		             "metadata.namespace: Invalid value: \"%s\": %s", ns, why);
	check_labels(v, "metadata.labels", json_object_get(meta, "labels"), false);
	check_labels(v, "metadata.annotations", json_object_get(meta, "annotations"), true);
}

int obj_validate(const obj_kind *k, const json_t *obj, const obj_lines *lines, k9_err *e)
{
	obj_verr v;
	k9_buf path = {0};
	if (!k || !json_is_object(obj))
		return k9_errf(e, 422, "Invalid", "%s is invalid: not an object",
		               k ? k->kind : "object");
	obj_verr_init(&v, lines, obj);
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	if (kind && strcmp(kind, k->kind) != 0)
		obj_verr_add(&v, "kind", "kind: Invalid value: \"%s\": must be %s", kind, k->kind);
	const obj_field *root = obj_schema_root(k->kind);
	if (root)
		walk(&v, &path, obj, OBJ_T_OBJ, 0, root);
	buf_free(&path);
	obj_rules_check(&v, k, obj);
	check_meta(&v, k, obj);
	return obj_verr_finish(&v, k, obj, e);
}
