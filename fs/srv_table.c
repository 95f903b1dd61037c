/*
 * srv_table.c - server-side printing for `kubectl get`: when the client
 * accepts a meta.k8s.io Table, a get or list answer becomes rows of cells
 * with the columns kubectl users know (pods: Ready, Status, Restarts, Age).
 * The columns of each kind are a table of (name, cell function) below.
 */
#include <string.h>
#include <time.h>

#include "kube9/util.h"
#include "srv.h"

typedef json_t *(*cell_fn)(const json_t *o);

typedef struct column {
	const char *name, *type;
	int priority; /* 1 = only with -o wide */
	cell_fn cell;
} column;

/* The string at a dotted path of o, or NULL. */
static const char *str_at(const json_t *o, const char *dotted)
{
	return json_string_value(obj_get_path(o, dotted));
}

static json_t *cell_name(const json_t *o)
{
	return json_string(str_at(o, "metadata.name") ?: "");
}

/* Kubernetes' short human durations: 45s, 3m20s, 5h, 2d3h, 40d. */
static void human_duration(long s, char *out, size_t n)
{
	long m = s / 60, h = m / 60, d = h / 24;
	if (s < 0)
		snprintf(out, n, "<invalid>");
	else if (s < 120)
		snprintf(out, n, "%lds", s);
	else if (m < 10)
		snprintf(out, n, "%ldm%lds", m, s % 60);
	else if (h < 3)
		snprintf(out, n, "%ldm", m);
	else if (h < 8)
		snprintf(out, n, "%ldh%ldm", h, m % 60);
	else if (h < 48)
		snprintf(out, n, "%ldh", h);
	else if (d < 8)
		snprintf(out, n, "%ldd%ldh", d, h % 24);
	else if (d < 730)
		snprintf(out, n, "%ldd", d);
	else
		snprintf(out, n, "%ldy%ldd", d / 365, d % 365);
}

static json_t *cell_age(const json_t *o)
{
	const char *ts = str_at(o, "metadata.creationTimestamp");
	time_t t = k9_parse_rfc3339(ts);
	char buf[32];
	if (t == (time_t)-1)
		return json_string("<unknown>");
	human_duration((long)(time(NULL) - t), buf, sizeof buf);
	return json_string(buf);
}

static json_t *cell_phase(const json_t *o)
{
	return json_string(str_at(o, "status.phase") ?: "");
}

static json_t *pod_ready(const json_t *o)
{
	json_t *cs = json_object_get(json_object_get(o, "status"), "containerStatuses");
	size_t total = json_array_size(json_object_get(json_object_get(o, "spec"), "containers"));
	size_t ready = 0, i;
	json_t *c;
	json_array_foreach(cs, i, c) ready += json_is_true(json_object_get(c, "ready"));
	return json_sprintf("%zu/%zu", ready, total);
}

static json_t *pod_status(const json_t *o)
{
	json_t *st = json_object_get(o, "status");
	if (str_at(o, "metadata.deletionTimestamp"))
		return json_string("Terminating");
	const char *reason = json_string_value(json_object_get(st, "reason"));
	json_t *cs = json_object_get(st, "containerStatuses");
	size_t i;
	json_t *c;
	json_array_foreach(cs, i, c)
	{
		json_t *state = json_object_get(c, "state");
		const char *r = str_at(state, "waiting.reason");
		if (!r)
			r = str_at(state, "terminated.reason");
		if (r)
			reason = r;
	}
	return json_string(reason ?: json_string_value(json_object_get(st, "phase")) ?: "Unknown");
}

static json_t *pod_restarts(const json_t *o)
{
	json_t *cs = json_object_get(json_object_get(o, "status"), "containerStatuses");
	json_int_t n = 0;
	size_t i;
	json_t *c;
	json_array_foreach(cs, i, c) n += json_integer_value(json_object_get(c, "restartCount"));
	return json_integer(n);
}

static json_t *pod_ip(const json_t *o)
{
	return json_string(str_at(o, "status.podIP") ?: "<none>");
}

static json_t *pod_node(const json_t *o)
{
	return json_string(str_at(o, "spec.nodeName") ?: "<none>");
}

static json_int_t status_int(const json_t *o, const char *f)
{
	return json_integer_value(json_object_get(json_object_get(o, "status"), f));
}

static json_int_t spec_replicas(const json_t *o)
{
	return json_integer_value(json_object_get(json_object_get(o, "spec"), "replicas"));
}

static json_t *deploy_ready(const json_t *o)
{
	return json_sprintf("%lld/%lld", (long long)status_int(o, "readyReplicas"),
	                    (long long)spec_replicas(o));
}

static json_t *deploy_updated(const json_t *o)
{
	return json_integer(status_int(o, "updatedReplicas"));
}

static json_t *deploy_available(const json_t *o)
{
	return json_integer(status_int(o, "availableReplicas"));
}

static json_t *rs_desired(const json_t *o)
{
	return json_integer(spec_replicas(o));
}

static json_t *rs_current(const json_t *o)
{
	return json_integer(status_int(o, "replicas"));
}

static json_t *rs_ready(const json_t *o)
{
	return json_integer(status_int(o, "readyReplicas"));
}

static json_t *svc_type(const json_t *o)
{
	return json_string(str_at(o, "spec.type") ?: "ClusterIP");
}

static json_t *svc_cluster_ip(const json_t *o)
{
	return json_string(str_at(o, "spec.clusterIP") ?: "<none>");
}

static json_t *svc_external_ip(const json_t *o)
{
	(void)o;
	return json_string("<none>");
}

static json_t *svc_ports(const json_t *o)
{
	json_t *ports = json_object_get(json_object_get(o, "spec"), "ports");
	k9_buf b = {0};
	size_t i;
	json_t *p;
	json_array_foreach(ports, i, p)
	{
		buf_printf(&b, "%s%lld", i ? "," : "",
		           (long long)json_integer_value(json_object_get(p, "port")));
		if (json_integer_value(json_object_get(p, "nodePort")))
			buf_printf(&b, ":%lld",
			           (long long)json_integer_value(json_object_get(p, "nodePort")));
		buf_printf(&b, "/%s", json_string_value(json_object_get(p, "protocol")) ?: "TCP");
	}
	json_t *s = json_string(b.data ? b.data : "<none>");
	buf_free(&b);
	return s;
}

static json_t *node_status(const json_t *o)
{
	json_t *conds = json_object_get(json_object_get(o, "status"), "conditions");
	const char *ready = "Unknown";
	size_t i;
	json_t *c;
	json_array_foreach(conds, i, c)
	{
		if (!strcmp(json_string_value(json_object_get(c, "type")) ?: "", "Ready")) {
			const char *s = json_string_value(json_object_get(c, "status")) ?: "";
			ready = !strcmp(s, "True")    ? "Ready"
			        : !strcmp(s, "False") ? "NotReady"
			                              : "Unknown";
		}
	}
	int cordoned = json_is_true(json_object_get(json_object_get(o, "spec"), "unschedulable"));
	return json_sprintf("%s%s", ready, cordoned ? ",SchedulingDisabled" : "");
}

static json_t *node_version(const json_t *o)
{
	json_t *ni = json_object_get(json_object_get(o, "status"), "nodeInfo");
	return json_string(json_string_value(json_object_get(ni, "kubeletVersion")) ?: "");
}

static json_t *data_count(const json_t *o)
{
	return json_integer((json_int_t)(json_object_size(json_object_get(o, "data")) +
	                                 json_object_size(json_object_get(o, "binaryData"))));
}

static json_t *secret_type(const json_t *o)
{
	return json_string(json_string_value(json_object_get(o, "type")) ?: "Opaque");
}

#define NAME                                                                                       \
	{                                                                                          \
		"Name", "string", 0, cell_name                                                     \
	}
#define AGE                                                                                        \
	{                                                                                          \
		"Age", "string", 0, cell_age                                                       \
	}

static const struct {
	const char *plural;
	column cols[8];
} tables[] = {
    {"pods",
     {NAME,
      {"Ready", "string", 0, pod_ready},
      {"Status", "string", 0, pod_status},
      {"Restarts", "integer", 0, pod_restarts},
      AGE,
      {"IP", "string", 1, pod_ip},
      {"Node", "string", 1, pod_node}}},
    {"deployments",
     {NAME,
      {"Ready", "string", 0, deploy_ready},
      {"Up-to-date", "integer", 0, deploy_updated},
      {"Available", "integer", 0, deploy_available},
      AGE}},
    {"replicasets",
     {NAME,
      {"Desired", "integer", 0, rs_desired},
      {"Current", "integer", 0, rs_current},
      {"Ready", "integer", 0, rs_ready},
      AGE}},
    {"services",
     {NAME,
      {"Type", "string", 0, svc_type},
      {"Cluster-IP", "string", 0, svc_cluster_ip},
      {"External-IP", "string", 0, svc_external_ip},
      {"Port(s)", "string", 0, svc_ports},
      AGE}},
    {"nodes",
     {NAME, {"Status", "string", 0, node_status}, AGE, {"Version", "string", 0, node_version}}},
    {"namespaces", {NAME, {"Status", "string", 0, cell_phase}, AGE}},
    {"persistentvolumes", {NAME, {"Status", "string", 0, cell_phase}, AGE}},
    {"persistentvolumeclaims", {NAME, {"Status", "string", 0, cell_phase}, AGE}},
    {"configmaps", {NAME, {"Data", "integer", 0, data_count}, AGE}},
    {"secrets",
     {NAME, {"Type", "string", 0, secret_type}, {"Data", "integer", 0, data_count}, AGE}},
};

static const column default_cols[8] = {NAME, AGE};

static const column *columns_for(const char *plural)
{
	for (size_t i = 0; i < sizeof tables / sizeof *tables; i++)
		if (!strcmp(tables[i].plural, plural))
			return tables[i].cols;
	return default_cols;
}

static json_t *row(const column *cols, json_t *o, int full_object)
{
	json_t *cells = json_array();
	for (int i = 0; i < 8 && cols[i].name; i++)
		json_array_append_new(cells, cols[i].cell(o));
	json_t *obj;
	if (full_object) {
		obj = json_incref(o);
	} else {
		obj = json_pack("{s:s,s:s,s:O}", "kind", "PartialObjectMetadata", "apiVersion",
		                "meta.k8s.io/v1", "metadata", json_object_get(o, "metadata"));
	}
	return json_pack("{s:o,s:o}", "cells", cells, "object", obj);
}

bool srv_wants_table(const char *accept)
{
	return accept && strstr(accept, "as=Table");
}

void srv_table(const srv_req *r, const char *include_object, srv_resp *out)
{
	if (out->code != 200 || !out->body || !r->kind)
		return;
	json_t *o = json_loadb(out->body, out->len, 0, NULL);
	if (!o)
		return;
	const column *cols = columns_for(r->kind->plural);
	json_t *defs = json_array(), *rows = json_array();
	for (int i = 0; i < 8 && cols[i].name; i++)
		json_array_append_new(defs, json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", cols[i].name,
		                                      "type", cols[i].type, "format",
		                                      i == 0 ? "name" : "", "description", "",
		                                      "priority", cols[i].priority));
	int full = include_object && !strcmp(include_object, "Object");
	json_t *items = json_object_get(o, "items");
	const char *rv = str_at(o, "metadata.resourceVersion");
	json_t *meta = json_object();
	if (rv)
		json_object_set_new(meta, "resourceVersion", json_string(rv));
	if (json_is_array(items)) {
		size_t i;
		json_t *it;
		json_array_foreach(items, i, it) json_array_append_new(rows, row(cols, it, full));
		json_t *cont = json_object_get(json_object_get(o, "metadata"), "continue");
		if (cont)
			json_object_set(meta, "continue", cont);
	} else {
		json_array_append_new(rows, row(cols, o, full));
	}
	free(out->body);
	srv_resp_json(out, 200,
	              json_pack("{s:s,s:s,s:o,s:o,s:o}", "kind", "Table", "apiVersion",
	                        "meta.k8s.io/v1", "metadata", meta, "columnDefinitions", defs,
	                        "rows", rows));
	json_decref(o);
}
