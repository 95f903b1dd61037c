/*
 * srv_route.c - Kubernetes REST paths to a srv_req:
 *
 *   /api/v1/RESOURCE                          cluster-scoped list, or all namespaces
 *   /api/v1/RESOURCE/NAME[/SUB]               cluster-scoped object
 *   /api/v1/namespaces/NS/RESOURCE[/NAME[/SUB]]
 *   /apis/GROUP/VERSION/...                   the same below a named group
 *   /api/v1/namespaces/NS/pods/NAME/log       a container's log (srv_proxy.c)
 *   /api/v1/nodes/NAME/proxy/PATH             the node agent's PATH (srv_proxy.c)
 *   .../watch/...                             the legacy watch prefix
 */
#include <string.h>

#include "kube9/util.h"
#include "srv.h"

#define MAX_SEGS 12

static int not_found(k9_err *e)
{
	return k9_errf(e, 404, "NotFound", "the server could not find the requested resource");
}

/* A path segment usable as a name: non-empty, no dot-dot, no control bytes. */
static int seg_ok(const char *s)
{
	if (!s[0] || !strcmp(s, ".") || !strcmp(s, "..") || strlen(s) > 253)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static const char *verb_for(const srv_req *r)
{
	const char *m = r->method;
	if (!strcmp(m, "GET") || !strcmp(m, "HEAD"))
		return r->target == R_OBJECT ? "get" : r->watch ? "watch" : "list";
	if (!strcmp(m, "POST"))
		return r->target == R_COLLECTION || !strcmp(r->sub, "binding") ? "create" : NULL;
	if (!strcmp(m, "PUT"))
		return r->target == R_OBJECT ? "update" : NULL;
	if (!strcmp(m, "PATCH"))
		return r->target == R_OBJECT ? "patch" : NULL;
	if (!strcmp(m, "DELETE"))
		return r->target == R_OBJECT ? "delete" : "deletecollection";
	return NULL;
}

int srv_route(srv_req *r, k9_err *e)
{
	char buf[1024];
	char *seg[MAX_SEGS];
	int n = 0;
	if (strlen(r->path) >= sizeof buf)
		return not_found(e);
	strcpy(buf, r->path);
	char *save = NULL;
	for (char *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n == MAX_SEGS)
			return not_found(e);
		seg[n++] = t;
	}
	const char *group, *version;
	int i;
	if (n >= 2 && !strcmp(seg[0], "api")) {
		group = "";
		version = seg[1];
		i = 2;
	} else if (n >= 3 && !strcmp(seg[0], "apis")) {
		group = seg[1];
		version = seg[2];
		i = 3;
	} else {
		return not_found(e);
	}
	if (i < n && !strcmp(seg[i], "watch")) {
		r->watch = true;
		i++;
	}
	int left = n - i;
	const char *plural = NULL, *ns = "", *name = "", *sub = "";
	if (left >= 3 && !strcmp(seg[i], "namespaces") && strcmp(seg[i + 2], "status") &&
	    strcmp(seg[i + 2], "finalize")) {
		ns = seg[i + 1];
		plural = seg[i + 2];
		if (left >= 4)
			name = seg[i + 3];
		if (left >= 5)
			sub = seg[i + 4];
		if (left > 5)
			return not_found(e);
	} else if (left >= 1) {
		plural = seg[i];
		if (left >= 2)
			name = seg[i + 1];
		if (left >= 3)
			sub = seg[i + 2];
		if (left >= 3 && !strcmp(plural, "nodes") && !strcmp(sub, "proxy"))
			r->proxy_path = r->path + (seg[i + 2] - buf) + 5; /* what follows */
		else if (left > 3)
			return not_found(e);
	} else {
		return not_found(e);
	}
	r->kind = obj_kind_by_resource(group, version, plural);
	if (!r->kind)
		return not_found(e);
	if ((ns[0] && !seg_ok(ns)) || (name[0] && !seg_ok(name)))
		return not_found(e);
	if (ns[0] && !r->kind->namespaced)
		return not_found(e);
	if (!ns[0] && name[0] && r->kind->namespaced)
		return not_found(e);
	if (sub[0]) {
		int okay = (!strcmp(sub, "status") && r->kind->has_status) ||
		           (!strcmp(sub, "scale") && r->kind->has_scale) ||
		           (!strcmp(sub, "binding") && !strcmp(r->kind->plural, "pods")) ||
		           (!strcmp(sub, "log") && !strcmp(r->kind->plural, "pods")) ||
		           (!strcmp(sub, "proxy") && !strcmp(r->kind->plural, "nodes")) ||
		           (!strcmp(sub, "finalize") && !strcmp(r->kind->plural, "namespaces"));
		if (!okay)
			return not_found(e);
	}
	snprintf(r->ns, sizeof r->ns, "%s", ns);
	snprintf(r->name, sizeof r->name, "%s", name);
	snprintf(r->sub, sizeof r->sub, "%s", sub);
	r->target = name[0] ? R_OBJECT : R_COLLECTION;
	if (r->watch && r->target == R_OBJECT) {
		/* /watch/.../NAME watches one object */
		r->target = R_COLLECTION;
	}
	r->verb = verb_for(r);
	if (!r->verb)
		return k9_errf(e, 405, "MethodNotAllowed",
		               "the server does not allow this method on the requested resource");
	return 0;
}
