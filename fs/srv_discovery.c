/*
 * srv_discovery.c - what the server serves, the way clients discover it:
 * /version, /api, /apis, /api/v1, /apis/GROUP, /apis/GROUP/VERSION. Built
 * from the obj_kinds() table, so a new kind is discovered without code here.
 */
#include <string.h>

#include "kube9/util.h"
#include "srv.h"

#define K9_VERSION "v1.31.0+kube9"

static json_t *strs(const char *csv)
{
	json_t *a = json_array();
	char *dup = xstrdup(csv), *save = NULL;
	for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(a, json_string(t));
	free(dup);
	return a;
}

static json_t *resource_entry(const char *name, const char *singular, bool namespaced,
                              const char *kind, const char *verbs)
{
	json_t *r = json_object();
	json_object_set_new(r, "name", json_string(name));
	json_object_set_new(r, "singularName", json_string(singular));
	json_object_set_new(r, "namespaced", json_boolean(namespaced));
	json_object_set_new(r, "kind", json_string(kind));
	json_object_set_new(r, "verbs", strs(verbs));
	return r;
}

static json_t *resource_list(const char *group, const char *version)
{
	size_t n;
	const obj_kind *k = obj_kinds(&n);
	json_t *res = json_array();
	int found = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(k[i].group, group) || strcmp(k[i].version, version))
			continue;
		found = 1;
		json_t *r =
		    resource_entry(k[i].plural, k[i].singular, k[i].namespaced, k[i].kind,
		                   "create,delete,deletecollection,get,list,patch,update,watch");
		if (k[i].short_names && k[i].short_names[0])
			json_object_set_new(r, "shortNames", strs(k[i].short_names));
		if (!strcmp(k[i].plural, "pods") || !strcmp(k[i].plural, "deployments") ||
		    !strcmp(k[i].plural, "services"))
			json_object_set_new(r, "categories", strs("all"));
		json_array_append_new(res, r);
		char sub[128];
		if (k[i].has_status) {
			snprintf(sub, sizeof sub, "%s/status", k[i].plural);
			json_array_append_new(res, resource_entry(sub, "", k[i].namespaced,
			                                          k[i].kind, "get,patch,update"));
		}
		if (k[i].has_scale) {
			snprintf(sub, sizeof sub, "%s/scale", k[i].plural);
			json_t *s =
			    resource_entry(sub, "", k[i].namespaced, "Scale", "get,patch,update");
			json_object_set_new(s, "group", json_string("autoscaling"));
			json_object_set_new(s, "version", json_string("v1"));
			json_array_append_new(res, s);
		}
		if (!strcmp(k[i].plural, "pods"))
			json_array_append_new(res,
			                      resource_entry("pods/log", "", true, "Pod", "get"));
		if (!strcmp(k[i].plural, "nodes"))
			json_array_append_new(res, resource_entry("nodes/proxy", "", false,
			                                          "NodeProxyOptions", "get"));
		if (!strcmp(k[i].plural, "namespaces"))
			json_array_append_new(res, resource_entry("namespaces/finalize", "", false,
			                                          "Namespace", "update"));
	}
	if (!found) {
		json_decref(res);
		return NULL;
	}
	json_t *o = json_object();
	char gv[128];
	snprintf(gv, sizeof gv, "%s%s%s", group, group[0] ? "/" : "", version);
	json_object_set_new(o, "kind", json_string("APIResourceList"));
	json_object_set_new(o, "apiVersion", json_string("v1"));
	json_object_set_new(o, "groupVersion", json_string(gv));
	json_object_set_new(o, "resources", res);
	return o;
}

/* Whether an object in array a has field equal to value. */
static bool listed(const json_t *a, const char *field, const char *value)
{
	size_t i;
	json_t *o;
	json_array_foreach(a, i, o)
	{
		const char *v = json_string_value(json_object_get(o, field));
		if (v && !strcmp(v, value))
			return true;
	}
	return false;
}

/* The named groups with their versions, preferred (storage) version first. */
static json_t *group_json(const char *group)
{
	size_t n;
	const obj_kind *k = obj_kinds(&n);
	json_t *g = json_object(), *versions = json_array();
	const char *preferred = NULL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(k[i].group, group))
			continue;
		if (listed(versions, "version", k[i].version))
			continue;
		json_t *v = json_object();
		char gv[128];
		snprintf(gv, sizeof gv, "%s/%s", group, k[i].version);
		json_object_set_new(v, "groupVersion", json_string(gv));
		json_object_set_new(v, "version", json_string(k[i].version));
		if (!strcmp(k[i].version, k[i].storage_version)) {
			preferred = k[i].version;
			json_array_insert_new(versions, 0, v);
		} else {
			json_array_append_new(versions, v);
		}
	}
	json_object_set_new(g, "name", json_string(group));
	json_object_set_new(g, "versions", versions);
	if (preferred) {
		json_t *p = json_deep_copy(json_array_get(versions, 0));
		json_object_set_new(g, "preferredVersion", p);
	}
	return g;
}

static json_t *group_list(void)
{
	size_t n;
	const obj_kind *k = obj_kinds(&n);
	json_t *groups = json_array();
	for (size_t i = 0; i < n; i++) {
		if (!k[i].group[0])
			continue;
		if (!listed(groups, "name", k[i].group))
			json_array_append_new(groups, group_json(k[i].group));
	}
	json_t *o = json_object();
	json_object_set_new(o, "kind", json_string("APIGroupList"));
	json_object_set_new(o, "apiVersion", json_string("v1"));
	json_object_set_new(o, "groups", groups);
	return o;
}

int srv_discovery(srv_req *r, srv_resp *out, k9_err *e)
{
	(void)e;
	const char *p = r->path;
	char a[64], b[64];
	json_t *o = NULL;
	if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD"))
		return 0;
	if (!strcmp(p, "/version") || !strcmp(p, "/version/")) {
		o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "major", "1", "minor", "31",
		              "gitVersion", K9_VERSION, "gitCommit", "", "gitTreeState", "clean",
		              "buildDate", "", "goVersion", "none (C17)", "compiler", "gcc",
		              "platform", "linux/amd64");
	} else if (!strcmp(p, "/api") || !strcmp(p, "/api/")) {
		o = json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions", "versions", "v1",
		              "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0",
		              "serverAddress", r->s->listen);
	} else if (!strcmp(p, "/apis") || !strcmp(p, "/apis/")) {
		o = group_list();
	} else if (sscanf(p, "/api/%63[^/]%n", a, &(int){0}) == 1 && !strchr(p + 5, '/')) {
		o = resource_list("", a);
	} else if (sscanf(p, "/apis/%63[^/]/%63[^/]", a, b) == 2 &&
	           strlen(p) == 7 + strlen(a) + strlen(b)) {
		o = resource_list(a, b);
	} else if (sscanf(p, "/apis/%63[^/]", a) == 1 && strlen(p) == 6 + strlen(a)) {
		json_t *g = group_json(a);
		if (json_array_size(json_object_get(g, "versions"))) {
			json_object_set_new(g, "kind", json_string("APIGroup"));
			json_object_set_new(g, "apiVersion", json_string("v1"));
			o = g;
		} else {
			json_decref(g);
		}
	} else {
		return 0;
	}
	if (!o)
		return k9_errf(e, 404, "NotFound",
		               "the server could not find the requested resource");
	srv_resp_json(out, 200, o);
	return 1;
}
