/*
 * srv_watch.c - watch as a chunked stream of {"type":...,"object":...}
 * lines. With no resourceVersion (or "0") the stream starts with an ADDED
 * event per existing object, then follows changes from the revision of that
 * snapshot; with a resourceVersion it replays everything after it, or sends
 * one ERROR event with a 410 Status when that revision was compacted away.
 *
 * The response reader runs on the connection's own thread and blocks in
 * store watch_next with a short timeout, so it notices the end of
 * timeoutSeconds, server shutdown and a client that hung up.
 */
#include <microhttpd.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "kube9/sel.h"
#include "kube9/util.h"
#include "srv_obj.h"

struct srv_watch_stream {
	srv *s;
	srv_req req; /* a copy: kind, namespace and name for conversion and filtering */
	store_watch *w;
	sel *labels, *fields;
	k9_buf pending;
	size_t off;
	uint64_t deadline_ns;
	int fd;
	bool done;
};

static void emit(struct srv_watch_stream *ws, const char *type, const char *value, size_t len)
{
	buf_printf(&ws->pending, "{\"type\":\"%s\",\"object\":", type);
	if (srv_same_version(&ws->req)) {
		buf_append(&ws->pending, value, len);
	} else {
		k9_err e;
		json_t *c = srv_to_request_version(&ws->req, value, len, &e);
		char *s = c ? json_dumps(c, JSON_COMPACT) : NULL;
		buf_puts(&ws->pending, s ? s : "null");
		free(s);
		json_decref(c);
	}
	buf_puts(&ws->pending, "}\n");
}

static void emit_error(struct srv_watch_stream *ws, const k9_err *e)
{
	size_t len;
	char *st = srv_status_json(e, &ws->req, &len);
	emit(ws, "ERROR", st, len);
	free(st);
}

/* Whether a stored value passes the name and selector filters. */
static bool wanted(struct srv_watch_stream *ws, const char *key, const char *value, size_t len)
{
	if (ws->req.name[0]) {
		const char *slash = strrchr(key, '/');
		if (!slash || strcmp(slash + 1, ws->req.name))
			return false;
	}
	if (!ws->labels && !ws->fields)
		return true;
	json_t *o = json_loadb(value, len, 0, NULL);
	bool ok = o && srv_selectors_match(o, ws->labels, ws->fields);
	json_decref(o);
	return ok;
}

static void initial_item(const store_obj *o, void *arg)
{
	struct srv_watch_stream *ws = arg;
	if (wanted(ws, o->key, o->value, o->len))
		emit(ws, "ADDED", o->value, o->len);
}

bool srv_client_gone(int fd)
{
	if (fd < 0)
		return false;
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

int srv_watch_start(srv_req *r, srv_resp *out, k9_err *e)
{
	struct srv_watch_stream *ws = xcalloc(1, sizeof *ws);
	ws->s = r->s;
	ws->req = *r;
	ws->req.body = NULL;
	ws->req.body_len = 0;
	ws->fd = -1;
	if (srv_parse_selectors(r, &ws->labels, &ws->fields, e) < 0) {
		free(ws);
		return -1;
	}
	char prefix[512];
	srv_prefix(r, prefix, sizeof prefix);
	const char *rv = r->resource_version;
	int64_t from;
	if (!rv || !rv[0] || !strcmp(rv, "0")) {
		store_list_opts o = {.prefix = prefix};
		store_list_result res = {0};
		if (r->s->st->ops->list(r->s->st, &o, initial_item, ws, &res, e) < 0)
			goto fail;
		free(res.next_key);
		from = res.rev;
	} else {
		char *end;
		from = strtoll(rv, &end, 10);
		if (*end || from < 0) {
			k9_errf(e, 400, "BadRequest", "invalid resourceVersion \"%s\"", rv);
			goto fail;
		}
	}
	k9_err we = {0};
	ws->w = r->s->st->ops->watch(r->s->st, prefix, from, &we);
	if (!ws->w) {
		if (we.code != 410) {
			*e = we;
			goto fail;
		}
		emit_error(ws, &we);
		ws->done = true;
	}
	long t = r->timeout_s;
	if (t <= 0) /* like kube-apiserver: a random time in [min, 2*min) */
		t = r->s->min_watch_timeout_s +
		    (long)(k9_mono_ns() % (uint64_t)(r->s->min_watch_timeout_s + 1));
	ws->deadline_ns = k9_mono_ns() + (uint64_t)t * 1000000000ull;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci)
		ws->fd = ci->connect_fd;
	out->code = 200;
	out->content_type = "application/json";
	out->stream = ws;
	return 0;
fail:
	sel_free(ws->labels);
	sel_free(ws->fields);
	buf_free(&ws->pending);
	free(ws);
	return -1;
}

long srv_watch_read(struct srv_watch_stream *ws, char *buf, size_t max)
{
	for (;;) {
		if (ws->off < ws->pending.len) {
			size_t n = ws->pending.len - ws->off;
			if (n > max)
				n = max;
			memcpy(buf, ws->pending.data + ws->off, n);
			ws->off += n;
			if (ws->off == ws->pending.len)
				ws->off = ws->pending.len = 0;
			return (long)n;
		}
		if (ws->done || ws->s->stopping || k9_mono_ns() >= ws->deadline_ns ||
		    srv_client_gone(ws->fd))
			return -1;
		store_event ev;
		k9_err e = {0};
		int rc = ws->s->st->ops->watch_next(ws->w, &ev, 1000, &e);
		if (rc < 0) {
			emit_error(ws, &e);
			ws->done = true;
			continue;
		}
		if (rc == 0)
			continue;
		if (wanted(ws, ev.obj.key, ev.obj.value, ev.obj.len))
			emit(ws,
			     ev.type == STORE_ADDED      ? "ADDED"
			     : ev.type == STORE_MODIFIED ? "MODIFIED"
			                                 : "DELETED",
			     ev.obj.value, ev.obj.len);
		store_obj_free(&ev.obj);
	}
}

void srv_watch_free(struct srv_watch_stream *ws)
{
	if (ws->w)
		ws->s->st->ops->watch_close(ws->w);
	sel_free(ws->labels);
	sel_free(ws->fields);
	buf_free(&ws->pending);
	free(ws);
}
