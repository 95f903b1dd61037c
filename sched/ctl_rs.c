/*
 * ctl_rs.c - the ReplicaSet controller: keeps spec.replicas pods made from
 * the template, each with a controlling ownerReference to the set; replaces
 * pods that are deleted or fail; reports status.
 *
 * Like Kubernetes' it keeps "expectations": after creating or deleting
 * pods it waits until the pod watch has shown them (or 30 s pass) before it
 * counts again, so a slow watch never makes it create twice.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "kube9/obj.h"
#include "kube9/util.h"

#define BURST 500 /* pods created or deleted per sync at most */

typedef struct expect {
	int adds, dels;
	time_t since;
} expect;

static ctl *C;
static tree_queue *Q;
static pthread_mutex_t elock = PTHREAD_MUTEX_INITIALIZER;
static k9_map expects; /* RS key -> expect */
static ctl_rate status_rate = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The key of the ReplicaSet controlling pod o, in out; false if none. */
static bool rs_of(const json_t *o, char *out, size_t n)
{
	size_t i;
	const json_t *r;
	json_array_foreach(json_object_get(json_object_get(o, "metadata"), "ownerReferences"), i, r)
	{
		const char *kind = json_string_value(json_object_get(r, "kind"));
		if (json_is_true(json_object_get(r, "controller")) && kind &&
		    !strcmp(kind, "ReplicaSet")) {
			snprintf(out, n, "%s/%s", tree_meta(o, "namespace"),
			         json_string_value(json_object_get(r, "name")) ?: "");
			return true;
		}
	}
	return false;
}

static void observe(const char *key, int adds, int dels)
{
	pthread_mutex_lock(&elock);
	expect *e = k9_map_get(&expects, key);
	if (e) {
		e->adds -= adds;
		e->dels -= dels;
	}
	pthread_mutex_unlock(&elock);
}

static void rs_event(ctl *c, int res, const char *type, json_t *old, json_t *obj)
{
	(void)c;
	char key[512];
	if (!strcmp(type, "SYNCED"))
		return;
	if (res == CTL_RS) {
		tree_key(obj ? obj : old, key, sizeof key);
		tree_queue_add(Q, key);
		return;
	}
	if (res != CTL_PODS || !rs_of(obj ? obj : old, key, sizeof key))
		return;
	bool was_del =
	    old && json_object_get(json_object_get(old, "metadata"), "deletionTimestamp");
	bool is_del = obj && json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp");
	if (!strcmp(type, "ADDED"))
		observe(key, 1, 0);
	else if ((!obj && !was_del) || (!was_del && is_del))
		observe(key, 0, 1);
	tree_queue_add(Q, key);
}

/* Kubernetes' alphabet for generated names: no vowels, no look-alikes. */
static void suffix(char out[6])
{
	static const char a[] = "bcdfghjklmnpqrstvwxz2456789";
	for (int i = 0; i < 5; i++)
		out[i] = a[rand() % (int)(sizeof a - 1)];
	out[5] = 0;
}

static int create_pod(const json_t *rs, char *name_out, size_t n)
{
	const json_t *tpl = json_object_get(json_object_get(rs, "spec"), "template");
	const json_t *tm = json_object_get(tpl, "metadata");
	const char *ns = tree_meta(rs, "namespace"), *rsname = tree_meta(rs, "name");
	for (int attempt = 0; attempt < 5; attempt++) {
		char sfx[6], name[300], path[600];
		suffix(sfx);
		snprintf(name, sizeof name, "%.56s-%s", rsname, sfx);
		json_t *meta =
		    json_pack("{s:s,s:s,s:s,s:[{s:s,s:s,s:s,s:s,s:b,s:b}]}", "name", name,
		              "namespace", ns, "generateName", "", "ownerReferences", "apiVersion",
		              "apps/v1", "kind", "ReplicaSet", "name", rsname, "uid",
		              tree_meta(rs, "uid"), "controller", 1, "blockOwnerDeletion", 1);
		char gen[300];
		snprintf(gen, sizeof gen, "%.57s-", rsname);
		json_object_set_new(meta, "generateName", json_string(gen));
		if (json_object_get(tm, "labels"))
			json_object_set(meta, "labels", json_object_get(tm, "labels"));
		if (json_object_get(tm, "annotations"))
			json_object_set(meta, "annotations", json_object_get(tm, "annotations"));
		json_t *pod = json_pack("{s:s,s:s,s:o,s:O}", "apiVersion", "v1", "kind", "Pod",
		                        "metadata", meta, "spec", json_object_get(tpl, "spec"));
		ctl_path(path, sizeof path, CTL_PODS, ns, name, "json");
		int rc = tree_put_json(path, pod, true);
		json_decref(pod);
		if (rc != -EEXIST) {
			snprintf(name_out, n, "%s", name);
			return rc;
		}
	}
	return -EEXIST;
}

typedef struct pinfo {
	json_t *pod;
	int rank; /* deleted first: 0 unassigned, 1 not ready, 2 ready */
	double age;
} pinfo;

static int by_rank(const void *a, const void *b)
{
	const pinfo *x = a, *y = b;
	if (x->rank != y->rank)
		return x->rank - y->rank;
	return x->age < y->age ? -1 : x->age > y->age; /* newest first */
}

static bool ready(const json_t *pod)
{
	const char *r = obj_condition(pod, "Ready");
	return r && !strcmp(r, "True");
}

/* The active pods a ReplicaSet controls; fills *nready. */
static pinfo *owned_pods(const json_t *rs, size_t *n, int *nready)
{
	size_t np;
	json_t **all = ctl_controlled(C, tree_meta(rs, "uid"), CTL_PODS, &np);
	pinfo *v = xcalloc(np + 1, sizeof *v);
	*n = 0;
	*nready = 0;
	for (size_t i = 0; i < np; i++) {
		json_t *p = all[i];
		if (!obj_pod_active(p)) {
			json_decref(p);
			continue;
		}
		const char *node =
		    json_string_value(json_object_get(json_object_get(p, "spec"), "nodeName"));
		bool r = ready(p);
		*nready += r;
		v[(*n)++] = (pinfo){p,
		                    !node ? 0
		                    : !r  ? 1
		                          : 2,
		                    tree_age(tree_meta(p, "creationTimestamp"))};
	}
	free(all); /* the references moved to v */
	return v;
}

static int write_status(const char *key, const json_t *rs, int replicas, int nready)
{
	const json_t *st = json_object_get(rs, "status");
	json_int_t gen =
	    json_integer_value(json_object_get(json_object_get(rs, "metadata"), "generation"));
	json_t *want = json_pack("{s:i,s:i,s:i,s:i,s:I}", "replicas", replicas,
	                         "fullyLabeledReplicas", replicas, "readyReplicas", nready,
	                         "availableReplicas", nready, "observedGeneration", gen);
	bool same = true;
	const char *k;
	json_t *v;
	json_object_foreach(want, k, v) same =
	    same && json_integer_value(v) == json_integer_value(json_object_get(st, k));
	int rc = 0;
	double wait;
	if (!same && !ctl_rate_ok(&status_rate, key, 1.0, &wait)) {
		tree_queue_add_after(Q, key, wait); /* at most one status a second */
		same = true;
	}
	if (!same) {
		rc = tree_put_status("replicasets", rs, want);
	}
	json_decref(want);
	return rc;
}

static int rs_sync(void *arg, const char *key)
{
	(void)arg;
	json_t *rs = ctl_get(C, CTL_RS, key);
	if (rs && !ctl_synced(C)) {
		/* its pods may not all be in yet: counting now could create too many */
		json_decref(rs);
		tree_queue_add_after(Q, key, 0.2);
		return 0;
	}
	if (!rs || json_object_get(json_object_get(rs, "metadata"), "deletionTimestamp")) {
		pthread_mutex_lock(&elock);
		free(k9_map_del(&expects, key));
		pthread_mutex_unlock(&elock);
		if (!rs)
			ctl_rate_forget(&status_rate, key);
		json_decref(rs);
		return 0;
	}
	pthread_mutex_lock(&elock);
	expect *e = k9_map_get(&expects, key);
	bool waiting = e && (e->adds > 0 || e->dels > 0) && time(NULL) - e->since < 30;
	pthread_mutex_unlock(&elock);
	if (waiting) {
		json_decref(rs);
		return 0; /* the pod events will bring it back */
	}
	json_t *rep = json_object_get(json_object_get(rs, "spec"), "replicas");
	long want = json_is_integer(rep) ? (long)json_integer_value(rep) : 1;
	size_t n;
	int nready;
	pinfo *pods = owned_pods(rs, &n, &nready);
	long diff = (long)n - want;
	int rc = 0;
	if (diff) {
		long todo = labs(diff) < BURST ? labs(diff) : BURST;
		pthread_mutex_lock(&elock);
		e = k9_map_get(&expects, key);
		if (!e) {
			e = xcalloc(1, sizeof *e);
			k9_map_put(&expects, key, e);
		}
		e->adds = diff < 0 ? (int)todo : 0;
		e->dels = diff > 0 ? (int)todo : 0;
		e->since = time(NULL);
		pthread_mutex_unlock(&elock);
		if (diff < 0) {
			for (long i = 0; i < todo; i++) {
				char name[300];
				int r = create_pod(rs, name, sizeof name);
				if (r < 0) {
					observe(key, 1, 0);
					log_warn("replicaset %s: creating a pod: %s", key,
					         strerror(-r));
					rc = -1;
				}
			}
			log_debug("replicaset %s: created %ld pods", key, todo);
		} else {
			qsort(pods, n, sizeof *pods, by_rank);
			for (long i = 0; i < todo; i++) {
				char path[600];
				ctl_path(path, sizeof path, CTL_PODS,
				         tree_meta(pods[i].pod, "namespace"),
				         tree_meta(pods[i].pod, "name"), "json");
				int r = tree_unlink(path);
				if (r < 0 && r != -ENOENT) {
					observe(key, 0, 1);
					log_warn("replicaset %s: deleting %s: %s", key, path,
					         strerror(-r));
					rc = -1;
				}
			}
			log_debug("replicaset %s: deleted %ld pods", key, todo);
		}
	}
	if (write_status(key, rs, (int)n, nready) < 0)
		rc = -1;
	for (size_t i = 0; i < n; i++)
		json_decref(pods[i].pod);
	free(pods);
	json_decref(rs);
	return rc;
}

static void rs_start(ctl *c)
{
	C = c;
	Q = tree_queue_new();
	tree_queue_run(Q, c->o.workers, rs_sync, NULL);
}

const ctl_loop ctl_rs_loop = {"replicasets", rs_start, rs_event};
