/*
 * obj_default.c - the Kubernetes defaults of each kind, set only where a
 * field is absent (or null), so applying them twice changes nothing.
 */
#include <string.h>

#include "obj_priv.h"

/* Set o[key] = v (a new reference) unless present; v is consumed either way. */
static void dflt(json_t *o, const char *key, json_t *v)
{
	const json_t *cur = json_object_get(o, key);
	if (json_is_object(o) && (!cur || json_is_null(cur)))
		json_object_set_new(o, key, v);
	else
		json_decref(v);
}

/* o[key] as an object, created when absent; NULL if o[key] is something else. */
static json_t *child(json_t *o, const char *key)
{
	dflt(o, key, json_object());
	json_t *c = json_object_get(o, key);
	return json_is_object(c) ? c : NULL;
}

/* The image has no tag (or :latest) -> Always; else IfNotPresent. */
static const char *pull_policy(const char *image)
{
	if (!image)
		return "Always";
	if (strchr(image, '@'))
		return "IfNotPresent";
	const char *slash = strrchr(image, '/');
	const char *colon = strrchr(slash ? slash : image, ':');
	return !colon || !strcmp(colon, ":latest") ? "Always" : "IfNotPresent";
}

static void containers(json_t *list)
{
	size_t i, j;
	json_t *c, *p;
	json_array_foreach(list, i, c)
	{
		if (!json_is_object(c))
			continue;
		dflt(c, "imagePullPolicy",
		     json_string(pull_policy(json_string_value(json_object_get(c, "image")))));
		dflt(c, "terminationMessagePath", json_string("/dev/termination-log"));
		dflt(c, "terminationMessagePolicy", json_string("File"));
		json_array_foreach(json_object_get(c, "ports"), j, p)
		    dflt(p, "protocol", json_string("TCP"));
	}
}

static void pod_spec(json_t *spec)
{
	if (!spec)
		return;
	dflt(spec, "restartPolicy", json_string("Always"));
	dflt(spec, "terminationGracePeriodSeconds", json_integer(30));
	dflt(spec, "dnsPolicy", json_string("ClusterFirst"));
	dflt(spec, "schedulerName", json_string("default-scheduler"));
	dflt(spec, "securityContext", json_object());
	containers(json_object_get(spec, "containers"));
	containers(json_object_get(spec, "initContainers"));
}

static void def_pod(json_t *obj)
{
	pod_spec(child(obj, "spec"));
}

static void def_service(json_t *obj)
{
	json_t *spec = child(obj, "spec"), *p;
	size_t i;
	if (!spec)
		return;
	dflt(spec, "type", json_string("ClusterIP"));
	dflt(spec, "sessionAffinity", json_string("None"));
	json_array_foreach(json_object_get(spec, "ports"), i, p)
	{
		if (!json_is_object(p))
			continue;
		dflt(p, "protocol", json_string("TCP"));
		json_t *port = json_object_get(p, "port");
		if (port)
			dflt(p, "targetPort", json_deep_copy(port));
	}
}

static void template_spec(json_t *spec)
{
	json_t *tmpl = spec ? json_object_get(spec, "template") : NULL;
	if (json_is_object(tmpl))
		pod_spec(child(tmpl, "spec"));
}

static void def_deployment(json_t *obj)
{
	json_t *spec = child(obj, "spec");
	if (!spec)
		return;
	dflt(spec, "replicas", json_integer(1));
	dflt(spec, "revisionHistoryLimit", json_integer(10));
	dflt(spec, "progressDeadlineSeconds", json_integer(600));
	json_t *st = child(spec, "strategy");
	if (st) {
		dflt(st, "type", json_string("RollingUpdate"));
		const char *type = json_string_value(json_object_get(st, "type"));
		if (type && !strcmp(type, "RollingUpdate")) {
			json_t *ru = child(st, "rollingUpdate");
			dflt(ru, "maxUnavailable", json_string("25%"));
			dflt(ru, "maxSurge", json_string("25%"));
		}
	}
	template_spec(spec);
}

static void def_replicaset(json_t *obj)
{
	json_t *spec = child(obj, "spec");
	if (!spec)
		return;
	dflt(spec, "replicas", json_integer(1));
	template_spec(spec);
}

static void def_secret(json_t *obj)
{
	dflt(obj, "type", json_string("Opaque"));
}

static void def_pvc(json_t *obj)
{
	json_t *spec = child(obj, "spec");
	dflt(spec, "volumeMode", json_string("Filesystem"));
}

static void def_pv(json_t *obj)
{
	json_t *spec = child(obj, "spec");
	dflt(spec, "persistentVolumeReclaimPolicy", json_string("Retain"));
	dflt(spec, "volumeMode", json_string("Filesystem"));
}

static const struct {
	const char *kind;
	void (*apply)(json_t *obj);
} defaults[] = {
    {"Pod", def_pod},
    {"Service", def_service},
    {"Deployment", def_deployment},
    {"ReplicaSet", def_replicaset},
    {"Secret", def_secret},
    {"PersistentVolumeClaim", def_pvc},
    {"PersistentVolume", def_pv},
};

void obj_default(const obj_kind *k, json_t *obj)
{
	if (!k || !json_is_object(obj))
		return;
	for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
		if (!strcmp(defaults[i].kind, k->kind))
			defaults[i].apply(obj);
}
