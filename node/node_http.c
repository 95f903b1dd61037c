/*
 * node_http.c - the node agent's HTTP endpoint, on the kubelet's paths
 * (libmicrohttpd, a thread per connection, so a followed log blocks only
 * its own connection):
 *
 *   GET /healthz                          "ok"
 *   GET /containerLogs/NS/POD/CONTAINER   a container's log as text (node_logs.c);
 *       ?follow= previous= timestamps= tailLines= limitBytes= sinceSeconds= sinceTime=
 *   GET /metrics/resource                 CPU and memory of the node, pods and
 *                                         containers in the Prometheus text format
 *   GET /stats/summary                    the same as a subset of the Summary API
 *
 * Plain HTTP without authentication: the API server's proxy (fs/srv_proxy.c)
 * is the client it is meant for.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube9/util.h"
#include "node_http.h"
#include "node_logs.h"
#include "node_usage.h"

static struct MHD_Daemon *daemon_;

static bool client_gone(void *arg)
{
	struct pollfd p = {.fd = *(int *)arg, .events = POLLRDHUP};
	return p.fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned code, const char *ctype,
                              char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", ctype);
	enum MHD_Result ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result text(struct MHD_Connection *c, unsigned code, const char *fmt, ...)
{
	k9_buf b = {0};
	va_list ap;
	va_start(ap, fmt);
	char *s;
	if (vasprintf(&s, fmt, ap) >= 0) {
		buf_puts(&b, s);
		free(s);
	}
	va_end(ap);
	size_t len;
	char *body = buf_steal(&b, &len);
	return answer(c, code, "text/plain; charset=utf-8", body, len);
}

/* --- containerLogs --- */

typedef struct logs_stream {
	node_logs *l;
	int fd; /* the connection, to notice the client going away */
} logs_stream;

static ssize_t logs_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	logs_stream *s = cls;
	size_t n = node_logs_read(s->l, buf, max, client_gone, &s->fd);
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void logs_free(void *cls)
{
	logs_stream *s = cls;
	node_logs_close(s->l);
	free(s);
}

/* A boolean query parameter as Go's ParseBool reads it. */
static int q_bool(struct MHD_Connection *c, const char *k, bool *out)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
	if (!v || !v[0] || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "False") ||
	    !strcmp(v, "f") || !strcmp(v, "FALSE") || !strcmp(v, "F"))
		return (*out = false), 0;
	if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "True") || !strcmp(v, "t") ||
	    !strcmp(v, "TRUE") || !strcmp(v, "T"))
		return (*out = true), 0;
	return -1;
}

/* A non-negative integer query parameter; dflt when absent, -2 when malformed. */
static long q_long(struct MHD_Connection *c, const char *k, long dflt)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
	if (!v || !v[0])
		return dflt;
	char *end;
	long x = strtol(v, &end, 10);
	return *end || x < 0 ? -2 : x;
}

static enum MHD_Result container_logs(node_agent *a, struct MHD_Connection *c, const char *rest)
{
	char ns[256], pod[256], ctr[256];
	const char *s1 = strchr(rest, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	if (!s2 || strchr(s2 + 1, '/') || s1 - rest >= 256 || s2 - s1 > 256 || strlen(s2) > 256)
		return text(c, 404, "404 page not found\n");
	snprintf(ns, sizeof ns, "%.*s", (int)(s1 - rest), rest);
	snprintf(pod, sizeof pod, "%.*s", (int)(s2 - s1 - 1), s1 + 1);
	snprintf(ctr, sizeof ctr, "%s", s2 + 1);
	node_logs_opts o = {.tail_lines = q_long(c, "tailLines", -1),
	                    .limit_bytes = q_long(c, "limitBytes", -1)};
	long since_s = q_long(c, "sinceSeconds", 0);
	const char *since_t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "sinceTime");
	if (q_bool(c, "follow", &o.follow) < 0 || q_bool(c, "previous", &o.previous) < 0 ||
	    q_bool(c, "timestamps", &o.timestamps) < 0 || o.tail_lines == -2 ||
	    o.limit_bytes == -2 || since_s < 0 ||
	    (since_t && since_t[0] && !node_logs_parse_time(since_t, strlen(since_t), &o.since)))
		return text(c, 400,
		            "invalid log options: follow, previous and timestamps are "
		            "booleans, tailLines, limitBytes and sinceSeconds non-negative "
		            "integers, sinceTime an RFC 3339 time\n");
	if (since_s > 0) {
		clock_gettime(CLOCK_REALTIME, &o.since);
		o.since.tv_sec -= since_s;
	}
	k9_err e = {0};
	node_logs *l = node_logs_open(a->state_dir, ns, pod, ctr, &o, &e);
	if (!l)
		return text(c, (unsigned)e.code, "%s\n", e.msg);
	logs_stream *s = xcalloc(1, sizeof *s);
	s->l = l;
	s->fd = -1;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci)
		s->fd = ci->connect_fd;
	if (o.follow)
		MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0);
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024,
	                                                           logs_reader, s, logs_free);
	MHD_add_response_header(r, "Content-Type", "text/plain");
	enum MHD_Result ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

/* --- usage --- */

static const char *node_name(const node_agent *a)
{
	return a->n > 0 && a->nodes[0].name ? a->nodes[0].name : "node";
}

static void head(k9_buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s [STABLE] %s\n# TYPE %s %s\n", name, help, name, type);
}

enum { M_CPU, M_MEM, M_START };

/* The lines of one metric: every container's, or every pod's (ctrs false). */
static void lines(k9_buf *b, const char *name, int what, bool ctrs, const node_usage_pod *p,
                  size_t n, long long ms)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < (ctrs ? p[i].nctrs : 1); j++) {
			const node_usage_cg *c = ctrs ? &p[i].ctrs[j].cg : &p[i].cg;
			if ((what == M_CPU && !c->has_cpu) || (what == M_MEM && !c->has_mem))
				continue;
			buf_printf(b, "%s{", name);
			if (ctrs)
				buf_printf(b, "container=\"%s\",", p[i].ctrs[j].name);
			buf_printf(b, "namespace=\"%s\",pod=\"%s\"} ", p[i].ns, p[i].name);
			if (what == M_CPU)
				buf_printf(b, "%.9f", (double)c->cpu_ns / 1e9);
			else if (what == M_MEM)
				buf_printf(b, "%" PRIu64, c->mem_ws);
			else
				buf_printf(b, "%.9f",
				           (double)c->start.tv_sec +
				               (double)c->start.tv_nsec / 1e9);
			buf_printf(b, " %lld\n", ms);
		}
}

/* The kubelet's /metrics/resource, its metrics in its order. */
static char *metrics_text(const node_agent *a, size_t *len)
{
	k9_buf b = {0};
	node_usage_cg host;
	size_t n;
	node_usage_pod *p = node_usage_pods(node_usage_cgroup_root, a->state_dir, &n);
	bool host_ok = node_usage_host(node_usage_proc_root, &host) == 0;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	long long ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	head(&b, "container_cpu_usage_seconds_total", "counter",
	     "Cumulative cpu time consumed by the container in core-seconds");
	lines(&b, "container_cpu_usage_seconds_total", M_CPU, true, p, n, ms);
	head(&b, "container_memory_working_set_bytes", "gauge",
	     "Current working set of the container in bytes");
	lines(&b, "container_memory_working_set_bytes", M_MEM, true, p, n, ms);
	head(&b, "container_start_time_seconds", "gauge",
	     "Start time of the container since unix epoch in seconds");
	lines(&b, "container_start_time_seconds", M_START, true, p, n, ms);
	head(&b, "node_cpu_usage_seconds_total", "counter",
	     "Cumulative cpu time consumed by the node in core-seconds");
	if (host_ok && host.has_cpu)
		buf_printf(&b, "node_cpu_usage_seconds_total %.9f %lld\n",
		           (double)host.cpu_ns / 1e9, ms);
	head(&b, "node_memory_working_set_bytes", "gauge",
	     "Current working set of the node in bytes");
	if (host_ok && host.has_mem)
		buf_printf(&b, "node_memory_working_set_bytes %" PRIu64 " %lld\n", host.mem_ws, ms);
	head(&b, "pod_cpu_usage_seconds_total", "counter",
	     "Cumulative cpu time consumed by the pod in core-seconds");
	lines(&b, "pod_cpu_usage_seconds_total", M_CPU, false, p, n, ms);
	head(&b, "pod_memory_working_set_bytes", "gauge",
	     "Current working set of the pod in bytes");
	lines(&b, "pod_memory_working_set_bytes", M_MEM, false, p, n, ms);
	head(&b, "resource_scrape_error", "gauge",
	     "1 if there was an error while getting container metrics, 0 otherwise");
	buf_printf(&b, "resource_scrape_error %d\n", host_ok ? 0 : 1);
	node_usage_pods_free(p, n);
	return buf_steal(&b, len);
}

static json_t *rfc3339(struct timespec t)
{
	char s[40];
	k9_rfc3339(t.tv_sec, s, sizeof s);
	return json_string(s);
}

/* The cpu and memory members of a Summary API stats object for cgroup c (rate key). */
static void summary_usage(json_t *o, const node_usage_cg *c, const char *key, json_t *now)
{
	uint64_t nc;
	if (c->has_cpu) {
		json_t *cpu = json_pack("{s:O,s:I}", "time", now, "usageCoreNanoSeconds",
		                        (json_int_t)c->cpu_ns);
		if (node_usage_rate(key, c->cpu_ns, &nc))
			json_object_set_new(cpu, "usageNanoCores", json_integer((json_int_t)nc));
		json_object_set_new(o, "cpu", cpu);
	}
	if (c->has_mem)
		json_object_set_new(o, "memory",
		                    json_pack("{s:O,s:I,s:I}", "time", now, "usageBytes",
		                              (json_int_t)c->mem_usage, "workingSetBytes",
		                              (json_int_t)c->mem_ws));
}

static char *summary_json(const node_agent *a, size_t *len)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	json_t *now = rfc3339(t);
	node_usage_cg host;
	json_t *node = json_pack("{s:s}", "nodeName", node_name(a));
	if (node_usage_host(node_usage_proc_root, &host) == 0)
		summary_usage(node, &host, "summary/node", now);
	size_t n;
	node_usage_pod *p = node_usage_pods(node_usage_cgroup_root, a->state_dir, &n);
	json_t *pods = json_array();
	for (size_t i = 0; i < n; i++) {
		char key[600];
		json_t *cs = json_array();
		for (size_t j = 0; j < p[i].nctrs; j++) {
			json_t *c = json_pack("{s:s,s:o}", "name", p[i].ctrs[j].name, "startTime",
			                      rfc3339(p[i].ctrs[j].cg.start));
			snprintf(key, sizeof key, "summary/%s/%s", p[i].uid, p[i].ctrs[j].name);
			summary_usage(c, &p[i].ctrs[j].cg, key, now);
			json_array_append_new(cs, c);
		}
		json_t *po = json_pack("{s:{s:s,s:s,s:s},s:o,s:o}", "podRef", "name", p[i].name,
		                       "namespace", p[i].ns, "uid", p[i].uid, "startTime",
		                       rfc3339(p[i].cg.start), "containers", cs);
		snprintf(key, sizeof key, "summary/%s", p[i].uid);
		summary_usage(po, &p[i].cg, key, now);
		json_array_append_new(pods, po);
	}
	node_usage_pods_free(p, n);
	json_t *o = json_pack("{s:o,s:o}", "node", node, "pods", pods);
	json_decref(now);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	*len = strlen(s);
	return s;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	(void)version, (void)upload;
	node_agent *a = cls;
	static int marker;
	if (!*con_cls) {
		*con_cls = &marker;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* nothing here takes a body */
		return MHD_YES;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return text(c, 405, "405 method not allowed\n");
	size_t len;
	if (!strcmp(url, "/healthz"))
		return text(c, 200, "ok");
	if (!strncmp(url, "/containerLogs/", 15))
		return container_logs(a, c, url + 15);
	if (!strcmp(url, "/metrics/resource")) {
		char *m = metrics_text(a, &len);
		return answer(c, 200, "text/plain; version=0.0.4; charset=utf-8", m, len);
	}
	if (!strcmp(url, "/stats/summary") || !strcmp(url, "/stats/summary/")) {
		char *s = summary_json(a, &len);
		return answer(c, 200, "application/json", s, len);
	}
	return text(c, 404, "404 page not found\n");
}

int node_http_start(node_agent *a)
{
	const char *addr = a->address && a->address[0] ? a->address : "127.0.0.1";
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_ERROR_LOG | MHD_USE_POLL;
	if (a->port <= 0)
		return 0;
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)a->port);
	} else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)a->port);
		flags |= MHD_USE_IPv6;
	} else {
		log_err("kube9 node: --address %s is not an IP address", addr);
		return -1;
	}
	daemon_ = MHD_start_daemon(
	    flags, (uint16_t)a->port, NULL, NULL, on_request, a, MHD_OPTION_SOCK_ADDR, &ss,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)1000, MHD_OPTION_THREAD_STACK_SIZE, (size_t)512 * 1024,
	    MHD_OPTION_EXTERNAL_LOGGER, k9_log_lib, "node http", MHD_OPTION_END);
	if (!daemon_) {
		log_err("kube9 node: cannot listen on %s port %d (logs and usage endpoint)", addr,
		        a->port);
		return -1;
	}
	log_info("kube9 node: logs and usage on http://%s%s%s:%d", flags & MHD_USE_IPv6 ? "[" : "",
	         addr, flags & MHD_USE_IPv6 ? "]" : "", a->port);
	return 0;
}

void node_http_stop(void)
{
	if (daemon_)
		MHD_stop_daemon(daemon_);
	daemon_ = NULL;
}
