/*
 * node_agent.c - the node agent's core: registration, heartbeats, and the
 * life of the pods bound to its nodes, all through the mounted tree.
 *
 *   register   nodes/NAME.json created (an existing node keeps its spec:
 *              taints and cordons are the operators'), then its status
 *   heartbeat  nodes/NAME.status every --heartbeat seconds: conditions with
 *              a fresh lastHeartbeatTime, capacity, addresses
 *   pods       namespaces/pods.watch; a pod bound to one of the nodes is
 *              admitted (it must fit what the node has left, as the kubelet
 *              checks) and started by the runtime, and its status written
 *              to namespaces/NS/pods/NAME.status; a pod being deleted is
 *              stopped and then removed for good by unlinking its file (the
 *              mount turns an unlink of a terminating pod into a deletion
 *              with no grace period left)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube9/obj.h"
#include "kube9/util.h"
#include "node.h"
#include "node_crun.h"
#include "node_http.h"

void node_one_init(node_one *n, int i, const char *name, int64_t cpu, int64_t mem, int64_t pods,
                   const char *zone, const char *region)
{
	memset(n, 0, sizeof *n);
	n->name = xstrdup(name);
	n->index = i;
	n->cpu = cpu;
	n->mem = mem;
	n->pods = pods;
	n->zone = zone;
	n->region = region;
	snprintf(n->ip, sizeof n->ip, "10.250.%d.%d", (i >> 8) & 255, i & 255);
	snprintf(n->cidr, sizeof n->cidr, "10.%d.%d.0/24", 64 + ((i >> 8) & 63), i & 255);
	k9_now_rfc3339(n->ready_since, sizeof n->ready_since);
}

void node_pod_ip(const node_one *n, int slot, char *out, size_t len)
{
	snprintf(out, len, "10.%d.%d.%d", 64 + ((n->index >> 8) & 63), n->index & 255, slot);
}

static json_t *qty(int64_t v, const char *unit)
{
	char b[64];
	snprintf(b, sizeof b, "%" PRId64 "%s", v, unit);
	return json_string(b);
}

static json_t *resources(const node_one *n)
{
	json_t *cpu = n->cpu % 1000 ? qty(n->cpu, "m") : qty(n->cpu / 1000, "");
	return json_pack("{s:o,s:o,s:o}", "cpu", cpu, "memory", qty(n->mem, ""), "pods",
	                 qty(n->pods, ""));
}

static json_t *condition(const char *type, const char *status, const char *reason, const char *msg,
                         const char *now, const char *since)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", type, "status", status, "reason",
	                 reason, "message", msg, "lastHeartbeatTime", now, "lastTransitionTime",
	                 since);
}

static json_t *node_status(const node_agent *a, const node_one *n)
{
	char now[32];
	k9_now_rfc3339(now, sizeof now);
	json_t *conds =
	    json_pack("[o,o,o,o]",
	              condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
	                        "kubelet has sufficient memory available", now, n->ready_since),
	              condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
	                        "kubelet has no disk pressure", now, n->ready_since),
	              condition("PIDPressure", "False", "KubeletHasSufficientPID",
	                        "kubelet has sufficient PID available", now, n->ready_since),
	              condition("Ready", "True", "KubeletReady", "kubelet is posting ready status",
	                        now, n->ready_since));
	json_t *st =
	    json_pack("{s:{s:o,s:o,s:o,s:[{s:s,s:s},{s:s,s:s}],s:{s:s,s:s,s:s,s:s,s:s,s:s}}}",
	              "status", "capacity", resources(n), "allocatable", resources(n), "conditions",
	              conds, "addresses", "type", "InternalIP", "address", n->ip, "type",
	              "Hostname", "address", n->name, "nodeInfo", "kubeletVersion", "v1.32.0-kube9",
	              "containerRuntimeVersion", a->rt->name, "operatingSystem", "linux",
	              "architecture", "amd64", "osImage", "kube9", "kernelVersion", "");
	json_t *status = json_object_get(st, "status");
	if (a->port > 0)
		json_object_set_new(status, "daemonEndpoints",
		                    json_pack("{s:{s:i}}", "kubeletEndpoint", "Port", a->port));
	if (a->rt == &node_crun_rt)
		node_crun_status(status);
	return st;
}

static int register_node(node_agent *a, node_one *n)
{
	char path[512];
	tree_path(path, sizeof path, "nodes", NULL, n->name, "json");
	json_t *st = node_status(a, n);
	json_t *o =
	    json_pack("{s:s,s:s,s:{s:s,s:{s:s,s:s,s:s,s:s,s:s}},s:{s:s,s:[s]},s:O}", "apiVersion",
	              "v1", "kind", "Node", "metadata", "name", n->name, "labels",
	              "kubernetes.io/hostname", n->name, "kubernetes.io/os", "linux",
	              "kubernetes.io/arch", "amd64", "topology.kubernetes.io/zone", n->zone,
	              "topology.kubernetes.io/region", n->region, "spec", "podCIDR", n->cidr,
	              "podCIDRs", n->cidr, "status", json_object_get(st, "status"));
	int rc = tree_put_json(path, o, true);
	json_decref(o);
	if (rc == -EEXIST) {
		/* known already: keep its spec, post the status */
		tree_path(path, sizeof path, "nodes", NULL, n->name, "status");
		rc = tree_put_json(path, st, false);
	}
	json_decref(st);
	return rc;
}

static int heartbeat(node_agent *a, node_one *n)
{
	char path[512];
	tree_path(path, sizeof path, "nodes", NULL, n->name, "status");
	json_t *st = node_status(a, n);
	int rc = tree_put_json(path, st, false);
	json_decref(st);
	if (rc == -ENOENT) /* deleted meanwhile: register again, as the kubelet does */
		rc = register_node(a, n);
	return rc;
}

struct hb {
	node_agent *a;
	int first, step;
};

/* Heartbeats of nodes first, first + step, ...: spread evenly over the period. */
static void *heartbeats(void *arg)
{
	struct hb *h = arg;
	node_agent *a = h->a;
	int mine = (a->n - h->first + h->step - 1) / h->step;
	double gap = mine ? a->heartbeat / mine : a->heartbeat;
	while (!a->stop) {
		for (int i = h->first; i < a->n && !a->stop; i += h->step) {
			struct timespec t0, t1;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			int rc = heartbeat(a, &a->nodes[i]);
			if (rc < 0)
				log_warn("node %s: heartbeat: %s", a->nodes[i].name, strerror(-rc));
			clock_gettime(CLOCK_MONOTONIC, &t1);
			double spent =
			    (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
			if (gap > spent)
				usleep((useconds_t)((gap - spent) * 1e6));
		}
	}
	free(h);
	return NULL;
}

static void pod_path(const json_t *pod, const char *ext, char *out, size_t n)
{
	tree_path(out, n, "pods", tree_meta(pod, "namespace"), tree_meta(pod, "name"), ext);
}

static const char *pod_node(const json_t *pod)
{
	return json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
}

static void on_pod(void *arg, const char *type, json_t *old, json_t *obj)
{
	node_agent *a = arg;
	const json_t *p = obj ? obj : old;
	if (!p)
		return;
	const char *nn = pod_node(p);
	if (!nn || !k9_map_get(&a->by_name, nn))
		return;
	(void)type;
	char key[512];
	tree_key(p, key, sizeof key);
	tree_queue_add(a->q, key);
}

/* The runtime has stopped p: its share of the node goes back. */
static void release(node_agent *a, node_pod *p)
{
	pthread_mutex_lock(&a->lock);
	p->node->used_cpu -= p->cpu;
	p->node->used_mem -= p->mem;
	p->node->used_pods--;
	p->node->slot_used[p->slot] = 0;
	k9_map_del(&a->pods, p->key);
	pthread_mutex_unlock(&a->lock);
	free(p->key);
	free(p->uid);
	free(p);
}

/* Ask the runtime to stop p; true once it has. */
static bool stop_pod(node_agent *a, node_pod *p, int grace, bool forget)
{
	pthread_mutex_lock(&a->lock);
	bool done = p->stopped;
	pthread_mutex_unlock(&a->lock);
	if (done)
		return true;
	/* asked again: a shorter grace period or a deletion may have come */
	int rc = a->rt->stop(a, p, grace, forget);
	if (rc == 0) {
		pthread_mutex_lock(&a->lock);
		p->stopped = true;
		pthread_mutex_unlock(&a->lock);
	}
	return rc == 0;
}

int node_pod_status(node_agent *a, node_pod *p, const json_t *status)
{
	(void)a;
	int rc = tree_put_status_of("pods", p->key, status);
	if (rc < 0 && rc != -ENOENT)
		log_warn("pod %s: status: %s", p->key, strerror(-rc));
	return rc;
}

void node_pod_stopped(node_agent *a, node_pod *p)
{
	/* once unlocked, a queue worker may release p: the key is copied first */
	pthread_mutex_lock(&a->lock);
	p->rt = NULL;
	p->stopped = true;
	char *key = xstrdup(p->key);
	pthread_mutex_unlock(&a->lock);
	tree_queue_add(a->q, key);
	free(key);
}

/* The kubelet's admission: does the pod fit what the node has left? NULL if so. */
static const char *admit(node_one *n, int64_t cpu, int64_t mem, char *msg, size_t len)
{
	if (n->used_pods + 1 > n->pods) {
		snprintf(msg, len,
		         "Node didn't have enough resource: pods, requested: 1, used: %" PRId64
		         ", capacity: %" PRId64,
		         n->used_pods, n->pods);
		return "OutOfpods";
	}
	if (n->used_cpu + cpu > n->cpu) {
		snprintf(msg, len,
		         "Node didn't have enough resource: cpu, requested: %" PRId64
		         ", used: %" PRId64 ", capacity: %" PRId64,
		         cpu, n->used_cpu, n->cpu);
		return "OutOfcpu";
	}
	if (n->used_mem + mem > n->mem) {
		snprintf(msg, len,
		         "Node didn't have enough resource: memory, requested: %" PRId64
		         ", used: %" PRId64 ", capacity: %" PRId64,
		         mem, n->used_mem, n->mem);
		return "OutOfmemory";
	}
	return NULL;
}

static int sync_pod(void *arg, const char *key)
{
	node_agent *a = arg;
	json_t *pod = tree_watch_get(&a->pods_w, key);
	pthread_mutex_lock(&a->lock);
	node_pod *p = k9_map_get(&a->pods, key);
	pthread_mutex_unlock(&a->lock);
	const char *uid = pod ? tree_meta(pod, "uid") : "";
	if (p && (!pod || strcmp(p->uid, uid))) {
		/* gone, or a new pod of the same name: the old one stops first */
		if (!stop_pod(a, p, -1, true)) {
			json_decref(pod);
			return 0;
		}
		release(a, p);
		p = NULL;
	}
	if (!pod)
		return 0;
	int rc = 0;
	char path[512];
	const json_t *meta = json_object_get(pod, "metadata");
	if (json_object_get(meta, "deletionTimestamp")) {
		const json_t *g = json_object_get(meta, "deletionGracePeriodSeconds");
		if (p &&
		    !stop_pod(a, p, json_is_integer(g) ? (int)json_integer_value(g) : -1, true)) {
			json_decref(pod);
			return 0;
		}
		if (p)
			release(a, p);
		else if (a->rt->forget)
			a->rt->forget(a, pod);
		pod_path(pod, "json", path, sizeof path);
		rc = tree_unlink(path);
		json_decref(pod);
		return rc == 0 || rc == -ENOENT ? 0 : -1;
	}
	const char *phase =
	    json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
	if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))) {
		/* finished: what it held goes back; its logs stay until it is deleted */
		if (p && stop_pod(a, p, 0, false))
			release(a, p);
		json_decref(pod);
		return 0;
	}
	if (!p) {
		node_one *n = k9_map_get(&a->by_name, pod_node(pod));
		int64_t cpu, mem;
		obj_pod_requests(pod, &cpu, &mem);
		char msg[256];
		pthread_mutex_lock(&a->lock);
		const char *why = admit(n, cpu, mem, msg, sizeof msg);
		int slot = 2;
		while (!why && slot < 255 && n->slot_used[slot])
			slot++;
		if (!why && slot == 255) {
			why = "OutOfpods";
			snprintf(msg, sizeof msg, "Node has no pod IP left");
		}
		if (!why) {
			p = xcalloc(1, sizeof *p);
			p->key = xstrdup(key);
			p->uid = xstrdup(uid);
			p->node = n;
			p->cpu = cpu;
			p->mem = mem;
			p->slot = slot;
			n->slot_used[slot] = 1;
			n->used_cpu += cpu;
			n->used_mem += mem;
			n->used_pods++;
			k9_map_put(&a->pods, key, p);
		}
		pthread_mutex_unlock(&a->lock);
		if (why) {
			char full[320];
			snprintf(full, sizeof full, "Pod was rejected: %s", msg);
			json_t *st = json_pack("{s:s,s:s,s:s}", "phase", "Failed", "reason", why,
			                       "message", full);
			rc = tree_put_status("pods", pod, st);
			json_decref(st);
			log_info("pod %s rejected on %s: %s", key, n->name, msg);
			json_decref(pod);
			return rc < 0 && rc != -ENOENT ? -1 : 0;
		}
	}
	if (!p->status_written) {
		json_t *st = json_object();
		rc = a->rt->start(a, p, pod, st);
		if (rc == 0)
			rc = tree_put_status("pods", pod, st);
		json_decref(st);
		if (rc >= 0)
			p->status_written = true;
		else if (rc != -ENOENT)
			log_warn("pod %s: status: %s", key, strerror(-rc));
		rc = rc > 0 ? 0 : rc;
	}
	json_decref(pod);
	return rc < 0 && rc != -ENOENT ? -1 : 0;
}

int node_agent_run(node_agent *a)
{
	pthread_mutex_init(&a->lock, NULL);
	for (int i = 0; i < a->n; i++)
		k9_map_put(&a->by_name, a->nodes[i].name, &a->nodes[i]);
	log_info("registering %d node%s", a->n, a->n == 1 ? "" : "s");
	int bad = 0;
	for (int i = 0; i < a->n; i++) {
		int rc = register_node(a, &a->nodes[i]);
		if (rc < 0) {
			log_err("node %s: cannot register: %s (see %s/nodes/.errors)",
			        a->nodes[i].name, strerror(-rc), tree_root());
			bad++;
		}
		if (a->n >= 100 && (i + 1) % (a->n / 10) == 0)
			log_info("registered %d of %d nodes", i + 1, a->n);
	}
	if (bad == a->n)
		return -1;
	a->q = tree_queue_new();
	tree_queue_run(a->q, a->workers, sync_pod, a);
	if (tree_watch_start_pick(&a->pods_w, "namespaces/pods.watch", on_pod, a,
	                          a->rt->pod_fields) < 0)
		return -1;
	if (a->port > 0 && node_http_start(a) < 0)
		return -1;
	if (a->rt == &node_crun_rt)
		node_host_janitor(a);
	int hbt = a->n >= 400 ? 4 : 1;
	pthread_t hb[4];
	for (int t = 0; t < hbt; t++) {
		struct hb *h = xcalloc(1, sizeof *h);
		*h = (struct hb){a, t, hbt};
		pthread_create(&hb[t], NULL, heartbeats, h);
	}
	log_info("%d node%s ready (runtime %s)", a->n, a->n == 1 ? "" : "s", a->rt->name);
	while (!a->stop)
		pause();
	return 0;
}
