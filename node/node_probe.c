/*
 * node_probe.c - one run of a liveness, readiness or startup probe, as the
 * kubelet runs them: exec (in the container, through `crun exec`),
 * tcpSocket (a connection to the pod's IP) and httpGet (libcurl; 200-399
 * is success). timeoutSeconds bounds each run. node_ctr_probe runs a
 * container's probes when they are due and acts on their results.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kube9/obj.h"
#include "kube9/tree.h"
#include "kube9/util.h"
#include "node_crun.h"

/* A port number or the name of one of the container's ports. */
static int port_of(const json_t *p, const json_t *ctr)
{
	if (json_is_integer(p))
		return (int)json_integer_value(p);
	const char *name = json_string_value(p);
	if (!name)
		return -1;
	char *end;
	long v = strtol(name, &end, 10);
	if (!*end && end != name)
		return (int)v;
	size_t i;
	const json_t *cp;
	json_array_foreach(json_object_get(ctr, "ports"), i,
	                   cp) if (!strcmp(obj_str(cp, "name") ?: "", name)) return (int)
	    json_integer_value(json_object_get(cp, "containerPort"));
	return -1;
}

static int tcp(const char *ip, int port, double timeout, char *msg, size_t n)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
		snprintf(msg, n, "bad pod IP %s", ip);
		return 0;
	}
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc = connect(s, (struct sockaddr *)&sa, sizeof sa);
	if (rc < 0 && errno == EINPROGRESS) {
		struct pollfd pf = {s, POLLOUT, 0};
		if (poll(&pf, 1, (int)(timeout * 1000)) == 1) {
			int e = 0;
			socklen_t l = sizeof e;
			getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l);
			rc = e ? -1 : 0;
			errno = e;
		} else
			errno = ETIMEDOUT;
	}
	close(s);
	if (rc < 0) {
		snprintf(msg, n, "dial tcp %s:%d: %s", ip, port, strerror(errno));
		return 0;
	}
	return 1;
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

static int http(const json_t *g, const char *ip, int port, double timeout, char *msg, size_t n)
{
	const char *scheme = obj_str(g, "scheme") ?: "HTTP", *path = obj_str(g, "path") ?: "/";
	const char *host = obj_str(g, "host") ?: ip;
	char url[2048];
	snprintf(url, sizeof url, "%s://%s:%d%s%s", strcasecmp(scheme, "HTTPS") ? "http" : "https",
	         host, port, path[0] == '/' ? "" : "/", path);
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "User-Agent: kube-probe/1.32");
	size_t i;
	const json_t *hh;
	json_array_foreach(json_object_get(g, "httpHeaders"), i, hh)
	{
		char line[1024];
		snprintf(line, sizeof line, "%s: %s", obj_str(hh, "name") ?: "X",
		         obj_str(hh, "value") ?: "");
		h = curl_slist_append(h, line);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	CURLcode rc = curl_easy_perform(c);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		snprintf(msg, n, "Get \"%s\": %s", url, curl_easy_strerror(rc));
		return 0;
	}
	if (code < 200 || code >= 400) {
		snprintf(msg, n, "HTTP probe failed with statuscode: %ld", code);
		return 0;
	}
	return 1;
}

static int exec_probe(const json_t *cmd, const char *id, double timeout, char *msg, size_t n)
{
	size_t k = json_array_size(cmd);
	if (!k) {
		snprintf(msg, n, "exec probe without a command");
		return 0;
	}
	const char **args = xcalloc(k + 3, sizeof *args);
	args[0] = "exec";
	args[1] = id;
	for (size_t i = 0; i < k; i++)
		args[2 + i] = json_string_value(json_array_get(cmd, i)) ?: "";
	char out[1024];
	int rc = node_crun_cmd(args, timeout, out, sizeof out);
	free(args);
	if (rc == 0)
		return 1;
	if (rc < 0)
		snprintf(msg, n, "command timed out: %s", out);
	else
		snprintf(msg, n, "command exited with %d: %s", rc, out);
	return 0;
}

int node_probe(const json_t *probe, const json_t *ctr, const char *ip, const char *ctr_id,
               char *msg, size_t n)
{
	const json_t *t = json_object_get(probe, "timeoutSeconds");
	double timeout =
	    json_is_integer(t) && json_integer_value(t) > 0 ? (double)json_integer_value(t) : 1;
	const json_t *p;
	msg[0] = 0;
	if ((p = json_object_get(probe, "exec")))
		return exec_probe(json_object_get(p, "command"), ctr_id, timeout, msg, n);
	if ((p = json_object_get(probe, "tcpSocket"))) {
		int port = port_of(json_object_get(p, "port"), ctr);
		if (port <= 0) {
			snprintf(msg, n, "tcpSocket: no such port");
			return 0;
		}
		return tcp(obj_str(p, "host") ?: ip, port, timeout, msg, n);
	}
	if ((p = json_object_get(probe, "httpGet"))) {
		int port = port_of(json_object_get(p, "port"), ctr);
		if (port <= 0) {
			snprintf(msg, n, "httpGet: no such port");
			return 0;
		}
		return http(p, ip, port, timeout, msg, n);
	}
	snprintf(msg, n, "probe has no handler (exec, tcpSocket or httpGet)");
	return 0;
}

/* The container's probes that are due; a failed liveness or startup probe kills it. */
void node_ctr_probe(node_cpod *cp, node_ctr *c, uint64_t now)
{
	if (c->shim <= 0)
		return;
	for (int i = 0; i < 3; i++) {
		node_probe_st *p = &c->pr[i];
		if (!p->spec || now < p->next)
			continue;
		if (i != PR_START && !c->started_ok)
			continue;
		if (i == PR_START && c->started_ok)
			continue;
		p->next = now + (uint64_t)(obj_num(p->spec, "periodSeconds", 10) * 1e9);
		char msg[1024];
		bool ok = node_probe(p->spec, c->spec, cp->ip, c->id, msg, sizeof msg) == 1;
		if (ok) {
			p->bad = 0;
			if (++p->ok >= (int)obj_num(p->spec, "successThreshold", 1))
				p->result = true;
		} else {
			p->ok = 0;
			if (++p->bad >= (int)obj_num(p->spec, "failureThreshold", 3))
				p->result = false;
			static const char *const what[3] = {"Liveness", "Readiness", "Startup"};
			char m[1200];
			node_path(m, sizeof m, "%s probe failed: %s", what[i], msg);
			json_t *ref = tree_obj_ref(cp->pod);
			tree_event(ref, "Warning", "Unhealthy", m, "kubelet");
			json_decref(ref);
		}
		if (i == PR_START && p->result)
			c->started_ok = true;
		if (i == PR_READY)
			c->ready = p->result;
		if ((i == PR_LIVE || i == PR_START) && !ok &&
		    p->bad >= (int)obj_num(p->spec, "failureThreshold", 3) && !c->kill_at) {
			log_info("pod %s/%s: container %s failed its %s probe, restarting it",
			         cp->ns, cp->name, c->name, i == PR_LIVE ? "liveness" : "startup");
			node_ctr_kill(c, "TERM");
			double g = obj_num(p->spec, "terminationGracePeriodSeconds", cp->grace);
			c->kill_at = now + (uint64_t)((g < 2 ? 2 : g) * 1e9);
		}
	}
	if (!c->pr[PR_READY].spec)
		c->ready = c->started_ok;
	if (c->kill_at && now >= c->kill_at) {
		node_ctr_kill(c, "KILL");
		c->kill_at = now + (uint64_t)5e9;
	}
}
