/*
 * srv_write.c - create, update, patch and delete: the server's share of
 * every object's metadata (uid, creationTimestamp, generation,
 * resourceVersion, deletionTimestamp), optimistic concurrency, finalizers
 * and graceful deletion, the status and scale subresources.
 *
 * An update is: read the current object, build the new one (from a PUT body,
 * a patch, a status or a scale), carry over what the client may not change,
 * default, validate, and compare-and-swap it against the revision that was
 * read. When the client named no resourceVersion, a lost race is retried.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube9/patch.h"
#include "kube9/util.h"
#include "srv_obj.h"

#define MAX_RETRIES 8

static bool dry_run(const srv_req *r)
{
	return r->dry_run && !strcmp(r->dry_run, "All");
}

static bool is_kind(const srv_req *r, const char *plural)
{
	return !strcmp(r->kind->plural, plural);
}

/* The status a new object starts with (Kubernetes' PrepareForCreate). */
static void reset_status(const srv_req *r, json_t *o)
{
	if (!r->kind->has_status || is_kind(r, "nodes"))
		return;
	json_t *st = json_object();
	if (is_kind(r, "pods"))
		json_object_set_new(st, "phase", json_string("Pending"));
	else if (is_kind(r, "namespaces"))
		json_object_set_new(st, "phase", json_string("Active"));
	else if (is_kind(r, "persistentvolumes") || is_kind(r, "persistentvolumeclaims"))
		json_object_set_new(st, "phase", json_string("Pending"));
	else if (is_kind(r, "services"))
		json_object_set_new(st, "loadBalancer", json_object());
	json_object_set_new(o, "status", st);
}

static int store_err_to_api(const srv_req *r, const char *name, k9_err *e)
{
	const char *g = r->kind->group, *p = r->kind->plural;
	if (e->code == 409 && !strcmp(e->reason, "AlreadyExists"))
		return k9_errf(e, 409, "AlreadyExists", "%s%s%s \"%s\" already exists", p,
		               g[0] ? "." : "", g, name);
	if (e->code == 409)
		return k9_errf(
		    e, 409, "Conflict",
		    "Operation cannot be fulfilled on %s%s%s \"%s\": the object has been "
		    "modified; please apply your changes to the latest version and try "
		    "again",
		    p, g[0] ? "." : "", g, name);
	if (e->code == 404)
		return k9_errf(e, 404, "NotFound", "%s%s%s \"%s\" not found", p, g[0] ? "." : "", g,
		               name);
	return -1;
}

/* The namespace of a namespaced request must exist and not be terminating. */
static int check_namespace(const srv_req *r, bool creating, k9_err *e)
{
	if (!r->kind->namespaced)
		return 0;
	int known = srv_nscache_lookup(r->ns);
	if (known == 1 || (known == 0 && !creating))
		return 0;
	char key[512];
	store_obj ns = {0};
	store_key(key, sizeof key, "", "namespaces", "", r->ns);
	if (r->s->st->ops->get(r->s->st, key, &ns, e) < 0) {
		if (e->code == 404)
			return k9_errf(e, 404, "NotFound", "namespaces \"%s\" not found", r->ns);
		return -1;
	}
	int rc = 0;
	if (creating && strstr(ns.value, "\"deletionTimestamp\""))
		rc = k9_errf(e, 403, "Forbidden",
		             "%s \"%s\" is forbidden: unable to create new content in namespace %s "
		             "because it is being terminated",
		             r->kind->plural, r->name, r->ns);
	store_obj_free(&ns);
	return rc;
}

static void set_server_metadata(json_t *o)
{
	json_t *m = srv_meta(o);
	char uid[37], ts[32];
	k9_uuid(uid);
	k9_now_rfc3339(ts, sizeof ts);
	json_object_set_new(m, "uid", json_string(uid));
	json_object_set_new(m, "creationTimestamp", json_string(ts));
	json_object_del(m, "resourceVersion");
	json_object_del(m, "deletionTimestamp");
	json_object_del(m, "deletionGracePeriodSeconds");
	json_object_del(m, "selfLink");
	if (json_object_get(o, "spec"))
		json_object_set_new(m, "generation", json_integer(1));
	else
		json_object_del(m, "generation");
}

/*
 * Default, validate and convert to the storage version. The body is decoded
 * without its line map (building it costs a sixth of a create); only when
 * validation fails is it decoded again with lines, so the message can name
 * them.
 */
static json_t *admit(const srv_req *r, json_t *o, const json_t *old, const obj_lines *lines,
                     k9_err *e)
{
	obj_default(r->kind, o);
	int rc = old ? obj_validate_update(r->kind, o, old, lines, e)
	             : obj_validate(r->kind, o, lines, e);
	bool body_is_object =
	    (!strcmp(r->verb, "create") || !strcmp(r->verb, "update")) && !r->sub[0] && r->body_len;
	if (rc < 0 && !lines && e->code == 422 && body_is_object) {
		obj_lines *l = NULL;
		k9_err e2 = {0};
		json_t *again = obj_decode(r->body, r->body_len, &l, &e2);
		if (again && l) {
			k9_err e3 = {0};
			int rc2 = old ? obj_validate_update(r->kind, o, old, l, &e3)
			              : obj_validate(r->kind, o, l, &e3);
			if (rc2 < 0)
				*e = e3;
		}
		json_decref(again);
		obj_lines_free(l);
	}
	if (rc < 0)
		return NULL;
	return srv_to_storage_version(r, o, e);
}

int srv_create(srv_req *r, srv_resp *out, k9_err *e)
{
	obj_lines *lines = NULL;
	json_t *o = srv_decode_body(r, NULL, e), *st = NULL;
	int rc = -1;
	if (!o)
		return -1;
	if (srv_check_type(r, o, e) < 0)
		goto out;
	json_t *m = srv_meta(o);
	const char *name = json_string_value(json_object_get(m, "name"));
	const char *gen = json_string_value(json_object_get(m, "generateName"));
	snprintf(r->name, sizeof r->name, "%s", name ? name : "");
	if (check_namespace(r, true, e) < 0)
		goto out;
	if (is_kind(r, "namespaces")) {
		/* always, as Kubernetes does: kubectl sends "spec": {}, and a namespace deleted
		 * without this finalizer would go at once, leaving its objects behind */
		json_t *spec = json_object_get(o, "spec");
		if (!json_is_object(spec)) {
			spec = json_object();
			json_object_set_new(o, "spec", spec);
		}
		json_object_set_new(spec, "finalizers", json_pack("[s]", "kubernetes"));
	}
	set_server_metadata(o);
	reset_status(r, o);
	for (int attempt = 0;; attempt++) {
		if ((!name || !name[0]) && gen && gen[0]) {
			char sfx[8], *n;
			k9_rand_suffix(sfx, 5);
			n = xasprintf("%.*s%s", 58, gen, sfx);
			json_object_set_new(m, "name", json_string(n));
			snprintf(r->name, sizeof r->name, "%s", n);
			free(n);
		}
		if (!(st = admit(r, o, NULL, lines, e)))
			goto out;
		if (dry_run(r)) {
			srv_resp_json(out, 201, json_incref(o));
			rc = 0;
			goto out;
		}
		char key[1024];
		store_obj saved = {0};
		srv_key(r, r->name, key, sizeof key);
		rc = r->s->st->ops->create(r->s->st, key, st, &saved, e);
		json_decref(st);
		st = NULL;
		if (rc == 0) {
			srv_resp_stored(r, out, 201, &saved);
			store_obj_free(&saved);
			goto out;
		}
		if (e->code == 409 && (!name || !name[0]) && attempt < MAX_RETRIES)
			continue;
		store_err_to_api(r, r->name, e);
		goto out;
	}
out:
	json_decref(st);
	json_decref(o);
	obj_lines_free(lines);
	return rc;
}

/* Fields of the current object the client cannot change through this request. */
static void carry_over(const srv_req *r, json_t *nw, const json_t *cur)
{
	json_t *nm = srv_meta(nw), *cm = json_object_get(cur, "metadata");
	static const char *const keep[] = {"uid", "creationTimestamp", "generation",
	                                   "deletionTimestamp", "deletionGracePeriodSeconds"};
	for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
		json_t *v = json_object_get(cm, keep[i]);
		if (v)
			json_object_set(nm, keep[i], v);
		else
			json_object_del(nm, keep[i]);
	}
	if (!strcmp(r->sub, "binding"))
		return; /* built from the current object by build_binding */
	if (!strcmp(r->sub, "status")) {
		/* Only the status changes through /status. */
		json_t *status = json_incref(json_object_get(nw, "status"));
		json_t *metacopy = json_deep_copy(cm);
		json_object_clear(nw);
		json_object_update(nw, (json_t *)cur);
		json_object_set_new(nw, "metadata", metacopy);
		if (status)
			json_object_set_new(nw, "status", status);
		else
			json_object_del(nw, "status");
		return;
	}
	if (r->kind->has_status) {
		json_t *s = json_object_get(cur, "status");
		if (s)
			json_object_set(nw, "status", s);
		else
			json_object_del(nw, "status");
	}
	if (is_kind(r, "namespaces") && strcmp(r->sub, "finalize")) {
		json_t *s = json_object_get(cur, "spec");
		if (s)
			json_object_set(nw, "spec", s);
	}
}

/* Whether objects a and b have equal members, apart from skip1 and skip2 (may be NULL). */
static bool members_equal(const json_t *a, const json_t *b, const char *skip1, const char *skip2)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)a, k, v)
	{
		if ((skip1 && !strcmp(k, skip1)) || (skip2 && !strcmp(k, skip2)))
			continue;
		if (!json_equal(v, json_object_get(b, k)))
			return false;
	}
	json_object_foreach((json_t *)b, k, v)
	{
		if ((!skip1 || strcmp(k, skip1)) && (!skip2 || strcmp(k, skip2)) &&
		    !json_object_get(a, k))
			return false;
	}
	return true;
}

/* Everything but metadata and status, compared to decide on generation. */
static bool spec_changed(const json_t *a, const json_t *b)
{
	return !members_equal(a, b, "metadata", "status");
}

static bool same_ignoring_rv(const json_t *a, const json_t *b)
{
	return members_equal(a, b, "metadata", NULL) &&
	       members_equal(json_object_get(a, "metadata"), json_object_get(b, "metadata"),
	                     "resourceVersion", NULL);
}

static int really_delete(srv_req *r, int64_t rev, srv_resp *out, k9_err *e);

/*
 * Produce the new object from the current one; the caller-supplied builder
 * differs per verb. Returns a new reference or NULL with e.
 */
typedef json_t *(*build_fn)(srv_req *r, const json_t *cur, void *arg, obj_lines **lines, k9_err *e);

static int update_loop(srv_req *r, build_fn build, void *arg, srv_resp *out, k9_err *e)
{
	for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
		store_obj cur = {0};
		json_t *curobj = NULL, *nw = NULL, *st = NULL;
		obj_lines *lines = NULL;
		int rc = -1, retry = 0;
		if (srv_get_current(r, &cur, &curobj, e) < 0)
			return -1;
		if (!(nw = build(r, curobj, arg, &lines, e)))
			goto done;
		if (srv_check_type(r, nw, e) < 0)
			goto done;
		const char *name = srv_meta_str(nw, "name");
		if (name && strcmp(name, r->name)) {
			k9_errf(
			    e, 400, "BadRequest",
			    "the name of the object (%s) does not match the name on the URL (%s)",
			    name, r->name);
			goto done;
		}
		json_object_set_new(srv_meta(nw), "name", json_string(r->name));
		const char *rv = srv_meta_str(nw, "resourceVersion");
		bool user_rv = rv && rv[0];
		if (user_rv && strtoll(rv, NULL, 10) != cur.rev) {
			k9_errf(e, 409, "Conflict", "x");
			store_err_to_api(r, r->name, e);
			goto done;
		}
		carry_over(r, nw, curobj);
		if (spec_changed(nw, curobj)) {
			json_t *g =
			    json_object_get(json_object_get(curobj, "metadata"), "generation");
			json_object_set_new(srv_meta(nw), "generation",
			                    json_integer(json_integer_value(g) + 1));
		}
		if (!(st = admit(r, nw, curobj, lines, e)))
			goto done;
		/* Last finalizer gone from an object being deleted: it goes now. */
		json_t *nm = json_object_get(nw, "metadata");
		if (json_object_get(nm, "deletionTimestamp") &&
		    json_array_size(json_object_get(nm, "finalizers")) == 0 &&
		    (!is_kind(r, "pods") ||
		     json_integer_value(json_object_get(nm, "deletionGracePeriodSeconds")) == 0) &&
		    !(is_kind(r, "namespaces") &&
		      json_array_size(
		          json_object_get(json_object_get(nw, "spec"), "finalizers")))) {
			rc = dry_run(r) ? 0 : really_delete(r, cur.rev, out, e);
			if (rc < 0 && e->code == 409 && !user_rv)
				retry = 1;
			if (rc == 0 && dry_run(r))
				srv_resp_json(out, 200, json_incref(nw));
			goto done;
		}
		if (same_ignoring_rv(nw, curobj) || dry_run(r)) {
			srv_resp_json(out, 200, json_incref(dry_run(r) ? nw : curobj));
			rc = 0;
			goto done;
		}
		char key[1024];
		store_obj saved = {0};
		srv_key(r, r->name, key, sizeof key);
		rc = r->s->st->ops->update(r->s->st, key, cur.rev, st, &saved, e);
		if (rc == 0) {
			srv_resp_stored(r, out, 200, &saved);
			store_obj_free(&saved);
		} else if (e->code == 409 && !user_rv) {
			retry = 1;
		} else {
			store_err_to_api(r, r->name, e);
		}
	done:
		store_obj_free(&cur);
		json_decref(curobj);
		json_decref(nw);
		json_decref(st);
		obj_lines_free(lines);
		if (!retry)
			return rc;
	}
	return k9_errf(e, 409, "Conflict", "too many concurrent updates of %s \"%s\"",
	               r->kind->plural, r->name);
}

static json_t *build_put(srv_req *r, const json_t *cur, void *arg, obj_lines **lines, k9_err *e)
{
	(void)cur;
	(void)arg;
	(void)lines;
	return srv_decode_body(r, NULL, e);
}

static bool ctype_is(const srv_req *r, const char *t)
{
	return r->content_type && !strncmp(r->content_type, t, strlen(t));
}

/* Does the patch p itself name metadata.resourceVersion (a precondition, as in Kubernetes)? */
static bool patch_names_rv(const json_t *p)
{
	if (json_is_object(p))
		return json_object_get(json_object_get(p, "metadata"), "resourceVersion") != NULL;
	size_t i;
	const json_t *op;
	json_array_foreach(p, i, op)
	{
		const char *path = json_string_value(json_object_get(op, "path"));
		if (path && !strcmp(path, "/metadata/resourceVersion"))
			return true;
	}
	return false;
}

/*
 * The patched object. It carries the target's resourceVersion only when the
 * patch named one: a patch that did not is applied to whatever is current,
 * and retried on a conflict, instead of failing as if it had been stale.
 */
static json_t *apply_patch(const srv_req *r, const json_t *target, k9_err *e)
{
	json_error_t je;
	json_t *p = json_loadb(r->body, r->body_len, 0, &je), *res = NULL;
	if (!p) {
		k9_errf(e, 400, "BadRequest", "the patch is not valid JSON: line %d, column %d: %s",
		        je.line, je.column, je.text);
		return NULL;
	}
	if (ctype_is(r, "application/json-patch+json"))
		res = patch_json(target, p, e);
	else if (ctype_is(r, "application/merge-patch+json"))
		res = json_is_object(p) ? patch_merge(target, p) : NULL;
	else if (ctype_is(r, "application/strategic-merge-patch+json"))
		res = patch_strategic(target, p, e);
	else
		k9_errf(e, 415, "UnsupportedMediaType",
		        "the body of the request was in an unknown format - accepted media types "
		        "include: application/json-patch+json, application/merge-patch+json, "
		        "application/strategic-merge-patch+json");
	if (!res && !e->code)
		k9_errf(e, 400, "BadRequest", "a merge patch must be a JSON object");
	if (res && !json_is_object(res)) {
		json_decref(res);
		res = NULL;
		k9_errf(e, 422, "Invalid", "the patch does not produce an object");
	}
	if (res && !patch_names_rv(p))
		json_object_del(json_object_get(res, "metadata"), "resourceVersion");
	json_decref(p);
	return res;
}

static json_t *build_patch(srv_req *r, const json_t *cur, void *arg, obj_lines **lines, k9_err *e)
{
	(void)arg;
	(void)lines;
	return apply_patch(r, cur, e);
}

/* autoscaling/v1 Scale of a deployment or replicaset. */
static json_t *scale_of(const srv_req *r, const json_t *o)
{
	json_t *m = json_object_get(o, "metadata"), *spec = json_object_get(o, "spec");
	json_t *status = json_object_get(o, "status");
	json_t *sm = json_object();
	static const char *const keep[] = {"name", "namespace", "uid", "resourceVersion",
	                                   "creationTimestamp"};
	for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
		if (json_object_get(m, keep[i]))
			json_object_set(sm, keep[i], json_object_get(m, keep[i]));
	json_t *ml = json_object_get(json_object_get(spec, "selector"), "matchLabels");
	k9_buf sel = {0};
	const char *k;
	json_t *v;
	json_object_foreach(ml, k, v)
	    buf_printf(&sel, "%s%s=%s", sel.len ? "," : "", k, json_string_value(v));
	(void)r;
	json_t *s = json_pack("{s:s,s:s,s:o,s:{s:I},s:{s:I,s:s}}", "kind", "Scale", "apiVersion",
	                      "autoscaling/v1", "metadata", sm, "spec", "replicas",
	                      json_integer_value(json_object_get(spec, "replicas")), "status",
	                      "replicas", json_integer_value(json_object_get(status, "replicas")),
	                      "selector", sel.data ? sel.data : "");
	buf_free(&sel);
	return s;
}

static json_t *build_scale(srv_req *r, const json_t *cur, void *arg, obj_lines **lines, k9_err *e)
{
	(void)arg;
	(void)lines;
	json_t *cs = scale_of(r, cur), *ns;
	if (!strcmp(r->method, "PATCH"))
		ns = apply_patch(r, cs, e);
	else
		ns = srv_decode_body(r, NULL, e);
	json_decref(cs);
	if (!ns)
		return NULL;
	json_t *rep = json_object_get(json_object_get(ns, "spec"), "replicas");
	const char *rv = srv_meta_str(ns, "resourceVersion");
	if (!json_is_integer(rep) || json_integer_value(rep) < 0) {
		json_decref(ns);
		k9_errf(
		    e, 422, "Invalid",
		    "Scale.autoscaling \"%s\" is invalid: spec.replicas: Invalid value: must be "
		    "a non-negative integer",
		    r->name);
		return NULL;
	}
	json_t *nw = json_deep_copy(cur);
	json_object_set(json_object_get(nw, "spec"), "replicas", rep);
	json_object_del(srv_meta(nw), "resourceVersion");
	if (rv && rv[0])
		json_object_set_new(srv_meta(nw), "resourceVersion", json_string(rv));
	json_decref(ns);
	return nw;
}

/* Turn a stored response of the parent into a Scale response. */
static void resp_to_scale(srv_req *r, srv_resp *out)
{
	json_t *o = json_loadb(out->body, out->len, 0, NULL);
	if (!o || out->code >= 300) {
		json_decref(o);
		return;
	}
	free(out->body);
	srv_resp_json(out, 200, scale_of(r, o));
	json_decref(o);
}

int srv_update(srv_req *r, srv_resp *out, k9_err *e)
{
	if (!strcmp(r->sub, "scale")) {
		if (update_loop(r, build_scale, NULL, out, e) < 0)
			return -1;
		resp_to_scale(r, out);
		return 0;
	}
	return update_loop(r, !strcmp(r->method, "PATCH") ? build_patch : build_put, NULL, out, e);
}

/*
 * The binding subresource (POST pods/NAME/binding, what schedulers use):
 * sets spec.nodeName and the PodScheduled condition, only when the pod has no
 * node yet, so a pod is never bound twice.
 */
static json_t *build_binding(srv_req *r, const json_t *cur, void *arg, obj_lines **lines, k9_err *e)
{
	(void)arg;
	(void)lines;
	json_t *b = srv_decode_body(r, NULL, e);
	if (!b)
		return NULL;
	const char *node = json_string_value(json_object_get(json_object_get(b, "target"), "name"));
	const char *kind = json_string_value(json_object_get(b, "kind"));
	json_t *spec = json_object_get(cur, "spec");
	const char *have = json_string_value(json_object_get(spec, "nodeName"));
	json_t *nw = NULL;
	if (kind && strcmp(kind, "Binding"))
		k9_errf(e, 400, "BadRequest", "the kind in the data (%s) does not match Binding",
		        kind);
	else if (!node || !node[0])
		k9_errf(e, 422, "Invalid", "Binding \"%s\" is invalid: target.name: Required value",
		        r->name);
	else if (have && have[0])
		k9_errf(e, 409, "Conflict",
		        "Operation cannot be fulfilled on pods/binding \"%s\": pod %s is already "
		        "assigned to node \"%s\"",
		        r->name, r->name, have);
	else if (json_object_get(json_object_get(cur, "metadata"), "deletionTimestamp"))
		k9_errf(e, 409, "Conflict",
		        "Operation cannot be fulfilled on pods/binding \"%s\": pod %s is being "
		        "deleted, cannot be assigned to a host",
		        r->name, r->name);
	else {
		nw = json_deep_copy(cur);
		json_object_del(srv_meta(nw), "resourceVersion");
		json_object_set_new(json_object_get(nw, "spec"), "nodeName", json_string(node));
		json_t *st = json_object_get(nw, "status");
		if (!json_is_object(st)) {
			st = json_object();
			json_object_set_new(nw, "status", st);
		}
		json_t *conds = json_object_get(st, "conditions");
		if (!json_is_array(conds)) {
			conds = json_array();
			json_object_set_new(st, "conditions", conds);
		}
		char ts[32];
		k9_now_rfc3339(ts, sizeof ts);
		json_t *c = json_pack("{s:s,s:s,s:n,s:s}", "type", "PodScheduled", "status", "True",
		                      "lastProbeTime", "lastTransitionTime", ts);
		size_t i;
		json_t *x;
		json_array_foreach(
		    conds, i, x) if (!strcmp(json_string_value(json_object_get(x, "type")) ?: "",
		                             "PodScheduled")) break;
		if (i < json_array_size(conds))
			json_array_set_new(conds, i, c);
		else
			json_array_append_new(conds, c);
	}
	json_decref(b);
	return nw;
}

int srv_bind(srv_req *r, srv_resp *out, k9_err *e)
{
	if (update_loop(r, build_binding, NULL, out, e) < 0)
		return -1;
	free(out->body);
	out->body = NULL;
	srv_resp_json(out, 201,
	              json_pack("{s:s,s:s,s:{},s:s,s:i}", "kind", "Status", "apiVersion", "v1",
	                        "metadata", "status", "Success", "code", 201));
	return 0;
}

int srv_get_scale(srv_req *r, srv_resp *out, k9_err *e)
{
	store_obj cur = {0};
	json_t *o;
	if (srv_get_current(r, &cur, &o, e) < 0)
		return -1;
	srv_resp_json(out, 200, scale_of(r, o));
	json_decref(o);
	store_obj_free(&cur);
	return 0;
}

static int really_delete(srv_req *r, int64_t rev, srv_resp *out, k9_err *e)
{
	char key[1024];
	store_obj gone = {0};
	srv_key(r, r->name, key, sizeof key);
	if (r->s->st->ops->del(r->s->st, key, rev, &gone, e) < 0)
		return store_err_to_api(r, r->name, e);
	srv_resp_stored(r, out, 200, &gone);
	store_obj_free(&gone);
	return 0;
}

/* DeleteOptions from the body and query. */
typedef struct del_opts {
	long grace; /* -1 = not given */
	const char *propagation;
	const char *pre_uid, *pre_rv;
	json_t *body;
} del_opts;

static int parse_del_opts(const srv_req *r, del_opts *d, k9_err *e)
{
	memset(d, 0, sizeof *d);
	d->grace = -1;
	d->propagation = r->propagation;
	if (r->body_len) {
		if (!(d->body = obj_decode(r->body, r->body_len, NULL, e)))
			return -1;
		json_t *g = json_object_get(d->body, "gracePeriodSeconds");
		if (json_is_integer(g))
			d->grace = (long)json_integer_value(g);
		const char *p = json_string_value(json_object_get(d->body, "propagationPolicy"));
		if (p)
			d->propagation = p;
		if (json_is_true(json_object_get(d->body, "orphanDependents")))
			d->propagation = "Orphan";
		json_t *pre = json_object_get(d->body, "preconditions");
		d->pre_uid = json_string_value(json_object_get(pre, "uid"));
		d->pre_rv = json_string_value(json_object_get(pre, "resourceVersion"));
	}
	if (r->grace_period && r->grace_period[0])
		d->grace = strtol(r->grace_period, NULL, 10);
	if (d->propagation && strcmp(d->propagation, "Orphan") &&
	    strcmp(d->propagation, "Background") && strcmp(d->propagation, "Foreground"))
		return k9_errf(e, 422, "Invalid",
		               "propagationPolicy: Unsupported value: \"%s\": supported values: "
		               "\"Orphan\", \"Background\", \"Foreground\"",
		               d->propagation);
	return 0;
}

static void add_finalizer(json_t *m, const char *f)
{
	json_t *fs = json_object_get(m, "finalizers");
	if (!json_is_array(fs)) {
		fs = json_array();
		json_object_set_new(m, "finalizers", fs);
	}
	for (size_t i = 0; i < json_array_size(fs); i++)
		if (!strcmp(json_string_value(json_array_get(fs, i)) ?: "", f))
			return;
	json_array_append_new(fs, json_string(f));
}

/* Mark cur as being deleted; store it (CAS on rev); respond with it. */
static int mark_deleting(srv_req *r, json_t *cur, int64_t rev, long grace, srv_resp *out, k9_err *e)
{
	json_t *m = srv_meta(cur);
	char ts[32];
	if (!json_object_get(m, "deletionTimestamp") ||
	    grace < json_integer_value(json_object_get(m, "deletionGracePeriodSeconds"))) {
		k9_rfc3339(time(NULL) + grace, ts, sizeof ts);
		json_object_set_new(m, "deletionTimestamp", json_string(ts));
		json_object_set_new(m, "deletionGracePeriodSeconds", json_integer(grace));
	}
	if (is_kind(r, "namespaces"))
		json_object_set_new(json_object_get(cur, "status") ?: json_object_get(cur, "spec"),
		                    "phase", json_string("Terminating"));
	if (dry_run(r)) {
		srv_resp_json(out, 200, json_incref(cur));
		return 0;
	}
	json_t *st = srv_to_storage_version(r, cur, e);
	if (!st)
		return -1;
	char key[1024];
	store_obj saved = {0};
	srv_key(r, r->name, key, sizeof key);
	int rc = r->s->st->ops->update(r->s->st, key, rev, st, &saved, e);
	json_decref(st);
	if (rc < 0)
		return store_err_to_api(r, r->name, e);
	srv_resp_stored(r, out, 200, &saved);
	store_obj_free(&saved);
	return 0;
}

int srv_delete(srv_req *r, srv_resp *out, k9_err *e)
{
	del_opts d;
	if (parse_del_opts(r, &d, e) < 0)
		return -1;
	int rc = -1;
	for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
		store_obj cur = {0};
		json_t *o = NULL;
		if (srv_get_current(r, &cur, &o, e) < 0)
			break;
		json_t *m = srv_meta(o);
		const char *uid = srv_meta_str(o, "uid");
		if (d.pre_uid && (!uid || strcmp(d.pre_uid, uid))) {
			rc = k9_errf(e, 409, "Conflict",
			             "Precondition failed: UID in precondition: %s, UID in object "
			             "meta: %s",
			             d.pre_uid, uid ? uid : "");
		} else if (d.pre_rv && strtoll(d.pre_rv, NULL, 10) != cur.rev) {
			rc = k9_errf(e, 409, "Conflict",
			             "Precondition failed: ResourceVersion in precondition: %s, "
			             "ResourceVersion in object meta: %ld",
			             d.pre_rv, (long)cur.rev);
		} else if (is_kind(r, "namespaces") &&
		           (!strcmp(r->name, "default") || !strcmp(r->name, "kube-system") ||
		            !strcmp(r->name, "kube-public"))) {
			rc = k9_errf(e, 403, "Forbidden",
			             "namespaces \"%s\" is forbidden: this namespace may not be "
			             "deleted",
			             r->name);
		} else {
			if (d.propagation && !strcmp(d.propagation, "Orphan"))
				add_finalizer(m, "orphan");
			else if (d.propagation && !strcmp(d.propagation, "Foreground"))
				add_finalizer(m, "foregroundDeletion");
			long grace = 0;
			if (is_kind(r, "pods")) {
				json_t *spec = json_object_get(o, "spec");
				grace = d.grace >= 0 ? d.grace
				                     : (long)json_integer_value(json_object_get(
				                           spec, "terminationGracePeriodSeconds"));
				if (!json_string_value(json_object_get(spec, "nodeName")))
					grace = 0; /* never scheduled: nothing to stop */
			}
			bool waits = grace > 0 ||
			             json_array_size(json_object_get(m, "finalizers")) ||
			             (is_kind(r, "namespaces") &&
			              json_array_size(json_object_get(json_object_get(o, "spec"),
			                                              "finalizers")));
			if (waits)
				rc = mark_deleting(r, o, cur.rev, grace, out, e);
			else if (dry_run(r))
				rc = 0, srv_resp_json(out, 200, json_incref(o));
			else
				rc = really_delete(r, cur.rev, out, e);
		}
		int conflict = rc < 0 && e->code == 409 && !d.pre_rv && !d.pre_uid &&
		               strcmp(e->reason, "Conflict") == 0 &&
		               !strstr(e->msg, "Precondition");
		store_obj_free(&cur);
		json_decref(o);
		if (!conflict)
			break;
	}
	json_decref(d.body);
	return rc;
}
