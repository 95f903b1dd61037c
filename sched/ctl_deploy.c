/*
 * ctl_deploy.c - the Deployment controller: a Deployment owns ReplicaSets,
 * one per pod template it has had (named NAME-HASH, labelled
 * pod-template-hash, annotated deployment.kubernetes.io/revision). The one
 * whose template is the deployment's is the new one; the others are old.
 *
 * RollingUpdate (the default) moves pods from the old sets to the new one
 * within maxSurge (pods above replicas) and maxUnavailable (ready pods
 * below replicas), counting ready pods itself from the pod informer, each
 * set's capped at its spec.replicas (the pods above it are about to go).
 * Recreate scales the old sets to zero first. Writing an earlier template
 * back makes its set the new one again, with the next revision: a rollback.
 * Old sets scaled to zero beyond revisionHistoryLimit are deleted. Replica
 * counts are written to replicasets/NAME.scale.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "kube9/obj.h"
#include "kube9/util.h"

static ctl *C;
static tree_queue *Q;
static ctl_rate status_rate = {.lock = PTHREAD_MUTEX_INITIALIZER};

#define REV  "deployment.kubernetes.io/revision"
#define HASH "pod-template-hash"

/* The key of the Deployment controlling o (a ReplicaSet), in out; false if none. */
static bool owner_of(const json_t *o, const char *kind, char *out, size_t n)
{
	size_t i;
	const json_t *r;
	json_array_foreach(json_object_get(json_object_get(o, "metadata"), "ownerReferences"), i, r)
	{
		const char *k = json_string_value(json_object_get(r, "kind"));
		if (json_is_true(json_object_get(r, "controller")) && k && !strcmp(k, kind)) {
			snprintf(out, n, "%s/%s", tree_meta(o, "namespace"),
			         json_string_value(json_object_get(r, "name")) ?: "");
			return true;
		}
	}
	return false;
}

static void deploy_event(ctl *c, int res, const char *type, json_t *old, json_t *obj)
{
	(void)c;
	const json_t *o = obj ? obj : old;
	char key[512], rskey[512];
	if (!strcmp(type, "SYNCED"))
		return;
	if (res == CTL_DEPLOY) {
		tree_key(o, key, sizeof key);
		tree_queue_add(Q, key);
	} else if (res == CTL_RS) {
		if (owner_of(o, "Deployment", key, sizeof key))
			tree_queue_add(Q, key);
	} else if (res == CTL_PODS && owner_of(o, "ReplicaSet", rskey, sizeof rskey)) {
		/* readiness moves rollouts: find the pod's set's deployment */
		json_t *rs = ctl_get(C, CTL_RS, rskey);
		if (rs && owner_of(rs, "Deployment", key, sizeof key))
			tree_queue_add(Q, key);
		json_decref(rs);
	}
}

/* Kubernetes' template hash: FNV-1a of the template, its decimal digits spelt safely. */
static void template_hash(const json_t *tpl, char out[16])
{
	char *s = json_dumps(tpl, JSON_COMPACT | JSON_SORT_KEYS);
	uint32_t h = 2166136261u;
	for (const char *p = s ? s : ""; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	free(s);
	char dec[16];
	snprintf(dec, sizeof dec, "%u", h);
	static const char a[] = "bcdfghjklmnpqrstvwxz2456789";
	size_t i;
	for (i = 0; dec[i] && i < 15; i++)
		out[i] = a[(unsigned char)dec[i] % (sizeof a - 1)];
	out[i] = 0;
}

/* An intstr (3 or "25%") of replicas; rounded up for surge, down for unavailable. */
static long intstr(const json_t *v, long replicas, bool up, long dflt_pct)
{
	double pct = (double)dflt_pct;
	if (json_is_integer(v))
		return (long)json_integer_value(v);
	if (json_is_string(v))
		pct = strtod(json_string_value(v), NULL);
	double x = pct * (double)replicas / 100.0;
	return (long)(up ? ceil(x) : floor(x));
}

typedef struct rsinfo {
	json_t *rs;
	long replicas, ready, active, rev;
} rsinfo;

static long rev_of(const json_t *rs)
{
	const char *r = json_string_value(
	    json_object_get(json_object_get(json_object_get(rs, "metadata"), "annotations"), REV));
	return r ? strtol(r, NULL, 10) : 0;
}

/* Active and ready pods a set controls (ready capped at its replicas). */
static void count_pods(rsinfo *ri)
{
	size_t np;
	json_t **pods = ctl_controlled(C, tree_meta(ri->rs, "uid"), CTL_PODS, &np);
	for (size_t i = 0; i < np; i++) {
		if (obj_pod_active(pods[i])) {
			const char *r = obj_condition(pods[i], "Ready");
			ri->active++;
			ri->ready += r && !strcmp(r, "True");
		}
	}
	ctl_objs_free(pods, np);
	if (ri->ready > ri->replicas)
		ri->ready = ri->replicas;
}

static int by_rev(const void *a, const void *b)
{
	const rsinfo *x = a, *y = b;
	return (x->rev > y->rev) - (x->rev < y->rev);
}

static int scale(rsinfo *ri, long n)
{
	if (ri->replicas == n)
		return 0;
	char path[600], num[32];
	ctl_path(path, sizeof path, CTL_RS, tree_meta(ri->rs, "namespace"),
	         tree_meta(ri->rs, "name"), "scale");
	snprintf(num, sizeof num, "%ld\n", n);
	int rc = tree_write(path, num, strlen(num));
	if (rc == 0) {
		log_debug("replicaset %s/%s scaled %ld -> %ld", tree_meta(ri->rs, "namespace"),
		          tree_meta(ri->rs, "name"), ri->replicas, n);
		ri->replicas = n;
	} else {
		log_warn("replicaset %s/%s: scale to %ld: %s", tree_meta(ri->rs, "namespace"),
		         tree_meta(ri->rs, "name"), n, strerror(-rc));
	}
	return rc;
}

/* A copy of the deployment's template with the hash label, and the set made of it. */
static int create_rs(const json_t *d, const char *hash, long replicas, long rev)
{
	const char *ns = tree_meta(d, "namespace"), *dn = tree_meta(d, "name");
	const json_t *spec = json_object_get(d, "spec");
	json_t *tpl = json_deep_copy(json_object_get(spec, "template"));
	json_t *tm = json_object_get(tpl, "metadata");
	if (!json_is_object(tm)) {
		tm = json_object();
		json_object_set_new(tpl, "metadata", tm);
	}
	json_t *labels = json_object_get(tm, "labels");
	if (!json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(tm, "labels", labels);
	}
	json_object_set_new(labels, HASH, json_string(hash));
	json_t *sel = json_deep_copy(json_object_get(spec, "selector"));
	if (!json_is_object(sel))
		sel = json_object();
	json_t *ml = json_object_get(sel, "matchLabels");
	if (!json_is_object(ml)) {
		ml = json_object();
		json_object_set_new(sel, "matchLabels", ml);
	}
	json_object_set_new(ml, HASH, json_string(hash));
	char name[300], revs[32], path[600];
	snprintf(name, sizeof name, "%.50s-%s", dn, hash);
	snprintf(revs, sizeof revs, "%ld", rev);
	json_t *rs = json_pack(
	    "{s:s,s:s,s:{s:s,s:s,s:O,s:{s:s},s:[{s:s,s:s,s:s,s:s,s:b,s:b}]},s:{s:I,s:o,s:o}}",
	    "apiVersion", "apps/v1", "kind", "ReplicaSet", "metadata", "name", name, "namespace",
	    ns, "labels", labels, "annotations", REV, revs, "ownerReferences", "apiVersion",
	    "apps/v1", "kind", "Deployment", "name", dn, "uid", tree_meta(d, "uid"), "controller",
	    1, "blockOwnerDeletion", 1, "spec", "replicas", (json_int_t)replicas, "selector", sel,
	    "template", tpl);
	ctl_path(path, sizeof path, CTL_RS, ns, name, "json");
	int rc = tree_put_json(path, rs, true);
	json_decref(rs);
	if (rc == 0)
		log_info("deployment %s/%s: new replicaset %s (revision %ld, %ld replicas)", ns, dn,
		         name, rev, replicas);
	return rc == -EEXIST ? 0 : rc;
}

/* Give set ri the revision rev (a rollback made an old one new). */
static int set_revision(rsinfo *ri, long rev)
{
	json_t *o = json_deep_copy(ri->rs);
	json_t *md = json_object_get(o, "metadata");
	json_t *ann = json_object_get(md, "annotations");
	if (!json_is_object(ann)) {
		ann = json_object();
		json_object_set_new(md, "annotations", ann);
	}
	char revs[32], path[600];
	snprintf(revs, sizeof revs, "%ld", rev);
	json_object_set_new(ann, REV, json_string(revs));
	json_object_del(o, "status");
	ctl_path(path, sizeof path, CTL_RS, tree_meta(o, "namespace"), tree_meta(o, "name"),
	         "json");
	int rc = tree_put_json(path, o, false);
	json_decref(o);
	return rc;
}

static int write_status(const char *key, const json_t *d, rsinfo *v, size_t n, const rsinfo *nw,
                        long replicas, long unavail_ok)
{
	long total = 0, ready = 0;
	for (size_t i = 0; i < n; i++) {
		total += v[i].active;
		ready += v[i].ready;
	}
	long updated = nw ? nw->active : 0;
	char now[32];
	k9_now_rfc3339(now, sizeof now);
	bool avail = ready >= replicas - unavail_ok;
	bool done = nw && updated == replicas && total == replicas && ready == replicas;
	const json_t *cur = json_object_get(d, "status");
	json_int_t gen =
	    json_integer_value(json_object_get(json_object_get(d, "metadata"), "generation"));
	json_t *counts = json_pack(
	    "{s:I,s:I,s:I,s:I,s:I,s:I}", "replicas", (json_int_t)total, "updatedReplicas",
	    (json_int_t)updated, "readyReplicas", (json_int_t)ready, "availableReplicas",
	    (json_int_t)ready, "unavailableReplicas",
	    (json_int_t)(total - ready > 0 ? total - ready : 0), "observedGeneration", gen);
	bool same = obj_condition(d, "Available") &&
	            !strcmp(obj_condition(d, "Available"), avail ? "True" : "False");
	const char *k;
	json_t *x;
	json_object_foreach(counts, k, x) same =
	    same && json_integer_value(x) == json_integer_value(json_object_get(cur, k));
	const char *prog = obj_condition(d, "Progressing");
	same = same && prog && !strcmp(prog, "True");
	int rc = 0;
	double wait;
	if (!same && !ctl_rate_ok(&status_rate, key, 1.0, &wait)) {
		tree_queue_add_after(Q, key, wait); /* at most one status a second */
		same = true;
	}
	if (!same) {
		json_object_set_new(
		    counts, "conditions",
		    json_pack("[{s:s,s:s,s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s,s:s,s:s}]", "type",
		              "Available", "status", avail ? "True" : "False", "reason",
		              avail ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
		              "message",
		              avail ? "Deployment has minimum availability."
		                    : "Deployment does not have minimum availability.",
		              "lastUpdateTime", now, "lastTransitionTime", now, "type",
		              "Progressing", "status", "True", "reason",
		              done ? "NewReplicaSetAvailable" : "ReplicaSetUpdated", "message",
		              done ? "ReplicaSet has successfully progressed."
		                   : "ReplicaSet is progressing.",
		              "lastUpdateTime", now, "lastTransitionTime", now));
		rc = tree_put_status("deployments", d, counts);
	}
	json_decref(counts);
	return rc;
}

/* Roll: scale the new set up within maxSurge, the old ones down within maxUnavailable. */
static int rolling(rsinfo *v, size_t n, rsinfo *nw, long replicas, long surge, long unavail)
{
	long all = 0, avail = 0;
	for (size_t i = 0; i < n; i++) {
		all += v[i].replicas;
		avail += v[i].ready;
	}
	int rc = 0;
	if (nw->replicas > replicas) {
		rc |= scale(nw, replicas);
	} else if (nw->replicas < replicas) {
		long up = replicas + surge - all;
		if (up > replicas - nw->replicas)
			up = replicas - nw->replicas;
		if (up > 0) {
			rc |= scale(nw, nw->replicas + up);
			all += up;
		}
	}
	long min_avail = replicas - unavail;
	long new_unavail = nw->replicas - nw->ready;
	long budget = all - min_avail - (new_unavail > 0 ? new_unavail : 0);
	/* first the old sets' pods that are not ready: removing them costs nothing */
	for (size_t i = 0; i < n && budget > 0; i++) {
		if (&v[i] == nw || v[i].replicas <= v[i].ready)
			continue;
		long cut = v[i].replicas - v[i].ready;
		if (cut > budget)
			cut = budget;
		if (scale(&v[i], v[i].replicas - cut) == 0) {
			budget -= cut;
			all -= cut;
		} else {
			rc = -1;
		}
	}
	/* then ready ones, as long as enough stay ready */
	long spare = avail - min_avail;
	for (size_t i = 0; i < n && spare > 0; i++) {
		if (&v[i] == nw || !v[i].replicas)
			continue;
		long cut = v[i].replicas < spare ? v[i].replicas : spare;
		if (scale(&v[i], v[i].replicas - cut) == 0)
			spare -= cut;
		else
			rc = -1;
	}
	return rc;
}

static int deploy_sync(void *arg, const char *key)
{
	(void)arg;
	json_t *d = ctl_get(C, CTL_DEPLOY, key);
	if (d && !ctl_synced(C)) {
		/* its sets and pods may not all be in yet: look again soon (not never) */
		json_decref(d);
		tree_queue_add_after(Q, key, 0.2);
		return 0;
	}
	if (!d || json_object_get(json_object_get(d, "metadata"), "deletionTimestamp")) {
		if (!d)
			ctl_rate_forget(&status_rate, key);
		json_decref(d);
		return 0;
	}
	const json_t *spec = json_object_get(d, "spec");
	json_t *rep = json_object_get(spec, "replicas");
	long replicas = json_is_integer(rep) ? (long)json_integer_value(rep) : 1;
	char hash[16];
	template_hash(json_object_get(spec, "template"), hash);
	size_t nr;
	json_t **sets = ctl_controlled(C, tree_meta(d, "uid"), CTL_RS, &nr);
	rsinfo *v = xcalloc(nr + 1, sizeof *v);
	size_t n = 0;
	rsinfo *nw = NULL;
	long maxrev = 0;
	for (size_t i = 0; i < nr; i++) {
		json_t *rs = sets[i];
		if (json_object_get(json_object_get(rs, "metadata"), "deletionTimestamp")) {
			json_decref(rs);
			continue;
		}
		rsinfo *ri = &v[n++];
		ri->rs = rs;
		json_t *r = json_object_get(json_object_get(rs, "spec"), "replicas");
		ri->replicas = json_is_integer(r) ? (long)json_integer_value(r) : 1;
		ri->rev = rev_of(rs);
		maxrev = ri->rev > maxrev ? ri->rev : maxrev;
		count_pods(ri);
	}
	free(sets); /* the references moved to v */
	qsort(v, n, sizeof *v, by_rev);
	for (size_t i = 0; i < n; i++) {
		const char *h = json_string_value(json_object_get(
		    json_object_get(json_object_get(v[i].rs, "metadata"), "labels"), HASH));
		if (h && !strcmp(h, hash))
			nw = &v[i];
	}
	const json_t *strat = json_object_get(spec, "strategy");
	bool recreate =
	    !strcmp(json_string_value(json_object_get(strat, "type")) ?: "", "Recreate");
	const json_t *ru = json_object_get(strat, "rollingUpdate");
	long surge = recreate ? 0 : intstr(json_object_get(ru, "maxSurge"), replicas, true, 25);
	long unavail = recreate
	                   ? replicas
	                   : intstr(json_object_get(ru, "maxUnavailable"), replicas, false, 25);
	if (!surge && !unavail)
		unavail = 1;
	int rc = 0;
	long old_active = 0, old_replicas = 0;
	for (size_t i = 0; i < n; i++)
		if (&v[i] != nw) {
			old_active += v[i].active;
			old_replicas += v[i].replicas;
		}
	if (!nw) {
		/* a template not seen before: its set starts as big as the strategy allows */
		long start = replicas;
		if (old_replicas) {
			long all = old_replicas;
			start = recreate ? 0 : replicas + surge - all;
			start = start < 0 ? 0 : start > replicas ? replicas : start;
		}
		rc = create_rs(d, hash, start, maxrev + 1);
	} else {
		if (nw->rev < maxrev)
			rc |= set_revision(nw, maxrev + 1);
		if (recreate) {
			for (size_t i = 0; i < n; i++)
				if (&v[i] != nw)
					rc |= scale(&v[i], 0);
			rc |= scale(nw, old_active ? 0 : replicas);
		} else {
			rc |= rolling(v, n, nw, replicas, surge, unavail);
		}
		/* history: old sets at zero beyond revisionHistoryLimit go, oldest first */
		json_t *lim = json_object_get(spec, "revisionHistoryLimit");
		long keep = json_is_integer(lim) ? (long)json_integer_value(lim) : 10, idle = 0;
		for (size_t i = 0; i < n; i++)
			idle += &v[i] != nw && !v[i].replicas && !v[i].active;
		for (size_t i = 0; i < n && idle > keep; i++) {
			if (&v[i] == nw || v[i].replicas || v[i].active)
				continue;
			char path[600];
			ctl_path(path, sizeof path, CTL_RS, tree_meta(v[i].rs, "namespace"),
			         tree_meta(v[i].rs, "name"), "json");
			/* gone already (an informer behind our own unlink) counts as deleted:
			 * moving on to the next would delete a set history must keep */
			int r = tree_unlink(path);
			if (r == 0 || r == -ENOENT)
				idle--;
		}
	}
	if (write_status(key, d, v, n, nw, replicas, unavail) < 0)
		rc = -1;
	for (size_t i = 0; i < n; i++)
		json_decref(v[i].rs);
	free(v);
	json_decref(d);
	return rc ? -1 : 0;
}

static void deploy_start(ctl *c)
{
	C = c;
	Q = tree_queue_new();
	tree_queue_run(Q, c->o.workers, deploy_sync, NULL);
}

const ctl_loop ctl_deploy_loop = {"deployments", deploy_start, deploy_event};
