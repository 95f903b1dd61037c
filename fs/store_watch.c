/*
 * store_watch.c - watches: an in-memory ring of recent events shared by all
 * watchers, backed by the events table for anything older.
 *
 * The leader of each write batch appends the committed events to the ring
 * (in revision order, under the writer lock) and broadcasts the ring's
 * condition variable. The ring is bounded by entry count and bytes; the
 * oldest entries are evicted first. A watcher is just a position (the last
 * revision it has seen or skipped) and a key prefix:
 *
 *   - while pos + 1 is inside the ring, watch_next scans the ring from pos
 *     for the next key with the prefix and returns a copy of that one entry
 *     (entries are immutable; nothing is copied per watcher otherwise);
 *   - when pos has fallen behind the ring (an old from_rev, or a slow
 *     reader), it reads the events table in batches in one read
 *     transaction, which also tells whether pos is older than the compacted
 *     revision (410 Expired), then continues from the snapshot's revision;
 *   - at the end of the ring it waits on the condition variable.
 *
 * Closing the store closes the ring, which wakes every watcher with 503.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube9/util.h"
#include "store_sqlite_int.h"

enum { SQL_BATCH = 256 };

struct store_watch {
	sq_store *s;
	char *prefix, *end;
	size_t plen;
	int64_t pos;      /* every event at or before pos has been returned or skipped */
	store_event *buf; /* events read from SQL, not yet returned */
	size_t nbuf, ibuf;
	int64_t buf_end; /* pos once buf is drained */
};

void sq_ring_init(sq_ring *r, size_t cap, size_t max_bytes, int64_t last)
{
	memset(r, 0, sizeof *r);
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	r->slots = xcalloc(cap, sizeof *r->slots);
	r->cap = cap;
	r->max_bytes = max_bytes;
	r->last = last;
}

static void ent_free(ring_ent *en)
{
	if (!en)
		return;
	free(en->key);
	free(en->value);
	free(en);
}

static void evict_oldest(sq_ring *r)
{
	int64_t first = r->last - (int64_t)r->n + 1;
	ring_ent **slot = &r->slots[(uint64_t)first & (r->cap - 1)];
	r->bytes -= (*slot)->klen + (*slot)->vlen;
	ent_free(*slot);
	*slot = NULL;
	r->n--;
}

void sq_ring_destroy(sq_ring *r)
{
	if (!r->slots)
		return;
	while (r->n)
		evict_oldest(r);
	free(r->slots);
	r->slots = NULL;
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
}

void sq_ring_publish(sq_ring *r, ring_ent **ents, size_t k)
{
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < k; i++) {
		ring_ent *en = ents[i];
		size_t sz = en->klen + en->vlen;
		if (en->rev != r->last + 1) /* cannot happen: revisions are contiguous */
			while (r->n)
				evict_oldest(r);
		while (r->n && (r->n == r->cap || r->bytes + sz > r->max_bytes))
			evict_oldest(r);
		r->slots[(uint64_t)en->rev & (r->cap - 1)] = en;
		r->last = en->rev;
		r->n++;
		r->bytes += sz;
	}
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

void sq_ring_close(sq_ring *r)
{
	pthread_mutex_lock(&r->mu);
	r->closed = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static int expired(k9_err *e, int64_t rev, int64_t compacted)
{
	return k9_errf(e, 410, "Expired", "too old resource version: %" PRId64 " (%" PRId64 ")",
	               rev, compacted);
}

/*
 * Open a watch of keys with prefix after from_rev (0: after the newest
 * published revision). Returns a watcher the caller closes with
 * watch_close, or NULL with e (410 Expired if from_rev is compacted).
 */
store_watch *sq_watch(store *st, const char *prefix, int64_t from_rev, k9_err *e)
{
	sq_store *s = sq(st);
	int64_t compacted = atomic_load(&s->compacted);
	if (from_rev < 0) {
		k9_errf(e, 400, "BadRequest", "invalid resource version %" PRId64, from_rev);
		return NULL;
	}
	if (from_rev > 0 && from_rev < compacted) {
		expired(e, from_rev, compacted);
		return NULL;
	}
	store_watch *w = xcalloc(1, sizeof *w);
	atomic_fetch_add(&s->refs, 1);
	w->s = s;
	w->prefix = xstrdup(prefix ? prefix : "");
	w->plen = strlen(w->prefix);
	w->end = sq_prefix_end(w->prefix);
	w->pos = from_rev;
	if (from_rev == 0) {
		pthread_mutex_lock(&s->ring.mu);
		w->pos = s->ring.last;
		pthread_mutex_unlock(&s->ring.mu);
	}
	return w;
}

static void free_buf(store_watch *w)
{
	for (size_t i = w->ibuf; i < w->nbuf; i++)
		store_obj_free(&w->buf[i].obj);
	free(w->buf);
	w->buf = NULL;
	w->nbuf = w->ibuf = 0;
}

void sq_watch_close(store_watch *w)
{
	if (!w)
		return;
	free_buf(w);
	free(w->prefix);
	free(w->end);
	sq_store *s = w->s;
	free(w);
	sq_unref(s);
}

/*
 * Read the next events after w->pos from the events table into w->buf, in
 * one read transaction with the compacted revision. Returns 0 (buf filled,
 * or pos moved to the snapshot's revision when nothing matched), -1 with e.
 */
static int fetch_sql(store_watch *w, k9_err *e)
{
	sq_store *s = w->s;
	rconn *c = sq_rconn_get(s, e);
	if (!c)
		return -1;
	int ret = -1, rc;
	if (sqlite3_step(c->begin) != SQLITE_DONE) {
		sq_errdb(e, c->db, "watch");
		goto out;
	}
	if (sqlite3_step(c->meta) != SQLITE_ROW) {
		sq_errdb(e, c->db, "watch");
		goto out_txn;
	}
	int64_t snap = sqlite3_column_int64(c->meta, 0),
	        compacted = sqlite3_column_int64(c->meta, 1);
	sqlite3_reset(c->meta);
	if (w->pos < compacted) {
		expired(e, w->pos, compacted);
		goto out_txn;
	}
	sqlite3_bind_int64(c->events, 1, w->pos);
	sqlite3_bind_text(c->events, 2, w->prefix, (int)w->plen, SQLITE_STATIC);
	sq_bind_end(c->events, 3, w->end);
	sqlite3_bind_int(c->events, 4, SQL_BATCH);
	free_buf(w);
	w->buf = xcalloc(SQL_BATCH, sizeof *w->buf);
	while ((rc = sqlite3_step(c->events)) == SQLITE_ROW && w->nbuf < SQL_BATCH) {
		store_event *ev = &w->buf[w->nbuf++];
		ev->obj.rev = sqlite3_column_int64(c->events, 0);
		ev->type = (store_ev_type)sqlite3_column_int(c->events, 1);
		ev->obj.key = xstrdup((const char *)sqlite3_column_text(c->events, 2));
		ev->obj.len = (size_t)sqlite3_column_bytes(c->events, 3);
		ev->obj.value =
		    xstrndup((const char *)sqlite3_column_text(c->events, 3), ev->obj.len);
	}
	sqlite3_reset(c->events);
	sqlite3_clear_bindings(c->events);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		sq_errdb(e, c->db, "watch");
		free_buf(w);
		goto out_txn;
	}
	if (w->nbuf < SQL_BATCH)
		w->buf_end = snap;
	else
		w->buf_end = w->buf[w->nbuf - 1].obj.rev;
	if (!w->nbuf) {
		free_buf(w);
		if (snap > w->pos)
			w->pos = snap;
	}
	ret = 0;
out_txn:
	sqlite3_step(c->commit);
	sqlite3_reset(c->commit);
out:
	sq_rconn_put(s, c);
	return ret;
}

static void ev_copy(store_event *ev, const ring_ent *en)
{
	ev->type = en->type;
	ev->obj.key = xstrndup(en->key, en->klen);
	ev->obj.rev = en->rev;
	ev->obj.value = xstrndup(en->value, en->vlen);
	ev->obj.len = en->vlen;
}

/*
 * Next event for w: 1 with *ev filled (the caller frees ev->obj), 0 when
 * timeout_ms passed first (0: do not wait; negative: wait indefinitely),
 * -1 with e when the watch cannot continue (410, store closed, I/O error).
 */
int sq_watch_next(store_watch *w, store_event *ev, int timeout_ms, k9_err *e)
{
	sq_store *s = w->s;
	sq_ring *r = &s->ring;
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	if (timeout_ms > 0) {
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
	}
	bool timed_out = false;
	memset(ev, 0, sizeof *ev);
	for (;;) {
		if (w->ibuf < w->nbuf) {
			*ev = w->buf[w->ibuf++];
			w->pos = ev->obj.rev;
			if (w->ibuf == w->nbuf) {
				free_buf(w);
				if (w->buf_end > w->pos)
					w->pos = w->buf_end;
			}
			return 1;
		}
		pthread_mutex_lock(&r->mu);
		if (r->closed) {
			pthread_mutex_unlock(&r->mu);
			return k9_errf(e, 503, "ServiceUnavailable", "store is closed");
		}
		int64_t first = r->last - (int64_t)r->n + 1;
		if (w->pos + 1 < first) {
			pthread_mutex_unlock(&r->mu);
			if (fetch_sql(w, e) < 0)
				return -1;
			continue;
		}
		for (int64_t rv = w->pos + 1; rv <= r->last; rv++) {
			const ring_ent *en = r->slots[(uint64_t)rv & (r->cap - 1)];
			if (sq_has_prefix(en->key, en->klen, w->prefix, w->plen)) {
				ev_copy(ev, en);
				w->pos = rv;
				pthread_mutex_unlock(&r->mu);
				return 1;
			}
		}
		if (r->last > w->pos)
			w->pos = r->last;
		if (timeout_ms == 0 || timed_out) {
			pthread_mutex_unlock(&r->mu);
			return 0;
		}
		int rc = timeout_ms < 0 ? pthread_cond_wait(&r->cv, &r->mu)
		                        : pthread_cond_timedwait(&r->cv, &r->mu, &deadline);
		if (rc == ETIMEDOUT)
			timed_out = true;
		pthread_mutex_unlock(&r->mu);
	}
}
