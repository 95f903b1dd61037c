/*
 * ctl.h - `kube9 controllers`: the controller manager. Internal to sched/
 * (prefix ctl_).
 *
 * One informer per resource (a .watch file of the mount), shared by every
 * controller; an index of dependents by owner uid and of objects by uid.
 * Each controller (ctl_rs.c, ctl_deploy.c, ctl_ep.c, ctl_nodelife.c,
 * ctl_ns.c, ctl_gc.c, ctl_pv.c) gets every change through its on_event, queues the
 * keys it must look at, and syncs them in its own workers, reading the
 * informers and writing files. Nothing here speaks HTTP.
 */
#ifndef KUBE9_CTL_H
#define KUBE9_CTL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "kube9/map.h"
#include "kube9/tree.h"

enum {
	CTL_PODS,
	CTL_RS,
	CTL_DEPLOY,
	CTL_SVC,
	CTL_EP,
	CTL_NODES,
	CTL_NS,
	CTL_PV,
	CTL_PVC,
	CTL_NRES
};

/* The resources: plural, .watch file, apiVersion, kind. */
typedef struct ctl_res {
	const char *plural, *watch, *api_version, *kind;
} ctl_res;
extern const ctl_res ctl_res_tab[CTL_NRES];

typedef struct ctl_opts {
	double node_grace;     /* seconds without heartbeat before Ready=Unknown */
	double eviction;       /* seconds Unknown before its pods are deleted */
	double monitor_period; /* how often node heartbeats are checked */
	int workers;
} ctl_opts;

typedef struct ctl {
	tree_watch w[CTL_NRES];
	pthread_mutex_t lock; /* the indexes */
	k9_map owned;         /* owner uid -> k9_map of "RES/NS/NAME" (value: (void *)1) */
	k9_map by_uid;        /* uid -> strdup("RES/NS/NAME") */
	ctl_opts o;
	volatile int stop;
} ctl;

/* A controller. */
typedef struct ctl_loop {
	const char *name;
	void (*start)(ctl *c);
	/* every change of resource res; keys are "NS/NAME" or "NAME" */
	void (*on_event)(ctl *c, int res, const char *type, json_t *old, json_t *obj);
} ctl_loop;

extern const ctl_loop ctl_rs_loop, ctl_deploy_loop, ctl_ep_loop, ctl_nodelife_loop, ctl_ns_loop,
    ctl_gc_loop, ctl_pv_loop;

/* The object of resource res with key "NS/NAME" now (a new reference) or NULL. */
json_t *ctl_get(ctl *c, int res, const char *key);
/* The keys ("RES/NS/NAME", see ctl_ref_parse) of what owner uid owns; free with ctl_keys_free. */
char **ctl_owned(ctl *c, const char *uid, size_t *n);
void ctl_keys_free(char **keys, size_t n);
/* The objects of resource res whose controlling owner is uid (new references); ctl_objs_free. */
json_t **ctl_controlled(ctl *c, const char *uid, int res, size_t *n);
void ctl_objs_free(json_t **v, size_t n);
/* The pods for which keep(pod, arg) is true (new references); ctl_objs_free. */
json_t **ctl_pods_where(ctl *c, bool (*keep)(const json_t *pod, const void *arg), const void *arg,
                        size_t *n);
/* Split "RES/NS/NAME" (or "RES//NAME"); res is a CTL_* index or -1. */
int ctl_ref_parse(const char *ref, char *ns, char *name, size_t n);
/* Whether the object with this uid is known (in any informer). */
bool ctl_uid_known(ctl *c, const char *uid);
/* The file of an object: namespaces/NS/PLURAL/NAME.ext. */
void ctl_path(char *out, size_t n, int res, const char *ns, const char *name, const char *ext);
/* True once every informer has its initial objects. */
bool ctl_synced(ctl *c);
/*
 * A per-key rate limit, for status writes: a set's or deployment's counts
 * change with every pod, and writing each change would double the writes
 * of a rollout. ctl_rate_ok is true when key may act now (the time is
 * taken); else *wait says in how many seconds it may.
 */
typedef struct ctl_rate {
	pthread_mutex_t lock;
	k9_map last; /* key -> malloc'd double, monotonic seconds */
} ctl_rate;
bool ctl_rate_ok(ctl_rate *r, const char *key, double interval, double *wait);
void ctl_rate_forget(ctl_rate *r, const char *key);

/* "NS/NAME" of an object. */
void ctl_key(const json_t *o, char *out, size_t n);

/*
 * Matching claims to PersistentVolumes (ctl_pv_match.c, pure), as
 * Kubernetes' PV controller does for statically provisioned volumes.
 * ctl_pv_class: the storage class of a PV or claim (the beta annotation
 * volume.beta.kubernetes.io/storage-class, else spec.storageClassName;
 * "" for none). ctl_pv_bound_to: whether pv's claimRef names claim
 * (namespace, name, and its uid unless the claimRef has none).
 * ctl_pv_satisfies: whether pv can serve the claim that names it in
 * spec.volumeName (not being deleted, capacity, class, volumeMode, access
 * modes; the selector is not looked at); else *why says what is wrong.
 * ctl_pv_match: the index in pvs of the volume claim should bind to, or -1:
 * one pre-bound to it (claimRef) if any fits its size, volumeMode and
 * access modes; else among the Available, unclaimed ones that also match
 * class and selector, the one with the fewest access modes, then the
 * smallest, then the first by name.
 */
const char *ctl_pv_class(const json_t *o);
bool ctl_pv_bound_to(const json_t *pv, const json_t *claim);
bool ctl_pv_satisfies(const json_t *pv, const json_t *claim, const char **why);
int ctl_pv_match(const json_t *claim, json_t *const *pvs, size_t n);

#endif
