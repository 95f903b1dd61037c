/*
 * node_hollow.c - the hollow runtime (kubemark's idea): a pod is Running as
 * soon as it is admitted, with a pod IP of its node's range and every
 * container running and ready; nothing is started.
 */
#include <stdio.h>
#include <string.h>

#include "kube9/util.h"
#include "node.h"

static int hollow_start(node_agent *a, node_pod *p, const json_t *pod, json_t *st)
{
	(void)a;
	char now[32], ip[32];
	k9_now_rfc3339(now, sizeof now);
	node_pod_ip(p->node, p->slot, ip, sizeof ip);
	json_t *cs = json_array();
	size_t i;
	const json_t *c;
	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name")) ?: "";
		char id[256];
		snprintf(id, sizeof id, "hollow://%s-%s", p->uid, name);
		json_array_append_new(
		    cs, json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:i,s:{s:{s:s}}}", "name", name,
		                  "image", json_string_value(json_object_get(c, "image")) ?: "",
		                  "imageID", "", "containerID", id, "ready", 1, "started", 1,
		                  "restartCount", 0, "state", "running", "startedAt", now));
	}
	const char *sched = now;
	size_t k;
	json_t *cond;
	json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), k,
	                   cond) if (!strcmp(json_string_value(json_object_get(cond, "type")) ?: "",
	                                     "PodScheduled")) sched =
	    json_string_value(json_object_get(cond, "lastTransitionTime")) ?: now;
	json_t *conds =
	    json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s}]", "type",
	              "PodScheduled", "status", "True", "lastTransitionTime", sched, "type",
	              "Initialized", "status", "True", "lastTransitionTime", now, "type",
	              "ContainersReady", "status", "True", "lastTransitionTime", now, "type",
	              "Ready", "status", "True", "lastTransitionTime", now);
	json_object_set_new(st, "phase", json_string("Running"));
	json_object_set_new(st, "conditions", conds);
	json_object_set_new(st, "hostIP", json_string(p->node->ip));
	json_object_set_new(st, "podIP", json_string(ip));
	json_object_set_new(st, "podIPs", json_pack("[{s:s}]", "ip", ip));
	json_object_set_new(st, "startTime", json_string(now));
	json_object_set_new(st, "containerStatuses", cs);
	return 0;
}

static int hollow_stop(node_agent *a, node_pod *p, int grace, bool forget)
{
	(void)a;
	(void)p;
	(void)grace;
	(void)forget;
	return 0;
}

/* What the agent and this runtime read of a pod. */
static const char *const pod_fields[] = {"metadata.name",
                                         "metadata.namespace",
                                         "metadata.uid",
                                         "metadata.resourceVersion",
                                         "metadata.deletionTimestamp",
                                         "spec.nodeName",
                                         "spec.containers[].name",
                                         "spec.containers[].image",
                                         "spec.containers[].resources",
                                         "spec.initContainers[].resources",
                                         "status.phase",
                                         "status.conditions",
                                         NULL};

const node_rt node_hollow_rt = {"hollow://0.1", pod_fields, hollow_start, hollow_stop, NULL};
