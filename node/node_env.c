/*
 * node_env.c - a container's environment, as the kubelet makes it: the
 * image's Env, then envFrom (configMapRef, secretRef, with prefix), then env
 * in order (value with $(VAR) of what came before, valueFrom secretKeyRef,
 * configMapKeyRef, fieldRef), read from the pod's own namespace only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube9/obj.h"
#include "kube9/tree.h"
#include "kube9/util.h"
#include "node_crun.h"

static const char *field(const node_pod_ref *r, const char *path)
{
	const json_t *meta = json_object_get(r->pod, "metadata");
	if (!strcmp(path, "metadata.name"))
		return obj_str(meta, "name");
	if (!strcmp(path, "metadata.namespace"))
		return obj_str(meta, "namespace");
	if (!strcmp(path, "metadata.uid"))
		return obj_str(meta, "uid");
	if (!strcmp(path, "spec.nodeName"))
		return r->node_name;
	if (!strcmp(path, "spec.serviceAccountName"))
		return obj_str(json_object_get(r->pod, "spec"), "serviceAccountName") ?: "default";
	if (!strcmp(path, "status.podIP"))
		return r->ip;
	if (!strcmp(path, "status.hostIP"))
		return r->host_ip;
	if (!strncmp(path, "metadata.labels['", 17) ||
	    !strncmp(path, "metadata.annotations['", 22)) {
		bool lab = path[9] == 'l';
		char key[256];
		snprintf(key, sizeof key, "%s", path + (lab ? 17 : 22));
		key[strcspn(key, "'")] = 0;
		return obj_str(json_object_get(meta, lab ? "labels" : "annotations"), key) ?: "";
	}
	return NULL;
}

static const char *key_ref(const node_pod_ref *r, const json_t *ref, bool secret, json_t **keep,
                           char *err, size_t n)
{
	const char *name = obj_str(ref, "name") ?: "", *key = obj_str(ref, "key") ?: "";
	json_t *o = node_vol_read(r, secret ? "secrets" : "configmaps", name);
	json_t *data = o ? node_vol_data(o, secret) : NULL;
	json_decref(o);
	const char *v = obj_str(data, key);
	if (!v && !json_is_true(json_object_get(ref, "optional")))
		snprintf(err, n, "%s \"%s\"%s", secret ? "secret" : "configmap", name,
		         data ? " has no such key" : " not found");
	*keep = data;
	return v;
}

json_t *node_vol_env(const node_pod_ref *r, const json_t *ctr, const json_t *imgcfg, char *err,
                     size_t n)
{
	json_t *env = json_object();
	size_t i;
	const json_t *e;
	json_array_foreach(json_object_get(imgcfg, "Env"), i, e)
	{
		const char *s = json_string_value(e) ?: "", *eq = strchr(s, '=');
		if (!eq)
			continue;
		char *k = xstrndup(s, (size_t)(eq - s));
		json_object_set_new(env, k, json_string(eq + 1));
		free(k);
	}
	err[0] = 0;
	json_array_foreach(json_object_get(ctr, "envFrom"), i, e)
	{
		const json_t *ref = json_object_get(e, "secretRef");
		bool secret = ref != NULL;
		if (!ref)
			ref = json_object_get(e, "configMapRef");
		json_t *o =
		    node_vol_read(r, secret ? "secrets" : "configmaps", obj_str(ref, "name") ?: "");
		if (!o) {
			if (json_is_true(json_object_get(ref, "optional")))
				continue;
			snprintf(err, n, "%s \"%s\" not found", secret ? "secret" : "configmap",
			         obj_str(ref, "name") ?: "");
			break;
		}
		json_t *data = node_vol_data(o, secret);
		const char *k;
		json_t *v;
		json_object_foreach(data, k, v)
		{
			char *full = xasprintf("%s%s", obj_str(e, "prefix") ?: "", k);
			json_object_set(env, full, v);
			free(full);
		}
		json_decref(data);
		json_decref(o);
	}
	json_array_foreach(json_object_get(ctr, "env"), i, e)
	{
		if (err[0])
			break;
		const char *name = obj_str(e, "name") ?: "";
		const json_t *vf = json_object_get(e, "valueFrom");
		json_t *keep = NULL;
		const char *val = NULL;
		char *own = NULL;
		if (!vf)
			val = own = node_spec_expand(obj_str(e, "value") ?: "", env);
		else if (json_object_get(vf, "secretKeyRef"))
			val = key_ref(r, json_object_get(vf, "secretKeyRef"), true, &keep, err, n);
		else if (json_object_get(vf, "configMapKeyRef"))
			val = key_ref(r, json_object_get(vf, "configMapKeyRef"), false, &keep, err,
			              n);
		else if (json_object_get(vf, "fieldRef")) {
			const char *fp =
			    obj_str(json_object_get(vf, "fieldRef"), "fieldPath") ?: "";
			if (!(val = field(r, fp)))
				snprintf(err, n, "env %s: fieldPath %s is not supported", name, fp);
		} else
			snprintf(err, n,
			         "env %s: only value, secretKeyRef, configMapKeyRef and fieldRef "
			         "are supported",
			         name);
		if (val)
			json_object_set_new(env, name, json_string(val));
		free(own);
		json_decref(keep);
	}
	if (err[0]) {
		json_decref(env);
		return NULL;
	}
	return env;
}
