/*
 * sched_cache.c - the scheduler's picture of the cluster, fed by the node
 * and pod informers: every node's allocatable resources and what the pods
 * counted on it request, the host ports they hold, and, per owner, how many
 * of its pods are on each node, zone and region.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube9/obj.h"
#include "kube9/util.h"
#include "scheduler.h"

static int intern(char **tab, int *n, const char *v)
{
	if (!v || !v[0])
		return -1;
	for (int i = 0; i < *n; i++)
		if (!strcmp(tab[i], v))
			return i;
	if (*n == SCHED_MAX_TOPO)
		return -1;
	tab[*n] = xstrdup(v);
	return (*n)++;
}

sched_owner *sched_owner_get(sched *s, const char *uid, bool create)
{
	if (!uid)
		return NULL;
	sched_owner *o = k9_map_get(&s->owners, uid);
	if (!o && create) {
		o = xcalloc(1, sizeof *o);
		o->uid = xstrdup(uid);
		k9_map_put(&s->owners, uid, o);
	}
	return o;
}

static void owner_count(sched *s, sched_pod *p, int d)
{
	sched_owner *o = sched_owner_get(s, p->owner, d > 0);
	if (!o)
		return;
	intptr_t c = (intptr_t)k9_map_get(&o->by_node, p->node) + d;
	if (c > 0)
		k9_map_put(&o->by_node, p->node, (void *)c);
	else
		k9_map_del(&o->by_node, p->node);
	if (p->zone >= 0)
		o->zone[p->zone] += d;
	if (p->region >= 0)
		o->region[p->region] += d;
	o->total += d;
	if (o->total <= 0) {
		k9_map_del(&s->owners, o->uid);
		k9_map_free(&o->by_node);
		free(o->uid);
		free(o);
	}
}

static void node_add_pod(sched_node *n, const sched_pod *p, int d)
{
	n->req_cpu += d * p->cpu;
	n->req_mem += d * p->mem;
	n->req_pods += d;
	for (size_t i = 0; i < p->nports; i++) {
		if (d > 0) {
			n->ports = xrealloc(n->ports, (n->nports + 1) * sizeof *n->ports);
			n->ports[n->nports++] = p->ports[i];
			continue;
		}
		for (size_t j = 0; j < n->nports; j++)
			if (n->ports[j] == p->ports[i]) {
				n->ports[j] = n->ports[--n->nports];
				break;
			}
	}
}

void sched_assume(sched *s, sched_pod *p, sched_node *n)
{
	p->node = xstrdup(n->name);
	p->zone = n->zone;
	p->region = n->region;
	node_add_pod(n, p, 1);
	owner_count(s, p, 1);
}

/* Count p on the node called name (which may not be known yet). */
static void count_on(sched *s, sched_pod *p, const char *name)
{
	sched_node *n = k9_map_get(&s->node_by_name, name);
	if (n) {
		sched_assume(s, p, n);
		return;
	}
	p->node = xstrdup(name);
	p->zone = p->region = -1;
	owner_count(s, p, 1);
}

void sched_unassume(sched *s, sched_pod *p)
{
	if (!p->node)
		return;
	sched_node *n = k9_map_get(&s->node_by_name, p->node);
	if (n)
		node_add_pod(n, p, -1);
	owner_count(s, p, -1);
	free(p->node);
	p->node = NULL;
	s->changed = true;
}

void sched_push(sched *s, const char *key)
{
	if (k9_map_get(&s->in_active, key))
		return;
	if (s->alen == s->acap) {
		size_t nc = s->acap ? 2 * s->acap : 1024;
		char **a = xmalloc(nc * sizeof *a);
		for (size_t i = 0; i < s->alen; i++)
			a[i] = s->active[(s->ahead + i) % s->acap];
		free(s->active);
		s->active = a;
		s->acap = nc;
		s->ahead = 0;
	}
	s->active[(s->ahead + s->alen++) % s->acap] = xstrdup(key);
	k9_map_put(&s->in_active, key, (void *)1);
	pthread_cond_signal(&s->cond);
}

/* --- nodes --- */

/* Equal JSON values, two absent ones included. */
static bool same_json(const json_t *a, const json_t *b)
{
	return (!a && !b) || (a && b && json_equal((json_t *)a, (json_t *)b));
}

/* Take the node's new object; true when anything a pod's fit depends on changed
 * (not for a mere heartbeat, which only moves timestamps). */
static bool node_update(sched *s, sched_node *n, json_t *obj)
{
	sched_node was = *n;
	bool same_meta = n->obj &&
	                 same_json(json_object_get(json_object_get(n->obj, "metadata"), "labels"),
	                           json_object_get(json_object_get(obj, "metadata"), "labels")) &&
	                 same_json(json_object_get(json_object_get(n->obj, "spec"), "taints"),
	                           json_object_get(json_object_get(obj, "spec"), "taints"));
	json_decref(n->obj);
	n->obj = json_incref(obj);
	sched_node_index(n);
	const json_t *alloc = json_object_get(json_object_get(obj, "status"), "allocatable");
	n->cpu = obj_qty_milli(json_object_get(alloc, "cpu"));
	n->mem = obj_qty_units(json_object_get(alloc, "memory"));
	n->pods = obj_qty_units(json_object_get(alloc, "pods"));
	const char *r = obj_condition(obj, "Ready");
	n->ready = r && !strcmp(r, "True");
	n->unschedulable =
	    json_is_true(json_object_get(json_object_get(obj, "spec"), "unschedulable"));
	const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
	n->zone = intern(s->zones, &s->nzones,
	                 json_string_value(json_object_get(labels, "topology.kubernetes.io/zone")));
	n->region =
	    intern(s->regions, &s->nregions,
	           json_string_value(json_object_get(labels, "topology.kubernetes.io/region")));
	return !same_meta || was.cpu != n->cpu || was.mem != n->mem || was.pods != n->pods ||
	       was.ready != n->ready || was.unschedulable != n->unschedulable;
}

struct recount {
	sched *s;
	sched_node *n;
};

static void recount_pod(void *val, void *arg)
{
	sched_pod *p = val;
	struct recount *rc = arg;
	if (p->node && !strcmp(p->node, rc->n->name)) {
		/* counted while the node was unknown: count it on the node too */
		owner_count(rc->s, p, -1);
		free(p->node);
		p->node = NULL;
		sched_assume(rc->s, p, rc->n);
	}
}

void sched_on_node(void *arg, const char *type, json_t *old, json_t *obj)
{
	sched *s = arg;
	(void)old;
	if (!strcmp(type, "SYNCED"))
		return;
	const char *name = tree_meta(obj ? obj : old, "name");
	pthread_mutex_lock(&s->lock);
	sched_node *n = k9_map_get(&s->node_by_name, name);
	bool changed = true;
	if (!strcmp(type, "DELETED")) {
		if (n) {
			k9_map_del(&s->node_by_name, name);
			for (size_t i = 0; i < s->nnodes; i++)
				if (s->nodes[i] == n) {
					s->nodes[i] = s->nodes[--s->nnodes];
					break;
				}
			json_decref(n->obj);
			free(n->ports);
			free(n->name);
			free(n);
		}
	} else {
		if (!n) {
			n = xcalloc(1, sizeof *n);
			n->name = xstrdup(name);
			if (s->nnodes == s->cap) {
				s->cap = s->cap ? 2 * s->cap : 64;
				s->nodes = xrealloc(s->nodes, s->cap * sizeof *s->nodes);
			}
			s->nodes[s->nnodes++] = n;
			k9_map_put(&s->node_by_name, name, n);
			node_update(s, n, obj);
			struct recount rc = {s, n};
			k9_map_each(&s->pods, recount_pod, &rc);
		} else {
			changed = node_update(s, n, obj);
		}
	}
	if (changed) /* unschedulable pods are tried again */
		s->changed = true;
	pthread_mutex_unlock(&s->lock);
}

/* --- pods --- */

static void pod_free(sched_pod *p)
{
	json_decref(p->obj);
	free(p->key);
	free(p->uid);
	free(p->node);
	free(p->owner);
	free(p->msg);
	free(p);
}

static bool ours(const sched *s, const json_t *pod)
{
	const char *n =
	    json_string_value(json_object_get(json_object_get(pod, "spec"), "schedulerName"));
	return !n || !n[0] || !strcmp(n, s->scheduler_name);
}

void sched_on_pod(void *arg, const char *type, json_t *old, json_t *obj)
{
	sched *s = arg;
	if (!strcmp(type, "SYNCED"))
		return;
	char key[512];
	tree_key(obj ? obj : old, key, sizeof key);
	pthread_mutex_lock(&s->lock);
	sched_pod *p = k9_map_get(&s->pods, key);
	if (p && obj && strcmp(p->uid, tree_meta(obj, "uid"))) {
		/* a new pod under an old name: the old one is gone */
		sched_unassume(s, p);
		k9_map_del(&s->pods, key);
		pod_free(p);
		p = NULL;
	}
	if (!obj) {
		if (p) {
			sched_unassume(s, p);
			k9_map_del(&s->pods, key);
			pod_free(p);
		}
		pthread_mutex_unlock(&s->lock);
		return;
	}
	if (!p) {
		p = xcalloc(1, sizeof *p);
		p->key = xstrdup(key);
		p->uid = xstrdup(tree_meta(obj, "uid"));
		const char *o = obj_controller_uid(obj);
		p->owner = o ? xstrdup(o) : NULL;
		p->zone = p->region = -1;
		sched_req r;
		sched_req_init(&r, obj, NULL);
		p->cpu = r.cpu;
		p->mem = r.mem;
		memcpy(p->ports, r.ports, sizeof r.ports);
		p->nports = r.nports;
		p->state = SP_DONE;
		k9_map_put(&s->pods, key, p);
	}
	json_decref(p->obj);
	p->obj = json_incref(obj);
	const char *node =
	    json_string_value(json_object_get(json_object_get(obj, "spec"), "nodeName"));
	bool active = obj_pod_active(obj);
	if (node && node[0]) {
		if (active) {
			if (p->node && strcmp(p->node, node))
				sched_unassume(s, p); /* bound elsewhere by someone else */
			if (!p->node)
				count_on(s, p, node);
			p->state = SP_BOUND;
		} else {
			sched_unassume(s, p);
			p->state = SP_DONE;
		}
	} else if (!active || !ours(s, obj)) {
		sched_unassume(s, p);
		p->state = SP_DONE;
	} else if (p->state == SP_DONE || p->state == SP_BOUND) {
		p->state = SP_PENDING;
		sched_push(s, key);
	}
	pthread_mutex_unlock(&s->lock);
}
