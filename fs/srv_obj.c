/*
 * srv_obj.c - helpers the verb handlers share: store keys and prefixes for a
 * request, reading the stored object in the requested version, decoding a
 * request body, and the response shapes of single objects and lists.
 */
#include <string.h>

#include "kube9/util.h"
#include "srv_obj.h"

void srv_key(const srv_req *r, const char *name, char *out, size_t n)
{
	store_key(out, n, r->kind->group, r->kind->plural, r->kind->namespaced ? r->ns : "", name);
}

void srv_prefix(const srv_req *r, char *out, size_t n)
{
	const obj_kind *k = r->kind;
	char res[128];
	if (k->group[0])
		snprintf(res, sizeof res, "%s.%s", k->group, k->plural);
	else
		snprintf(res, sizeof res, "%s", k->plural);
	if (!k->namespaced)
		snprintf(out, n, "%s//", res);
	else if (r->ns[0])
		snprintf(out, n, "%s/%s/", res, r->ns);
	else
		snprintf(out, n, "%s/", res);
}

bool srv_same_version(const srv_req *r)
{
	return !strcmp(r->kind->version, r->kind->storage_version);
}

const obj_kind *srv_storage_kind(const obj_kind *k)
{
	if (!strcmp(k->version, k->storage_version))
		return k;
	size_t n;
	const obj_kind *all = obj_kinds(&n);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(all[i].group, k->group) && !strcmp(all[i].kind, k->kind) &&
		    !strcmp(all[i].version, k->storage_version))
			return &all[i];
	return k;
}

json_t *srv_to_request_version(const srv_req *r, const char *text, size_t len, k9_err *e)
{
	json_error_t je;
	json_t *o = json_loadb(text, len, 0, &je);
	if (!o) {
		k9_errf(e, 500, "InternalError", "stored object is not JSON: %s", je.text);
		return NULL;
	}
	if (srv_same_version(r))
		return o;
	json_t *c = obj_convert(o, r->kind, e);
	json_decref(o);
	return c;
}

json_t *srv_to_storage_version(const srv_req *r, const json_t *o, k9_err *e)
{
	if (srv_same_version(r))
		return json_incref((json_t *)o);
	return obj_convert(o, srv_storage_kind(r->kind), e);
}

int srv_get_current(const srv_req *r, store_obj *cur, json_t **obj, k9_err *e)
{
	char key[1024];
	srv_key(r, r->name, key, sizeof key);
	if (r->s->st->ops->get(r->s->st, key, cur, e) < 0) {
		if (e->code == 404)
			k9_errf(e, 404, "NotFound", "%s%s%s \"%s\" not found", r->kind->plural,
			        r->kind->group[0] ? "." : "", r->kind->group, r->name);
		return -1;
	}
	if (obj && !(*obj = srv_to_request_version(r, cur->value, cur->len, e))) {
		store_obj_free(cur);
		return -1;
	}
	return 0;
}

json_t *srv_decode_body(const srv_req *r, obj_lines **lines, k9_err *e)
{
	if (!r->body_len) {
		k9_errf(e, 400, "BadRequest", "the request has no body");
		return NULL;
	}
	json_t *o = obj_decode(r->body, r->body_len, lines, e);
	if (!o)
		return NULL;
	if (!json_is_object(o)) {
		json_decref(o);
		if (lines && *lines) {
			obj_lines_free(*lines);
			*lines = NULL;
		}
		k9_errf(e, 400, "BadRequest", "the request body must be an object");
		return NULL;
	}
	return o;
}

json_t *srv_meta(json_t *o)
{
	json_t *m = json_object_get(o, "metadata");
	if (!json_is_object(m)) {
		m = json_object();
		json_object_set_new(o, "metadata", m);
	}
	return m;
}

const char *srv_meta_str(const json_t *o, const char *field)
{
	return json_string_value(json_object_get(json_object_get(o, "metadata"), field));
}

/* Put apiVersion, kind and metadata first, as Kubernetes writes objects. */
static void order_keys(json_t *o)
{
	static const char *const first[] = {"apiVersion", "kind", "metadata"};
	json_t *copy = json_copy(o);
	json_object_clear(o);
	for (size_t i = 0; i < sizeof first / sizeof *first; i++) {
		json_t *v = json_object_get(copy, first[i]);
		if (v)
			json_object_set(o, first[i], v);
	}
	const char *k;
	json_t *v;
	json_object_foreach(copy, k, v)
	{
		if (!json_object_get(o, k))
			json_object_set(o, k, v);
	}
	json_decref(copy);
}

int srv_check_type(const srv_req *r, json_t *o, k9_err *e)
{
	char want[128];
	obj_kind_api_version(r->kind, want, sizeof want);
	json_t *av = json_object_get(o, "apiVersion"), *kd = json_object_get(o, "kind");
	if (av && (!json_is_string(av) || strcmp(json_string_value(av), want)))
		return k9_errf(e, 400, "BadRequest",
		               "the API version in the data (%s) does not match the expected API "
		               "version (%s)",
		               json_is_string(av) ? json_string_value(av) : "?", want);
	if (kd && (!json_is_string(kd) || strcmp(json_string_value(kd), r->kind->kind)))
		return k9_errf(e, 400, "BadRequest",
		               "the kind in the data (%s) does not match the expected kind (%s)",
		               json_is_string(kd) ? json_string_value(kd) : "?", r->kind->kind);
	if (!av)
		json_object_set_new(o, "apiVersion", json_string(want));
	if (!kd)
		json_object_set_new(o, "kind", json_string(r->kind->kind));
	order_keys(o);
	json_t *m = srv_meta(o);
	json_t *ns = json_object_get(m, "namespace");
	if (r->kind->namespaced) {
		if (ns &&
		    (!json_is_string(ns) || (r->ns[0] && strcmp(json_string_value(ns), r->ns))))
			return k9_errf(e, 400, "BadRequest",
			               "the namespace of the provided object does not match the "
			               "namespace sent on the request");
		if (!ns && r->ns[0])
			json_object_set_new(m, "namespace", json_string(r->ns));
	} else if (ns) {
		json_object_del(m, "namespace");
	}
	return 0;
}

void srv_resp_stored(const srv_req *r, srv_resp *out, int code, const store_obj *o)
{
	k9_err e;
	if (srv_same_version(r)) {
		srv_resp_text(out, code, "application/json", xstrndup(o->value, o->len), o->len);
		return;
	}
	json_t *c = srv_to_request_version(r, o->value, o->len, &e);
	if (!c) {
		size_t len;
		char *s = srv_status_json(&e, r, &len);
		srv_resp_text(out, e.code, "application/json", s, len);
		return;
	}
	srv_resp_json(out, code, c);
}
