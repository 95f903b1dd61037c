/*
 * ctl_nodelife.c - the node lifecycle controller: a node whose agent stopped
 * posting heartbeats becomes Ready=Unknown and tainted
 * node.kubernetes.io/unreachable:NoExecute; its pods are deleted once it has
 * been so for --eviction-timeout (or their toleration's tolerationSeconds);
 * when heartbeats resume the taint goes.
 *
 * Keys are node names: queued by every node event (so resumed heartbeats
 * are seen at once) and, for all nodes, every --node-monitor-period by a
 * ticker thread, since silence raises no event. Each sync makes at most
 * one write and relies on the event it causes to go on (status first, then
 * the taint), so every write carries the resourceVersion it was computed
 * from and a heartbeat in between is never overwritten.
 *
 * A pod deleted here waits for its node to finish it, which a silent node
 * never does; once its grace period is over it is deleted for good (an
 * unlink of a terminating pod), so that namespaces and owners being
 * deleted are not held up by a dead node. Kubernetes leaves such pods
 * Terminating until the node is deleted or marked out-of-service.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_logic.h"
#include "kube9/obj.h"
#include "kube9/util.h"

#define UNREACHABLE "node.kubernetes.io/unreachable"

static tree_queue *q;
static pthread_t ticker;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static k9_map unknown_since; /* node name -> malloc'd double (monotonic s); under lock */

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Seconds since this controller first saw the node Unknown (0 the first time). */
static double unknown_for(const char *name)
{
	double now = mono();
	pthread_mutex_lock(&lock);
	double *t = k9_map_get(&unknown_since, name);
	if (!t) {
		t = xmalloc(sizeof *t);
		*t = now;
		k9_map_put(&unknown_since, name, t);
	}
	double d = now - *t;
	pthread_mutex_unlock(&lock);
	return d;
}

static void forget(const char *name)
{
	pthread_mutex_lock(&lock);
	free(k9_map_del(&unknown_since, name));
	pthread_mutex_unlock(&lock);
}

static const json_t *ready_cond(const json_t *node)
{
	size_t i;
	const json_t *c;
	json_array_foreach(
	    json_object_get(json_object_get(node, "status"), "conditions"), i,
	    c) if (!strcmp(json_string_value(json_object_get(c, "type")) ?: "", "Ready")) return c;
	return NULL;
}

static int mark_unknown(const json_t *node, const char *name, double age)
{
	char now[32], path[512];
	k9_now_rfc3339(now, sizeof now);
	json_t *conds = ctl_node_conds_unknown(
	    json_object_get(json_object_get(node, "status"), "conditions"), now);
	json_t *doc = json_pack("{s:{s:s},s:{s:o}}", "metadata", "resourceVersion",
	                        tree_meta(node, "resourceVersion"), "status", "conditions", conds);
	ctl_path(path, sizeof path, CTL_NODES, NULL, name, "status");
	int rc = tree_put_json(path, doc, false);
	json_decref(doc);
	if (rc == 0)
		log_info("node %s: no heartbeat for %.0f s: Ready=Unknown", name, age);
	return rc;
}

/* Write the node with its taints changed: added (add) or without the unreachable one. */
static int set_taint(const json_t *node, const char *name, bool add)
{
	char now[32], path[512];
	json_t *o = json_deep_copy(node);
	json_t *spec = json_object_get(o, "spec");
	if (!json_is_object(spec)) {
		spec = json_object();
		json_object_set_new(o, "spec", spec);
	}
	json_t *taints =
	    ctl_taints_without(json_object_get(spec, "taints"), UNREACHABLE, "NoExecute");
	if (add) {
		k9_now_rfc3339(now, sizeof now);
		json_array_append_new(taints, json_pack("{s:s,s:s,s:s}", "key", UNREACHABLE,
		                                        "effect", "NoExecute", "timeAdded", now));
	}
	if (json_array_size(taints))
		json_object_set_new(spec, "taints", taints);
	else
		json_object_del(spec, "taints"), json_decref(taints);
	ctl_path(path, sizeof path, CTL_NODES, NULL, name, "json");
	int rc = tree_put_json(path, o, false);
	json_decref(o);
	if (rc == 0)
		log_info("node %s: %s taint %s:NoExecute", name,
		         add ? "added" : "heartbeats again, removed", UNREACHABLE);
	return rc;
}

static bool on_node(const json_t *pod, const void *name)
{
	const char *nn =
	    json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
	return nn && !strcmp(nn, name);
}

/* Delete the pods of a node Unknown for `since` seconds that do not wait longer; 0 or -errno. */
static int evict(ctl *c, const char *name, double since)
{
	size_t np;
	json_t **pods = ctl_pods_where(c, on_node, name, &np);
	int bad = 0;
	for (size_t i = 0; i < np; i++) {
		json_t *pod = pods[i];
		double grace = ctl_unreachable_grace(pod, c->o.eviction);
		const char *dt = json_string_value(
		    json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp"));
		char path[600], key[600];
		ctl_path(path, sizeof path, CTL_PODS, tree_meta(pod, "namespace"),
		         tree_meta(pod, "name"), "json");
		ctl_key(pod, key, sizeof key);
		int rc = 0;
		if (grace >= 0 && since >= grace && !dt) {
			rc = tree_unlink(path);
			if (rc == 0)
				log_info(
				    "pod %s: deleted: its node %s has been unreachable for %.0f s",
				    key, name, since);
		} else if (dt && tree_age(dt) >= 0) {
			rc = tree_unlink(path); /* terminating: this deletes it at once */
			if (rc == 0)
				log_info("pod %s: deleted for good: its node %s cannot finish it",
				         key, name);
		}
		if (rc < 0 && rc != -ENOENT) {
			log_warn("pod %s: delete: %s", key, strerror(-rc));
			bad = rc;
		}
	}
	ctl_objs_free(pods, np);
	return bad;
}

static int sync_node(void *arg, const char *name)
{
	ctl *c = arg;
	json_t *node = ctl_get(c, CTL_NODES, name);
	if (!node) {
		forget(name);
		return 0;
	}
	const json_t *ready = ready_cond(node);
	const char *status = json_string_value(json_object_get(ready, "status"));
	const char *hb = ready ? json_string_value(json_object_get(ready, "lastHeartbeatTime"))
	                       : tree_meta(node, "creationTimestamp");
	double age = tree_age(hb);
	bool tainted = ctl_taint_has(json_object_get(json_object_get(node, "spec"), "taints"),
	                             UNREACHABLE, "NoExecute");
	int rc = 0;
	if (!status || strcmp(status, "Unknown")) {
		if (age > c->o.node_grace) {
			rc = mark_unknown(node, name, age);
			if (rc == 0)
				unknown_for(name); /* the eviction clock starts now */
		} else {
			forget(name);
			if (tainted)
				rc = set_taint(node, name, false);
		}
	} else if (age <= c->o.node_grace) {
		/* Unknown, yet a fresh heartbeat: someone else's mark; the agent says True next */
	} else if (!tainted) {
		rc = set_taint(node, name, true);
	} else if (c->w[CTL_PODS].synced) {
		rc = evict(c, name, unknown_for(name));
	}
	json_decref(node);
	if (rc < 0 && rc != -ENOENT) {
		if (rc != -EBUSY)
			log_warn("node %s: %s", name, strerror(-rc));
		return -1;
	}
	return 0;
}

static void queue_node(void *arg, json_t *node)
{
	(void)arg;
	tree_queue_add(q, tree_meta(node, "name"));
}

/* Silence raises no event: look at every node each monitor period. */
static void *tick(void *arg)
{
	ctl *c = arg;
	while (!c->stop) {
		usleep((useconds_t)(c->o.monitor_period * 1e6));
		if (c->w[CTL_NODES].synced)
			tree_watch_each(&c->w[CTL_NODES], queue_node, NULL);
	}
	return NULL;
}

static void on_event(ctl *c, int res, const char *type, json_t *old, json_t *obj)
{
	(void)c;
	(void)type;
	const json_t *o = obj ? obj : old;
	if (res == CTL_NODES && o)
		tree_queue_add(q, tree_meta(o, "name"));
}

static void start(ctl *c)
{
	q = tree_queue_new();
	tree_queue_run(q, c->o.workers, sync_node, c);
	pthread_create(&ticker, NULL, tick, c);
	pthread_detach(ticker);
}

const ctl_loop ctl_nodelife_loop = {"nodelifecycle", start, on_event};
