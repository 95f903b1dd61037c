/* patch.c - merge patch, JSON patch and strategic merge patch (see patch.h). */
#include <stdlib.h>
#include <string.h>

#include "kube9/patch.h"
#include "kube9/util.h"

json_t *patch_merge(const json_t *target, const json_t *patch)
{
	if (!json_is_object(patch))
		return json_deep_copy(patch);
	json_t *out = json_is_object(target) ? json_deep_copy(target) : json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)patch, k, v)
	{
		if (json_is_null(v)) {
			json_object_del(out, k);
			continue;
		}
		json_t *m = patch_merge(json_object_get(out, k), v);
		json_object_set_new(out, k, m);
	}
	return out;
}

/* ---- RFC 6902 ---- */

/* Decode one JSON pointer token in place (~1 -> /, ~0 -> ~); -1 if malformed. */
static int unescape_token(char *t)
{
	char *w = t;
	for (char *r = t; *r; r++) {
		if (*r == '~') {
			if (r[1] == '0')
				*w++ = '~';
			else if (r[1] == '1')
				*w++ = '/';
			else
				return -1;
			r++;
		} else {
			*w++ = *r;
		}
	}
	*w = 0;
	return 0;
}

/* Array index token: digits without leading zeros; -2 for "-", -1 bad. */
static long array_index(const char *t)
{
	if (!strcmp(t, "-"))
		return -2;
	if (!t[0] || (t[0] == '0' && t[1]))
		return -1;
	char *end;
	long i = strtol(t, &end, 10);
	return *end || i < 0 ? -1 : i;
}

/*
 * Resolve all but the last token of ptr in doc: *parent gets the container,
 * *last the unescaped final token (malloc'd). -1 with e when a step is missing.
 */
static int resolve_parent(json_t *doc, const char *ptr, json_t **parent, char **last, k9_err *e)
{
	if (ptr[0] != '/')
		return k9_errf(e, 422, "Invalid", "JSON pointer \"%s\" must start with /", ptr);
	char *dup = xstrdup(ptr + 1), *cur = dup;
	json_t *node = doc;
	for (;;) {
		char *slash = strchr(cur, '/');
		if (!slash)
			break;
		*slash = 0;
		if (unescape_token(cur) < 0)
			goto bad;
		if (json_is_object(node)) {
			node = json_object_get(node, cur);
		} else if (json_is_array(node)) {
			long i = array_index(cur);
			node = i >= 0 ? json_array_get(node, (size_t)i) : NULL;
		} else {
			node = NULL;
		}
		if (!node)
			goto bad;
		cur = slash + 1;
	}
	if (unescape_token(cur) < 0)
		goto bad;
	*parent = node;
	*last = xstrdup(cur);
	free(dup);
	return 0;
bad:
	free(dup);
	return k9_errf(e, 422, "Invalid", "JSON patch path \"%s\" does not exist", ptr);
}

static json_t *get_at(json_t *doc, const char *ptr, k9_err *e)
{
	if (!ptr[0])
		return doc;
	json_t *parent;
	char *last;
	if (resolve_parent(doc, ptr, &parent, &last, e) < 0)
		return NULL;
	json_t *v = NULL;
	if (json_is_object(parent))
		v = json_object_get(parent, last);
	else if (json_is_array(parent) && array_index(last) >= 0)
		v = json_array_get(parent, (size_t)array_index(last));
	free(last);
	if (!v)
		k9_errf(e, 422, "Invalid", "JSON patch path \"%s\" does not exist", ptr);
	return v;
}

/* Remove and return (new reference) the value at ptr. */
static json_t *take_at(json_t *doc, const char *ptr, k9_err *e)
{
	json_t *parent, *v = NULL;
	char *last;
	if (!ptr[0]) {
		k9_errf(e, 422, "Invalid", "cannot remove the whole document");
		return NULL;
	}
	if (resolve_parent(doc, ptr, &parent, &last, e) < 0)
		return NULL;
	if (json_is_object(parent) && (v = json_object_get(parent, last))) {
		json_incref(v);
		json_object_del(parent, last);
	} else if (json_is_array(parent) && array_index(last) >= 0 &&
	           (v = json_array_get(parent, (size_t)array_index(last)))) {
		json_incref(v);
		json_array_remove(parent, (size_t)array_index(last));
	}
	free(last);
	if (!v)
		k9_errf(e, 422, "Invalid", "JSON patch path \"%s\" does not exist", ptr);
	return v;
}

/* Add v (stolen) at ptr; *doc may be replaced when ptr is "". */
static int add_at(json_t **doc, const char *ptr, json_t *v, int replace, k9_err *e)
{
	if (!ptr[0]) {
		json_decref(*doc);
		*doc = v;
		return 0;
	}
	json_t *parent;
	char *last;
	if (resolve_parent(*doc, ptr, &parent, &last, e) < 0) {
		json_decref(v);
		return -1;
	}
	int rc = 0;
	if (json_is_object(parent)) {
		if (replace && !json_object_get(parent, last))
			rc = -1;
		else
			json_object_set_new(parent, last, v), v = NULL;
	} else if (json_is_array(parent)) {
		long i = array_index(last);
		size_t n = json_array_size(parent);
		if (i == -2 && !replace)
			json_array_append_new(parent, v), v = NULL;
		else if (i >= 0 && (size_t)i < n && replace)
			json_array_set_new(parent, (size_t)i, v), v = NULL;
		else if (i >= 0 && (size_t)i <= n && !replace)
			json_array_insert_new(parent, (size_t)i, v), v = NULL;
		else
			rc = -1;
	} else {
		rc = -1;
	}
	free(last);
	json_decref(v);
	if (rc < 0)
		k9_errf(e, 422, "Invalid", "JSON patch path \"%s\" does not exist", ptr);
	return rc;
}

json_t *patch_json(const json_t *target, const json_t *ops, k9_err *e)
{
	if (!json_is_array(ops)) {
		k9_errf(e, 400, "BadRequest", "a JSON patch must be an array of operations");
		return NULL;
	}
	json_t *doc = json_deep_copy(target);
	size_t i;
	json_t *op;
	json_array_foreach(ops, i, op)
	{
		const char *name = json_string_value(json_object_get(op, "op"));
		const char *path = json_string_value(json_object_get(op, "path"));
		const char *from = json_string_value(json_object_get(op, "from"));
		json_t *value = json_object_get(op, "value");
		int rc = 0;
		if (!name || !path) {
			k9_errf(e, 400, "BadRequest", "JSON patch operation %zu lacks op or path",
			        i);
			goto fail;
		}
		if (!strcmp(name, "add") || !strcmp(name, "replace")) {
			if (!value) {
				k9_errf(e, 400, "BadRequest",
				        "JSON patch operation %zu lacks value", i);
				goto fail;
			}
			rc = add_at(&doc, path, json_deep_copy(value), name[0] == 'r', e);
		} else if (!strcmp(name, "remove")) {
			json_t *v = take_at(doc, path, e);
			rc = v ? 0 : -1;
			json_decref(v);
		} else if (!strcmp(name, "move") || !strcmp(name, "copy")) {
			if (!from) {
				k9_errf(e, 400, "BadRequest", "JSON patch operation %zu lacks from",
				        i);
				goto fail;
			}
			json_t *v = name[0] == 'm' ? take_at(doc, from, e)
			                           : json_deep_copy(get_at(doc, from, e));
			rc = v ? add_at(&doc, path, v, 0, e) : -1;
		} else if (!strcmp(name, "test")) {
			json_t *v = get_at(doc, path, e);
			if (!v || !json_equal(v, value))
				rc = k9_errf(e, 422, "Invalid", "JSON patch test failed at \"%s\"",
				             path);
		} else {
			k9_errf(e, 400, "BadRequest", "unknown JSON patch operation \"%s\"", name);
			goto fail;
		}
		if (rc < 0)
			goto fail;
	}
	return doc;
fail:
	json_decref(doc);
	return NULL;
}

/* ---- strategic merge patch ---- */

/* Lists merged by key instead of replaced, by field name. */
static const struct {
	const char *field, *key;
} merge_keys[] = {
    {"containers", "name"},
    {"initContainers", "name"},
    {"ephemeralContainers", "name"},
    {"volumes", "name"},
    {"env", "name"},
    {"volumeMounts", "mountPath"},
    {"volumeDevices", "devicePath"},
    {"imagePullSecrets", "name"},
    {"ownerReferences", "uid"},
    {"conditions", "type"},
    {"hostAliases", "ip"},
    {"topologySpreadConstraints", "topologyKey"},
    {"taints", "key"},
    {"addresses", "type"},
    {"ports", NULL} /* containerPort or port */,
};

/* Primitive lists merged as sets. */
static const char *const set_lists[] = {"finalizers"};

static const char *merge_key_for(const char *field, const json_t *items)
{
	for (size_t i = 0; i < sizeof merge_keys / sizeof *merge_keys; i++) {
		if (strcmp(merge_keys[i].field, field))
			continue;
		if (merge_keys[i].key)
			return merge_keys[i].key;
		json_t *first = json_array_get(items, 0);
		return json_object_get(first, "containerPort") ? "containerPort" : "port";
	}
	return NULL;
}

static long find_by_key(const json_t *list, const char *key, const json_t *val)
{
	size_t i;
	json_t *it;
	json_array_foreach(list, i, it)
	{
		if (json_equal(json_object_get(it, key), val))
			return (long)i;
	}
	return -1;
}

static json_t *smp_value(const json_t *target, const json_t *patch, k9_err *e);

static json_t *smp_list(const char *field, const json_t *target, const json_t *patch, k9_err *e)
{
	for (size_t i = 0; i < sizeof set_lists / sizeof *set_lists; i++)
		if (!strcmp(field, set_lists[i]) && json_is_array(target)) {
			json_t *out = json_deep_copy(target);
			size_t j;
			json_t *v;
			json_array_foreach(patch, j, v)
			{
				int have = 0;
				for (size_t k = 0; k < json_array_size(out); k++)
					have |= json_equal(json_array_get(out, k), v);
				if (!have)
					json_array_append(out, v);
			}
			return out;
		}
	const char *key = merge_key_for(field, patch);
	if (!key || !json_is_array(target))
		return json_deep_copy(patch);
	/* A {"$patch": "replace"} element replaces the whole list. */
	size_t i;
	json_t *it;
	json_array_foreach(patch, i, it)
	{
		const char *d = json_string_value(json_object_get(it, "$patch"));
		if (d && !strcmp(d, "replace")) {
			json_t *out = json_array();
			size_t j;
			json_t *x;
			json_array_foreach(patch, j, x) if (j != i) json_array_append(out, x);
			return out;
		}
	}
	json_t *out = json_deep_copy(target);
	json_array_foreach(patch, i, it)
	{
		json_t *kv = json_object_get(it, key);
		long at = kv ? find_by_key(out, key, kv) : -1;
		const char *d = json_string_value(json_object_get(it, "$patch"));
		if (d && !strcmp(d, "delete")) {
			if (at >= 0)
				json_array_remove(out, (size_t)at);
			continue;
		}
		if (at >= 0) {
			json_t *m = smp_value(json_array_get(out, (size_t)at), it, e);
			if (!m) {
				json_decref(out);
				return NULL;
			}
			json_array_set_new(out, (size_t)at, m);
		} else {
			json_t *m = smp_value(NULL, it, e);
			if (!m) {
				json_decref(out);
				return NULL;
			}
			json_array_append_new(out, m);
		}
	}
	return out;
}

/* Reorder list by the keys in order (items not named keep their place after). */
static json_t *apply_order(json_t *list, const json_t *order, const char *key)
{
	json_t *out = json_array();
	size_t i;
	json_t *o;
	json_array_foreach(order, i, o)
	{
		json_t *kv = key ? json_object_get(o, key) : o;
		long at = -1;
		for (size_t j = 0; j < json_array_size(list) && at < 0; j++) {
			json_t *it = json_array_get(list, j);
			if (json_equal(key ? json_object_get(it, key) : it, kv))
				at = (long)j;
		}
		if (at >= 0) {
			json_array_append(out, json_array_get(list, (size_t)at));
			json_array_remove(list, (size_t)at);
		}
	}
	json_array_extend(out, list);
	json_decref(list);
	return out;
}

static json_t *smp_object(const json_t *target, const json_t *patch, k9_err *e)
{
	const char *d = json_string_value(json_object_get(patch, "$patch"));
	if (d && !strcmp(d, "delete"))
		return json_null();
	json_t *out = json_is_object(target) && !(d && !strcmp(d, "replace"))
	                  ? json_deep_copy(target)
	                  : json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)patch, k, v)
	{
		if (k[0] == '$')
			continue;
		if (json_is_null(v)) {
			json_object_del(out, k);
			continue;
		}
		json_t *m = json_is_array(v) ? smp_list(k, json_object_get(out, k), v, e)
		                             : smp_value(json_object_get(out, k), v, e);
		if (!m) {
			json_decref(out);
			return NULL;
		}
		if (json_is_null(m))
			json_object_del(out, k), json_decref(m);
		else
			json_object_set_new(out, k, m);
	}
	json_object_foreach((json_t *)patch, k, v)
	{
		if (!strncmp(k, "$setElementOrder/", 17)) {
			const char *f = k + 17;
			json_t *list = json_object_get(out, f);
			if (json_is_array(list) && json_is_array(v)) {
				const char *key = merge_key_for(f, list);
				json_object_set_new(out, f, apply_order(json_incref(list), v, key));
			}
		} else if (!strncmp(k, "$deleteFromPrimitiveList/", 25)) {
			json_t *list = json_object_get(out, k + 25);
			for (size_t i = 0; json_is_array(list) && i < json_array_size(v); i++)
				for (size_t j = json_array_size(list); j-- > 0;)
					if (json_equal(json_array_get(list, j),
					               json_array_get(v, i)))
						json_array_remove(list, j);
		}
	}
	json_t *retain = json_object_get(patch, "$retainKeys");
	if (json_is_array(retain)) {
		void *tmp;
		json_object_foreach_safe(out, tmp, k, v)
		{
			int keep = 0;
			for (size_t i = 0; i < json_array_size(retain); i++)
				keep |=
				    !strcmp(json_string_value(json_array_get(retain, i)) ?: "", k);
			if (!keep)
				json_object_del(out, k);
		}
	}
	return out;
}

static json_t *smp_value(const json_t *target, const json_t *patch, k9_err *e)
{
	if (json_is_object(patch))
		return smp_object(target, patch, e);
	return json_deep_copy(patch);
}

json_t *patch_strategic(const json_t *target, const json_t *patch, k9_err *e)
{
	if (!json_is_object(patch)) {
		k9_errf(e, 400, "BadRequest", "a strategic merge patch must be a JSON object");
		return NULL;
	}
	json_t *out = smp_object(target, patch, e);
	if (out && json_is_null(out)) {
		json_decref(out);
		k9_errf(e, 422, "Invalid", "a strategic merge patch may not delete the object");
		return NULL;
	}
	return out;
}
