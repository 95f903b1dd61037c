/*
 * obj_kinds.c - the table of served kinds and its lookups.
 */
#include <stdio.h>
#include <string.h>

#include "kube9/obj.h"

static const obj_kind kinds[] = {
    {"", "v1", "Namespace", "namespaces", "namespace", "ns", false, true, false, "v1"},
    {"", "v1", "Node", "nodes", "node", "no", false, true, false, "v1"},
    {"", "v1", "Pod", "pods", "pod", "po", true, true, false, "v1"},
    {"", "v1", "Service", "services", "service", "svc", true, true, false, "v1"},
    {"", "v1", "Endpoints", "endpoints", "endpoints", "ep", true, false, false, "v1"},
    {"", "v1", "Secret", "secrets", "secret", "", true, false, false, "v1"},
    {"", "v1", "ConfigMap", "configmaps", "configmap", "cm", true, false, false, "v1"},
    {"", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", "pv", false, true,
     false, "v1"},
    {"", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", "pvc",
     true, true, false, "v1"},
    {"", "v1", "Event", "events", "event", "ev", true, false, false, "v1"},
    {"apps", "v1", "Deployment", "deployments", "deployment", "deploy", true, true, true, "v1"},
    {"apps", "v1", "ReplicaSet", "replicasets", "replicaset", "rs", true, true, true, "v1"},
    {"apps", "v1beta2", "Deployment", "deployments", "deployment", "deploy", true, true, true,
     "v1"},
    {"apps", "v1beta2", "ReplicaSet", "replicasets", "replicaset", "rs", true, true, true, "v1"},
};

const obj_kind *obj_kinds(size_t *n)
{
	*n = sizeof kinds / sizeof kinds[0];
	return kinds;
}

const obj_kind *obj_kind_by_resource(const char *group, const char *version, const char *plural)
{
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (!strcmp(kinds[i].group, group ? group : "") &&
		    !strcmp(kinds[i].version, version) && !strcmp(kinds[i].plural, plural))
			return &kinds[i];
	return NULL;
}

const obj_kind *obj_kind_by_gvk(const char *api_version, const char *kind)
{
	if (!api_version || !kind)
		return NULL;
	const char *slash = strchr(api_version, '/');
	size_t gn = slash ? (size_t)(slash - api_version) : 0;
	const char *version = slash ? slash + 1 : api_version;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strlen(kinds[i].group) == gn && !strncmp(kinds[i].group, api_version, gn) &&
		    !strcmp(kinds[i].version, version) && !strcmp(kinds[i].kind, kind))
			return &kinds[i];
	return NULL;
}

void obj_kind_api_version(const obj_kind *k, char *out, size_t n)
{
	if (k->group[0])
		snprintf(out, n, "%s/%s", k->group, k->version);
	else
		snprintf(out, n, "%s", k->version);
}
