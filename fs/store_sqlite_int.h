/*
 * store_sqlite_int.h - private to the SQLite store (fs/store_*.c).
 *
 * Layout of the backend:
 *   store_sqlite.c  open/close, schema migrations, the read-connection pool,
 *                   get and list, compaction and the background thread.
 *   store_write.c   create/update/delete through a group-commit queue: one
 *                   writer connection; concurrent writes are batched into one
 *                   transaction by whichever waiting thread becomes leader.
 *   store_watch.c   the in-memory ring of recent events shared by all
 *                   watchers, and watch_open/next/close.
 *   store_key.c     store_key(), store_obj_free(), key-range helpers.
 *
 * Locking order (never take an earlier one while holding a later one):
 *   wq_mu (queue) -> wmu (writer connection) -> ring.mu; pool_mu is a leaf.
 *
 * Lifetime: the sq_store is reference counted. store close drops one
 * reference, every open watcher holds one, so a watcher closed after the
 * store still finds valid memory; the connections are closed by the last
 * reference.
 */
#ifndef KUBE9_STORE_SQLITE_INT_H
#define KUBE9_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include "kube9/store.h"

/* One event in the ring. Immutable once published; freed on eviction. */
typedef struct ring_ent {
	int64_t rev;
	store_ev_type type;
	size_t klen, vlen;
	char *key;
	char *value;
} ring_ent;

/*
 * Recent events, revs (last - n, last] at slot rev & (cap - 1). Revisions
 * are contiguous (every write gets exactly one rev and one event), so the
 * slot of a rev is known without searching.
 */
typedef struct sq_ring {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* broadcast on publish and on close */
	ring_ent **slots;
	size_t cap;   /* power of two */
	size_t n;     /* entries held */
	size_t bytes; /* key + value bytes held */
	size_t max_bytes;
	int64_t last; /* newest published rev */
	bool closed;
} sq_ring;

/* A read connection with its cached statements. */
enum { LS_STRICT = 1, LS_NODE = 2, LS_PHASE = 4, LS_NVARIANTS = 8 };
typedef struct rconn {
	struct rconn *next;
	sqlite3 *db;
	sqlite3_stmt *begin, *commit, *meta, *get;
	sqlite3_stmt *list[LS_NVARIANTS], *count[LS_NVARIANTS];
	sqlite3_stmt *events;
} rconn;

struct wreq;

typedef struct sq_store {
	store base;
	atomic_int refs;
	char *path;
	int64_t history_revs;
	bool sync_full;
	char placeholder[40]; /* "k9rv-<random hex>", see store_write.c */

	/* Writer: connection and statements, used by the batch leader under wmu. */
	pthread_mutex_t wmu;
	sqlite3 *wdb;
	sqlite3_stmt *w_begin, *w_commit, *w_rollback, *w_insert, *w_update, *w_getrev, *w_select,
	    *w_delete, *w_event, *w_setrev, *w_compact, *w_setcompacted;

	/* Group-commit queue. */
	pthread_mutex_t wq_mu;
	struct wreq *wq_head, *wq_tail;
	bool leader;

	_Atomic int64_t rev;       /* last committed revision */
	_Atomic int64_t compacted; /* history at or before this is gone */

	/* Read connections. */
	pthread_mutex_t pool_mu;
	rconn *pool;

	sq_ring ring;

	/* Background compaction / checkpoint thread. */
	pthread_t bg;
	bool bg_started;
	pthread_mutex_t bg_mu;
	pthread_cond_t bg_cv;
	bool bg_stop;
	_Atomic int64_t writes_since_bg;
	sqlite3 *ckdb; /* checkpoint connection, used only by bg */
} sq_store;

static inline sq_store *sq(store *s)
{
	return (sq_store *)s;
}

/* store_sqlite.c */
rconn *sq_rconn_get(sq_store *s, k9_err *e);
void sq_rconn_put(sq_store *s, rconn *c);
int sq_errdb(k9_err *e, sqlite3 *db, const char *what);
void sq_unref(sq_store *s);
void sq_bg_kick(sq_store *s);

/* store_write.c */
int sq_create(store *s, const char *key, const json_t *obj, store_obj *out, k9_err *e);
int sq_update(store *s, const char *key, int64_t expect_rev, const json_t *obj, store_obj *out,
              k9_err *e);
int sq_del(store *s, const char *key, int64_t expect_rev, store_obj *out, k9_err *e);
int sq_prepare_writer(sq_store *s, k9_err *e);
void sq_finalize_writer(sq_store *s);

/* store_watch.c */
void sq_ring_init(sq_ring *r, size_t cap, size_t max_bytes, int64_t last);
void sq_ring_destroy(sq_ring *r);
/* Append events (already committed, in rev order) and wake watchers. */
void sq_ring_publish(sq_ring *r, ring_ent **ents, size_t n);
void sq_ring_close(sq_ring *r);
store_watch *sq_watch(store *s, const char *prefix, int64_t from_rev, k9_err *e);
int sq_watch_next(store_watch *w, store_event *ev, int timeout_ms, k9_err *e);
void sq_watch_close(store_watch *w);

/* store_key.c */
/*
 * The exclusive upper bound of keys starting with prefix: prefix with its last
 * byte below 0xff incremented and the rest cut. Returns a malloc'd string, or
 * NULL when no such bound exists (empty or all-0xff prefix: no upper bound).
 */
char *sq_prefix_end(const char *prefix);
/* Bind the upper bound of a prefix range: text, or a zero-length blob (> any text). */
int sq_bind_end(sqlite3_stmt *st, int idx, const char *end);
bool sq_has_prefix(const char *key, size_t klen, const char *prefix, size_t plen);

#endif
