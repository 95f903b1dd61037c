/*
 * sched_fit.c - which nodes a pod fits, and which of them is best.
 *
 * Filters, in kube-scheduler's order, each giving its reason for a node it
 * rules out: NodeUnschedulable, TaintToleration (a node that is not Ready
 * carries node.kubernetes.io/not-ready), NodeAffinity (nodeSelector and
 * required node affinity), NodePorts, NodeResourcesFit.
 *
 * Scores: LeastAllocated and BalancedAllocation (cpu and memory, 0..100
 * each), and spreading of the pods of one owner over nodes, zones and
 * regions (0..100 each, the fewer already there the better, weighted 2).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube9/obj.h"
#include "kube9/util.h"
#include "scheduler.h"

int sched_port(const char *proto, int port)
{
	int p = !proto || !strcmp(proto, "TCP") ? 0 : !strcmp(proto, "UDP") ? 1 : 2;
	return p << 16 | (port & 0xffff);
}

void sched_node_index(sched_node *n)
{
	n->labels = json_object_get(json_object_get(n->obj, "metadata"), "labels");
	n->taints = json_object_get(json_object_get(n->obj, "spec"), "taints");
	if (!json_array_size(n->taints))
		n->taints = NULL;
}

void sched_req_init(sched_req *r, const json_t *pod, const sched_owner *owner)
{
	memset(r, 0, sizeof *r);
	r->pod = pod;
	r->owner = owner;
	const json_t *spec = json_object_get(pod, "spec");
	r->tolerations = json_object_get(spec, "tolerations");
	r->selector = json_object_get(spec, "nodeSelector");
	if (!json_object_size(r->selector))
		r->selector = NULL;
	r->terms = json_object_get(
	    json_object_get(json_object_get(json_object_get(spec, "affinity"), "nodeAffinity"),
	                    "requiredDuringSchedulingIgnoredDuringExecution"),
	    "nodeSelectorTerms");
	if (!json_array_size(r->terms))
		r->terms = NULL;
	obj_pod_requests(pod, &r->cpu, &r->mem);
	size_t i, j;
	const json_t *c, *p;
	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c)
	    json_array_foreach(json_object_get(c, "ports"), j, p)
	{
		json_int_t hp = json_integer_value(json_object_get(p, "hostPort"));
		if (hp > 0 && r->nports < sizeof r->ports / sizeof r->ports[0])
			r->ports[r->nports++] =
			    sched_port(json_string_value(json_object_get(p, "protocol")), (int)hp);
	}
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* Does toleration t tolerate a taint (key, value, effect)? */
static bool tolerates(const json_t *t, const char *key, const char *value, const char *effect)
{
	const char *tk = str(t, "key"), *op = str(t, "operator"), *te = str(t, "effect");
	if (te[0] && strcmp(te, effect))
		return false;
	if (!tk[0])
		return !strcmp(op, "Exists");
	if (strcmp(tk, key))
		return false;
	if (!strcmp(op, "Exists"))
		return true;
	return !strcmp(str(t, "value"), value);
}

static bool tolerated(const json_t *tols, const char *key, const char *value, const char *effect)
{
	size_t i;
	const json_t *t;
	json_array_foreach(tols, i, t) if (tolerates(t, key, value, effect)) return true;
	return false;
}

static bool label_in(const json_t *labels, const char *key, const json_t *values, bool *has)
{
	const char *v = json_string_value(json_object_get(labels, key));
	*has = v != NULL;
	if (!v)
		return false;
	size_t i;
	const json_t *x;
	json_array_foreach(values, i, x) if (!strcmp(json_string_value(x) ?: "", v)) return true;
	return false;
}

static bool expr_match(const json_t *labels, const json_t *e)
{
	const char *key = str(e, "key"), *op = str(e, "operator");
	const json_t *vals = json_object_get(e, "values");
	bool has;
	bool in = label_in(labels, key, vals, &has);
	if (!strcmp(op, "In"))
		return in;
	if (!strcmp(op, "NotIn"))
		return !in;
	if (!strcmp(op, "Exists"))
		return has;
	if (!strcmp(op, "DoesNotExist"))
		return !has;
	if (!strcmp(op, "Gt") || !strcmp(op, "Lt")) {
		const char *v = json_string_value(json_object_get(labels, key));
		const char *w = json_string_value(json_array_get(vals, 0));
		if (!v || !w)
			return false;
		long long a = strtoll(v, NULL, 10), b = strtoll(w, NULL, 10);
		return op[0] == 'G' ? a > b : a < b;
	}
	return false;
}

static bool affinity_match(const sched_req *r, const sched_node *n)
{
	const json_t *labels = n->labels, *node = n->obj;
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)r->selector, k, v)
	{
		const char *have = json_string_value(json_object_get(labels, k));
		if (!have || strcmp(have, json_string_value(v) ?: ""))
			return false;
	}
	const json_t *terms = r->terms;
	if (!terms)
		return true;
	size_t i, j;
	const json_t *t, *e;
	json_array_foreach(terms, i, t)
	{
		bool all = true;
		const json_t *exprs = json_object_get(t, "matchExpressions");
		json_array_foreach(exprs, j, e) all = all && expr_match(labels, e);
		/* matchFields: only metadata.name */
		json_array_foreach(json_object_get(t, "matchFields"), j, e)
		{
			json_t *fake = json_pack("{s:s}", "metadata.name",
			                         str(json_object_get(node, "metadata"), "name"));
			all = all && expr_match(fake, e);
			json_decref(fake);
		}
		if (all &&
		    (json_array_size(exprs) || json_array_size(json_object_get(t, "matchFields"))))
			return true;
	}
	return false;
}

const char *sched_filter(const sched_req *r, const sched_node *n, char *buf, size_t len)
{
	const json_t *tols = r->tolerations;
	if (n->unschedulable &&
	    !tolerated(tols, "node.kubernetes.io/unschedulable", "", "NoSchedule"))
		return "node(s) were unschedulable";
	if (!n->ready && !tolerated(tols, "node.kubernetes.io/not-ready", "", "NoSchedule"))
		return "node(s) had untolerated taint {node.kubernetes.io/not-ready: }";
	size_t i;
	const json_t *t;
	json_array_foreach(n->taints, i, t)
	{
		const char *eff = str(t, "effect");
		if (strcmp(eff, "NoSchedule") && strcmp(eff, "NoExecute"))
			continue;
		if (!tolerated(tols, str(t, "key"), str(t, "value"), eff)) {
			snprintf(buf, len, "node(s) had untolerated taint {%s: %s}", str(t, "key"),
			         str(t, "value"));
			return buf;
		}
	}
	if ((r->selector || r->terms) && !affinity_match(r, n))
		return "node(s) didn't match Pod's node affinity/selector";
	for (size_t a = 0; a < r->nports; a++)
		for (size_t b = 0; b < n->nports; b++)
			if (r->ports[a] == n->ports[b])
				return "node(s) didn't have free ports for the requested pod ports";
	if (n->req_pods + 1 > n->pods)
		return "Too many pods";
	bool cpu = r->cpu && n->req_cpu + r->cpu > n->cpu;
	bool mem = r->mem && n->req_mem + r->mem > n->mem;
	if (cpu && mem)
		return "Insufficient cpu\nInsufficient memory"; /* both count */
	if (cpu)
		return "Insufficient cpu";
	if (mem)
		return "Insufficient memory";
	return NULL;
}

size_t sched_feasible_wanted(size_t n)
{
	if (n < 100)
		return n;
	long pct = 50 - (long)n / 125;
	if (pct < 5)
		pct = 5;
	size_t want = n * (size_t)pct / 100;
	return want < 100 ? 100 : want;
}

static double frac(int64_t used, int64_t cap)
{
	return cap > 0 ? (double)used / (double)cap : 1;
}

/* 0..100: the fewer of the owner's pods already there (of the most anywhere), the better. */
static double spread(int count, int max)
{
	return max > 0 ? 100.0 * (max - count) / max : 100;
}

double sched_score(const sched_req *r, const sched_node *n, int max_node, int max_zone,
                   int max_region)
{
	double fc = frac(n->req_cpu + r->cpu, n->cpu), fm = frac(n->req_mem + r->mem, n->mem);
	double least = ((1 - fmin(fc, 1)) + (1 - fmin(fm, 1))) * 50;
	double balanced = 100 * (1 - fabs(fc - fm));
	double s = least + balanced;
	if (r->owner) {
		int cn = (int)(intptr_t)k9_map_get(&r->owner->by_node, n->name);
		double sp = spread(cn, max_node);
		int parts = 1;
		if (n->zone >= 0) {
			sp += spread(r->owner->zone[n->zone], max_zone);
			parts++;
		}
		if (n->region >= 0) {
			sp += spread(r->owner->region[n->region], max_region);
			parts++;
		}
		s += 2 * sp / parts;
	}
	return s;
}

struct msgs {
	char **v;
	size_t n;
};

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct reason_count {
	char *reason;
	size_t count;
} reason_count;

static void gather(void *val, void *arg)
{
	reason_count *rc = val;
	struct msgs *m = arg;
	m->v[m->n++] = xasprintf("%zu %s", rc->count, rc->reason);
}

void sched_reasons_add(k9_map *m, const char *reasons)
{
	const char *p = reasons;
	while (*p) {
		size_t l = strcspn(p, "\n");
		char *one = xstrndup(p, l);
		reason_count *rc = k9_map_get(m, one);
		if (!rc) {
			rc = xcalloc(1, sizeof *rc);
			rc->reason = xstrdup(one);
			k9_map_put(m, one, rc);
		}
		rc->count++;
		free(one);
		p += l + (p[l] == '\n');
	}
}

static void free_rc(void *val, void *arg)
{
	(void)arg;
	reason_count *rc = val;
	free(rc->reason);
	free(rc);
}

void sched_reasons_free(k9_map *m)
{
	k9_map_each(m, free_rc, NULL);
	k9_map_free(m);
}

char *sched_fit_message(size_t nnodes, const k9_map *reasons)
{
	struct msgs m = {xcalloc(reasons->n + 1, sizeof(char *)), 0};
	k9_map_each(reasons, gather, &m);
	qsort(m.v, m.n, sizeof *m.v, cmp);
	k9_buf b = {0};
	buf_printf(&b, "0/%zu nodes are available", nnodes);
	for (size_t i = 0; i < m.n; i++) {
		buf_printf(&b, "%s%s", i ? ", " : ": ", m.v[i]);
		free(m.v[i]);
	}
	buf_puts(&b, ".");
	free(m.v);
	return buf_steal(&b, NULL);
}
