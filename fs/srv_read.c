/*
 * srv_read.c - get and list, the dispatch of resource requests to their
 * verb handlers, and the namespaces that exist from the start.
 *
 * A list is streamed out of the store into one buffer: stored objects are
 * already JSON in the storage version, so when no conversion is needed the
 * response is their bytes joined, never parsed (10,000 pods in one list).
 */
#include <stdlib.h>
#include <string.h>

#include "kube9/sel.h"
#include "kube9/util.h"
#include "srv_obj.h"

typedef struct list_ctx {
	const srv_req *r;
	k9_buf *b;
	size_t n;
	sel *labels, *fields;
} list_ctx;

bool srv_selectors_match(const json_t *o, const sel *labels, const sel *fields)
{
	if (labels &&
	    !sel_match_labels(labels, json_object_get(json_object_get(o, "metadata"), "labels")))
		return false;
	return !fields || sel_match_fields(fields, o);
}

static bool list_filter(const json_t *o, void *arg)
{
	list_ctx *c = arg;
	return srv_selectors_match(o, c->labels, c->fields);
}

static void list_item(const store_obj *o, void *arg)
{
	list_ctx *c = arg;
	if (c->n++)
		buf_puts(c->b, ",");
	if (srv_same_version(c->r)) {
		buf_append(c->b, o->value, o->len);
		return;
	}
	k9_err e;
	json_t *conv = srv_to_request_version(c->r, o->value, o->len, &e);
	char *s = conv ? json_dumps(conv, JSON_COMPACT) : NULL;
	buf_puts(c->b, s ? s : "null");
	free(s);
	json_decref(conv);
}

/* Parse the request's selectors; both out-params may stay NULL. */
int srv_parse_selectors(const srv_req *r, sel **labels, sel **fields, k9_err *e)
{
	*labels = *fields = NULL;
	if (r->label_selector && r->label_selector[0] &&
	    !(*labels = sel_parse_labels(r->label_selector, e)))
		return -1;
	if (r->field_selector && r->field_selector[0] &&
	    !(*fields = sel_parse_fields(r->field_selector, e))) {
		sel_free(*labels);
		*labels = NULL;
		return -1;
	}
	return 0;
}

/* continue tokens: base64 of the last key returned. */
static char *continue_token(const char *key)
{
	return k9_b64_encode(key, strlen(key));
}

static int continue_key(const char *tok, char **key, k9_err *e)
{
	unsigned char *k;
	size_t n;
	if (k9_b64_decode(tok, strlen(tok), &k, &n) < 0 || memchr(k, 0, n))
		return k9_errf(e, 400, "BadRequest", "continue key is not valid: bad token");
	*key = (char *)k;
	return 0;
}

int srv_list(srv_req *r, srv_resp *out, k9_err *e)
{
	char prefix[512], *start = NULL;
	list_ctx c = {.r = r};
	if (srv_parse_selectors(r, &c.labels, &c.fields, e) < 0)
		return -1;
	if (r->cont && r->cont[0] && continue_key(r->cont, &start, e) < 0) {
		sel_free(c.labels);
		sel_free(c.fields);
		return -1;
	}
	srv_prefix(r, prefix, sizeof prefix);
	if (start && strncmp(start, prefix, strlen(prefix))) {
		free(start);
		sel_free(c.labels);
		sel_free(c.fields);
		return k9_errf(e, 400, "BadRequest", "continue key is not valid for this list");
	}
	store_list_opts o = {.prefix = prefix, .start_after = start, .limit = (size_t)r->limit};
	if (c.labels || c.fields) {
		o.filter = list_filter;
		o.filter_arg = &c;
	}
	if (c.fields) {
		o.node_name = sel_field_equals(c.fields, "spec.nodeName");
		o.phase = sel_field_equals(c.fields, "status.phase");
	}
	k9_buf b = {0};
	char av[128];
	obj_kind_api_version(r->kind, av, sizeof av);
	buf_printf(&b, "{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":{", r->kind->kind,
	           av);
	/* The list's metadata needs the revision the items were read at: items go apart. */
	k9_buf items = {0};
	c.b = &items;
	store_list_result res = {0};
	int rc = r->s->st->ops->list(r->s->st, &o, list_item, &c, &res, e);
	if (rc == 0) {
		buf_printf(&b, "\"resourceVersion\":\"%ld\"", (long)res.rev);
		if (res.next_key) {
			char *tok = continue_token(res.next_key);
			buf_printf(&b, ",\"continue\":\"%s\"", tok);
			if (!c.labels && !c.fields)
				buf_printf(&b, ",\"remainingItemCount\":%zu", res.remaining);
			free(tok);
		}
		buf_puts(&b, "},\"items\":[");
		if (items.len)
			buf_append(&b, items.data, items.len);
		buf_puts(&b, "]}");
		size_t len;
		char *body = buf_steal(&b, &len);
		srv_resp_text(out, 200, "application/json", body, len);
	}
	free(res.next_key);
	buf_free(&items);
	buf_free(&b);
	free(start);
	sel_free(c.labels);
	sel_free(c.fields);
	return rc;
}

static int srv_get(srv_req *r, srv_resp *out, k9_err *e)
{
	store_obj cur = {0};
	if (srv_get_current(r, &cur, NULL, e) < 0)
		return -1;
	srv_resp_stored(r, out, 200, &cur);
	store_obj_free(&cur);
	return 0;
}

typedef struct names_ctx {
	char **names;
	size_t n;
} names_ctx;

static void collect_name(const store_obj *o, void *arg)
{
	names_ctx *c = arg;
	const char *slash = strrchr(o->key, '/');
	c->names = xrealloc(c->names, (c->n + 1) * sizeof *c->names);
	c->names[c->n++] = xstrdup(slash ? slash + 1 : o->key);
}

/* DELETE on a collection: delete each selected object; answer with the list. */
static int srv_delete_collection(srv_req *r, srv_resp *out, k9_err *e)
{
	char prefix[512];
	list_ctx c = {.r = r};
	names_ctx nc = {0};
	if (srv_parse_selectors(r, &c.labels, &c.fields, e) < 0)
		return -1;
	srv_prefix(r, prefix, sizeof prefix);
	store_list_opts o = {.prefix = prefix};
	if (c.labels || c.fields) {
		o.filter = list_filter;
		o.filter_arg = &c;
	}
	store_list_result res = {0};
	int rc = r->s->st->ops->list(r->s->st, &o, collect_name, &nc, &res, e);
	free(res.next_key);
	k9_buf b = {0};
	char av[128];
	obj_kind_api_version(r->kind, av, sizeof av);
	buf_printf(&b, "{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":{},\"items\":[",
	           r->kind->kind, av);
	char ns_all[sizeof r->ns];
	memcpy(ns_all, r->ns, sizeof ns_all);
	size_t done = 0;
	for (size_t i = 0; rc == 0 && i < nc.n; i++) {
		srv_resp one = {0};
		k9_err e1 = {0};
		snprintf(r->name, sizeof r->name, "%s", nc.names[i]);
		if (srv_delete(r, &one, &e1) == 0) {
			if (done++)
				buf_puts(&b, ",");
			buf_append(&b, one.body, one.len);
		} else if (e1.code != 404) {
			*e = e1;
			rc = -1;
		}
		free(one.body);
	}
	for (size_t i = 0; i < nc.n; i++)
		free(nc.names[i]);
	free(nc.names);
	r->name[0] = 0;
	memcpy(r->ns, ns_all, sizeof ns_all);
	buf_puts(&b, "]}");
	if (rc == 0) {
		size_t len;
		char *body = buf_steal(&b, &len);
		srv_resp_text(out, 200, "application/json", body, len);
	}
	buf_free(&b);
	sel_free(c.labels);
	sel_free(c.fields);
	return rc;
}

int srv_handle_resource(srv_req *r, srv_resp *out, k9_err *e)
{
	const char *v = r->verb;
	if (!strcmp(v, "get") && !strcmp(r->sub, "log"))
		return srv_proxy_log(r, out, e);
	if (!strcmp(v, "get") && !strcmp(r->sub, "proxy"))
		return srv_proxy_node(r, out, e);
	if (!strcmp(v, "get"))
		return !strcmp(r->sub, "scale") ? srv_get_scale(r, out, e) : srv_get(r, out, e);
	if (!strcmp(v, "list"))
		return srv_list(r, out, e);
	if (!strcmp(v, "create"))
		return !strcmp(r->sub, "binding") ? srv_bind(r, out, e) : srv_create(r, out, e);
	if (!strcmp(v, "update") || !strcmp(v, "patch"))
		return srv_update(r, out, e);
	if (!strcmp(v, "delete"))
		return srv_delete(r, out, e);
	if (!strcmp(v, "deletecollection"))
		return srv_delete_collection(r, out, e);
	return k9_errf(e, 405, "MethodNotAllowed", "verb %s is not supported", v);
}

int srv_ensure_namespaces(srv *s, k9_err *e)
{
	static const char *const names[] = {"default", "kube-system", "kube-public",
	                                    "kube-node-lease"};
	size_t n;
	const obj_kind *k = obj_kinds(&n), *nsk = NULL;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(k[i].plural, "namespaces"))
			nsk = &k[i];
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char key[256];
		store_obj o = {0};
		store_key(key, sizeof key, "", "namespaces", "", names[i]);
		if (s->st->ops->get(s->st, key, &o, e) == 0) {
			store_obj_free(&o);
			continue;
		}
		srv_req r = {.s = s, .kind = nsk, .method = "POST", .verb = "create"};
		char *body = xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
		                       "\"metadata\":{\"name\":\"%s\"}}",
		                       names[i]);
		r.body = body;
		r.body_len = strlen(body);
		srv_resp out = {0};
		int rc = srv_create(&r, &out, e);
		free(body);
		free(out.body);
		if (rc < 0 && e->code != 409)
			return -1;
	}
	return 0;
}
