/*
 * ctl_ep.c - the endpoints controller: namespaces/NS/endpoints/SVC.json
 * lists the pods behind each Service with a selector (the subsets are
 * built by ctl_ep_subsets in ctl_logic.c).
 *
 * Keys are services ("NS/NAME"). A pod's change may move it into or out of
 * any service of its namespace (a relabel, readiness, its IP), so a pod
 * event queues the services of its namespace whose selector matched the
 * pod before or after; the services per namespace are indexed here for
 * that. An Endpoints change queues its service too, so a hand edit is
 * put right. Endpoints are deleted only when their service's deletion is
 * seen: Endpoints written by hand for a selector-less service may come
 * before the service.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_logic.h"
#include "kube9/util.h"

static tree_queue *q;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static k9_map by_ns; /* namespace -> k9_map of service names (value 1); under lock */

static void index_svc(const json_t *svc, bool add)
{
	const char *ns = tree_meta(svc, "namespace"), *name = tree_meta(svc, "name");
	pthread_mutex_lock(&lock);
	k9_map *set = k9_map_get(&by_ns, ns);
	if (add) {
		if (!set) {
			set = xcalloc(1, sizeof *set);
			k9_map_put(&by_ns, ns, set);
		}
		k9_map_put(set, name, (void *)1);
	} else if (set) {
		k9_map_del(set, name);
		if (!set->n) {
			k9_map_del(&by_ns, ns);
			k9_map_free(set);
			free(set);
		}
	}
	pthread_mutex_unlock(&lock);
}

struct pod_ev {
	ctl *c;
	const char *ns;
	const json_t *old, *obj;
};

static const json_t *labels_of(const json_t *o)
{
	return json_object_get(json_object_get(o, "metadata"), "labels");
}

/* Queue service name of the pod's namespace if it selected the pod before or after. */
static void maybe_queue(const char *name, void *val, void *arg)
{
	(void)val;
	struct pod_ev *e = arg;
	char key[600];
	snprintf(key, sizeof key, "%s/%s", e->ns, name);
	json_t *svc = ctl_get(e->c, CTL_SVC, key);
	const json_t *sel = json_object_get(json_object_get(svc, "spec"), "selector");
	if (svc && json_object_size(sel) &&
	    ((e->old && ctl_sel_match(sel, labels_of(e->old))) ||
	     (e->obj && ctl_sel_match(sel, labels_of(e->obj)))))
		tree_queue_add(q, key);
	json_decref(svc);
}

static void on_event(ctl *c, int res, const char *type, json_t *old, json_t *obj)
{
	(void)type;
	const json_t *o = obj ? obj : old;
	if (!o)
		return;
	char key[600];
	switch (res) {
	case CTL_SVC:
		if (old)
			index_svc(old, false);
		if (obj)
			index_svc(obj, true);
		ctl_key(o, key, sizeof key);
		tree_queue_add(q, key);
		break;
	case CTL_EP: {
		/* only endpoints of a service: those of none may be waiting for theirs */
		ctl_key(o, key, sizeof key);
		json_t *svc = ctl_get(c, CTL_SVC, key);
		if (svc)
			tree_queue_add(q, key);
		json_decref(svc);
		break;
	}
	case CTL_PODS: {
		struct pod_ev e = {c, tree_meta(o, "namespace"), old, obj};
		/* under the index's lock: ctl_get and tree_queue_add do not take it */
		pthread_mutex_lock(&lock);
		k9_map *set = k9_map_get(&by_ns, e.ns);
		if (set)
			k9_map_each_kv(set, maybe_queue, &e);
		pthread_mutex_unlock(&lock);
		break;
	}
	}
}

static bool in_ns(const json_t *pod, const void *ns)
{
	return !strcmp(tree_meta(pod, "namespace"), ns);
}

/* Make the service's Endpoints say what its pods are now. */
static int sync_ep(void *arg, const char *key)
{
	ctl *c = arg;
	char ns[256], name[256], path[600];
	tree_key_split(key, ns, name, sizeof ns);
	if (!ns[0])
		return 0;
	ctl_path(path, sizeof path, CTL_EP, ns, name, "json");
	json_t *svc = ctl_get(c, CTL_SVC, key);
	json_t *cur = ctl_get(c, CTL_EP, key);
	int rc = 0;
	if (!svc) {
		/* the service is gone: its endpoints go with it */
		if (cur && c->w[CTL_SVC].synced) {
			rc = tree_unlink(path);
			if (rc == 0)
				log_info("endpoints %s: deleted with its service", key);
		}
		json_decref(cur);
		return rc == 0 || rc == -ENOENT ? 0 : -1;
	}
	const json_t *sel = json_object_get(json_object_get(svc, "spec"), "selector");
	if (!json_object_size(sel) || !c->w[CTL_PODS].synced) {
		/* no selector: its endpoints are someone else's to write; no pods yet: too early
		 * to say, and their initial events may all be in already */
		if (json_object_size(sel))
			tree_queue_add_after(q, key, 0.5);
		json_decref(svc);
		json_decref(cur);
		return 0;
	}
	size_t np;
	json_t **pods = ctl_pods_where(c, in_ns, ns, &np);
	json_t *subsets = ctl_ep_subsets(svc, pods, np);
	ctl_objs_free(pods, np);
	if (!cur || !ctl_ep_same(json_object_get(cur, "subsets"), subsets)) {
		json_t *ep =
		    json_pack("{s:s,s:s,s:{s:s,s:s},s:O}", "apiVersion", "v1", "kind", "Endpoints",
		              "metadata", "name", name, "namespace", ns, "subsets", subsets);
		if (cur) {
			/* keep what others put there (labels, annotations); conditional on what we
			 * saw */
			json_t *m = json_deep_copy(json_object_get(cur, "metadata"));
			json_object_set_new(ep, "metadata", m);
		}
		rc = tree_put_json(path, ep, false);
		json_decref(ep);
		if (rc == -EBUSY || rc == -ENOENT) /* we saw an older one: the news is on the way */
			log_debug("endpoints %s: changed meanwhile, again", key);
		else if (rc < 0)
			log_warn("endpoints %s: %s", key, strerror(-rc));
		else
			log_debug("endpoints %s: %zu subsets", key, json_array_size(subsets));
	}
	json_decref(subsets);
	json_decref(svc);
	json_decref(cur);
	return rc < 0 ? -1 : 0;
}

static void start(ctl *c)
{
	q = tree_queue_new();
	tree_queue_run(q, c->o.workers, sync_ep, c);
}

const ctl_loop ctl_ep_loop = {"endpoints", start, on_event};
