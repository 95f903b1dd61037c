/*
 * mnt_events.c - DIR/.events, DIR/.watch and DIR/.errors.
 *
 * Every change the cache takes is appended to one ring of recent events.
 * A reader holds a cursor into it; a read with nothing new is parked (the
 * request is answered later, from the thread that publishes, so no worker
 * thread blocks) and poll handles are notified.
 *
 * .events gives one line per change, "TYPE NAME REV". A reader that falls
 * more than MNT_EV_RING events behind gets one "OVERFLOW - REV" line.
 *
 * .watch gives what `kubectl get -w -o json` would, one JSON object a line
 * ({"type":"ADDED","object":{...}}): first every object the directory holds,
 * then a BOOKMARK annotated k8s.io/initial-events-end (as a Kubernetes
 * watch-list does), then the changes. A reader that falls behind gets an
 * ERROR line with a 410 Status, then end of file: it opens the file again,
 * as a Kubernetes client relists.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mnt.h"

#define MNT_EV_RING 32768

typedef struct ev {
	uint64_t seq, rv, ns_id;
	int res;
	char type[10];
	char *name; /* namespaced: "pods/x" relative to the namespace */
	char *nsname;
	json_t *old_labels, *new_labels;
	mnt_blob *obj;
} ev;

typedef struct reader {
	struct reader *next, *prev;
	mnt_evfilter f;
	uint64_t cursor;
	fuse_req_t parked;
	size_t parked_size;
	struct fuse_pollhandle *ph;
	k9_buf pend; /* formatted, not yet read */
	size_t pend_off;
	/* .watch: the objects there were at open, then the bookmark */
	mnt_blob **snap;
	size_t nsnap, isnap;
	bool bookmark, ended;
	uint64_t snap_rv;
} reader;

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static ev ring[MNT_EV_RING];
static uint64_t next_seq = 1;
static reader readers = {.next = &readers, .prev = &readers};

static bool sel_has(mnt *m, uint64_t sel_id, const json_t *labels)
{
	mnt_seldir *sd = mnt_ids_get(m, sel_id, MNT_ENT_SEL);
	return sd && sel_match_labels(sd->sel, labels);
}

/* The type of e as seen by reader r, or NULL when it does not concern r. */
static const char *concerns(mnt *m, const reader *r, const ev *e)
{
	switch (r->f.scope) {
	case MNT_EV_ALL:
		return e->type;
	case MNT_EV_NS:
		return e->ns_id == r->f.ns_id ? e->type : NULL;
	case MNT_EV_RESALL:
		return e->res == r->f.res ? e->type : NULL;
	case MNT_EV_RES:
		return e->ns_id == r->f.ns_id && e->res == r->f.res ? e->type : NULL;
	case MNT_EV_SEL: {
		if (e->ns_id != r->f.ns_id || e->res != r->f.res)
			return NULL;
		bool was = strcmp(e->type, "ADDED") && sel_has(m, r->f.sel_id, e->old_labels);
		bool is = strcmp(e->type, "DELETED") && sel_has(m, r->f.sel_id, e->new_labels);
		if (!was && !is)
			return NULL;
		return was && is ? "MODIFIED" : is ? "ADDED" : "DELETED";
	}
	}
	return NULL;
}

static void watch_line(k9_buf *b, const char *type, const mnt_blob *obj)
{
	buf_printf(b, "{\"type\":\"%s\",\"object\":", type);
	if (obj && obj->len)
		buf_append(b, obj->data, obj->len - 1);
	else
		buf_puts(b, "{}");
	buf_puts(b, "}\n");
}

/* Append the line for e as seen by r; false when e does not concern r. */
static bool format(mnt *m, const reader *r, const ev *e, k9_buf *b)
{
	const char *type = concerns(m, r, e);
	if (!type)
		return false;
	if (r->f.watch) {
		watch_line(b, type, e->obj);
		return true;
	}
	switch (r->f.scope) {
	case MNT_EV_ALL:
		if (e->ns_id)
			buf_printf(b, "%s namespaces/%s/%s/%s %" PRIu64 "\n", type, e->nsname,
			           m->res[e->res].plural, e->name, e->rv);
		else
			buf_printf(b, "%s %s/%s %" PRIu64 "\n", type, m->res[e->res].plural,
			           e->name, e->rv);
		break;
	case MNT_EV_NS:
		buf_printf(b, "%s %s/%s %" PRIu64 "\n", type, m->res[e->res].plural, e->name,
		           e->rv);
		break;
	case MNT_EV_RESALL:
		buf_printf(b, "%s %s/%s %" PRIu64 "\n", type, e->nsname, e->name, e->rv);
		break;
	default:
		buf_printf(b, "%s %s %" PRIu64 "\n", type, e->name, e->rv);
	}
	return true;
}

static uint64_t last_rv(void)
{
	return next_seq > 1 ? ring[(next_seq - 1) % MNT_EV_RING].rv : 0;
}

/* Format what r has next into r->pend, at least size bytes when there is that much. */
static void fill(mnt *m, reader *r, size_t size)
{
	k9_buf *b = &r->pend;
	if (r->ended)
		return;
	while (r->isnap < r->nsnap && b->len < size) {
		watch_line(b, "ADDED", r->snap[r->isnap]);
		mnt_blob_unref(r->snap[r->isnap++]);
	}
	if (r->isnap < r->nsnap)
		return;
	if (r->bookmark) {
		r->bookmark = false;
		buf_printf(b,
		           "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":"
		           "\"%" PRIu64 "\",\"annotations\":{\"k8s.io/initial-events-end\":"
		           "\"true\"}}}}\n",
		           r->snap_rv);
	}
	uint64_t oldest = next_seq > MNT_EV_RING ? next_seq - MNT_EV_RING : 1;
	if (r->cursor < oldest) {
		if (r->f.watch) {
			buf_puts(
			    b, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":"
			       "\"v1\",\"status\":\"Failure\",\"message\":\"this reader fell too "
			       "far behind: open .watch again\",\"reason\":\"Expired\",\"code\":"
			       "410}}\n");
			r->ended = true;
			return;
		}
		buf_printf(b, "OVERFLOW - %" PRIu64 "\n", last_rv());
		r->cursor = oldest;
	}
	while (r->cursor < next_seq && b->len < size)
		format(m, r, &ring[r->cursor++ % MNT_EV_RING], b);
}

/*
 * Up to size bytes for r (ev_lock and read lock held); whole lines unless
 * one line is longer than size. NULL with *len 0 when there is nothing.
 */
static char *collect(mnt *m, reader *r, size_t size, size_t *len)
{
	if (r->pend_off == r->pend.len) {
		r->pend.len = r->pend_off = 0;
		fill(m, r, size);
	}
	size_t avail = r->pend.len - r->pend_off, n = avail;
	if (n > size) {
		/* cut after the last whole line that fits, or mid-line when none does */
		n = size;
		const char *p = r->pend.data + r->pend_off;
		while (n && p[n - 1] != '\n')
			n--;
		if (!n)
			n = size;
	}
	*len = n;
	if (!n)
		return NULL;
	char *out = xmalloc(n);
	memcpy(out, r->pend.data + r->pend_off, n);
	r->pend_off += n;
	if (r->pend.len > 1 << 20 && r->pend_off == r->pend.len)
		buf_free(&r->pend), r->pend_off = 0;
	return out;
}

/* Whether r has something to read (ev_lock held). */
static bool readable(mnt *m, reader *r)
{
	if (r->pend_off < r->pend.len || r->isnap < r->nsnap || r->bookmark)
		return true;
	if (r->ended)
		return false;
	for (uint64_t s = r->cursor; s < next_seq; s++)
		if (s + MNT_EV_RING < next_seq || concerns(m, r, &ring[s % MNT_EV_RING]))
			return true;
	return false;
}

void mnt_events_publish(mnt *m, const char *type, const mnt_ns *ns, int res, const char *name,
                        uint64_t rv, const json_t *old_labels, const json_t *new_labels,
                        mnt_blob *obj)
{
	pthread_mutex_lock(&ev_lock);
	ev *e = &ring[next_seq % MNT_EV_RING];
	free(e->name);
	free(e->nsname);
	json_decref(e->old_labels);
	json_decref(e->new_labels);
	mnt_blob_unref(e->obj);
	e->seq = next_seq++;
	e->rv = rv;
	e->ns_id = ns == m->cluster ? 0 : ns->h.id;
	e->res = res;
	snprintf(e->type, sizeof e->type, "%s", type);
	e->name = xstrdup(name);
	e->nsname = xstrdup(ns->name);
	e->old_labels = json_incref((json_t *)old_labels);
	e->new_labels = json_incref((json_t *)new_labels);
	e->obj = mnt_blob_ref(obj);
	/* wake the readers this concerns; the caller holds the cache lock */
	for (reader *r = readers.next; r != &readers; r = r->next) {
		if (r->parked) {
			size_t len;
			char *text = collect(m, r, r->parked_size, &len);
			if (len) {
				fuse_reply_buf(r->parked, text, len);
				r->parked = NULL;
			}
			free(text);
		} else if (r->ph && concerns(m, r, e)) {
			fuse_lowlevel_notify_poll(r->ph);
			fuse_pollhandle_destroy(r->ph);
			r->ph = NULL;
		}
	}
	pthread_mutex_unlock(&ev_lock);
}

struct snapctx {
	reader *r;
	mnt *m;
	size_t cap;
};

static void snap_obj(void *val, void *arg)
{
	struct snapctx *c = arg;
	mnt_obj *o = val;
	reader *r = c->r;
	if (!mnt_obj_visible(o, false))
		return;
	if (r->f.scope == MNT_EV_SEL && !sel_has(c->m, r->f.sel_id, o->labels))
		return;
	if (r->nsnap == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		r->snap = xrealloc(r->snap, c->cap * sizeof *r->snap);
	}
	r->snap[r->nsnap++] = mnt_blob_ref(o->json);
	if (o->rv > r->snap_rv)
		r->snap_rv = o->rv;
}

static void snap_ns(void *val, void *arg)
{
	struct snapctx *c = arg;
	mnt_ns *ns = val;
	const mnt_evfilter *f = &c->r->f;
	for (int res = 0; res < c->m->nres; res++)
		if (f->scope != MNT_EV_RESALL || res == f->res)
			k9_map_each(&ns->res[res], snap_obj, c);
}

/* The objects a .watch reader starts with (read lock held). */
static void snapshot(mnt *m, reader *r)
{
	struct snapctx c = {.r = r, .m = m};
	const mnt_evfilter *f = &r->f;
	mnt_ns *ns = f->ns_id ? mnt_ids_get(m, f->ns_id, MNT_ENT_NS) : m->cluster;
	switch (f->scope) {
	case MNT_EV_ALL:
	case MNT_EV_RESALL:
		if (f->scope == MNT_EV_ALL)
			snap_ns(m->cluster, &c);
		k9_map_each(&m->nss, snap_ns, &c);
		break;
	case MNT_EV_NS:
		if (ns)
			snap_ns(ns, &c);
		break;
	default:
		if (ns)
			k9_map_each(&ns->res[f->res], snap_obj, &c);
	}
	r->bookmark = true;
}

/* Opened with the cache's read lock held, so no change slips between snapshot and cursor. */
void *mnt_events_open(mnt *m, const mnt_evfilter *f)
{
	reader *r = xcalloc(1, sizeof *r);
	r->f = *f;
	if (f->watch)
		snapshot(m, r);
	pthread_mutex_lock(&ev_lock);
	r->cursor = next_seq;
	if (r->snap_rv < last_rv())
		r->snap_rv = last_rv();
	r->next = &readers;
	r->prev = readers.prev;
	readers.prev->next = r;
	readers.prev = r;
	pthread_mutex_unlock(&ev_lock);
	return r;
}

static void interrupted(fuse_req_t req, void *arg)
{
	reader *r = arg;
	pthread_mutex_lock(&ev_lock);
	bool mine = r->parked == req;
	if (mine)
		r->parked = NULL;
	pthread_mutex_unlock(&ev_lock);
	if (mine)
		fuse_reply_err(req, EINTR);
}

void mnt_events_read(mnt *m, void *h, fuse_req_t req, size_t size, bool nonblock)
{
	reader *r = h;
	pthread_rwlock_rdlock(&m->lock);
	pthread_mutex_lock(&ev_lock);
	size_t len;
	char *text = collect(m, r, size, &len);
	if (len || nonblock || r->parked || r->ended || atomic_load(&m->stopping)) {
		bool eof = r->ended;
		pthread_mutex_unlock(&ev_lock);
		pthread_rwlock_unlock(&m->lock);
		if (len || eof)
			fuse_reply_buf(req, text, len);
		else
			fuse_reply_err(req, EAGAIN);
		free(text);
		return;
	}
	pthread_mutex_unlock(&ev_lock);
	pthread_rwlock_unlock(&m->lock);
	fuse_req_interrupt_func(req, interrupted, r);
	pthread_mutex_lock(&ev_lock);
	if (fuse_req_interrupted(req)) {
		pthread_mutex_unlock(&ev_lock);
		fuse_reply_err(req, EINTR);
		return;
	}
	r->parked = req;
	r->parked_size = size;
	pthread_mutex_unlock(&ev_lock);
}

void mnt_events_poll(mnt *m, void *h, fuse_req_t req, struct fuse_pollhandle *ph)
{
	reader *r = h;
	pthread_rwlock_rdlock(&m->lock);
	pthread_mutex_lock(&ev_lock);
	unsigned rev = readable(m, r) || r->ended ? POLLIN | POLLRDNORM : 0;
	if (ph) {
		if (r->ph)
			fuse_pollhandle_destroy(r->ph);
		r->ph = rev ? NULL : ph;
		if (rev)
			fuse_pollhandle_destroy(ph);
	}
	pthread_mutex_unlock(&ev_lock);
	pthread_rwlock_unlock(&m->lock);
	fuse_reply_poll(req, rev);
}

void mnt_events_close(mnt *m, void *h)
{
	(void)m;
	reader *r = h;
	pthread_mutex_lock(&ev_lock);
	r->prev->next = r->next;
	r->next->prev = r->prev;
	fuse_req_t req = r->parked;
	if (r->ph)
		fuse_pollhandle_destroy(r->ph);
	pthread_mutex_unlock(&ev_lock);
	if (req)
		fuse_reply_err(req, EINTR);
	while (r->isnap < r->nsnap)
		mnt_blob_unref(r->snap[r->isnap++]);
	free(r->snap);
	buf_free(&r->pend);
	free(r);
}

void mnt_events_shutdown(mnt *m)
{
	(void)m;
	pthread_mutex_lock(&ev_lock);
	for (reader *r = readers.next; r != &readers; r = r->next)
		if (r->parked) {
			fuse_reply_err(r->parked, EINTR);
			r->parked = NULL;
		}
	pthread_mutex_unlock(&ev_lock);
}

static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;

static mnt_errors *errors_of(mnt_ns *ns, int res)
{
	return &ns->errors[res < 0 ? MNT_MAXRES : res];
}

void mnt_errors_add(mnt *m, mnt_ns *ns, int res, const char *msg)
{
	(void)m;
	log_warn("mount: %s", msg);
	pthread_mutex_lock(&err_lock);
	mnt_errors *x = errors_of(ns, res);
	unsigned i = (x->head + x->n) % MNT_ERRORS_KEEP;
	if (x->n == MNT_ERRORS_KEEP) {
		free(x->msg[x->head]);
		x->head = (x->head + 1) % MNT_ERRORS_KEEP;
		i = (x->head + x->n - 1) % MNT_ERRORS_KEEP;
	} else {
		x->n++;
	}
	char ts[32];
	k9_now_rfc3339(ts, sizeof ts);
	x->msg[i] = xasprintf("%s %s\n", ts, msg);
	pthread_mutex_unlock(&err_lock);
}

char *mnt_errors_text(mnt *m, mnt_ns *ns, int res, size_t *len)
{
	(void)m;
	k9_buf b = {0};
	pthread_mutex_lock(&err_lock);
	mnt_errors *x = errors_of(ns, res);
	for (unsigned i = 0; i < x->n; i++)
		buf_puts(&b, x->msg[(x->head + i) % MNT_ERRORS_KEEP]);
	pthread_mutex_unlock(&err_lock);
	if (!b.data)
		buf_puts(&b, "");
	*len = b.len;
	return b.data;
}

void mnt_errors_clear(mnt *m, mnt_ns *ns, int res)
{
	(void)m;
	pthread_mutex_lock(&err_lock);
	mnt_errors *x = errors_of(ns, res);
	for (unsigned i = 0; i < x->n; i++)
		free(x->msg[(x->head + i) % MNT_ERRORS_KEEP]);
	x->n = x->head = 0;
	pthread_mutex_unlock(&err_lock);
}
