/*
 * scheduler.h - `kube9 sched`: the scheduler. Internal to sched/ (prefix sched_).
 *
 * It follows namespaces/pods.watch and nodes/.watch, keeps what every node
 * has allocatable and what the pods bound to it request (sched_cache.c),
 * picks a node for each pod without one (sched_fit.c: filters, then
 * scores), counts the pod on that node at once ("assumes" it, as
 * kube-scheduler does, so the next pod sees it) and binds it by writing the
 * node's name to namespaces/NS/pods/NAME.binding (sched_main.c). A binding
 * the server refuses (the pod was bound meanwhile, or is gone) is undone.
 */
#ifndef KUBE9_SCHED_H
#define KUBE9_SCHED_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kube9/map.h"
#include "kube9/tree.h"

#define SCHED_MAX_TOPO 256 /* zones, regions */

/* What the pods of one owner (a ReplicaSet, ...) occupy: for spreading. */
typedef struct sched_owner {
	char *uid;
	k9_map by_node; /* node name -> count */
	int zone[SCHED_MAX_TOPO], region[SCHED_MAX_TOPO];
	int total;
} sched_owner;

typedef struct sched_node {
	char *name;
	json_t *obj;
	int64_t cpu, mem, pods;             /* allocatable */
	int64_t req_cpu, req_mem, req_pods; /* of the pods counted on it */
	bool ready, unschedulable;
	int zone, region;              /* interned; -1 when unlabelled */
	const json_t *labels, *taints; /* of obj (sched_node_index) */
	int *ports;                    /* host ports in use, proto << 16 | port */
	size_t nports;
	bool gone;
} sched_node;

enum { SP_PENDING, SP_UNSCHED, SP_ASSUMED, SP_BOUND, SP_DONE };

typedef struct sched_pod {
	char *key, *uid;
	json_t *obj;
	int state;
	char *node; /* the node it is counted on (assumed or bound) */
	int64_t cpu, mem;
	char *owner;
	int ports[32];
	size_t nports;
	int zone, region; /* where it is counted */
	char *msg;        /* unschedulable: why, to be reported */
	bool reported;    /* msg written to the pod's status and an Event */
} sched_pod;

/* A pod as the filters see it. */
typedef struct sched_req {
	const json_t *pod;
	int64_t cpu, mem;
	int ports[32];
	size_t nports;
	const sched_owner *owner;
	/* of the pod's spec: what the filters look at, NULL when absent */
	const json_t *tolerations, *selector, *terms;
} sched_req;

typedef struct sched {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	sched_node **nodes;
	size_t nnodes, cap;
	k9_map node_by_name;
	k9_map pods;   /* key -> sched_pod */
	k9_map owners; /* uid -> sched_owner */
	char *zones[SCHED_MAX_TOPO], *regions[SCHED_MAX_TOPO];
	int nzones, nregions;
	/* the active queue: keys of pods to schedule, in order */
	char **active;
	size_t ahead, alen, acap;
	k9_map in_active;
	bool changed; /* nodes or pods changed since the unschedulable pods were last tried */
	size_t next_start;
	tree_watch pods_w, nodes_w;
	tree_queue *binds; /* pod keys to bind, or to report unschedulable */
	volatile int stop;
	const char *scheduler_name;
	/* counters */
	uint64_t scheduled, failed, bind_errors;
} sched;

/* sched_cache.c: the informers' callbacks (they take s->lock). */
void sched_on_node(void *arg, const char *type, json_t *old, json_t *obj);
void sched_on_pod(void *arg, const char *type, json_t *old, json_t *obj);
void sched_unassume(sched *s, sched_pod *p);              /* lock held */
void sched_assume(sched *s, sched_pod *p, sched_node *n); /* lock held */
void sched_push(sched *s, const char *key);               /* lock held */
sched_owner *sched_owner_get(sched *s, const char *uid, bool create);

/* sched_fit.c: pure logic. */
void sched_req_init(sched_req *r, const json_t *pod, const sched_owner *owner);
/* Point n->labels and n->taints into n->obj (after every change of obj). */
void sched_node_index(sched_node *n);
/* NULL when the pod fits node n; else why not (a static string or written to buf). */
const char *sched_filter(const sched_req *r, const sched_node *n, char *buf, size_t len);
/* A score for a node that fits, higher is better. */
double sched_score(const sched_req *r, const sched_node *n, int max_node, int max_zone,
                   int max_region);
/* How many feasible nodes to look for among n (kube-scheduler's adaptive percentage). */
size_t sched_feasible_wanted(size_t n);
/* Count a filter's reasons (one or more lines) in m; free the counts. */
void sched_reasons_add(k9_map *m, const char *reasons);
void sched_reasons_free(k9_map *m);
/* "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) ..." (sorted as Kubernetes does). */
char *sched_fit_message(size_t nnodes, const k9_map *reasons);
/* A host port wanted by a pod, as sched_node.ports holds them. */
int sched_port(const char *proto, int port);

#endif
