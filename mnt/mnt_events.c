/*
 * mnt_events.c - DIR/.events and DIR/.errors.
 *
 * Every change the cache takes is appended to one ring of recent events.
 * A .events reader holds a cursor into it; a read with nothing new is parked
 * (the request is answered later, from the thread that publishes, so no
 * worker thread blocks) and poll handles are notified. A reader that falls
 * more than MNT_EV_RING events behind gets one "OVERFLOW - REV" line.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mnt.h"

#define MNT_EV_RING 8192

typedef struct ev {
	uint64_t seq, rv, ns_id;
	int res;
	char type[10];
	char *name; /* namespaced: "pods/x" relative to the namespace */
	char *nsname;
	json_t *old_labels, *new_labels;
} ev;

typedef struct reader {
	struct reader *next, *prev;
	mnt_evfilter f;
	uint64_t cursor;
	fuse_req_t parked;
	size_t parked_size;
	struct fuse_pollhandle *ph;
} reader;

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static ev ring[MNT_EV_RING];
static uint64_t next_seq = 1;
static reader readers = {.next = &readers, .prev = &readers};

static bool sel_has(mnt *m, uint64_t sel_id, const json_t *labels, mnt_seldir **sdp)
{
	mnt_seldir *sd = mnt_ids_get(m, sel_id, MNT_ENT_SEL);
	*sdp = sd;
	return sd && sel_match_labels(sd->sel, labels);
}

/* The line for e as seen by reader r, or 0 bytes when it does not concern r. */
static int format(mnt *m, const reader *r, const ev *e, char *out, size_t n)
{
	const char *type = e->type;
	switch (r->f.scope) {
	case MNT_EV_ALL:
		if (e->ns_id)
			return snprintf(out, n, "%s namespaces/%s/%s/%s %" PRIu64 "\n", type,
			                e->nsname, m->res[e->res].plural, e->name, e->rv);
		return snprintf(out, n, "%s %s/%s %" PRIu64 "\n", type, m->res[e->res].plural,
		                e->name, e->rv);
	case MNT_EV_NS:
		if (e->ns_id != r->f.ns_id)
			return 0;
		return snprintf(out, n, "%s %s/%s %" PRIu64 "\n", type, m->res[e->res].plural,
		                e->name, e->rv);
	case MNT_EV_RES:
		if (e->ns_id != r->f.ns_id || e->res != r->f.res)
			return 0;
		break;
	case MNT_EV_SEL: {
		if (e->ns_id != r->f.ns_id || e->res != r->f.res)
			return 0;
		mnt_seldir *sd;
		bool was = strcmp(type, "ADDED") && sel_has(m, r->f.sel_id, e->old_labels, &sd);
		bool is = strcmp(type, "DELETED") && sel_has(m, r->f.sel_id, e->new_labels, &sd);
		if (!was && !is)
			return 0;
		type = was && is ? "MODIFIED" : is ? "ADDED" : "DELETED";
		break;
	}
	}
	return snprintf(out, n, "%s %s %" PRIu64 "\n", type, e->name, e->rv);
}

/* Lines for r from its cursor on, up to size bytes (ev_lock and read lock held). */
static char *collect(mnt *m, reader *r, size_t size, size_t *len)
{
	k9_buf b = {0};
	uint64_t oldest = next_seq > MNT_EV_RING ? next_seq - MNT_EV_RING : 1;
	if (r->cursor < oldest) {
		buf_printf(&b, "OVERFLOW - %" PRIu64 "\n", ring[(next_seq - 1) % MNT_EV_RING].rv);
		r->cursor = oldest;
	}
	char line[1200];
	while (r->cursor < next_seq) {
		const ev *e = &ring[r->cursor % MNT_EV_RING];
		int l = format(m, r, e, line, sizeof line);
		if (l > 0 && b.len + (size_t)l > size && b.len)
			break;
		if (l > 0)
			buf_append(&b, line, (size_t)l < sizeof line ? (size_t)l : sizeof line - 1);
		r->cursor++;
	}
	*len = b.len;
	return b.data;
}

void mnt_events_publish(mnt *m, const char *type, const mnt_ns *ns, int res, const char *name,
                        uint64_t rv, const json_t *old_labels, const json_t *new_labels)
{
	pthread_mutex_lock(&ev_lock);
	ev *e = &ring[next_seq % MNT_EV_RING];
	free(e->name);
	free(e->nsname);
	json_decref(e->old_labels);
	json_decref(e->new_labels);
	e->seq = next_seq++;
	e->rv = rv;
	e->ns_id = ns == m->cluster ? 0 : ns->h.id;
	e->res = res;
	snprintf(e->type, sizeof e->type, "%s", type);
	e->name = xstrdup(name);
	e->nsname = xstrdup(ns->name);
	e->old_labels = json_incref((json_t *)old_labels);
	e->new_labels = json_incref((json_t *)new_labels);
	/* wake the readers this concerns; the caller holds the cache lock */
	char tmp[1200];
	for (reader *r = readers.next; r != &readers; r = r->next) {
		if (r->parked) {
			size_t len;
			char *text = collect(m, r, r->parked_size, &len);
			if (len) {
				fuse_reply_buf(r->parked, text, len);
				r->parked = NULL;
			}
			free(text);
		} else if (r->ph && format(m, r, e, tmp, sizeof tmp) > 0) {
			fuse_lowlevel_notify_poll(r->ph);
			fuse_pollhandle_destroy(r->ph);
			r->ph = NULL;
		}
	}
	pthread_mutex_unlock(&ev_lock);
}

void *mnt_events_open(mnt *m, const mnt_evfilter *f)
{
	(void)m;
	reader *r = xcalloc(1, sizeof *r);
	r->f = *f;
	pthread_mutex_lock(&ev_lock);
	r->cursor = next_seq;
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
	if (len || nonblock || r->parked || atomic_load(&m->stopping)) {
		pthread_mutex_unlock(&ev_lock);
		pthread_rwlock_unlock(&m->lock);
		if (len)
			fuse_reply_buf(req, text, len);
		else
			fuse_reply_err(req, EAGAIN);
		free(text);
		return;
	}
	free(text);
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
	unsigned rev = 0;
	pthread_rwlock_rdlock(&m->lock);
	pthread_mutex_lock(&ev_lock);
	char line[1200];
	for (uint64_t s = r->cursor; s < next_seq && !rev; s++)
		if (s + MNT_EV_RING < next_seq ||
		    format(m, r, &ring[s % MNT_EV_RING], line, sizeof line) > 0)
			rev = POLLIN | POLLRDNORM;
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
