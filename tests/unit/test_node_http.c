/*
 * test_node_http.c - the node agent's logs and usage: the CRI log reader
 * (joined parts, timestamps, tail, limit, since, rotated files, previous,
 * following across rotation and restart), the cgroup v1 and v2 and /proc
 * parsers on files in a temp dir, and the HTTP endpoint on a free port.
 *
 * `test_node_http --serve STATE_DIR PORT [NODE]` only serves STATE_DIR on
 * 127.0.0.1:PORT until killed: tests/integration/node_logs.sh uses it as
 * the node's endpoint while `kube9 node` has no --port.
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube9/obj.h"
#include "kube9/util.h"
#include "node_http.h"
#include "node_logs.h"
#include "node_usage.h"
#include "tap.h"

static char tmp[256];

static void put(const char *rel, const char *text)
{
	char p[1024];
	snprintf(p, sizeof p, "%s/%s", tmp, rel);
	char *dir = xstrdup(p);
	*strrchr(dir, '/') = 0;
	k9_mkdir_p(dir, 0755);
	free(dir);
	FILE *f = fopen(p, "a");
	fputs(text, f);
	fclose(f);
}

/* The whole text of a log as read with options o; NULL with e. */
static char *logs(const char *ns, const char *pod, const char *ctr, node_logs_opts o, k9_err *e)
{
	node_logs *l = node_logs_open(tmp, ns, pod, ctr, &o, e);
	if (!l)
		return NULL;
	k9_buf b = {0};
	char chunk[7]; /* small reads: the reader must keep its place */
	size_t n;
	while ((n = node_logs_read(l, chunk, sizeof chunk, NULL, NULL)) > 0)
		buf_append(&b, chunk, n);
	node_logs_close(l);
	buf_append(&b, "", 0);
	return buf_steal(&b, NULL);
}

static bool gone_now(void *arg)
{
	return *(int *)arg > 0 && (*(int *)arg)-- == 1;
}

static node_logs_opts all(void)
{
	return (node_logs_opts){.tail_lines = -1, .limit_bytes = -1};
}

#define L0 "logs/default_web_u1/httpd/"
static void test_logs(void)
{
	k9_err e;
	struct timespec t;
	ok(node_logs_parse_time("2026-11-28T03:04:05.123456789Z", 30, &t) &&
	       t.tv_nsec == 123456789 && t.tv_sec == 1795835045,
	   "RFC 3339 time with nanoseconds");
	ok(node_logs_parse_time("2026-11-28T04:04:05.5+01:00", 27, &t) && t.tv_sec == 1795835045 &&
	       t.tv_nsec == 500000000,
	   "RFC 3339 time with an offset");
	ok(!node_logs_parse_time("yesterday", 9, &t), "not a time");

	put(L0 "0.log.2", "2026-11-28T01:00:00.000000001Z stdout F oldest\n");
	put(L0 "0.log.1", "2026-11-28T02:00:00Z stdout F older\n");
	put(L0 "0.log", "2026-11-28T03:00:00.5Z stdout F one\n"
	                "2026-11-28T03:00:01Z stderr F two on stderr\n"
	                "2026-11-28T03:00:02Z stdout P par\n"
	                "2026-11-28T03:00:03Z stdout P t\n"
	                "2026-11-28T03:00:04Z stdout F ial\n"
	                "not a CRI line\n"
	                "2026-11-28T03:00:05Z stdout F last\n");
	put(L0 "1.log.bad", "2026-11-28T04:00:00Z stdout F not a log\n");
	char *s = logs("default", "web", "httpd", all(), &e);
	is_str(s, "oldest\nolder\none\ntwo on stderr\npartial\nnot a CRI line\nlast\n",
	       "rotated files oldest first, prefix stripped, parts joined, stderr kept");
	free(s);
	node_logs_opts o = all();
	o.timestamps = true;
	o.tail_lines = 3;
	s = logs("default", "web", "httpd", o, &e);
	is_str(s, "2026-11-28T03:00:02Z partial\nnot a CRI line\n2026-11-28T03:00:05Z last\n",
	       "tailLines=3 with timestamps: a joined line carries its first part's time");
	free(s);
	o = all();
	o.tail_lines = 0;
	s = logs("default", "web", "httpd", o, &e);
	is_str(s, "", "tailLines=0");
	free(s);
	o = all();
	o.limit_bytes = 10;
	s = logs("default", "web", "httpd", o, &e);
	is_str(s, "oldest\nold", "limitBytes=10 cuts the text");
	free(s);
	o = all();
	o.since.tv_sec = 1795834800; /* 2026-11-28T03:00:00Z */
	s = logs("default", "web", "httpd", o, &e);
	is_str(s, "one\ntwo on stderr\npartial\nnot a CRI line\nlast\n", "sinceTime");
	free(s);
	o = all();
	o.previous = true;
	s = logs("default", "web", "httpd", o, &e);
	ok(!s && e.code == 400 && strstr(e.msg, "previous terminated container \"httpd\""),
	   "previous without a restart: 400 (%s)", e.msg);
	put(L0 "1.log", "2026-11-28T05:00:00Z stdout F restarted\n");
	s = logs("default", "web", "httpd", o, &e);
	ok(s && !strcmp(s, "oldest\nolder\none\ntwo on stderr\npartial\nnot a CRI line\nlast\n"),
	   "previous=true reads restart 0 once 1.log exists");
	free(s);
	s = logs("default", "web", "httpd", all(), &e);
	is_str(s, "restarted\n", "the current restart is the newest R.log");
	free(s);
	s = logs("default", "nope", "httpd", all(), &e);
	ok(!s && e.code == 404 && !strcmp(e.msg, "pod \"nope\" does not exist"),
	   "unknown pod: 404");
	s = logs("default", "web", "nope", all(), &e);
	ok(!s && e.code == 404 && !strcmp(e.msg, "container \"nope\" not found in pod \"web\""),
	   "unknown container: 404");
	s = logs("default", "web", "..", all(), &e);
	ok(!s && e.code == 404, "a container named .. is not a path");
	put("logs/default_web_u0/httpd/0.log", "2026-11-28T00:00:00Z stdout F stale\n");
	char p[600];
	snprintf(p, sizeof p, "%s/logs/default_web_u0", tmp);
	struct timespec old[2] = {{1000, 0}, {1000, 0}};
	utimensat(AT_FDCWD, p, old, 0);
	s = logs("default", "web", "httpd", all(), &e);
	is_str(s, "restarted\n", "of two directories of one pod name the newest is read");
	free(s);

	/* follow: what is appended, a rotation, a restart, then the reader goes */
	put("logs/ns_f_u2/c/0.log", "2026-11-28T01:00:00Z stdout F first\n");
	o = all();
	o.follow = true;
	node_logs *l = node_logs_open(tmp, "ns", "f", "c", &o, &e);
	char b[256];
	size_t n = l ? node_logs_read(l, b, sizeof b, NULL, NULL) : 0;
	ok(n == 6 && !memcmp(b, "first\n", 6), "follow: what is there");
	put("logs/ns_f_u2/c/0.log", "2026-11-28T01:00:01Z stdout P appen");
	put("logs/ns_f_u2/c/0.log", "ded\n");
	put("logs/ns_f_u2/c/0.log", "2026-11-28T01:00:01Z stdout F  line\n");
	n = node_logs_read(l, b, sizeof b, NULL, NULL);
	ok(n == 14 && !memcmp(b, "appended line\n", 14),
	   "follow: a line appended in parts, written in two pieces");
	char a[600], c[600];
	snprintf(a, sizeof a, "%s/logs/ns_f_u2/c/0.log", tmp);
	snprintf(c, sizeof c, "%s/logs/ns_f_u2/c/0.log.1", tmp);
	put("logs/ns_f_u2/c/0.log", "2026-11-28T01:00:02Z stdout F before rotation\n");
	rename(a, c);
	put("logs/ns_f_u2/c/0.log", "2026-11-28T01:00:03Z stdout F after rotation\n");
	k9_buf got = {0};
	while (got.len < 31 && (n = node_logs_read(l, b, sizeof b, NULL, NULL)) > 0)
		buf_append(&got, b, n);
	is_str(got.data, "before rotation\nafter rotation\n", "follow across a rotation");
	put("logs/ns_f_u2/c/1.log", "2026-11-28T01:00:04Z stdout F after restart\n");
	n = node_logs_read(l, b, sizeof b, NULL, NULL);
	ok(n == 14 && !memcmp(b, "after restart\n", 14), "follow across a restart (1.log)");
	int polls = 2;
	n = node_logs_read(l, b, sizeof b, gone_now, &polls);
	ok(n == 0, "follow ends when the reader is gone");
	node_logs_close(l);
	buf_free(&got);
}

static void test_usage(void)
{
	char root[300];
	node_usage_cg c;
	snprintf(root, sizeof root, "%s/v2", tmp);
	put("v2/cgroup.controllers", "cpu memory\n");
	put("v2/kube9/podu1/cpu.stat", "usage_usec 2500000\nuser_usec 2000000\n");
	put("v2/kube9/podu1/memory.current", "1000000\n");
	put("v2/kube9/podu1/memory.stat", "anon 5\ninactive_file 300000\nactive_file 7\n");
	put("v2/kube9/podu1/httpd/cpu.stat", "usage_usec 1500000\n");
	put("v2/kube9/podu1/httpd/memory.current", "600000\n");
	put("v2/kube9/podu1/httpd/memory.stat", "inactive_file 100000\n");
	ok(node_usage_cgroup(root, "kube9/podu1", &c) == 0 && c.cpu_ns == 2500000000ull &&
	       c.mem_usage == 1000000 && c.mem_ws == 700000,
	   "cgroup v2: usage_usec, memory.current - inactive_file");
	ok(node_usage_cgroup(root, "kube9/podzz", &c) < 0, "cgroup v2: a missing cgroup");
	snprintf(root, sizeof root, "%s/v1", tmp);
	put("v1/cpuacct/kube9/podu1/cpuacct.usage", "4000000000\n");
	put("v1/memory/kube9/podu1/memory.usage_in_bytes", "2000000\n");
	put("v1/memory/kube9/podu1/memory.stat",
	    "cache 1\ninactive_file 9\ntotal_inactive_file 500000\n");
	ok(node_usage_cgroup(root, "kube9/podu1", &c) == 0 && c.cpu_ns == 4000000000ull &&
	       c.mem_ws == 1500000,
	   "cgroup v1: cpuacct.usage, usage_in_bytes - total_inactive_file");
	snprintf(root, sizeof root, "%s/proc", tmp);
	put("proc/stat", "cpu  100 10 50 1000 20 5 5 10 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n");
	put("proc/meminfo", "MemTotal:       1000 kB\nMemFree:         200 kB\n"
	                    "Inactive(file):  100 kB\n");
	long hz = sysconf(_SC_CLK_TCK);
	ok(node_usage_host(root, &c) == 0 && c.cpu_ns == 180ull * (1000000000ull / (uint64_t)hz) &&
	       c.mem_usage == 800 * 1024 && c.mem_ws == 700 * 1024,
	   "/proc: busy jiffies, MemTotal - MemFree - Inactive(file)");
	snprintf(root, sizeof root, "%s/v2", tmp);
	size_t n;
	node_usage_pod *p = node_usage_pods(root, tmp, &n);
	ok(n == 1 && !strcmp(p[0].ns, "default") && !strcmp(p[0].name, "web") &&
	       !strcmp(p[0].uid, "u1") && p[0].nctrs == 1 && !strcmp(p[0].ctrs[0].name, "httpd") &&
	       p[0].ctrs[0].cg.mem_ws == 500000,
	   "pods: log directories joined with their cgroups");
	node_usage_pods_free(p, n);
	uint64_t nc = 0;
	ok(!node_usage_rate("k", 1000000000, &nc), "a rate needs two samples");
	usleep(120000);
	ok(node_usage_rate("k", 1060000000, &nc) && nc > 300000000 && nc < 600000000,
	   "a rate in nanocores (%llu)", (unsigned long long)nc);
	json_t *st = node_usage_node_status();
	const char *cpu = json_string_value(json_object_get(st, "cpu"));
	ok(cpu && cpu[strlen(cpu) - 1] == 'm' && json_string_value(json_object_get(st, "memory")),
	   "the node's usage for its status (%s)", cpu ? cpu : "none");
	json_decref(st);
}

static size_t to_buf(char *p, size_t sz, size_t n, void *arg)
{
	buf_append(arg, p, sz * n);
	return sz * n;
}

/* GET url: the status, the body in *out (caller frees). */
static long get(int port, const char *path, char **out)
{
	k9_buf b = {0};
	char url[512];
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_buf);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	long code = -1;
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	buf_append(&b, "", 0);
	*out = buf_steal(&b, NULL);
	return code;
}

static void test_http(void)
{
	node_one one = {.name = "n1"};
	node_agent a = {.nodes = &one, .n = 1, .state_dir = tmp, .address = "127.0.0.1"};
	char cg[300], *body;
	snprintf(cg, sizeof cg, "%s/v2", tmp);
	node_usage_cgroup_root = cg;
	for (int i = 0; i < 20 && !a.port; i++) {
		a.port = 20000 + (int)(k9_mono_ns() / 1000 % 30000);
		if (node_http_start(&a) < 0)
			a.port = 0;
	}
	ok(a.port > 0, "serving on port %d", a.port);
	ok(get(a.port, "/healthz", &body) == 200 && !strcmp(body, "ok"), "/healthz");
	free(body);
	ok(get(a.port, "/containerLogs/default/web/httpd?tailLines=1&timestamps=true", &body) ==
	           200 &&
	       !strcmp(body, "2026-11-28T05:00:00Z restarted\n"),
	   "/containerLogs with tailLines and timestamps");
	free(body);
	ok(get(a.port, "/containerLogs/default/web/httpd?previous=true&limitBytes=6", &body) ==
	           200 &&
	       !strcmp(body, "oldest"),
	   "/containerLogs previous, limitBytes");
	free(body);
	ok(get(a.port, "/containerLogs/default/web/nope", &body) == 404 &&
	       strstr(body, "container \"nope\" not found"),
	   "/containerLogs of an unknown container: 404 (%s)", body);
	free(body);
	ok(get(a.port, "/containerLogs/default/web/httpd?tailLines=x", &body) == 400,
	   "/containerLogs with a bad tailLines: 400");
	free(body);
	ok(get(a.port, "/metrics/resource", &body) == 200 &&
	       strstr(body, "# TYPE node_cpu_usage_seconds_total counter\n") &&
	       strstr(body, "\nnode_memory_working_set_bytes ") &&
	       strstr(body, "\npod_memory_working_set_bytes{namespace=\"default\",pod=\"web\"} "
	                    "700000 ") &&
	       strstr(body, "\ncontainer_cpu_usage_seconds_total{container=\"httpd\",namespace="
	                    "\"default\",pod=\"web\"} 1.500000000 ") &&
	       strstr(body, "\nresource_scrape_error 0\n"),
	   "/metrics/resource: node, pod and container lines");
	free(body);
	ok(get(a.port, "/stats/summary", &body) == 200, "/stats/summary");
	json_t *j = json_loads(body, 0, NULL);
	json_t *pod0 = json_array_get(json_object_get(j, "pods"), 0);
	ok(!strcmp(json_string_value(obj_get_path(j, "node.nodeName")) ?: "", "n1") &&
	       json_integer_value(obj_get_path(j, "node.cpu.usageCoreNanoSeconds")) > 0 &&
	       !strcmp(json_string_value(obj_get_path(pod0, "podRef.uid")) ?: "", "u1") &&
	       json_integer_value(obj_get_path(pod0, "memory.workingSetBytes")) == 700000 &&
	       json_integer_value(
	           obj_get_path(json_array_get(json_object_get(pod0, "containers"), 0),
	                        "cpu.usageCoreNanoSeconds")) == 1500000000,
	   "/stats/summary: node, pods and containers");
	json_decref(j);
	free(body);
	ok(get(a.port, "/nope", &body) == 404, "an unknown path: 404");
	free(body);
	node_http_stop();
}

static volatile int stop;
static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "--serve")) {
		node_one one = {.name = argc > 4 ? argv[4] : "node"};
		node_agent a = {.nodes = &one,
		                .n = 1,
		                .state_dir = argv[2],
		                .address = "127.0.0.1",
		                .port = atoi(argv[3])};
		signal(SIGTERM, on_term);
		signal(SIGINT, on_term);
		if (node_http_start(&a) < 0)
			return 1;
		while (!stop)
			pause();
		node_http_stop();
		return 0;
	}
	snprintf(tmp, sizeof tmp, "/tmp/k9-node-http.XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	test_logs();
	test_usage();
	test_http();
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmp);
	return tap_done();
}
