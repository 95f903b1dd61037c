/*
 * node.h - `kube9 node`: the node agent. Internal to node/.
 *
 * The agent's core (node_agent.c) registers its nodes, heartbeats, admits
 * the pods bound to them, writes their status and finishes their deletion,
 * all through the mounted tree. What runs a pod sits behind node_rt: the
 * hollow runtime (node_hollow.c) reports pods Running without starting
 * anything, for kubemark-style clusters of thousands of nodes in one
 * process.
 */
#ifndef KUBE9_NODE_H
#define KUBE9_NODE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kube9/map.h"
#include "kube9/tree.h"

typedef struct node_one {
	char *name;
	int index;
	const char *zone, *region;
	int64_t cpu, mem, pods;                /* allocatable: millicores, bytes, count */
	int64_t used_cpu, used_mem, used_pods; /* of the pods admitted */
	unsigned char slot_used[256];          /* pod IP slots */
	char ip[32], cidr[32];                 /* InternalIP, podCIDR */
	char ready_since[32];                  /* lastTransitionTime of Ready */
} node_one;

typedef struct node_pod {
	char *key; /* "NS/NAME" */
	char *uid;
	node_one *node;
	int64_t cpu, mem;
	int slot;
	bool status_written;
	bool stopped; /* the runtime has stopped it (its word) */
	void *rt;     /* the runtime's */
} node_pod;

struct node_agent;
/*
 * A container runtime. start either fills the pod's status and returns 0,
 * or returns 1 and reports the status itself (node_pod_status) as it
 * changes. stop returns 0 when the pod is stopped, or 1 and calls
 * node_pod_stopped later; grace is in seconds (-1: the pod's own), forget
 * says the pod is deleted (its logs go too). forget (may be NULL) is told
 * of a deleted pod the runtime no longer runs.
 */
typedef struct node_rt {
	const char *name;
	const char *const *pod_fields; /* what it reads of a pod (tree_pick); NULL: all */
	int (*start)(struct node_agent *a, node_pod *p, const json_t *pod, json_t *status);
	int (*stop)(struct node_agent *a, node_pod *p, int grace, bool forget);
	void (*forget)(struct node_agent *a, const json_t *pod);
} node_rt;

typedef struct node_agent {
	pthread_mutex_t lock; /* nodes' usage, pods */
	node_one *nodes;
	int n;
	k9_map by_name; /* name -> node_one */
	k9_map pods;    /* key -> node_pod */
	const node_rt *rt;
	tree_watch pods_w;
	tree_queue *q;
	double heartbeat;
	int workers;
	const char *state_dir; /* pods' state, logs, images (real runtime) */
	const char *address;   /* InternalIP of a real node; the HTTP endpoint's */
	int port;              /* the agent's HTTP endpoint (logs, usage); 0: none */
	volatile int stop;
} node_agent;

extern const node_rt node_hollow_rt, node_crun_rt;

/*
 * For runtimes: write p's status (0 or -errno); p is stopped (the agent
 * finishes it, and may free p as soon as this returns: p->rt is cleared
 * under the agent's lock, where the runtime's stop must read it).
 */
int node_pod_status(node_agent *a, node_pod *p, const json_t *status);
void node_pod_stopped(node_agent *a, node_pod *p);

int node_agent_run(node_agent *a);
/* Set up node i of a: name, capacity, zone, region, addresses. */
void node_one_init(node_one *n, int i, const char *name, int64_t cpu, int64_t mem, int64_t pods,
                   const char *zone, const char *region);
/* "10.64.3.7": the pod IP of slot s on node n. */
void node_pod_ip(const node_one *n, int slot, char *out, size_t len);

#endif
