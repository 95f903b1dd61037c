/*
 * obj_convert.c - conversion between served versions of one group and
 * kind, as a table of functions keyed by (group, kind, from, to). apps
 * v1beta2 and v1 share their shapes for Deployment and ReplicaSet, so the
 * functions rewrite apiVersion; same-version conversion is a copy.
 */
#include <string.h>
#include "obj_priv.h"

typedef int (*convert_fn)(json_t *obj, k9_err *e);

/* v1beta2 -> v1: the shapes are the same (both require spec.selector). */
static int apps_beta2_to_v1(json_t *obj, k9_err *e)
{
	(void)e;
	json_object_set_new(obj, "apiVersion", json_string("apps/v1"));
	return 0;
}

static int apps_v1_to_beta2(json_t *obj, k9_err *e)
{
	(void)e;
	json_object_set_new(obj, "apiVersion", json_string("apps/v1beta2"));
	return 0;
}

static const struct {
	const char *group, *kind, *from, *to;
	convert_fn fn;
} conversions[] = {
    {"apps", "Deployment", "v1beta2", "v1", apps_beta2_to_v1},
    {"apps", "Deployment", "v1", "v1beta2", apps_v1_to_beta2},
    {"apps", "ReplicaSet", "v1beta2", "v1", apps_beta2_to_v1},
    {"apps", "ReplicaSet", "v1", "v1beta2", apps_v1_to_beta2},
};

json_t *obj_convert(const json_t *obj, const obj_kind *to, k9_err *e)
{
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	if (!to || !av || !kind)
		return k9_errf(e, 400, "BadRequest", "object has no apiVersion or kind"), NULL;
	const char *slash = strchr(av, '/');
	const char *version = slash ? slash + 1 : av;
	size_t gn = slash ? (size_t)(slash - av) : 0;
	if (strcmp(kind, to->kind) || strlen(to->group) != gn || strncmp(av, to->group, gn))
		return k9_errf(e, 400, "BadRequest", "cannot convert %s %s to %s/%s %s", av, kind,
		               to->group, to->version, to->kind),
		       NULL;
	json_t *out = json_deep_copy(obj);
	if (!strcmp(version, to->version))
		return out;
	for (size_t i = 0; i < sizeof conversions / sizeof conversions[0]; i++) {
		if (strcmp(conversions[i].group, to->group) || strcmp(conversions[i].kind, kind) ||
		    strcmp(conversions[i].from, version) || strcmp(conversions[i].to, to->version))
			continue;
		if (conversions[i].fn(out, e) < 0) {
			json_decref(out);
			return NULL;
		}
		return out;
	}
	json_decref(out);
	k9_errf(e, 400, "BadRequest", "no conversion from %s to %s/%s for %s", av, to->group,
	        to->version, kind);
	return NULL;
}
