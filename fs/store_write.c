/*
 * store_write.c - create, update and delete with group commit.
 *
 * A write is prepared in the calling thread (copy the object, set
 * metadata.resourceVersion to a placeholder, dump it compact), queued, and
 * executed by a leader: the first waiting thread that finds no leader takes
 * every queued request, runs them in one IMMEDIATE transaction on the single
 * writer connection, commits, publishes the events to the watch ring, marks
 * them done and hands leadership on. So a write returns only after the
 * COMMIT of its own transaction, each gets its own revision and its own
 * exact result (404/409 are decided inside the transaction, in queue
 * order), and concurrent writers share one commit.
 *
 * The revision is only known in the leader, so the dumped text carries a
 * per-store random placeholder ("k9rv-<24 hex>") as resourceVersion and the
 * leader splices the decimal revision in its place. If the placeholder
 * happens to appear more than once in the text, the splice would be
 * ambiguous, and the leader dumps the object itself instead.
 *
 * If a statement fails for a reason other than the request itself (I/O,
 * disk full), the transaction is rolled back and each request of the batch
 * is retried alone, so one bad request cannot fail its neighbours.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube9/util.h"
#include "store_sqlite_int.h"

enum { MAX_BATCH = 512, BG_KICK_WRITES = 10000 };

typedef enum { OP_CREATE, OP_UPDATE, OP_DELETE } wop;

typedef struct wreq {
	struct wreq *next;
	wop op;
	const char *key;
	int64_t expect;
	/* create/update: text with the placeholder at [ph_off, ph_off + ph_len) */
	char *text;
	size_t text_len, ph_off, ph_len;
	json_t *copy; /* fallback when the placeholder is ambiguous: dump in the leader */
	char *node_name, *phase;
	/* results, written by the leader before done is set under wq_mu */
	pthread_cond_t cv;
	bool done;
	int rc;
	k9_err err;
	int64_t rev;
	char *out;
	size_t out_len;
} wreq;

static const char *const w_sql[] = {
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
    "INSERT INTO objects(key, rev, node_name, phase) VALUES(?1, ?2, ?3, ?4)"
    " ON CONFLICT(key) DO NOTHING",
    "UPDATE objects SET rev = ?1, node_name = ?2, phase = ?3"
    " WHERE key = ?4 AND (?5 = 0 OR rev = ?5)",
    "SELECT rev FROM objects WHERE key = ?1",
    "SELECT o.rev, e.value FROM objects o CROSS JOIN events e ON e.rev = o.rev"
    " WHERE o.key = ?1",
    "DELETE FROM objects WHERE key = ?1",
    "INSERT INTO events(rev, type, key, value) VALUES(?1, ?2, ?3, ?4)",
    "UPDATE meta SET v = ?1 WHERE k = 'rev'",
    "DELETE FROM events WHERE rev > ?1 AND rev <= ?2 AND NOT EXISTS"
    " (SELECT 1 FROM objects o WHERE o.key = events.key AND o.rev = events.rev)",
    "UPDATE meta SET v = ?1 WHERE k = 'compacted'",
};

static sqlite3_stmt **w_slots(sq_store *s, size_t i)
{
	sqlite3_stmt **slots[] = {&s->w_begin,  &s->w_commit, &s->w_rollback, &s->w_insert,
	                          &s->w_update, &s->w_getrev, &s->w_select,   &s->w_delete,
	                          &s->w_event,  &s->w_setrev, &s->w_compact,  &s->w_setcompacted};
	return slots[i];
}

int sq_prepare_writer(sq_store *s, k9_err *e)
{
	for (size_t i = 0; i < sizeof w_sql / sizeof w_sql[0]; i++)
		if (sqlite3_prepare_v3(s->wdb, w_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                       w_slots(s, i), NULL) != SQLITE_OK)
			return sq_errdb(e, s->wdb, w_sql[i]);
	return 0;
}

void sq_finalize_writer(sq_store *s)
{
	for (size_t i = 0; i < sizeof w_sql / sizeof w_sql[0]; i++) {
		sqlite3_finalize(*w_slots(s, i));
		*w_slots(s, i) = NULL;
	}
}

/* A malloc'd copy of obj.a.b when it is a non-empty string, else NULL. */
static char *str_at(const json_t *obj, const char *a, const char *b)
{
	const char *v = json_string_value(json_object_get(json_object_get(obj, a), b));
	return v && *v ? xstrdup(v) : NULL;
}

/* Count occurrences of needle in hay (non-overlapping); *first = offset of the first. */
static int count_occ(const char *hay, size_t n, const char *needle, size_t nl, size_t *first)
{
	int c = 0;
	const char *p = hay, *endp = hay + n;
	while ((p = memmem(p, (size_t)(endp - p), needle, nl))) {
		if (!c)
			*first = (size_t)(p - hay);
		c++;
		p += nl;
	}
	return c;
}

/* Fill r's text (or copy) from obj in the calling thread. */
static int prepare(sq_store *s, const json_t *obj, wreq *r, k9_err *e)
{
	if (!json_is_object(obj))
		return k9_errf(e, 400, "BadRequest", "store: value of \"%s\" is not a JSON object",
		               r->key);
	json_t *c = json_copy((json_t *)obj);
	json_t *md = json_object_get(obj, "metadata");
	json_t *mdc = json_is_object(md) ? json_copy(md) : json_object();
	json_object_set_new(mdc, "resourceVersion", json_string(s->placeholder));
	json_object_set_new(c, "metadata", mdc);
	r->node_name = str_at(obj, "spec", "nodeName");
	r->phase = str_at(obj, "status", "phase");
	r->text = json_dumps(c, JSON_COMPACT);
	if (!r->text) {
		json_decref(c);
		return k9_errf(e, 400, "BadRequest", "store: cannot encode \"%s\"", r->key);
	}
	r->text_len = strlen(r->text);
	r->ph_len = strlen(s->placeholder);
	if (count_occ(r->text, r->text_len, s->placeholder, r->ph_len, &r->ph_off) == 1) {
		json_decref(c);
	} else {
		free(r->text);
		r->text = NULL;
		r->copy = c;
	}
	return 0;
}

static void req_free(wreq *r)
{
	free(r->text);
	json_decref(r->copy);
	free(r->node_name);
	free(r->phase);
	free(r->out);
}

/* The final text of r at revision rev (malloc'd, *len set), or NULL if it cannot be encoded. */
static char *build_text(wreq *r, int64_t rev, size_t *len)
{
	char num[24];
	int nl = snprintf(num, sizeof num, "%" PRId64, rev);
	if (r->copy) {
		json_object_set_new(json_object_get(r->copy, "metadata"), "resourceVersion",
		                    json_string(num));
		char *t = json_dumps(r->copy, JSON_COMPACT);
		*len = t ? strlen(t) : 0;
		return t;
	}
	size_t post = r->text_len - r->ph_off - r->ph_len;
	char *t = xmalloc(r->ph_off + (size_t)nl + post + 1);
	memcpy(t, r->text, r->ph_off);
	memcpy(t + r->ph_off, num, (size_t)nl);
	memcpy(t + r->ph_off + nl, r->text + r->ph_off + r->ph_len, post + 1);
	*len = r->ph_off + (size_t)nl + post;
	return t;
}

/* Text of a deleted object: its last value with resourceVersion = rev. */
static char *deleted_text(const char *val, size_t n, int64_t rev, size_t *len)
{
	json_t *j = json_loadb(val, n, 0, NULL);
	if (!j)
		return NULL;
	json_t *md = json_object_get(j, "metadata");
	if (!json_is_object(md)) {
		md = json_object();
		json_object_set_new(j, "metadata", md);
	}
	char num[24];
	snprintf(num, sizeof num, "%" PRId64, rev);
	json_object_set_new(md, "resourceVersion", json_string(num));
	char *t = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	*len = t ? strlen(t) : 0;
	return t;
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int log_event(sq_store *s, int64_t rev, store_ev_type type, const char *key, const char *val,
                     size_t len)
{
	sqlite3_bind_int64(s->w_event, 1, rev);
	sqlite3_bind_int(s->w_event, 2, (int)type);
	sqlite3_bind_text(s->w_event, 3, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->w_event, 4, val, (int)len, SQLITE_STATIC);
	return step_done(s->w_event);
}

static void bind_opt(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Refuse r with 409 Conflict (its expected revision is not the current one); returns 1. */
static int refuse_conflict(wreq *r)
{
	k9_errf(&r->err, 409, "Conflict",
	        "Operation cannot be fulfilled on \"%s\": the object has been modified; please "
	        "apply your changes to the latest version and try again",
	        r->key);
	return 1;
}

/*
 * Log the event of r's write at rev and hand its text t (owned) to r.
 * Returns 0, or -1 on a database error (t freed).
 */
static int record(sq_store *s, wreq *r, int64_t rev, store_ev_type type, char *t, size_t len)
{
	if (log_event(s, rev, type, r->key, t, len) < 0) {
		free(t);
		return -1;
	}
	r->out = t;
	r->out_len = len;
	r->rev = rev;
	return 0;
}

/*
 * Apply one request inside the open transaction at revision rev. Returns 0
 * when it wrote (r->out, r->rev set), 1 when it was refused (r->err set, no
 * change made), -1 on a database error.
 */
static int apply(sq_store *s, wreq *r, int64_t rev)
{
	size_t len = 0;
	if (r->op == OP_DELETE) {
		sqlite3_stmt *st = s->w_select;
		sqlite3_bind_text(st, 1, r->key, -1, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_DONE) {
			sqlite3_reset(st);
			k9_errf(&r->err, 404, "NotFound", "\"%s\" not found", r->key);
			return 1;
		}
		if (rc != SQLITE_ROW) {
			sqlite3_reset(st);
			return -1;
		}
		int64_t cur = sqlite3_column_int64(st, 0);
		char *t = NULL;
		if (!r->expect || r->expect == cur)
			t = deleted_text((const char *)sqlite3_column_text(st, 1),
			                 (size_t)sqlite3_column_bytes(st, 1), rev, &len);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (r->expect && r->expect != cur)
			return refuse_conflict(r);
		if (!t) {
			k9_errf(&r->err, 500, "InternalError",
			        "store: stored value of \"%s\" is "
			        "not a JSON object",
			        r->key);
			return 1;
		}
		sqlite3_bind_text(s->w_delete, 1, r->key, -1, SQLITE_STATIC);
		if (step_done(s->w_delete) < 0) {
			free(t);
			return -1;
		}
		return record(s, r, rev, STORE_DELETED, t, len);
	}

	char *t = build_text(r, rev, &len);
	if (!t) {
		k9_errf(&r->err, 400, "BadRequest", "store: cannot encode \"%s\"", r->key);
		return 1;
	}
	sqlite3_stmt *st = r->op == OP_CREATE ? s->w_insert : s->w_update;
	if (r->op == OP_CREATE) {
		sqlite3_bind_text(st, 1, r->key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, rev);
		bind_opt(st, 3, r->node_name);
		bind_opt(st, 4, r->phase);
	} else {
		sqlite3_bind_int64(st, 1, rev);
		bind_opt(st, 2, r->node_name);
		bind_opt(st, 3, r->phase);
		sqlite3_bind_text(st, 4, r->key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, r->expect);
	}
	if (step_done(st) < 0) {
		free(t);
		return -1;
	}
	if (sqlite3_changes(s->wdb) == 0) {
		free(t);
		if (r->op == OP_CREATE) {
			k9_errf(&r->err, 409, "AlreadyExists", "\"%s\" already exists", r->key);
			return 1;
		}
		sqlite3_bind_text(s->w_getrev, 1, r->key, -1, SQLITE_STATIC);
		int rc = sqlite3_step(s->w_getrev);
		sqlite3_reset(s->w_getrev);
		sqlite3_clear_bindings(s->w_getrev);
		if (rc == SQLITE_ROW)
			return refuse_conflict(r);
		if (rc == SQLITE_DONE)
			k9_errf(&r->err, 404, "NotFound", "\"%s\" not found", r->key);
		else
			return -1;
		return 1;
	}
	return record(s, r, rev, r->op == OP_CREATE ? STORE_ADDED : STORE_MODIFIED, t, len);
}

/*
 * Run rs[0..n) in one transaction. Returns 0 with every request's result
 * set, or -1 after a database error (everything rolled back; each request's
 * err describes the failure).
 */
static int run_batch(sq_store *s, wreq **rs, size_t n)
{
	pthread_mutex_lock(&s->wmu);
	int64_t rev = atomic_load(&s->rev);
	size_t nok = 0;
	k9_err dberr;
	if (step_done(s->w_begin) < 0) {
		sq_errdb(&dberr, s->wdb, "begin");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		int rc = apply(s, rs[i], rev + 1);
		if (rc < 0) {
			sq_errdb(&dberr, s->wdb,
			         rs[i]->op == OP_CREATE   ? "create"
			         : rs[i]->op == OP_UPDATE ? "update"
			                                  : "delete");
			goto fail;
		}
		rs[i]->rc = rc == 0 ? 0 : -1;
		if (rc == 0) {
			rev++;
			nok++;
		}
	}
	if (nok) {
		sqlite3_bind_int64(s->w_setrev, 1, rev);
		if (step_done(s->w_setrev) < 0) {
			sq_errdb(&dberr, s->wdb, "set revision");
			goto fail;
		}
	}
	if (step_done(s->w_commit) < 0) {
		sq_errdb(&dberr, s->wdb, "commit");
		goto fail;
	}
	if (nok) {
		ring_ent *ents[MAX_BATCH];
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			wreq *r = rs[i];
			if (r->rc < 0)
				continue;
			ring_ent *en = xmalloc(sizeof *en);
			en->rev = r->rev;
			en->type = r->op == OP_CREATE   ? STORE_ADDED
			           : r->op == OP_UPDATE ? STORE_MODIFIED
			                                : STORE_DELETED;
			en->klen = strlen(r->key);
			en->key = xstrndup(r->key, en->klen);
			en->vlen = r->out_len;
			en->value = xstrndup(r->out, r->out_len);
			ents[k++] = en;
		}
		/* Publish before releasing the writer so the ring stays in rev order. */
		atomic_store(&s->rev, rev);
		sq_ring_publish(&s->ring, ents, k);
	}
	pthread_mutex_unlock(&s->wmu);
	if (nok &&
	    atomic_fetch_add(&s->writes_since_bg, (int64_t)nok) + (int64_t)nok >= BG_KICK_WRITES)
		sq_bg_kick(s);
	return 0;
fail:
	if (!sqlite3_get_autocommit(s->wdb))
		step_done(s->w_rollback);
	pthread_mutex_unlock(&s->wmu);
	for (size_t i = 0; i < n; i++) {
		free(rs[i]->out);
		rs[i]->out = NULL;
		rs[i]->rc = -1;
		rs[i]->err = dberr;
	}
	return -1;
}

/*
 * Queue r and wait until a leader (possibly this thread) has run it. Each
 * request has its own condition variable: a leader wakes exactly the
 * requests it completed, plus the head of the queue to lead the next batch.
 */
static void submit(sq_store *s, wreq *r)
{
	pthread_cond_init(&r->cv, NULL);
	pthread_mutex_lock(&s->wq_mu);
	if (s->wq_tail)
		s->wq_tail->next = r;
	else
		s->wq_head = r;
	s->wq_tail = r;
	while (!r->done) {
		if (s->leader) {
			pthread_cond_wait(&r->cv, &s->wq_mu);
			continue;
		}
		s->leader = true;
		wreq *batch[MAX_BATCH];
		size_t n = 0;
		while (s->wq_head && n < MAX_BATCH) {
			batch[n++] = s->wq_head;
			s->wq_head = s->wq_head->next;
		}
		if (!s->wq_head)
			s->wq_tail = NULL;
		pthread_mutex_unlock(&s->wq_mu);
		if (run_batch(s, batch, n) < 0 && n > 1)
			for (size_t i = 0; i < n; i++)
				run_batch(s, &batch[i], 1);
		pthread_mutex_lock(&s->wq_mu);
		for (size_t i = 0; i < n; i++) {
			batch[i]->done = true;
			if (batch[i] != r)
				pthread_cond_signal(&batch[i]->cv);
		}
		s->leader = false;
		if (s->wq_head)
			pthread_cond_signal(&s->wq_head->cv);
	}
	pthread_mutex_unlock(&s->wq_mu);
	pthread_cond_destroy(&r->cv);
}

/* Run a prepared request and hand its result to the caller. */
static int finish(sq_store *s, wreq *r, store_obj *out, k9_err *e)
{
	submit(s, r);
	int rc = r->rc;
	if (rc < 0) {
		if (e)
			*e = r->err;
	} else if (out) {
		out->key = xstrdup(r->key);
		out->rev = r->rev;
		out->value = r->out;
		out->len = r->out_len;
		r->out = NULL;
	}
	req_free(r);
	return rc;
}

/* Encode obj into r, then run it (create and update). */
static int write_obj(sq_store *s, wreq *r, const json_t *obj, store_obj *out, k9_err *e)
{
	if (out)
		memset(out, 0, sizeof *out);
	if (prepare(s, obj, r, e) < 0) {
		req_free(r);
		return -1;
	}
	return finish(s, r, out, e);
}

int sq_create(store *st, const char *key, const json_t *obj, store_obj *out, k9_err *e)
{
	wreq r = {.op = OP_CREATE, .key = key};
	return write_obj(sq(st), &r, obj, out, e);
}

int sq_update(store *st, const char *key, int64_t expect_rev, const json_t *obj, store_obj *out,
              k9_err *e)
{
	wreq r = {.op = OP_UPDATE, .key = key, .expect = expect_rev};
	return write_obj(sq(st), &r, obj, out, e);
}

int sq_del(store *st, const char *key, int64_t expect_rev, store_obj *out, k9_err *e)
{
	wreq r = {.op = OP_DELETE, .key = key, .expect = expect_rev};
	if (out)
		memset(out, 0, sizeof *out);
	return finish(sq(st), &r, out, e);
}
