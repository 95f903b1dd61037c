/*
 * obj_update.c - obj_validate_update: obj_validate of the new object plus
 * the fields that may not change after creation (a table of immutable
 * paths per kind) and the special rules for pod specs (only images,
 * activeDeadlineSeconds and added tolerations may change), immutable
 * Secrets/ConfigMaps and PVC specs.
 */
#include <stdlib.h>
#include <string.h>

#include "obj_priv.h"

static bool empty(const json_t *v)
{
	return !v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v));
}

/* Paths that may not change; "*" applies to every kind. A path unset on
 * either side is left to the server (it fills uid, clusterIP ...). */
static const struct {
	const char *kind, *path;
} immutable[] = {
    {"*", "metadata.name"},
    {"*", "metadata.namespace"},
    {"*", "metadata.uid"},
    {"*", "metadata.creationTimestamp"},
    {"Service", "spec.clusterIP"},
    {"Deployment", "spec.selector"},
    {"ReplicaSet", "spec.selector"},
    {"Node", "spec.podCIDR"},
    {"Node", "spec.providerID"},
    {"PersistentVolume", "spec.hostPath"},
    {"PersistentVolume", "spec.local"},
};

static void check_immutable(obj_verr *v, const obj_kind *k, const json_t *obj, const json_t *old)
{
	for (size_t i = 0; i < sizeof immutable / sizeof immutable[0]; i++) {
		if (strcmp(immutable[i].kind, "*") && strcmp(immutable[i].kind, k->kind))
			continue;
		const char *p = immutable[i].path;
		const json_t *a = obj_get_path(obj, p), *b = obj_get_path(old, p);
		if (empty(a) || empty(b) || json_equal(a, b))
			continue;
		char *s = obj_show(a);
		obj_verr_add(v, p, "%s: Invalid value: %s: field is immutable", p, s);
		free(s);
	}
}

/* Blank what a pod update may change: images, activeDeadlineSeconds, tolerations. */
static void mask_pod_spec(json_t *spec)
{
	static const char *const lists[] = {"containers", "initContainers"};
	size_t i;
	json_t *c;
	for (int l = 0; l < 2; l++)
		json_array_foreach(json_object_get(spec, lists[l]), i, c) if (json_is_object(c))
		    json_object_del(c, "image");
	json_object_del(spec, "activeDeadlineSeconds");
	json_object_del(spec, "tolerations");
}

/* Binding by update: spec.nodeName may go from unset to set. */
static void mask_binding(json_t *a, json_t *b)
{
	const json_t *nb = json_object_get(b, "nodeName");
	if (!nb || json_is_null(nb) || (json_is_string(nb) && !*json_string_value(nb))) {
		json_object_del(a, "nodeName");
		json_object_del(b, "nodeName");
	}
}

static void check_pod(obj_verr *v, const json_t *obj, const json_t *old)
{
	json_t *a = json_deep_copy(json_object_get(obj, "spec"));
	json_t *b = json_deep_copy(json_object_get(old, "spec"));
	const json_t *ta = json_object_get(json_object_get(obj, "spec"), "tolerations");
	const json_t *tb = json_object_get(json_object_get(old, "spec"), "tolerations");
	bool tol_ok = true;
	size_t i;
	json_t *t;
	/* every old toleration must still be there: only additions are allowed */
	json_array_foreach(tb, i, t)
	{
		bool found = false;
		for (size_t j = 0; j < json_array_size(ta) && !found; j++)
			found = json_equal(t, json_array_get(ta, j));
		tol_ok &= found;
	}
	if (json_is_object(a))
		mask_pod_spec(a);
	if (json_is_object(b))
		mask_pod_spec(b);
	if (json_is_object(a) && json_is_object(b))
		mask_binding(a, b);
	if (!tol_ok || !json_equal(a ? a : json_null(), b ? b : json_null()))
		obj_verr_add(v, "spec",
		             "spec: Forbidden: pod updates may not change fields other than "
		             "`spec.containers[*].image`, `spec.initContainers[*].image`, "
		             "`spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to "
		             "existing tolerations)");
	json_decref(a);
	json_decref(b);
}

static void check_data_immutable(obj_verr *v, const obj_kind *k, const json_t *obj,
                                 const json_t *old)
{
	if (!json_is_true(json_object_get(old, "immutable")))
		return;
	if (!json_is_true(json_object_get(obj, "immutable")))
		obj_verr_add(v, "immutable",
		             "immutable: Forbidden: field is immutable when `immutable` is set");
	const char *fields[] = {"data", strcmp(k->kind, "Secret") ? "binaryData" : "stringData"};
	for (int i = 0; i < 2; i++) {
		const json_t *a = json_object_get(obj, fields[i]),
		             *b = json_object_get(old, fields[i]);
		if (!json_equal(a ? a : json_null(), b ? b : json_null()))
			obj_verr_add(v, fields[i],
			             "%s: Forbidden: field is immutable when `immutable` is set",
			             fields[i]);
	}
}

static void check_pvc(obj_verr *v, const json_t *obj, const json_t *old)
{
	json_t *a = json_deep_copy(json_object_get(obj, "spec"));
	json_t *b = json_deep_copy(json_object_get(old, "spec"));
	json_t *ra = json_object_get(a, "resources"), *rb = json_object_get(b, "resources");
	json_object_del(ra, "requests");
	json_object_del(rb, "requests");
	/* the server binds claims: volumeName may go from unset to set */
	if (empty(json_object_get(b, "volumeName")))
		json_object_del(a, "volumeName"), json_object_del(b, "volumeName");
	if (!json_equal(a ? a : json_null(), b ? b : json_null()))
		obj_verr_add(v, "spec",
		             "spec: Forbidden: spec is immutable after creation except "
		             "resources.requests and volumeAttributesClassName for bound claims");
	json_decref(a);
	json_decref(b);
}

int obj_validate_update(const obj_kind *k, const json_t *obj, const json_t *old,
                        const obj_lines *lines, k9_err *e)
{
	obj_verr v;
	k9_err first;
	int rc = obj_validate(k, obj, lines, &first);
	obj_verr_init(&v, lines, obj);
	if (rc < 0) {
		/* keep obj_validate's errors, add the update errors after them */
		const char *colon = strstr(first.msg, " is invalid: ");
		buf_puts(&v.b, colon ? colon + 13 : first.msg);
		v.n = 1;
	}
	if (json_is_object(old)) {
		check_immutable(&v, k, obj, old);
		if (!strcmp(k->kind, "Pod"))
			check_pod(&v, obj, old);
		else if (!strcmp(k->kind, "Secret") || !strcmp(k->kind, "ConfigMap"))
			check_data_immutable(&v, k, obj, old);
		else if (!strcmp(k->kind, "PersistentVolumeClaim"))
			check_pvc(&v, obj, old);
	}
	return obj_verr_finish(&v, k, obj, e);
}
