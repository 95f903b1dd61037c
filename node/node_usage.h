/*
 * node_usage.h - what the node and its pods use, read from /proc and the
 * cgroup filesystem, as the kubelet's cAdvisor reads it. Internal to node/.
 *
 * A container runs in cgroup kube9/pod<UID>/<CONTAINER>, its pod's totals are
 * in kube9/pod<UID>. cgroup v2 (ROOT/cgroup.controllers exists): cpu.stat
 * usage_usec, memory.current, memory.stat inactive_file; v1: cpuacct.usage
 * under ROOT/cpuacct, memory.usage_in_bytes and memory.stat
 * total_inactive_file under ROOT/memory. Working set = usage - inactive file.
 * Pods are known by their log directories STATE/logs/NS_NAME_UID.
 *
 * The roots are parameters so the parsers can be tested on files in a temp
 * dir; node_usage_cgroup_root is what node_http.c reads (a test may point it
 * elsewhere before starting the endpoint).
 */
#ifndef KUBE9_NODE_USAGE_H
#define KUBE9_NODE_USAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

extern const char *node_usage_cgroup_root; /* "/sys/fs/cgroup" */
extern const char *node_usage_proc_root;   /* "/proc" */

/* One reading of a cgroup or of the whole node. */
typedef struct node_usage_cg {
	bool has_cpu, has_mem;
	uint64_t cpu_ns;            /* cumulative CPU time */
	uint64_t mem_usage, mem_ws; /* bytes: usage, working set */
	struct timespec start;      /* when the cgroup was made (0 if unknown) */
} node_usage_cg;

/* The cgroup rel ("kube9/podUID/web") under root: 0, or -1 when it is not there. */
int node_usage_cgroup(const char *root, const char *rel, node_usage_cg *out);
/* The whole node from proc ("/proc"): /proc/stat and /proc/meminfo. 0 or -1. */
int node_usage_host(const char *proc, node_usage_cg *out);

typedef struct node_usage_ctr {
	char *name;
	node_usage_cg cg;
} node_usage_ctr;

typedef struct node_usage_pod {
	char *ns, *name, *uid;
	node_usage_cg cg;
	node_usage_ctr *ctrs; /* sorted by name */
	size_t nctrs;
} node_usage_pod;

/*
 * The pods with a log directory under state_dir/logs and a cgroup under
 * cg_root, sorted by namespace and name; the caller frees the array with
 * node_usage_pods_free.
 */
node_usage_pod *node_usage_pods(const char *cg_root, const char *state_dir, size_t *n);
void node_usage_pods_free(node_usage_pod *p, size_t n);

/*
 * The CPU rate in nanocores of the counter named key, now at usage_ns,
 * since the sample of key this process keeps (replaced once it is a second
 * old, so the rate spans at least the time between two callers' calls).
 * false when there is no sample at least 50 ms old yet.
 */
bool node_usage_rate(const char *key, uint64_t usage_ns, uint64_t *nanocores);

/*
 * The node's usage for its status: {"cpu": "250m", "memory": "123456789"}
 * (cpu the rate since the previous call; the first call samples twice,
 * 100 ms apart). A new reference, or NULL when /proc cannot be read.
 */
json_t *node_usage_node_status(void);

#endif
