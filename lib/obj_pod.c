/*
 * obj_pod.c - what the scheduler, the controllers and the node agents read
 * from pods and nodes: resource requests, conditions, owners.
 */
#include <string.h>

#include "kube9/obj.h"

int64_t obj_qty_milli(const json_t *q)
{
	int64_t v = 0;
	k9_err e;
	if (json_is_string(q) && obj_quantity_parse(json_string_value(q), &v, &e) == 0)
		return v;
	if (json_is_integer(q))
		return json_integer_value(q) * 1000;
	return 0;
}

int64_t obj_qty_units(const json_t *q)
{
	int64_t m = obj_qty_milli(q);
	return m / 1000 + (m % 1000 != 0);
}

static void container_requests(const json_t *c, int64_t *cpu, int64_t *mem)
{
	const json_t *res = json_object_get(c, "resources");
	const json_t *req = json_object_get(res, "requests"), *lim = json_object_get(res, "limits");
	const json_t *qc = json_object_get(req, "cpu") ?: json_object_get(lim, "cpu");
	const json_t *qm = json_object_get(req, "memory") ?: json_object_get(lim, "memory");
	*cpu = qc ? obj_qty_milli(qc) : 0;
	*mem = qm ? obj_qty_units(qm) : 0;
}

void obj_pod_requests(const json_t *pod, int64_t *cpu_m, int64_t *mem)
{
	const json_t *spec = json_object_get(pod, "spec");
	int64_t c = 0, m = 0, ic = 0, im = 0, x, y;
	size_t i;
	const json_t *k;
	json_array_foreach(json_object_get(spec, "containers"), i, k)
	{
		container_requests(k, &x, &y);
		c += x;
		m += y;
	}
	json_array_foreach(json_object_get(spec, "initContainers"), i, k)
	{
		container_requests(k, &x, &y);
		ic = x > ic ? x : ic;
		im = y > im ? y : im;
	}
	*cpu_m = c > ic ? c : ic;
	*mem = m > im ? m : im;
}

const char *obj_condition(const json_t *o, const char *type)
{
	size_t i;
	const json_t *c;
	json_array_foreach(json_object_get(json_object_get(o, "status"), "conditions"), i, c)
	{
		const char *t = json_string_value(json_object_get(c, "type"));
		if (t && !strcmp(t, type))
			return json_string_value(json_object_get(c, "status"));
	}
	return NULL;
}

const char *obj_controller_uid(const json_t *o)
{
	size_t i;
	const json_t *r;
	json_array_foreach(json_object_get(json_object_get(o, "metadata"), "ownerReferences"), i, r) if (
	    json_is_true(json_object_get(
	        r, "controller"))) return json_string_value(json_object_get(r, "uid"));
	return NULL;
}

bool obj_pod_active(const json_t *pod)
{
	const char *phase =
	    json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
	if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
		return false;
	return !json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp");
}
