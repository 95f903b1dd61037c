/*
 * srv_http.c - the HTTP(S) edge of the API server, on libmicrohttpd with one
 * thread per connection (so a watch may block its own thread).
 *
 * Each request: collect the body (413 past SRV_MAX_BODY), answer the
 * unauthenticated health and version endpoints, authenticate, route,
 * authorize, dispatch, and turn a k9_err into a Status object exactly here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube9/util.h"
#include "srv.h"

typedef struct conn_ctx {
	k9_buf body;
	int too_large;
	uint64_t start_ns;
} conn_ctx;

static const char *reason_phrase(int code)
{
	switch (code) {
	case 400:
		return "BadRequest";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "NotFound";
	case 405:
		return "MethodNotAllowed";
	case 406:
		return "NotAcceptable";
	case 409:
		return "Conflict";
	case 410:
		return "Expired";
	case 413:
		return "RequestEntityTooLarge";
	case 415:
		return "UnsupportedMediaType";
	case 422:
		return "Invalid";
	case 429:
		return "TooManyRequests";
	case 504:
		return "Timeout";
	default:
		return code >= 500 ? "InternalError" : "";
	}
}

char *srv_status_json(const k9_err *e, const srv_req *r, size_t *len)
{
	json_t *st = json_object();
	json_object_set_new(st, "kind", json_string("Status"));
	json_object_set_new(st, "apiVersion", json_string("v1"));
	json_object_set_new(st, "metadata", json_object());
	json_object_set_new(st, "status", json_string("Failure"));
	json_object_set_new(st, "message", json_string(e->msg));
	json_object_set_new(st, "reason",
	                    json_string(e->reason[0] ? e->reason : reason_phrase(e->code)));
	if (r && r->kind) {
		json_t *d = json_object();
		if (r->name[0])
			json_object_set_new(d, "name", json_string(r->name));
		if (r->kind->group[0])
			json_object_set_new(d, "group", json_string(r->kind->group));
		json_object_set_new(d, "kind", json_string(r->kind->plural));
		json_object_set_new(st, "details", d);
	}
	json_object_set_new(st, "code", json_integer(e->code));
	char *s = json_dumps(st, JSON_COMPACT);
	json_decref(st);
	*len = strlen(s);
	return s;
}

void srv_resp_json(srv_resp *out, int code, json_t *obj)
{
	out->code = code;
	out->body = json_dumps(obj, JSON_COMPACT);
	out->len = strlen(out->body);
	out->content_type = "application/json";
	json_decref(obj);
}

void srv_resp_text(srv_resp *out, int code, const char *ctype, char *body, size_t len)
{
	out->code = code;
	out->body = body;
	out->len = len;
	out->content_type = ctype;
}

static const char *q(struct MHD_Connection *c, const char *k)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
}

static bool q_true(struct MHD_Connection *c, const char *k)
{
	const char *v = q(c, k);
	return v && (!strcmp(v, "true") || !strcmp(v, "1") || !v[0]);
}

static long q_long(struct MHD_Connection *c, const char *k, long dflt)
{
	const char *v = q(c, k);
	if (!v || !v[0])
		return dflt;
	char *end;
	long x = strtol(v, &end, 10);
	return *end ? -1 : x;
}

static long watch_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	long n = srv_watch_read(cls, buf, max);
	return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void watch_free(void *cls)
{
	srv_watch_free(cls);
}

/* Any other stream (srv_resp.read), as libmicrohttpd's reader. */
typedef struct stream_cb {
	long (*read)(void *cls, char *buf, size_t max);
	void (*free)(void *cls);
	void *cls;
} stream_cb;

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	stream_cb *s = cls;
	long n = s->read(s->cls, buf, max);
	return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void stream_free(void *cls)
{
	stream_cb *s = cls;
	if (s->free)
		s->free(s->cls);
	free(s);
}

/* Convert the body of out to YAML when the client asked for it. */
static void maybe_yaml(struct MHD_Connection *c, srv_resp *out)
{
	const char *acc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
	if (!acc || !strstr(acc, "yaml") || strstr(acc, "json") || !out->body ||
	    strcmp(out->content_type, "application/json"))
		return;
	json_t *o = json_loadb(out->body, out->len, 0, NULL);
	if (!o)
		return;
	size_t len;
	char *y = obj_encode_yaml(o, &len);
	json_decref(o);
	free(out->body);
	out->body = y;
	out->len = len;
	out->content_type = "application/yaml";
}

static enum MHD_Result send_resp(struct MHD_Connection *c, srv_resp *out)
{
	struct MHD_Response *resp;
	if (out->stream) {
		MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0);
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, watch_reader,
		                                         out->stream, watch_free);
	} else if (out->read) {
		MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0);
		stream_cb *s = xmalloc(sizeof *s);
		*s = (stream_cb){out->read, out->free, out->cls};
		out->read = NULL;
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_reader,
		                                         s, stream_free);
	} else {
		maybe_yaml(c, out);
		resp = MHD_create_response_from_buffer(out->len, out->body, MHD_RESPMEM_MUST_FREE);
		out->body = NULL;
	}
	if (!resp)
		return MHD_NO;
	if (out->content_type)
		MHD_add_response_header(resp, "Content-Type", out->content_type);
	MHD_add_response_header(resp, "Cache-Control", "no-cache, private");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)out->code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static int unauthenticated(srv *s, srv_req *r, srv_resp *out)
{
	const char *p = r->path;
	if (!strcmp(p, "/healthz") || !strcmp(p, "/readyz") || !strcmp(p, "/livez") ||
	    !strncmp(p, "/healthz/", 9) || !strncmp(p, "/readyz/", 8) ||
	    !strncmp(p, "/livez/", 7)) {
		int ready = !s->stopping;
		srv_resp_text(out, ready ? 200 : 503, "text/plain; charset=utf-8",
		              xstrdup(ready ? "ok" : "shutting down"), ready ? 2 : 13);
		return 1;
	}
	if (!strcmp(p, "/version")) {
		k9_err e;
		return srv_discovery(r, out, &e) == 1;
	}
	return 0;
}

/* Run one complete request; returns its HTTP code for the metrics. */
static int handle(srv *s, struct MHD_Connection *c, const char *url, const char *method,
                  conn_ctx *ctx, srv_req *r, srv_resp *out)
{
	k9_err e = {0};
	r->s = s;
	r->method = method;
	r->path = url;
	r->conn = c;
	r->verb = "";
	if (unauthenticated(s, r, out))
		return out->code;
	if (ctx->too_large) {
		k9_errf(&e, 413, "RequestEntityTooLarge",
		        "the request body is larger than the limit of %d bytes", SRV_MAX_BODY);
		goto fail;
	}
	if (srv_authenticate(s, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
	                     &r->user, &e) < 0)
		goto fail;
	if (!strcmp(url, "/metrics")) {
		size_t len;
		char *m = srv_metrics_render(&len);
		srv_resp_text(out, 200, "text/plain; version=0.0.4", m, len);
		return 200;
	}
	int d = srv_discovery(r, out, &e);
	if (d == 0)
		d = srv_openapi(r, out, &e);
	if (d == 1)
		return out->code;
	if (d < 0)
		goto fail;
	r->watch = q_true(c, "watch");
	if (srv_route(r, &e) < 0)
		goto fail;
	r->label_selector = q(c, "labelSelector");
	r->field_selector = q(c, "fieldSelector");
	r->resource_version = q(c, "resourceVersion");
	r->cont = q(c, "continue");
	r->dry_run = q(c, "dryRun");
	r->grace_period = q(c, "gracePeriodSeconds");
	r->propagation = q(c, "propagationPolicy");
	r->field_validation = q(c, "fieldValidation");
	r->limit = q_long(c, "limit", 0);
	r->timeout_s = q_long(c, "timeoutSeconds", 0);
	if (r->limit < 0 || r->timeout_s < 0) {
		k9_errf(&e, 400, "BadRequest",
		        "limit and timeoutSeconds must be non-negative integers");
		goto fail;
	}
	r->content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	r->body = ctx->body.data ? ctx->body.data : "";
	r->body_len = ctx->body.len;
	if (srv_authorize(r, &e) < 0)
		goto fail;
	if (r->watch) {
		if (srv_watch_start(r, out, &e) < 0)
			goto fail;
		return out->code;
	}
	if (srv_handle_resource(r, out, &e) < 0)
		goto fail;
	if ((!strcmp(r->verb, "get") || !strcmp(r->verb, "list")) && !r->sub[0] &&
	    srv_wants_table(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept")))
		srv_table(r, q(c, "includeObject"), out);
	return out->code;
fail:
	if (!e.code)
		k9_errf(&e, 500, "InternalError", "internal error");
	free(out->body);
	memset(out, 0, sizeof *out);
	out->code = e.code;
	out->body = srv_status_json(&e, r, &out->len);
	out->content_type = "application/json";
	if (e.code >= 500)
		log_err("%s %s: %s", method, url, e.msg);
	return e.code;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	(void)version;
	srv *s = cls;
	conn_ctx *ctx = *con_cls;
	if (!ctx) {
		ctx = xcalloc(1, sizeof *ctx);
		ctx->start_ns = k9_mono_ns();
		*con_cls = ctx;
		return MHD_YES;
	}
	if (*upload_size) {
		if (ctx->body.len + *upload_size > SRV_MAX_BODY)
			ctx->too_large = 1;
		else
			buf_append(&ctx->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	srv_req r = {0};
	srv_resp out = {0};
	int code = handle(s, c, url, method, ctx, &r, &out);
	enum MHD_Result ret = send_resp(c, &out);
	free(out.body);
	if (!out.stream)
		srv_metrics_observe(r.verb && r.verb[0] ? r.verb : method,
		                    r.kind ? r.kind->plural : "", code,
		                    k9_mono_ns() - ctx->start_ns);
	else
		srv_metrics_observe("watch", r.kind ? r.kind->plural : "", code, 0);
	log_debug("%s %s %d %s", method, url, code, r.user.name);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	conn_ctx *ctx = *con_cls;
	if (ctx) {
		buf_free(&ctx->body);
		free(ctx);
		*con_cls = NULL;
	}
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, k9_err *e)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	if (!colon || !colon[1])
		return k9_errf(e, 400, "BadRequest", "--listen %s: want ADDR:PORT", listen);
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return k9_errf(e, 400, "BadRequest", "--listen %s: bad port", listen);
	size_t hl = (size_t)(colon - listen);
	if (hl >= sizeof host)
		return k9_errf(e, 400, "BadRequest", "--listen %s: address too long", listen);
	memcpy(host, listen, hl);
	host[hl] = 0;
	if (host[0] == '[' && hl > 1 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = 0;
	}
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (!host[0] || inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		if (!host[0])
			a4->sin_addr.s_addr = htonl(INADDR_ANY);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
	} else {
		return k9_errf(e, 400, "BadRequest", "--listen %s: %s is not an IP address", listen,
		               host);
	}
	return 0;
}

static volatile sig_atomic_t got_signal;
static void on_signal(int sig)
{
	got_signal = sig;
}

int srv_run(srv *s, const char *cert_pem, const char *key_pem, k9_err *e)
{
	struct sockaddr_storage ss;
	if (parse_listen(s->listen, &ss, e) < 0)
		return -1;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_ERROR_LOG | MHD_USE_TLS |
	                 MHD_USE_POLL; /* poll: no FD_SETSIZE limit */
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	struct MHD_Daemon *d = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &ss,
	    MHD_OPTION_HTTPS_MEM_CERT, cert_pem, MHD_OPTION_HTTPS_MEM_KEY, key_pem,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->request_timeout_s,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)4000, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)128 * 1024,
	    MHD_OPTION_THREAD_STACK_SIZE, (size_t)512 * 1024, MHD_OPTION_LISTEN_BACKLOG_SIZE,
	    (unsigned)1024, MHD_OPTION_EXTERNAL_LOGGER, k9_log_lib, "http", MHD_OPTION_END);
	if (!d)
		return k9_errf(e, 500, "InternalError", "cannot listen on %s: %s", s->listen,
		               strerror(errno ? errno : EADDRINUSE));
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	log_info("serving on https://%s (port %u), data in %s", s->listen, info ? info->port : 0,
	         s->data_dir);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	while (!got_signal)
		pause();
	log_info("signal %d: shutting down", (int)got_signal);
	s->stopping = 1;
	MHD_stop_daemon(d);
	return 0;
}
