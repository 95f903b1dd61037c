/*
 * ctl_logic.c - the pure parts of the controllers (see ctl_logic.h): what
 * an Endpoints object should say, how a silent node is marked, which pods
 * wait out an unreachable node, and list edits on owners and taints.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl_logic.h"
#include "kube9/map.h"
#include "kube9/obj.h"
#include "kube9/tree.h"
#include "kube9/util.h"

static const char *str_or(const json_t *o, const char *k, const char *def)
{
	const char *s = obj_str(o, k);
	return s && s[0] ? s : def;
}

bool ctl_sel_match(const json_t *selector, const json_t *labels)
{
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)selector, k, v)
	{
		const char *have = obj_str(labels, k);
		if (!have || !json_is_string(v) || strcmp(have, json_string_value(v)))
			return false;
	}
	return true;
}

/* The container port named name with protocol proto in the pod, or -1. */
static json_int_t named_port(const json_t *pod, const char *name, const char *proto)
{
	size_t i, j;
	const json_t *c, *p;
	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c)
	    json_array_foreach(json_object_get(c, "ports"), j, p)
	{
		const char *n = obj_str(p, "name");
		if (n && !strcmp(n, name) && !strcmp(str_or(p, "protocol", "TCP"), proto) &&
		    json_is_integer(json_object_get(p, "containerPort")))
			return json_integer_value(json_object_get(p, "containerPort"));
	}
	return -1;
}

/* The endpoint ports of pod for the service's ports (a new array; ports that do not resolve
 * are left out, as the endpoints controller does). */
static json_t *pod_ports(const json_t *svc_ports, const json_t *pod)
{
	json_t *out = json_array();
	size_t i;
	const json_t *sp;
	json_array_foreach(svc_ports, i, sp)
	{
		const char *proto = str_or(sp, "protocol", "TCP");
		const json_t *tp = json_object_get(sp, "targetPort");
		json_int_t port;
		if (json_is_integer(tp))
			port = json_integer_value(tp);
		else if (json_is_string(tp) && json_string_length(tp))
			port = named_port(pod, json_string_value(tp), proto);
		else
			port = json_integer_value(json_object_get(sp, "port"));
		if (port <= 0)
			continue;
		json_t *ep = json_pack("{s:I,s:s}", "port", port, "protocol", proto);
		const char *name = obj_str(sp, "name");
		if (name && name[0])
			json_object_set_new(ep, "name", json_string(name));
		json_array_append_new(out, ep);
	}
	return out;
}

static bool pod_eligible(const json_t *pod)
{
	const json_t *st = json_object_get(pod, "status");
	const char *ip = obj_str(st, "podIP"), *phase = obj_str(st, "phase");
	if (!ip || !ip[0])
		return false;
	if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
		return false;
	return !json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp");
}

static json_t *address_of(const json_t *pod)
{
	const char *node = obj_str(json_object_get(pod, "spec"), "nodeName");
	json_t *a = json_pack("{s:s,s:{s:s,s:s,s:s,s:s}}", "ip",
	                      obj_str(json_object_get(pod, "status"), "podIP"), "targetRef", "kind",
	                      "Pod", "namespace", tree_meta(pod, "namespace"), "name",
	                      tree_meta(pod, "name"), "uid", tree_meta(pod, "uid"));
	if (node && node[0])
		json_object_set_new(a, "nodeName", json_string(node));
	return a;
}

/* One subset being built: the pods that resolved to the same ports. */
typedef struct group {
	char *key; /* the ports, as compact JSON */
	json_t *ports, *ready, *not_ready;
} group;

static int by_key(const void *a, const void *b)
{
	return strcmp((*(group *const *)a)->key, (*(group *const *)b)->key);
}

static int by_ip(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(obj_str(x, "ip"), obj_str(y, "ip"));
	if (c)
		return c;
	return strcmp(obj_str(json_object_get(x, "targetRef"), "uid") ?: "",
	              obj_str(json_object_get(y, "targetRef"), "uid") ?: "");
}

/* addrs sorted by ip (a new array; addrs is consumed). */
static json_t *sorted(json_t *addrs)
{
	size_t n = json_array_size(addrs);
	json_t **v = xcalloc(n ? n : 1, sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(addrs, i));
	qsort(v, n, sizeof *v, by_ip);
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(out, v[i]);
	free(v);
	json_decref(addrs);
	return out;
}

struct collect {
	group **v;
	size_t n;
};

static void collect(void *val, void *arg)
{
	struct collect *c = arg;
	c->v[c->n++] = val;
}

json_t *ctl_ep_subsets(const json_t *svc, json_t *const *pods, size_t n)
{
	const json_t *spec = json_object_get(svc, "spec");
	const json_t *selector = json_object_get(spec, "selector");
	const json_t *svc_ports = json_object_get(spec, "ports");
	k9_map groups = {0};
	for (size_t i = 0; i < n; i++) {
		const json_t *pod = pods[i];
		if (!pod_eligible(pod) ||
		    !ctl_sel_match(selector,
		                   json_object_get(json_object_get(pod, "metadata"), "labels")))
			continue;
		json_t *ports = pod_ports(svc_ports, pod);
		if (json_array_size(svc_ports) && !json_array_size(ports)) {
			json_decref(ports); /* no port of the service resolves on this pod */
			continue;
		}
		char *key = json_dumps(ports, JSON_COMPACT | JSON_SORT_KEYS);
		group *g = k9_map_get(&groups, key);
		if (!g) {
			g = xcalloc(1, sizeof *g);
			g->key = key;
			g->ports = json_incref(ports);
			g->ready = json_array();
			g->not_ready = json_array();
			k9_map_put(&groups, key, g);
		} else {
			free(key);
		}
		json_decref(ports);
		bool ready = !strcmp(obj_condition(pod, "Ready") ?: "", "True");
		json_array_append_new(ready ? g->ready : g->not_ready, address_of(pod));
	}
	struct collect c = {xcalloc(groups.n ? groups.n : 1, sizeof *c.v), 0};
	k9_map_each(&groups, collect, &c);
	qsort(c.v, c.n, sizeof *c.v, by_key);
	json_t *subsets = json_array();
	for (size_t i = 0; i < c.n; i++) {
		group *g = c.v[i];
		json_t *s = json_object();
		if (json_array_size(g->ready))
			json_object_set_new(s, "addresses", sorted(json_incref(g->ready)));
		if (json_array_size(g->not_ready))
			json_object_set_new(s, "notReadyAddresses",
			                    sorted(json_incref(g->not_ready)));
		if (json_array_size(g->ports))
			json_object_set(s, "ports", g->ports);
		json_array_append_new(subsets, s);
		json_decref(g->ports);
		json_decref(g->ready);
		json_decref(g->not_ready);
		free(g->key);
		free(g);
	}
	free(c.v);
	k9_map_free(&groups);
	return subsets;
}

bool ctl_ep_same(const json_t *a, const json_t *b)
{
	bool ea = !a || json_is_null(a) || (json_is_array(a) && !json_array_size(a));
	bool eb = !b || json_is_null(b) || (json_is_array(b) && !json_array_size(b));
	if (ea || eb)
		return ea && eb;
	return json_equal((json_t *)a, (json_t *)b);
}

#define UNREACHABLE "node.kubernetes.io/unreachable"

double ctl_unreachable_grace(const json_t *pod, double def)
{
	double best = -2; /* no matching toleration yet */
	size_t i;
	const json_t *t;
	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "tolerations"), i, t)
	{
		const char *key = str_or(t, "key", ""), *op = str_or(t, "operator", "Equal");
		const char *effect = str_or(t, "effect", "");
		if (effect[0] && strcmp(effect, "NoExecute"))
			continue;
		if (!strcmp(op, "Exists")) {
			if (key[0] && strcmp(key, UNREACHABLE))
				continue;
		} else if (strcmp(key, UNREACHABLE) || str_or(t, "value", "")[0]) {
			continue; /* Equal: the taint's value is empty */
		}
		const json_t *s = json_object_get(t, "tolerationSeconds");
		if (!json_is_integer(s)) {
			if (best == -2)
				best = -1;
			continue;
		}
		double v = json_integer_value(s) < 0 ? 0 : (double)json_integer_value(s);
		if (best < 0 || v < best)
			best = v; /* the shortest bounded toleration wins, as in Kubernetes */
	}
	return best == -2 ? def : best;
}

json_t *ctl_node_conds_unknown(const json_t *conds, const char *now)
{
	json_t *out = json_array();
	bool ready = false;
	size_t i;
	const json_t *c;
	json_array_foreach(conds, i, c)
	{
		json_t *d = json_deep_copy(c);
		json_object_set_new(d, "status", json_string("Unknown"));
		json_object_set_new(d, "reason", json_string("NodeStatusUnknown"));
		json_object_set_new(d, "message",
		                    json_string("Kubelet stopped posting node status."));
		json_object_set_new(d, "lastTransitionTime", json_string(now));
		ready |= !strcmp(str_or(c, "type", ""), "Ready");
		json_array_append_new(out, d);
	}
	if (!ready)
		json_array_append_new(
		    out, json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", "Ready", "status", "Unknown",
		                   "reason", "NodeStatusNeverUpdated", "message",
		                   "Kubelet never posted node status.", "lastTransitionTime", now));
	return out;
}

static bool taint_is(const json_t *t, const char *key, const char *effect)
{
	return !strcmp(str_or(t, "key", ""), key) && !strcmp(str_or(t, "effect", ""), effect);
}

bool ctl_taint_has(const json_t *taints, const char *key, const char *effect)
{
	size_t i;
	const json_t *t;
	json_array_foreach(taints, i, t) if (taint_is(t, key, effect)) return true;
	return false;
}

json_t *ctl_taints_without(const json_t *taints, const char *key, const char *effect)
{
	json_t *out = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(taints, i, t) if (!taint_is(t, key, effect)) json_array_append(out, t);
	return out;
}

json_t *ctl_refs_without(const json_t *refs, const char *uid)
{
	json_t *out = json_array();
	size_t i;
	json_t *r;
	json_array_foreach(refs, i, r) if (strcmp(str_or(r, "uid", ""), uid))
	    json_array_append(out, r);
	return out;
}

bool ctl_has_string(const json_t *arr, const char *s)
{
	size_t i;
	const json_t *v;
	json_array_foreach(arr, i, v) if (!strcmp(json_string_value(v) ?: "", s)) return true;
	return false;
}

json_t *ctl_strings_without(const json_t *arr, const char *s)
{
	json_t *out = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) if (strcmp(json_string_value(v) ?: "", s))
	    json_array_append(out, v);
	return out;
}
