/*
 * store_sqlite.c - the embedded SQLite store: open/close, schema
 * migrations, the pool of read connections, get and list, compaction.
 *
 * Schema (v1, see migrations[] below):
 *   meta(k, v)            'rev' = current revision, 'compacted' = history
 *                         at or before it is gone. Updated in the same
 *                         transaction as the writes, so they never disagree.
 *   events(rev PK, type, key, value)
 *                         every write appends one row: the history log
 *                         watchers resume from, and also where values live.
 *   objects(key PK, rev, node_name, phase) WITHOUT ROWID
 *                         the current revision of each key: small rows in
 *                         key order, so a prefix list is a range scan of
 *                         dense pages plus one rowid lookup per object into
 *                         events for its value. A 2 KB value is written once
 *                         per write (not to both tables), which halves the
 *                         WAL traffic of a create; there is no secondary
 *                         index to update at random.
 *                         node_name/phase are prefilter columns tested in
 *                         the scan before any value is read or parsed. An
 *                         absent or empty field is stored as NULL and
 *                         matched by a "" prefilter ("IS" compares NULL as
 *                         a value).
 *   Compaction deletes events at or before the compacted revision except
 *   those that are still some object's current value (like etcd's MVCC,
 *   which keeps the latest revision of every live key).
 *
 * The database runs in WAL mode: one writer connection (store_write.c) and
 * any number of read connections, which read a consistent snapshot without
 * ever waiting for the writer. A list is one read transaction, so its rows
 * and the revision it reports belong to the same snapshot. Checkpoints are
 * taken off the write path by a background thread on its own connection,
 * which also compacts history beyond history_revs.
 *
 * Every statement is a constant string with bound parameters and is
 * prepared once per connection.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube9/util.h"
#include "store_sqlite_int.h"

enum { BUSY_TIMEOUT_MS = 10000, COMPACT_BATCH = 1000, BG_KICK_WRITES = 10000 };
enum { WAL_KICK_PAGES = 4096 };

/* Ordered schema migrations: migrations[i] takes user_version i to i+1. */
static const char *const migrations[] = {
    /* v1: the initial schema. */
    "CREATE TABLE meta(k TEXT NOT NULL PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO meta(k, v) VALUES('rev', 0), ('compacted', 0);"
    "CREATE TABLE objects(key TEXT NOT NULL PRIMARY KEY, rev INTEGER NOT NULL,"
    " node_name TEXT, phase TEXT) WITHOUT ROWID;"
    "CREATE TABLE events(rev INTEGER PRIMARY KEY, type INTEGER NOT NULL,"
    " key TEXT NOT NULL, value TEXT NOT NULL);",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/*
 * List statements, one per combination of LS_* flags: strict lower bound
 * (continuing after start_after) or inclusive (from the prefix), and the
 * two prefilters. ?1 lower bound, ?2 upper bound, ?3 node_name, ?4 phase.
 */
#define LQ_LO0 "o.key >= ?1 AND o.key < ?2"
#define LQ_LO1 "o.key > ?1 AND o.key < ?2"
#define LQ_N   " AND o.node_name IS ?3"
#define LQ_P   " AND o.phase IS ?4"
/* CROSS JOIN keeps objects as the outer loop: key order, events by rowid. */
#define LQ_SEL                                                                                     \
	"SELECT o.key, o.rev, e.value FROM objects o CROSS JOIN events e ON e.rev = o.rev WHERE "
#define LQ_CNT "SELECT count(*) FROM objects o WHERE "
#define LQ_ORD " ORDER BY o.key"
static const char *const list_sql[LS_NVARIANTS] = {
    LQ_SEL LQ_LO0 LQ_ORD,           LQ_SEL LQ_LO1 LQ_ORD,           LQ_SEL LQ_LO0 LQ_N LQ_ORD,
    LQ_SEL LQ_LO1 LQ_N LQ_ORD,      LQ_SEL LQ_LO0 LQ_P LQ_ORD,      LQ_SEL LQ_LO1 LQ_P LQ_ORD,
    LQ_SEL LQ_LO0 LQ_N LQ_P LQ_ORD, LQ_SEL LQ_LO1 LQ_N LQ_P LQ_ORD,
};
static const char *const count_sql[LS_NVARIANTS] = {
    LQ_CNT LQ_LO0,      LQ_CNT LQ_LO1,      LQ_CNT LQ_LO0 LQ_N,      LQ_CNT LQ_LO1 LQ_N,
    LQ_CNT LQ_LO0 LQ_P, LQ_CNT LQ_LO1 LQ_P, LQ_CNT LQ_LO0 LQ_N LQ_P, LQ_CNT LQ_LO1 LQ_N LQ_P,
};

int sq_errdb(k9_err *e, sqlite3 *db, const char *what)
{
	return k9_errf(e, 500, "InternalError", "store: %s: %s", what,
	               db ? sqlite3_errmsg(db) : "cannot allocate database handle");
}

/* Run a constant statement that returns at most one text row; copies it to out. */
static int exec1(sqlite3 *db, const char *sql, char *out, size_t n, k9_err *e)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return sq_errdb(e, db, sql);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && out)
		snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
	else if (out && n)
		out[0] = 0;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sq_errdb(e, db, sql);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

/* Open a connection to path with the settings every connection shares. */
static sqlite3 *open_conn(sq_store *s, bool create, k9_err *e)
{
	sqlite3 *db = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(s->path, &db, flags, NULL) != SQLITE_OK) {
		k9_errf(e, 500, "InternalError", "store: open %s: %s", s->path,
		        db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	return db;
}

/*
 * No mmap_size: every read connection would map the whole database (RSS
 * counts those pages once per mapping: 980 MiB peak with 150k pods) and
 * remap it after each write.
 */
static int conn_pragmas(sq_store *s, sqlite3 *db, bool writer, k9_err *e)
{
	char mode[32];
	if (exec1(db, "PRAGMA journal_mode=WAL", mode, sizeof mode, e) < 0)
		return -1;
	if (strcmp(mode, "wal") != 0)
		return k9_errf(e, 500, "InternalError", "store: %s: cannot enable WAL (mode %s)",
		               s->path, mode);
	if (exec1(db, s->sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", NULL,
	          0, e) < 0)
		return -1;
	if (writer)
		return exec1(db, "PRAGMA wal_autocheckpoint=0", NULL, 0, e) < 0 ||
		               exec1(db, "PRAGMA journal_size_limit=67108864", NULL, 0, e) < 0 ||
		               exec1(db, "PRAGMA cache_size=-32768", NULL, 0, e) < 0
		           ? -1
		           : 0;
	return exec1(db, "PRAGMA query_only=1", NULL, 0, e) < 0 ||
	               exec1(db, "PRAGMA cache_size=-16384", NULL, 0, e) < 0
	           ? -1
	           : 0;
}

/* Apply pending migrations in one IMMEDIATE transaction. */
static int migrate(sq_store *s, k9_err *e)
{
	sqlite3 *db = s->wdb;
	char v[32], *err = NULL;
	if (exec1(db, "BEGIN IMMEDIATE", NULL, 0, e) < 0)
		return -1;
	if (exec1(db, "PRAGMA user_version", v, sizeof v, e) < 0)
		goto fail;
	int have = atoi(v);
	if (have > SCHEMA_VERSION) {
		k9_errf(e, 500, "InternalError",
		        "store: %s has schema version %d, newer than this kube9 knows (%d)",
		        s->path, have, SCHEMA_VERSION);
		goto fail;
	}
	for (int i = have; i < SCHEMA_VERSION; i++) {
		if (sqlite3_exec(db, migrations[i], NULL, NULL, &err) != SQLITE_OK) {
			k9_errf(e, 500, "InternalError", "store: %s: migration to v%d: %s", s->path,
			        i + 1, err ? err : "failed");
			sqlite3_free(err);
			goto fail;
		}
	}
	if (have < SCHEMA_VERSION) {
		/* PRAGMA takes no parameters; the number is our own constant. */
		char sql[64];
		snprintf(sql, sizeof sql, "PRAGMA user_version=%d", SCHEMA_VERSION);
		if (exec1(db, sql, NULL, 0, e) < 0)
			goto fail;
	}
	if (exec1(db, "COMMIT", NULL, 0, e) < 0)
		goto fail;
	return 0;
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int load_meta(sq_store *s, k9_err *e)
{
	sqlite3_stmt *st;
	const char *sql = "SELECT (SELECT v FROM meta WHERE k = 'rev'),"
	                  " (SELECT v FROM meta WHERE k = 'compacted')";
	if (sqlite3_prepare_v2(s->wdb, sql, -1, &st, NULL) != SQLITE_OK)
		return sq_errdb(e, s->wdb, "read meta");
	if (sqlite3_step(st) != SQLITE_ROW) {
		sq_errdb(e, s->wdb, "read meta");
		sqlite3_finalize(st);
		return -1;
	}
	atomic_store(&s->rev, sqlite3_column_int64(st, 0));
	atomic_store(&s->compacted, sqlite3_column_int64(st, 1));
	sqlite3_finalize(st);
	return 0;
}

static void rconn_free(rconn *c)
{
	if (!c)
		return;
	sqlite3_finalize(c->begin);
	sqlite3_finalize(c->commit);
	sqlite3_finalize(c->meta);
	sqlite3_finalize(c->get);
	sqlite3_finalize(c->events);
	for (int i = 0; i < LS_NVARIANTS; i++) {
		sqlite3_finalize(c->list[i]);
		sqlite3_finalize(c->count[i]);
	}
	sqlite3_close(c->db);
	free(c);
}

/*
 * A read connection for the calling thread's exclusive use until
 * sq_rconn_put(): one from the free list, or a new one. NULL with e on error.
 */
rconn *sq_rconn_get(sq_store *s, k9_err *e)
{
	pthread_mutex_lock(&s->pool_mu);
	rconn *c = s->pool;
	if (c)
		s->pool = c->next;
	pthread_mutex_unlock(&s->pool_mu);
	if (c)
		return c;
	c = xcalloc(1, sizeof *c);
	if (!(c->db = open_conn(s, false, e)) || conn_pragmas(s, c->db, false, e) < 0)
		goto fail;
	const char *meta = "SELECT (SELECT v FROM meta WHERE k = 'rev'),"
	                   " (SELECT v FROM meta WHERE k = 'compacted')";
	if (sqlite3_prepare_v2(c->db, "BEGIN", -1, &c->begin, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db, "COMMIT", -1, &c->commit, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db, meta, -1, &c->meta, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(
	        c->db,
	        "SELECT o.rev, e.value FROM objects o CROSS JOIN events e ON e.rev = o.rev"
	        " WHERE o.key = ?1",
	        -1, &c->get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db,
	                       "SELECT rev, type, key, value FROM events WHERE rev > ?1"
	                       " AND key >= ?2 AND key < ?3 ORDER BY rev LIMIT ?4",
	                       -1, &c->events, NULL) != SQLITE_OK) {
		sq_errdb(e, c->db, "prepare");
		goto fail;
	}
	return c;
fail:
	rconn_free(c);
	return NULL;
}

void sq_rconn_put(sq_store *s, rconn *c)
{
	pthread_mutex_lock(&s->pool_mu);
	c->next = s->pool;
	s->pool = c;
	pthread_mutex_unlock(&s->pool_mu);
}

static int sq_get(store *st, const char *key, store_obj *out, k9_err *e)
{
	sq_store *s = sq(st);
	rconn *c = sq_rconn_get(s, e);
	if (!c)
		return -1;
	int ret = -1;
	sqlite3_bind_text(c->get, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(c->get);
	if (rc == SQLITE_ROW && !out) {
		ret = 0; /* existence check only */
	} else if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(c->get, 1);
		out->key = xstrdup(key);
		out->rev = sqlite3_column_int64(c->get, 0);
		out->value = xstrndup((const char *)sqlite3_column_text(c->get, 1), n);
		out->len = n;
		ret = 0;
	} else if (rc == SQLITE_DONE) {
		k9_errf(e, 404, "NotFound", "\"%s\" not found", key);
	} else {
		sq_errdb(e, c->db, "get");
	}
	sqlite3_reset(c->get);
	sqlite3_clear_bindings(c->get);
	sq_rconn_put(s, c);
	return ret;
}

static sqlite3_stmt *variant(rconn *c, bool count, int v, k9_err *e)
{
	sqlite3_stmt **slot = count ? &c->count[v] : &c->list[v];
	if (!*slot && sqlite3_prepare_v2(c->db, count ? count_sql[v] : list_sql[v], -1, slot,
	                                 NULL) != SQLITE_OK) {
		sq_errdb(e, c->db, "prepare list");
		*slot = NULL;
	}
	return *slot;
}

static void bind_range(sqlite3_stmt *st, const char *lo, const char *end, const store_list_opts *o)
{
	sqlite3_bind_text(st, 1, lo, -1, SQLITE_STATIC);
	sq_bind_end(st, 2, end);
	/* "" selects objects without the field, stored as NULL. */
	if (o->node_name && *o->node_name)
		sqlite3_bind_text(st, 3, o->node_name, -1, SQLITE_STATIC);
	if (o->phase && *o->phase)
		sqlite3_bind_text(st, 4, o->phase, -1, SQLITE_STATIC);
}

static void finish_stmt(sqlite3_stmt *st)
{
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

/*
 * One read transaction: the revision, the matching rows in key order
 * (prefilters in SQL, then o->filter on the parsed value), and when the
 * limit cut the list short, a count of what remains after the last key.
 */
static int sq_list(store *st, const store_list_opts *o, store_list_fn fn, void *arg,
                   store_list_result *res, k9_err *e)
{
	sq_store *s = sq(st);
	store_list_result dummy;
	if (!res)
		res = &dummy;
	memset(res, 0, sizeof *res);
	const char *prefix = o->prefix ? o->prefix : "";
	char *end = sq_prefix_end(prefix);
	rconn *c = sq_rconn_get(s, e);
	if (!c) {
		free(end);
		return -1;
	}
	int ret = -1, rc, v = 0;
	const char *lo = prefix;
	if (o->start_after && *o->start_after && strcmp(o->start_after, prefix) >= 0) {
		lo = o->start_after;
		v |= LS_STRICT;
	}
	if (o->node_name)
		v |= LS_NODE;
	if (o->phase)
		v |= LS_PHASE;
	sqlite3_stmt *ls = NULL, *cs = NULL;
	char *last = NULL;
	bool more = false, in_txn = false;

	if (sqlite3_step(c->begin) != SQLITE_DONE) {
		sq_errdb(e, c->db, "begin");
		goto out;
	}
	in_txn = true;
	if (sqlite3_step(c->meta) != SQLITE_ROW) {
		sq_errdb(e, c->db, "list");
		goto out;
	}
	res->rev = sqlite3_column_int64(c->meta, 0);
	sqlite3_reset(c->meta);
	if (!(ls = variant(c, false, v, e)))
		goto out;
	bind_range(ls, lo, end, o);
	while ((rc = sqlite3_step(ls)) == SQLITE_ROW) {
		store_obj ob = {
		    .key = (char *)sqlite3_column_text(ls, 0),
		    .rev = sqlite3_column_int64(ls, 1),
		    .value = (char *)sqlite3_column_text(ls, 2),
		    .len = (size_t)sqlite3_column_bytes(ls, 2),
		};
		if (o->limit && res->count == o->limit) {
			more = true;
			break;
		}
		if (o->filter) {
			json_error_t jerr;
			json_t *j = json_loadb(ob.value, ob.len, 0, &jerr);
			if (!j) {
				log_warn("store: %s: stored value is not JSON: %s", ob.key,
				         jerr.text);
				continue;
			}
			bool keep = o->filter(j, o->filter_arg);
			json_decref(j);
			if (!keep)
				continue;
		}
		if (fn)
			fn(&ob, arg);
		res->count++;
		if (o->limit && res->count == o->limit) {
			free(last);
			last = xstrdup(ob.key);
		}
	}
	if (!more && rc != SQLITE_DONE) {
		sq_errdb(e, c->db, "list");
		goto out;
	}
	finish_stmt(ls);
	ls = NULL;
	if (more) {
		/* Rows after `last` that pass the SQL prefilters (o->filter not applied). */
		if (!(cs = variant(c, true, v | LS_STRICT, e)))
			goto out;
		bind_range(cs, last, end, o);
		if (sqlite3_step(cs) != SQLITE_ROW) {
			sq_errdb(e, c->db, "list count");
			goto out;
		}
		res->remaining = (size_t)sqlite3_column_int64(cs, 0);
		res->next_key = last;
		last = NULL;
	}
	ret = 0;
out:
	finish_stmt(ls);
	finish_stmt(cs);
	if (in_txn) {
		sqlite3_step(c->commit);
		sqlite3_reset(c->commit);
	}
	free(last);
	free(end);
	sq_rconn_put(s, c);
	if (ret < 0) {
		free(res->next_key);
		res->next_key = NULL;
	}
	return ret;
}

static int64_t sq_rev(store *st)
{
	return atomic_load(&sq(st)->rev);
}

static int64_t sq_compacted_rev(store *st)
{
	return atomic_load(&sq(st)->compacted);
}

/*
 * Delete history at or before rev (clamped to the current revision) in
 * transactions of COMPACT_BATCH rows, releasing the writer between them so
 * writes are never held up for more than one batch.
 */
static int sq_compact(store *st, int64_t rev, k9_err *e)
{
	sq_store *s = sq(st);
	int64_t cur = atomic_load(&s->rev);
	if (rev > cur)
		rev = cur;
	for (;;) {
		int64_t done = atomic_load(&s->compacted);
		if (done >= rev)
			return 0;
		int64_t upto = done + COMPACT_BATCH < rev ? done + COMPACT_BATCH : rev;
		pthread_mutex_lock(&s->wmu);
		if (atomic_load(&s->compacted) >= upto) {
			pthread_mutex_unlock(&s->wmu);
			continue;
		}
		int ok = sqlite3_step(s->w_begin) == SQLITE_DONE;
		sqlite3_reset(s->w_begin);
		if (ok) {
			sqlite3_bind_int64(s->w_compact, 1, done);
			sqlite3_bind_int64(s->w_compact, 2, upto);
			ok = sqlite3_step(s->w_compact) == SQLITE_DONE;
			sqlite3_reset(s->w_compact);
		}
		if (ok) {
			sqlite3_bind_int64(s->w_setcompacted, 1, upto);
			ok = sqlite3_step(s->w_setcompacted) == SQLITE_DONE;
			sqlite3_reset(s->w_setcompacted);
		}
		if (ok) {
			ok = sqlite3_step(s->w_commit) == SQLITE_DONE;
			sqlite3_reset(s->w_commit);
		}
		if (!ok) {
			sq_errdb(e, s->wdb, "compact");
			if (!sqlite3_get_autocommit(s->wdb)) {
				sqlite3_step(s->w_rollback);
				sqlite3_reset(s->w_rollback);
			}
			pthread_mutex_unlock(&s->wmu);
			return -1;
		}
		atomic_store(&s->compacted, upto);
		pthread_mutex_unlock(&s->wmu);
	}
}

void sq_bg_kick(sq_store *s)
{
	pthread_mutex_lock(&s->bg_mu);
	pthread_cond_signal(&s->bg_cv);
	pthread_mutex_unlock(&s->bg_mu);
}

/* Writer's commit hook: wake the checkpointer once the WAL grows large. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	(void)db;
	(void)name;
	if (pages >= WAL_KICK_PAGES)
		sq_bg_kick(arg);
	return SQLITE_OK;
}

/*
 * Copy the WAL back into the database. The bulk is copied without blocking
 * anyone; then, holding the writer lock so no frame can be appended, the
 * few frames committed meanwhile are copied too. Only a WAL that is
 * completely checkpointed is restarted from its beginning by the next
 * write, so without that second step a busy writer would grow the WAL
 * forever (and every page lookup in it gets slower).
 */
static void checkpoint(sq_store *s)
{
	int logn = 0, done = 0;
	int rc = sqlite3_wal_checkpoint_v2(s->ckdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &logn, &done);
	if (rc == SQLITE_OK && logn > 0 && done < logn) {
		pthread_mutex_lock(&s->wmu);
		rc = sqlite3_wal_checkpoint_v2(s->ckdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &logn,
		                               &done);
		pthread_mutex_unlock(&s->wmu);
	}
	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		log_warn("store: checkpoint %s: %s", s->path, sqlite3_errmsg(s->ckdb));
}

/* Background: every second (or when kicked) compact and checkpoint. */
static void *bg_main(void *arg)
{
	sq_store *s = arg;
	pthread_mutex_lock(&s->bg_mu);
	while (!s->bg_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&s->bg_cv, &s->bg_mu, &ts);
		if (s->bg_stop)
			break;
		pthread_mutex_unlock(&s->bg_mu);
		atomic_store(&s->writes_since_bg, 0);
		int64_t target = atomic_load(&s->rev) - s->history_revs;
		k9_err e;
		if (target > atomic_load(&s->compacted) && sq_compact(&s->base, target, &e) < 0)
			log_warn("%s", e.msg);
		checkpoint(s);
		pthread_mutex_lock(&s->bg_mu);
	}
	pthread_mutex_unlock(&s->bg_mu);
	return NULL;
}

void sq_unref(sq_store *s)
{
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	while (s->pool) {
		rconn *c = s->pool;
		s->pool = c->next;
		rconn_free(c);
	}
	sq_finalize_writer(s);
	sqlite3_close(s->wdb);
	sqlite3_close(s->ckdb);
	sq_ring_destroy(&s->ring);
	pthread_mutex_destroy(&s->wmu);
	pthread_mutex_destroy(&s->wq_mu);
	pthread_mutex_destroy(&s->pool_mu);
	pthread_mutex_destroy(&s->bg_mu);
	pthread_cond_destroy(&s->bg_cv);
	free(s->path);
	free(s);
}

static void sq_close(store *st)
{
	sq_store *s = sq(st);
	if (s->bg_started) {
		pthread_mutex_lock(&s->bg_mu);
		s->bg_stop = true;
		pthread_cond_signal(&s->bg_cv);
		pthread_mutex_unlock(&s->bg_mu);
		pthread_join(s->bg, NULL);
		s->bg_started = false;
	}
	sq_ring_close(&s->ring);
	sq_unref(s);
}

static const store_ops sq_ops = {
    .get = sq_get,
    .list = sq_list,
    .create = sq_create,
    .update = sq_update,
    .del = sq_del,
    .watch = sq_watch,
    .watch_next = sq_watch_next,
    .watch_close = sq_watch_close,
    .rev = sq_rev,
    .compact = sq_compact,
    .compacted_rev = sq_compacted_rev,
    .close = sq_close,
};

/*
 * Open (creating and migrating if needed) the store at o->path. Returns a
 * store the caller closes with s->ops->close, or NULL with e.
 */
store *store_sqlite_open(const store_sqlite_opts *o, k9_err *e)
{
	if (!o || !o->path || !*o->path) {
		k9_errf(e, 500, "InternalError", "store: no database path");
		return NULL;
	}
	sq_store *s = xcalloc(1, sizeof *s);
	s->base.ops = &sq_ops;
	atomic_init(&s->refs, 1);
	s->path = xstrdup(o->path);
	s->history_revs = o->history_revs > 0 ? o->history_revs : 100000;
	s->sync_full = o->sync_full;
	unsigned char nonce[12];
	k9_random(nonce, sizeof nonce);
	int p = snprintf(s->placeholder, sizeof s->placeholder, "k9rv-");
	for (size_t i = 0; i < sizeof nonce; i++)
		p += snprintf(s->placeholder + p, sizeof s->placeholder - (size_t)p, "%02x",
		              nonce[i]);
	pthread_mutex_init(&s->wmu, NULL);
	pthread_mutex_init(&s->wq_mu, NULL);
	pthread_mutex_init(&s->pool_mu, NULL);
	pthread_mutex_init(&s->bg_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_cond_init(&s->bg_cv, &ca);
	pthread_condattr_destroy(&ca);
	sq_ring_init(&s->ring, 65536, 64u << 20, 0);

	if (!(s->wdb = open_conn(s, true, e)) || conn_pragmas(s, s->wdb, true, e) < 0 ||
	    migrate(s, e) < 0 || load_meta(s, e) < 0 || sq_prepare_writer(s, e) < 0)
		goto fail;
	sqlite3_wal_hook(s->wdb, wal_hook, s);
	/* A connection only checkpoints once it has read the file and knows it is WAL. */
	if (!(s->ckdb = open_conn(s, false, e)) ||
	    exec1(s->ckdb, "SELECT v FROM meta WHERE k = 'rev'", NULL, 0, e) < 0)
		goto fail;
	sq_ring_destroy(&s->ring);
	sq_ring_init(&s->ring, 65536, 64u << 20, atomic_load(&s->rev));
	if (pthread_create(&s->bg, NULL, bg_main, s) != 0) {
		k9_errf(e, 500, "InternalError", "store: cannot start background thread: %s",
		        strerror(errno));
		goto fail;
	}
	s->bg_started = true;
	return &s->base;
fail:
	k9_err_prefix(e, "open store %s", o->path);
	sq_close(&s->base);
	return NULL;
}
