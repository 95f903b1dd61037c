/*
 * srv_openapi.c - a minimal OpenAPI v3 description: /openapi/v3 lists the
 * group versions, /openapi/v3/api/v1 (and /apis/G/V) their paths, each
 * operation tagged with x-kubernetes-group-version-kind and the
 * fieldValidation parameter. That is what kubectl reads to learn that the
 * server validates fields itself (so it sends fieldValidation=Strict
 * instead of downloading schemas). Object schemas are not published yet:
 * the server's own validation (lib/obj_validate.c) is the authority.
 */
#include <string.h>

#include "kube9/util.h"
#include "srv.h"

/* "api/v1" or "apis/apps/v1" of kind k into out. */
static void gv_path(const obj_kind *k, char *out, size_t n)
{
	if (k->group[0])
		snprintf(out, n, "apis/%s/%s", k->group, k->version);
	else
		snprintf(out, n, "api/%s", k->version);
}

static json_t *operation(const obj_kind *k, const char *action)
{
	json_t *op =
	    json_pack("{s:{s:s,s:s,s:s},s:s,s:{s:{s:s}}}", "x-kubernetes-group-version-kind",
	              "group", k->group, "version", k->version, "kind", k->kind,
	              "x-kubernetes-action", action, "responses", "200", "description", "OK");
	json_t *params = json_array();
	static const char *const names[] = {"fieldValidation", "dryRun", "fieldManager"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		json_array_append_new(params, json_pack("{s:s,s:s,s:{s:s}}", "name", names[i], "in",
		                                        "query", "schema", "type", "string"));
	json_object_set_new(op, "parameters", params);
	return op;
}

static json_t *gv_document(const char *want)
{
	size_t n;
	const obj_kind *k = obj_kinds(&n);
	json_t *paths = json_object();
	int found = 0;
	for (size_t i = 0; i < n; i++) {
		char gv[128];
		gv_path(&k[i], gv, sizeof gv);
		if (strcmp(gv, want))
			continue;
		found = 1;
		char *coll = k[i].namespaced
		                 ? xasprintf("/%s/namespaces/{namespace}/%s", gv, k[i].plural)
		                 : xasprintf("/%s/%s", gv, k[i].plural);
		char *item = xasprintf("%s/{name}", coll);
		json_object_set_new(paths, coll,
		                    json_pack("{s:o,s:o}", "get", operation(&k[i], "list"), "post",
		                              operation(&k[i], "post")));
		json_object_set_new(paths, item,
		                    json_pack("{s:o,s:o,s:o,s:o}", "get", operation(&k[i], "get"),
		                              "put", operation(&k[i], "put"), "patch",
		                              operation(&k[i], "patch"), "delete",
		                              operation(&k[i], "delete")));
		free(coll);
		free(item);
	}
	if (!found) {
		json_decref(paths);
		return NULL;
	}
	return json_pack("{s:s,s:{s:s,s:s},s:o,s:{s:{}}}", "openapi", "3.0.0", "info", "title",
	                 "kube9", "version", "v1.31.0", "paths", paths, "components", "schemas");
}

static json_t *root_document(void)
{
	size_t n;
	const obj_kind *k = obj_kinds(&n);
	json_t *paths = json_object();
	for (size_t i = 0; i < n; i++) {
		char gv[128], *url;
		gv_path(&k[i], gv, sizeof gv);
		url = xasprintf("/openapi/v3/%s?hash=kube9-1", gv);
		json_object_set_new(paths, gv, json_pack("{s:s}", "serverRelativeURL", url));
		free(url);
	}
	return json_pack("{s:o}", "paths", paths);
}

int srv_openapi(srv_req *r, srv_resp *out, k9_err *e)
{
	const char *p = r->path;
	if (strncmp(p, "/openapi/", 9))
		return 0;
	json_t *o = NULL;
	if (!strcmp(p, "/openapi/v3") || !strcmp(p, "/openapi/v3/"))
		o = root_document();
	else if (!strncmp(p, "/openapi/v3/", 12))
		o = gv_document(p + 12);
	if (!o)
		return k9_errf(e, 404, "NotFound",
		               "the server could not find the requested resource");
	srv_resp_json(out, 200, o);
	return 1;
}
