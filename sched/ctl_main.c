/*
 * ctl_main.c - `kube9 controllers`: options, the shared informers, the
 * owner index, and the controllers' start.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "kube9/obj.h"
#include "kube9/util.h"

const ctl_res ctl_res_tab[CTL_NRES] = {
    [CTL_PODS] = {"pods", "namespaces/pods.watch", "v1", "Pod"},
    [CTL_RS] = {"replicasets", "namespaces/replicasets.watch", "apps/v1", "ReplicaSet"},
    [CTL_DEPLOY] = {"deployments", "namespaces/deployments.watch", "apps/v1", "Deployment"},
    [CTL_SVC] = {"services", "namespaces/services.watch", "v1", "Service"},
    [CTL_EP] = {"endpoints", "namespaces/endpoints.watch", "v1", "Endpoints"},
    [CTL_NODES] = {"nodes", "nodes/.watch", "v1", "Node"},
    [CTL_NS] = {"namespaces", "namespaces/.watch", "v1", "Namespace"},
    [CTL_PV] = {"persistentvolumes", "persistentvolumes/.watch", "v1", "PersistentVolume"},
    [CTL_PVC] = {"persistentvolumeclaims", "namespaces/persistentvolumeclaims.watch", "v1",
                 "PersistentVolumeClaim"},
};

static const ctl_loop *const loops[] = {&ctl_rs_loop,       &ctl_deploy_loop, &ctl_ep_loop,
                                        &ctl_nodelife_loop, &ctl_ns_loop,     &ctl_gc_loop,
                                        &ctl_pv_loop};
#define NLOOPS (sizeof loops / sizeof *loops)

void ctl_key(const json_t *o, char *out, size_t n)
{
	tree_key(o, out, n);
}

void ctl_path(char *out, size_t n, int res, const char *ns, const char *name, const char *ext)
{
	tree_path(out, n, ctl_res_tab[res].plural, ns, name, ext);
}

json_t *ctl_get(ctl *c, int res, const char *key)
{
	return tree_watch_get(&c->w[res], key);
}

bool ctl_synced(ctl *c)
{
	for (int r = 0; r < CTL_NRES; r++)
		if (!c->w[r].synced)
			return false;
	return true;
}

static void ref_of(int res, const json_t *o, char *out, size_t n)
{
	snprintf(out, n, "%s/%s/%s", ctl_res_tab[res].plural, tree_meta(o, "namespace"),
	         tree_meta(o, "name"));
}

int ctl_ref_parse(const char *ref, char *ns, char *name, size_t n)
{
	size_t a = strcspn(ref, "/");
	if (!ref[a])
		return -1;
	const char *rest = ref + a + 1;
	size_t b = strcspn(rest, "/");
	if (!rest[b])
		return -1;
	snprintf(ns, n, "%.*s", (int)b, rest);
	snprintf(name, n, "%s", rest + b + 1);
	for (int r = 0; r < CTL_NRES; r++)
		if (strlen(ctl_res_tab[r].plural) == a && !strncmp(ctl_res_tab[r].plural, ref, a))
			return r;
	return -1;
}

static void index_owners(ctl *c, int res, const json_t *o, bool add)
{
	char ref[600];
	ref_of(res, o, ref, sizeof ref);
	size_t i;
	const json_t *r;
	json_array_foreach(json_object_get(json_object_get(o, "metadata"), "ownerReferences"), i, r)
	{
		const char *uid = json_string_value(json_object_get(r, "uid"));
		if (!uid)
			continue;
		k9_map *set = k9_map_get(&c->owned, uid);
		if (add) {
			if (!set) {
				set = xcalloc(1, sizeof *set);
				k9_map_put(&c->owned, uid, set);
			}
			k9_map_put(set, ref, (void *)1);
		} else if (set) {
			k9_map_del(set, ref);
			if (!set->n) {
				k9_map_del(&c->owned, uid);
				k9_map_free(set);
				free(set);
			}
		}
	}
	const char *uid = tree_meta(o, "uid");
	if (uid[0]) {
		char *old = k9_map_del(&c->by_uid, uid);
		free(old);
		if (add)
			k9_map_put(&c->by_uid, uid, xstrdup(ref));
	}
}

struct ev_ctx {
	ctl *c;
	int res;
};

static struct ev_ctx ctxs[CTL_NRES];

static void on_event(void *arg, const char *type, json_t *old, json_t *obj)
{
	struct ev_ctx *x = arg;
	ctl *c = x->c;
	pthread_mutex_lock(&c->lock);
	if (old)
		index_owners(c, x->res, old, false);
	if (obj)
		index_owners(c, x->res, obj, true);
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < NLOOPS; i++)
		if (loops[i]->on_event)
			loops[i]->on_event(c, x->res, type, old, obj);
}

struct keys {
	char **v;
	size_t n;
};

static void add_key(const char *key, void *val, void *arg)
{
	(void)val;
	struct keys *k = arg;
	k->v[k->n++] = xstrdup(key);
}

char **ctl_owned(ctl *c, const char *uid, size_t *n)
{
	pthread_mutex_lock(&c->lock);
	k9_map *set = k9_map_get(&c->owned, uid);
	struct keys k = {NULL, 0};
	if (set && set->n) {
		k.v = xcalloc(set->n, sizeof *k.v);
		k9_map_each_kv(set, add_key, &k);
	}
	pthread_mutex_unlock(&c->lock);
	*n = k.n;
	return k.v;
}

void ctl_keys_free(char **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

bool ctl_rate_ok(ctl_rate *r, const char *key, double interval, double *wait)
{
	double now = mono();
	pthread_mutex_lock(&r->lock);
	double *t = k9_map_get(&r->last, key);
	bool ok = !t || now - *t >= interval;
	if (ok) {
		if (!t) {
			t = xmalloc(sizeof *t);
			k9_map_put(&r->last, key, t);
		}
		*t = now;
	} else {
		*wait = interval - (now - *t);
	}
	pthread_mutex_unlock(&r->lock);
	return ok;
}

void ctl_rate_forget(ctl_rate *r, const char *key)
{
	pthread_mutex_lock(&r->lock);
	free(k9_map_del(&r->last, key));
	pthread_mutex_unlock(&r->lock);
}

json_t **ctl_controlled(ctl *c, const char *uid, int res, size_t *n)
{
	size_t nk;
	char **keys = ctl_owned(c, uid, &nk);
	json_t **v = xcalloc(nk + 1, sizeof *v);
	*n = 0;
	for (size_t i = 0; i < nk; i++) {
		char ns[256], name[256], key[520];
		if (ctl_ref_parse(keys[i], ns, name, sizeof ns) != res)
			continue;
		snprintf(key, sizeof key, "%s%s%s", ns, ns[0] ? "/" : "", name);
		json_t *o = ctl_get(c, res, key);
		const char *cu = o ? obj_controller_uid(o) : NULL;
		if (cu && !strcmp(cu, uid))
			v[(*n)++] = o;
		else
			json_decref(o);
	}
	ctl_keys_free(keys, nk);
	return v;
}

void ctl_objs_free(json_t **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(v[i]);
	free(v);
}

struct where {
	bool (*keep)(const json_t *pod, const void *arg);
	const void *arg;
	json_t **v;
	size_t n, cap;
};

static void where_one(void *arg, json_t *pod)
{
	struct where *w = arg;
	if (!w->keep(pod, w->arg))
		return;
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 64;
		w->v = xrealloc(w->v, w->cap * sizeof *w->v);
	}
	w->v[w->n++] = json_incref(pod);
}

json_t **ctl_pods_where(ctl *c, bool (*keep)(const json_t *pod, const void *arg), const void *arg,
                        size_t *n)
{
	struct where w = {keep, arg, NULL, 0, 0};
	tree_watch_each(&c->w[CTL_PODS], where_one, &w);
	*n = w.n;
	return w.v;
}

bool ctl_uid_known(ctl *c, const char *uid)
{
	pthread_mutex_lock(&c->lock);
	bool k = k9_map_get(&c->by_uid, uid) != NULL;
	pthread_mutex_unlock(&c->lock);
	return k;
}

static void usage(FILE *f)
{
	fputs("usage: kube9 controllers --mount DIR [options]\n"
	      "\n"
	      "The controller manager, driven by the kube9 mount at DIR: replica sets,\n"
	      "deployments (scaling, rolling updates, rollback), endpoints, node lifecycle\n"
	      "(heartbeats, NotReady, eviction), namespace deletion, garbage collection and\n"
	      "persistent volume binding.\n"
	      "\n"
	      "      --mount DIR               the kube9 mount to work through (required)\n"
	      "      --node-grace S            a node silent this long becomes Ready=Unknown\n"
	      "                                (default 40)\n"
	      "      --eviction-timeout S      its pods are deleted after this long (default 300)\n"
	      "      --node-monitor-period S   how often heartbeats are checked (default 5)\n"
	      "      --workers N               objects synced at once per controller (default 8)\n"
	      "      --leader-elect BOOL       take the kube9-controllers lease first (default "
	      "true)\n"
	      "  -v, --verbose                 debug logging\n"
	      "  -h, --help                    this text\n",
	      f);
}

/* What the controllers read of a pod (the rest is not kept: 150,000 of them). */
static const char *const pod_fields[] = {"metadata.name",
                                         "metadata.namespace",
                                         "metadata.uid",
                                         "metadata.resourceVersion",
                                         "metadata.labels",
                                         "metadata.ownerReferences",
                                         "metadata.finalizers",
                                         "metadata.creationTimestamp",
                                         "metadata.deletionTimestamp",
                                         "metadata.deletionGracePeriodSeconds",
                                         "spec.nodeName",
                                         "spec.tolerations",
                                         "spec.containers[].name",
                                         "spec.containers[].ports",
                                         "status.phase",
                                         "status.podIP",
                                         "status.conditions",
                                         NULL};

#define P "kube9 controllers"

int cmd_controllers(int argc, char **argv)
{
	static const struct option opts[] = {{"mount", required_argument, 0, 'm'},
	                                     {"node-grace", required_argument, 0, 'g'},
	                                     {"eviction-timeout", required_argument, 0, 'e'},
	                                     {"node-monitor-period", required_argument, 0, 'p'},
	                                     {"workers", required_argument, 0, 'w'},
	                                     {"leader-elect", required_argument, 0, 'l'},
	                                     {"verbose", no_argument, 0, 'v'},
	                                     {"help", no_argument, 0, 'h'},
	                                     {0, 0, 0, 0}};
	const char *mount = NULL;
	ctl_opts o = {40, 300, 5, 8};
	bool elect = true;
	long workers = o.workers;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		bool good = true;
		switch (c) {
		case 'm':
			mount = optarg;
			break;
		case 'g':
			good = k9_flag_num(P, "node-grace", optarg, 0.001, 1e6, &o.node_grace);
			break;
		case 'e':
			good = k9_flag_num(P, "eviction-timeout", optarg, 0, 1e6, &o.eviction);
			break;
		case 'p':
			good = k9_flag_num(P, "node-monitor-period", optarg, 0.001, 1e6,
			                   &o.monitor_period);
			break;
		case 'w':
			good = k9_flag_int(P, "workers", optarg, 1, 256, &workers);
			break;
		case 'l':
			good = k9_flag_bool(P, "leader-elect", optarg, &elect);
			break;
		case 'v':
			k9_log_level = LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (!good)
			return 2;
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	o.workers = (int)workers;
	if (tree_open_mount(mount, "kube9 controllers") < 0)
		return 1;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	ctl *x = xcalloc(1, sizeof *x);
	x->o = o;
	pthread_mutex_init(&x->lock, NULL);
	k9_stop_on_signals(&x->stop);
	tree_lease lease;
	if (elect && tree_lease_elect(&lease, "kube9-controllers", 15) < 0)
		return 1;
	for (size_t i = 0; i < NLOOPS; i++)
		if (loops[i]->start)
			loops[i]->start(x);
	for (int r = 0; r < CTL_NRES; r++) {
		ctxs[r] = (struct ev_ctx){x, r};
		if (tree_watch_start_pick(&x->w[r], ctl_res_tab[r].watch, on_event, &ctxs[r],
		                          r == CTL_PODS ? pod_fields : NULL) < 0)
			return 1;
	}
	log_info("controllers running: replicasets, deployments, endpoints, nodes, namespaces, "
	         "garbage collector, persistentvolumes");
	while (!x->stop)
		pause();
	log_info("kube9 controllers: stopping");
	return 0;
}
