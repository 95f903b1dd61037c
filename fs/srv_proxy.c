/*
 * srv_proxy.c - the subresources answered by a node agent (the kubelet's
 * port), as in Kubernetes:
 *
 *   GET /api/v1/namespaces/NS/pods/NAME/log?container= follow= previous=
 *       timestamps= tailLines= limitBytes= sinceSeconds= sinceTime=
 *         -> http://IP:PORT/containerLogs/NS/NAME/CONTAINER?...
 *   GET /api/v1/nodes/NAME/proxy/PATH?QUERY -> http://IP:PORT/PATH?QUERY
 *
 * IP is the node's InternalIP (else ExternalIP, else Hostname), PORT its
 * status.daemonEndpoints.kubeletEndpoint.Port (a node without one has no
 * endpoint: 503 at once, rather than Kubernetes' 10250 and a timeout). The
 * answer is streamed as it comes: a curl multi handle is driven from the
 * connection's own thread (libmicrohttpd gives each its own), so a followed
 * log holds nobody else up and ends when its client goes away.
 */
#include <curl/curl.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kube9/util.h"
#include "srv_obj.h"

/* A transfer from a node agent. */
typedef struct px {
	srv *s;
	CURLM *m;
	CURL *c;
	char *url;
	k9_buf buf; /* received, not yet sent */
	size_t off;
	long code;
	bool headers, done;
	CURLcode res;
	char ctype[128];
	char errbuf[CURL_ERROR_SIZE];
	int client_fd;
} px;

static size_t px_body(char *p, size_t sz, size_t n, void *arg)
{
	buf_append(&((px *)arg)->buf, p, sz * n);
	return sz * n;
}

static size_t px_header(char *p, size_t sz, size_t n, void *arg)
{
	px *x = arg;
	size_t len = sz * n;
	if (len > 13 && !strncasecmp(p, "Content-Type:", 13)) {
		const char *v = p + 13;
		size_t vl = len - 13;
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
			vl--;
		snprintf(x->ctype, sizeof x->ctype, "%.*s", (int)vl, v);
	}
	if (len <= 2) { /* the blank line after the headers (of a 1xx too) */
		curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &x->code);
		x->headers = x->code >= 200;
	}
	return len;
}

/* Wait up to ms for the node, then move the transfer on. */
static void px_step(px *x, int ms)
{
	int running, q;
	CURLMsg *msg;
	curl_multi_poll(x->m, NULL, 0, ms, NULL);
	curl_multi_perform(x->m, &running);
	while ((msg = curl_multi_info_read(x->m, &q)))
		if (msg->msg == CURLMSG_DONE) {
			x->done = true;
			x->res = msg->data.result;
		}
}

static void px_free(void *cls)
{
	px *x = cls;
	curl_multi_remove_handle(x->m, x->c);
	curl_easy_cleanup(x->c);
	curl_multi_cleanup(x->m);
	buf_free(&x->buf);
	free(x->url);
	free(x);
}

static long px_read(void *cls, char *buf, size_t max)
{
	px *x = cls;
	while (x->off == x->buf.len) {
		x->buf.len = x->off = 0;
		if (x->done || x->s->stopping || srv_client_gone(x->client_fd))
			return -1;
		px_step(x, 1000);
	}
	size_t n = x->buf.len - x->off < max ? x->buf.len - x->off : max;
	memcpy(buf, x->buf.data + x->off, n);
	x->off += n;
	return (long)n;
}

/* GET url from a node: the transfer once its headers are in, or NULL with e (500). */
static px *px_open(srv_req *r, char *url, k9_err *e)
{
	px *x = xcalloc(1, sizeof *x);
	x->s = r->s;
	x->url = url;
	x->client_fd = -1;
	const union MHD_ConnectionInfo *ci =
	    r->conn ? MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD) : NULL;
	if (ci)
		x->client_fd = ci->connect_fd;
	x->m = curl_multi_init();
	x->c = curl_easy_init();
	curl_easy_setopt(x->c, CURLOPT_URL, url);
	curl_easy_setopt(x->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(x->c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(x->c, CURLOPT_WRITEFUNCTION, px_body);
	curl_easy_setopt(x->c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->c, CURLOPT_HEADERFUNCTION, px_header);
	curl_easy_setopt(x->c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->c, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->c, CURLOPT_PROTOCOLS_STR, "http");
	curl_multi_add_handle(x->m, x->c);
	uint64_t deadline = k9_mono_ns() + 60ull * 1000000000ull;
	while (!x->headers && !x->done && !r->s->stopping && k9_mono_ns() < deadline &&
	       !srv_client_gone(x->client_fd))
		px_step(x, 1000);
	if (!x->headers) {
		k9_errf(e, 500, "InternalError", "Get \"%s\": %s", url,
		        x->errbuf[0] ? x->errbuf
		        : x->done    ? curl_easy_strerror(x->res)
		                     : "the node did not answer in time");
		px_free(x);
		return NULL;
	}
	return x;
}

/* Append s with what is not unreserved (nor '/' when keep_slash) %-escaped. */
static void escape(k9_buf *b, const char *s, bool keep_slash)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c) || (c == '/' && keep_slash))
			buf_append(b, s, 1);
		else
			buf_printf(b, "%%%02X", c);
	}
}

/* The stored object resource//name or resource/ns/name, parsed; 404 as Kubernetes says it. */
static json_t *stored(srv *s, const char *resource, const char *ns, const char *name, k9_err *e)
{
	char key[600];
	store_obj o = {0};
	store_key(key, sizeof key, "", resource, ns, name);
	if (s->st->ops->get(s->st, key, &o, e) < 0) {
		if (e->code == 404)
			k9_errf(e, 404, "NotFound", "%s \"%s\" not found", resource, name);
		return NULL;
	}
	json_t *j = json_loadb(o.value, o.len, 0, NULL);
	store_obj_free(&o);
	if (!j)
		k9_errf(e, 500, "InternalError", "%s %s: the stored object is not JSON", resource,
		        name);
	return j;
}

/* "http://IP:PORT" of node into b; -1 with e when it is unknown or has no address. */
static int node_base(srv *s, const char *node, k9_buf *b, k9_err *e)
{
	static const char *const prefer[] = {"InternalIP", "ExternalIP", "Hostname"};
	json_t *n = stored(s, "nodes", "", node, e);
	if (!n)
		return -1;
	const char *ip = NULL;
	for (int i = 0; i < 3 && !ip; i++) {
		size_t k;
		json_t *a;
		json_array_foreach(obj_get_path(n, "status.addresses"), k, a)
		{
			const char *v = json_string_value(json_object_get(a, "address"));
			if (!ip && v && v[0] &&
			    !strcmp(json_string_value(json_object_get(a, "type")) ?: "", prefer[i]))
				ip = v;
		}
	}
	json_int_t port =
	    json_integer_value(obj_get_path(n, "status.daemonEndpoints.kubeletEndpoint.Port"));
	int rc = 0;
	if (!ip)
		rc = k9_errf(e, 503, "ServiceUnavailable", "node \"%s\" has no address", node);
	else if (port <= 0 || port > 65535) /* a hollow node without --port, say */
		rc = k9_errf(e, 503, "ServiceUnavailable",
		             "node \"%s\" has no endpoint for logs and usage (no "
		             "status.daemonEndpoints.kubeletEndpoint.Port)",
		             node);
	else
		buf_printf(b, strchr(ip, ':') ? "http://[%s]:%lld" : "http://%s:%lld", ip,
		           (long long)port);
	json_decref(n);
	return rc;
}

/* Let out stream x, or fail with its answer when the node refused (logs: the text as a Status). */
static int answer(px *x, bool as_status, const char *ctype, srv_resp *out, k9_err *e)
{
	if (as_status && (x->code < 200 || x->code > 299)) {
		uint64_t deadline = k9_mono_ns() + 10ull * 1000000000ull;
		while (!x->done && x->buf.len < 65536 && k9_mono_ns() < deadline)
			px_step(x, 200);
		while (x->buf.len && strchr("\r\n ", x->buf.data[x->buf.len - 1]))
			x->buf.len--;
		k9_errf(e, (int)x->code, "", "%.*s", (int)x->buf.len, x->buf.data ?: "");
		px_free(x);
		return -1;
	}
	out->code = (int)x->code;
	out->content_type = ctype ? ctype : x->ctype[0] ? x->ctype : "text/plain";
	out->read = px_read;
	out->free = px_free;
	out->cls = x;
	return 0;
}

/* The container of pod the log is of: want, or the default; NULL with e (400). */
static const char *log_container(const json_t *pod, const char *name, const char *want, k9_err *e)
{
	static const char *const lists[] = {"spec.initContainers", "spec.containers",
	                                    "spec.ephemeralContainers"};
	const json_t *cs = obj_get_path(pod, "spec.containers");
	const char *dflt = json_string_value(json_object_get(
	    obj_get_path(pod, "metadata.annotations"), "kubectl.kubernetes.io/default-container"));
	k9_buf all = {0};
	const char *found = NULL;
	for (int l = 0; l < 3; l++) {
		size_t i;
		json_t *c;
		json_array_foreach(obj_get_path(pod, lists[l]), i, c)
		{
			const char *cn = json_string_value(json_object_get(c, "name")) ?: "";
			buf_printf(&all, "%s%s", all.len ? " " : "", cn);
			if (!found && ((want && want[0] && !strcmp(cn, want)) ||
			               ((!want || !want[0]) && dflt && !strcmp(cn, dflt))))
				found = cn;
		}
	}
	if (!found && (!want || !want[0]) && json_array_size(cs) == 1)
		found = json_string_value(json_object_get(json_array_get(cs, 0), "name"));
	if (!found && want && want[0])
		k9_errf(e, 400, "BadRequest", "container %s is not valid for pod %s", want, name);
	else if (!found && !json_array_size(cs))
		k9_errf(e, 400, "BadRequest", "a container name must be specified for pod %s",
		        name);
	else if (!found)
		k9_errf(e, 400, "BadRequest",
		        "a container name must be specified for pod %s, choose one of: [%s]", name,
		        all.data ?: "");
	buf_free(&all);
	return found;
}

static const char *q(const srv_req *r, const char *k)
{
	return r->conn ? MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, k) : NULL;
}

/* The log options of the query, checked, as the node's query into b. */
static int log_query(const srv_req *r, k9_buf *b, k9_err *e)
{
	static const char *const bools[] = {"follow", "previous", "timestamps"};
	static const char *const nums[] = {"tailLines", "limitBytes", "sinceSeconds"};
	static const long least[] = {0, 1, 1};
	char sep = '?';
	for (int i = 0; i < 3; i++) {
		const char *v = q(r, bools[i]);
		if (!v || !v[0] || !strcmp(v, "false") || !strcmp(v, "0"))
			continue;
		if (strcmp(v, "true") && strcmp(v, "1"))
			return k9_errf(e, 400, "BadRequest",
			               "%s: invalid value \"%s\": not a boolean", bools[i], v);
		buf_printf(b, "%c%s=true", sep, bools[i]);
		sep = '&';
	}
	for (int i = 0; i < 3; i++) {
		const char *v = q(r, nums[i]);
		char *end;
		if (!v || !v[0])
			continue;
		long long x = strtoll(v, &end, 10);
		if (*end || x < least[i])
			return k9_errf(e, 400, "BadRequest",
			               "%s: Invalid value: \"%s\": must be %s", nums[i], v,
			               least[i] ? "greater than 0" : "greater than or equal to 0");
		buf_printf(b, "%c%s=%lld", sep, nums[i], x);
		sep = '&';
	}
	const char *t = q(r, "sinceTime");
	if (t && t[0]) {
		if (q(r, "sinceSeconds") && q(r, "sinceSeconds")[0])
			return k9_errf(
			    e, 400, "BadRequest",
			    "at most one of `sinceTime` or `sinceSeconds` may be specified");
		buf_printf(b, "%csinceTime=", sep);
		escape(b, t, false);
	}
	return 0;
}

int srv_proxy_log(srv_req *r, srv_resp *out, k9_err *e)
{
	json_t *pod = stored(r->s, "pods", r->ns, r->name, e);
	if (!pod)
		return -1;
	k9_buf url = {0};
	const char *ctr = log_container(pod, r->name, q(r, "container"), e);
	const char *node = json_string_value(obj_get_path(pod, "spec.nodeName"));
	int rc = -1;
	if (!ctr)
		goto out;
	if (!node || !node[0]) {
		k9_errf(e, 400, "BadRequest", "pod %s does not have a host assigned", r->name);
		goto out;
	}
	if (node_base(r->s, node, &url, e) < 0)
		goto out;
	buf_puts(&url, "/containerLogs/");
	escape(&url, r->ns, false);
	buf_puts(&url, "/");
	escape(&url, r->name, false);
	buf_puts(&url, "/");
	escape(&url, ctr, false);
	if (log_query(r, &url, e) < 0)
		goto out;
	px *x = px_open(r, buf_steal(&url, NULL), e);
	rc = x ? answer(x, true, "text/plain", out, e) : -1;
out:
	buf_free(&url);
	json_decref(pod);
	return rc;
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
	(void)kind;
	k9_buf *b = cls;
	buf_puts(b, strchr(b->data, '?') ? "&" : "?");
	escape(b, k, false);
	if (v) {
		buf_puts(b, "=");
		escape(b, v, false);
	}
	return MHD_YES;
}

int srv_proxy_node(srv_req *r, srv_resp *out, k9_err *e)
{
	k9_buf url = {0};
	if (node_base(r->s, r->name, &url, e) < 0) {
		buf_free(&url);
		return -1;
	}
	const char *path = r->proxy_path && r->proxy_path[0] ? r->proxy_path : "/";
	escape(&url, path, true);
	if (r->conn)
		MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_arg, &url);
	px *x = px_open(r, buf_steal(&url, NULL), e);
	return x ? answer(x, false, NULL, out, e) : -1;
}
