/*
 * test_store.c - unit tests of the SQLite store (fs/store_*.c): CRUD and
 * error codes, resourceVersion in the stored text, revisions across reopen,
 * list boundaries/pagination/prefilters/filters, watches (from now, from
 * history, compacted, prefixes, DELETED content, many watchers, close),
 * compaction, migrations, key safety and concurrent writers.
 *
 * Each run works in its own mkdtemp directory under /tmp, removed at the end.
 */
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube9/store.h"
#include "kube9/util.h"
#include "tap.h"

static char dir[64], dbpath[128];

static store *open_db(int64_t history)
{
	k9_err e = {0};
	store_sqlite_opts o = {.path = dbpath, .history_revs = history};
	store *s = store_sqlite_open(&o, &e);
	if (!s)
		printf("# open: %d %s %s\n", e.code, e.reason, e.msg);
	return s;
}

static void cleanup(void)
{
	const char *sfx[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < 4; i++) {
		char p[160];
		snprintf(p, sizeof p, "%s%s", dbpath, sfx[i]);
		unlink(p);
	}
	rmdir(dir);
}

/* A pod-like object; node/phase/label may be NULL. Caller decrefs. */
static json_t *pod(const char *name, const char *node, const char *phase, const char *app)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "Pod",
	                      "metadata", "name", name, "namespace", "default");
	if (app)
		json_object_set_new(json_object_get(o, "metadata"), "labels",
		                    json_pack("{s:s}", "app", app));
	if (node)
		json_object_set_new(o, "spec", json_pack("{s:s}", "nodeName", node));
	if (phase)
		json_object_set_new(o, "status", json_pack("{s:s}", "phase", phase));
	return o;
}

/* resourceVersion of a stored text, as a number (-1 if absent). */
static int64_t text_rv(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	const char *rv =
	    json_string_value(json_object_get(json_object_get(j, "metadata"), "resourceVersion"));
	int64_t v = rv ? strtoll(rv, NULL, 10) : -1;
	json_decref(j);
	return v;
}

static int create_simple(store *s, const char *key, const char *node, const char *phase,
                         const char *app, int64_t *rev)
{
	k9_err e;
	store_obj o;
	json_t *j = pod(strrchr(key, '/') + 1, node, phase, app);
	int rc = s->ops->create(s, key, j, &o, &e);
	json_decref(j);
	if (rc == 0) {
		if (rev)
			*rev = o.rev;
		store_obj_free(&o);
	}
	return rc;
}

/* ---- list helpers ---- */
typedef struct collect {
	char keys[64][96];
	size_t n;
	bool bad_len;
} collect;

static void collect_fn(const store_obj *o, void *arg)
{
	collect *c = arg;
	if (o->len != strlen(o->value) || text_rv(o->value) != o->rev)
		c->bad_len = true;
	if (c->n < 64)
		snprintf(c->keys[c->n], sizeof c->keys[0], "%s", o->key);
	c->n++;
}

static void count_fn(const store_obj *o, void *arg)
{
	(void)o;
	(*(size_t *)arg)++;
}

static bool app_is(const json_t *obj, void *arg)
{
	const char *app = json_string_value(
	    json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"), "app"));
	return app && strcmp(app, arg) == 0;
}

static void test_keys(void)
{
	char k[128];
	store_key(k, sizeof k, NULL, "pods", "default", "web");
	is_str(k, "pods/default/web", "store_key namespaced");
	store_key(k, sizeof k, "apps", "deployments", "default", "web");
	is_str(k, "apps.deployments/default/web", "store_key group-qualified");
	store_key(k, sizeof k, "", "nodes", NULL, "n1");
	is_str(k, "nodes//n1", "store_key cluster-scoped");
	store_key(k, sizeof k, NULL, "pods", "default", "");
	is_str(k, "pods/default/", "store_key with empty name gives a prefix");
}

static void test_crud(store *s)
{
	k9_err e = {0};
	store_obj o = {0}, g = {0};
	json_t *j = pod("web", NULL, NULL, NULL);
	ok(s->ops->rev(s) == 0, "new store at revision 0");
	ok(s->ops->create(s, "pods/default/web", j, &o, &e) == 0, "create");
	ok(o.rev == 1, "create gets revision 1 (got %" PRId64 ")", o.rev);
	is_str(o.value,
	       "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\","
	       "\"namespace\":\"default\",\"resourceVersion\":\"1\"}}",
	       "created text: compact, key order kept, resourceVersion set");
	ok(o.len == strlen(o.value), "len matches");
	is_str(o.key, "pods/default/web", "out key");
	ok(json_object_get(json_object_get(j, "metadata"), "resourceVersion") == NULL,
	   "caller's object not modified");
	ok(s->ops->get(s, "pods/default/web", &g, &e) == 0, "get");
	is_str(g.value, o.value, "get returns exactly the stored text");
	ok(g.rev == 1 && g.len == o.len, "get rev and len");
	store_obj_free(&g);
	store_obj_free(&o);

	k9_err_clear(&e);
	ok(s->ops->create(s, "pods/default/web", j, &o, &e) == -1, "create existing fails");
	ok(e.code == 409, "create existing: 409 (got %d)", e.code);
	is_str(e.reason, "AlreadyExists", "create existing: AlreadyExists");
	ok(strstr(e.msg, "pods/default/web") != NULL, "message names the key: %s", e.msg);
	ok(s->ops->rev(s) == 1, "failed create does not use a revision");

	k9_err_clear(&e);
	ok(s->ops->get(s, "pods/default/nope", &g, &e) == -1 && e.code == 404 &&
	       strcmp(e.reason, "NotFound") == 0,
	   "get missing: 404 NotFound");

	/* update: CAS */
	json_object_set_new(json_object_get(j, "metadata"), "resourceVersion", json_string("1"));
	json_object_set_new(j, "spec", json_pack("{s:s}", "nodeName", "n1"));
	ok(s->ops->update(s, "pods/default/web", 1, j, &o, &e) == 0 && o.rev == 2,
	   "update with matching revision -> rev 2");
	is_str(o.value,
	       "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\","
	       "\"namespace\":\"default\",\"resourceVersion\":\"2\"},\"spec\":{\"nodeName\":"
	       "\"n1\"}}",
	       "updated text: resourceVersion replaced in place");
	store_obj_free(&o);
	k9_err_clear(&e);
	ok(s->ops->update(s, "pods/default/web", 1, j, &o, &e) == -1 && e.code == 409,
	   "update with stale revision: 409");
	is_str(e.reason, "Conflict", "stale update: reason Conflict");
	ok(strstr(e.msg, "the object has been modified; please apply your changes to the "
	                 "latest version and try again") != NULL,
	   "conflict message");
	ok(s->ops->update(s, "pods/default/web", 0, j, &o, &e) == 0 && o.rev == 3,
	   "unconditional update -> rev 3");
	store_obj_free(&o);
	k9_err_clear(&e);
	ok(s->ops->update(s, "pods/default/nope", 0, j, &o, &e) == -1 && e.code == 404 &&
	       strcmp(e.reason, "NotFound") == 0,
	   "update missing: 404 NotFound");
	k9_err_clear(&e);
	ok(s->ops->update(s, "pods/default/nope", 7, j, &o, &e) == -1 && e.code == 404,
	   "CAS update of missing: 404");

	/* delete */
	k9_err_clear(&e);
	ok(s->ops->del(s, "pods/default/web", 2, &o, &e) == -1 && e.code == 409 &&
	       strcmp(e.reason, "Conflict") == 0,
	   "delete with stale revision: 409 Conflict");
	k9_err_clear(&e);
	ok(s->ops->del(s, "pods/default/nope", 0, &o, &e) == -1 && e.code == 404,
	   "delete missing: 404");
	ok(s->ops->del(s, "pods/default/web", 3, &o, &e) == 0 && o.rev == 4, "delete -> rev 4");
	ok(text_rv(o.value) == 4, "deleted value carries the delete's revision");
	ok(strstr(o.value, "\"nodeName\":\"n1\"") != NULL, "deleted value is the last state");
	store_obj_free(&o);
	k9_err_clear(&e);
	ok(s->ops->get(s, "pods/default/web", &g, &e) == -1 && e.code == 404, "gone after delete");
	ok(s->ops->rev(s) == 4, "revision 4 after four writes");
	/* a non-object value is refused */
	json_t *arr = json_array();
	k9_err_clear(&e);
	ok(s->ops->create(s, "pods/default/arr", arr, &o, &e) == -1 && e.code == 400,
	   "non-object value: 400");
	json_decref(arr);
	json_decref(j);
}

static void test_list(store *s)
{
	k9_err e = {0};
	const char *keys[] = {"pods/default/a",  "pods/default/b", "pods/other/c",
	                      "podsx/default/d", "pod/x/y",        "pods0/q/r"};
	for (size_t i = 0; i < 6; i++)
		create_simple(s, keys[i], NULL, NULL, NULL, NULL);
	collect c = {0};
	store_list_result r = {0};
	store_list_opts lo = {.prefix = "pods/"};
	ok(s->ops->list(s, &lo, collect_fn, &c, &r, &e) == 0, "list pods/");
	ok(c.n == 3 && r.count == 3, "pods/ matches 3 (got %zu)", c.n);
	is_str(c.keys[0], "pods/default/a", "key order 1");
	is_str(c.keys[1], "pods/default/b", "key order 2");
	is_str(c.keys[2], "pods/other/c", "key order 3");
	ok(!c.bad_len, "listed values have len and resourceVersion = rev");
	ok(r.rev == s->ops->rev(s), "list revision is the current revision");
	ok(r.next_key == NULL && r.remaining == 0, "no continuation");
	memset(&c, 0, sizeof c);
	lo.prefix = "pods/default/";
	s->ops->list(s, &lo, collect_fn, &c, &r, &e);
	ok(c.n == 2, "pods/default/ matches 2");
	memset(&c, 0, sizeof c);
	lo.prefix = "";
	s->ops->list(s, &lo, collect_fn, &c, &r, &e);
	ok(c.n == 6, "empty prefix lists everything (got %zu)", c.n);

	/* pagination */
	char k[64];
	for (int i = 0; i < 25; i++) {
		snprintf(k, sizeof k, "configmaps/ns/cm%02d", i);
		create_simple(s, k, NULL, NULL, NULL, NULL);
	}
	store_list_opts po = {.prefix = "configmaps/ns/", .limit = 10};
	memset(&c, 0, sizeof c);
	s->ops->list(s, &po, collect_fn, &c, &r, &e);
	ok(r.count == 10 && r.next_key && strcmp(r.next_key, "configmaps/ns/cm09") == 0,
	   "page 1: 10, next_key cm09 (%s)", r.next_key ? r.next_key : "null");
	ok(r.remaining == 15, "page 1: 15 remaining (got %zu)", r.remaining);
	char *nk = r.next_key;
	po.start_after = nk;
	memset(&c, 0, sizeof c);
	s->ops->list(s, &po, collect_fn, &c, &r, &e);
	free(nk);
	is_str(c.keys[0], "configmaps/ns/cm10", "page 2 starts strictly after next_key");
	ok(r.count == 10 && r.remaining == 5 && r.next_key, "page 2: 10, 5 remaining");
	nk = r.next_key;
	po.start_after = nk;
	memset(&c, 0, sizeof c);
	s->ops->list(s, &po, collect_fn, &c, &r, &e);
	free(nk);
	ok(r.count == 5 && r.next_key == NULL && r.remaining == 0, "page 3: last 5, no next_key");
	po.start_after = "configmaps/ns/cm19";
	po.limit = 5;
	s->ops->list(s, &po, collect_fn, &c, &r, &e);
	ok(r.count == 5 && r.next_key == NULL, "limit equal to what is left: no next_key");
	po.start_after = "a"; /* before the prefix: start at the prefix */
	po.limit = 0;
	memset(&c, 0, sizeof c);
	s->ops->list(s, &po, collect_fn, &c, &r, &e);
	ok(r.count == 25, "start_after before the prefix lists the whole prefix");
	po.start_after = "configmaps/nt";
	s->ops->list(s, &po, collect_fn, &c, &r, &e);
	ok(r.count == 0, "start_after beyond the prefix lists nothing");

	/* prefilters and filter */
	const struct {
		const char *name, *node, *phase, *app;
	} ps[] = {{"p1", "n1", "Running", "x"},  {"p2", "n1", "Pending", "y"},
	          {"p3", "n2", "Running", "x"},  {"p4", NULL, "Pending", "x"},
	          {"p5", "n1", "Running", NULL}, {"p6", "", NULL, "x"}};
	for (size_t i = 0; i < 6; i++) {
		snprintf(k, sizeof k, "pods/filt/%s", ps[i].name);
		create_simple(s, k, ps[i].node, ps[i].phase, ps[i].app, NULL);
	}
	size_t n = 0;
	store_list_opts fo = {.prefix = "pods/filt/", .node_name = "n1"};
	s->ops->list(s, &fo, count_fn, &n, &r, &e);
	ok(n == 3 && r.count == 3, "node_name prefilter n1: 3 (got %zu)", n);
	n = 0;
	fo.phase = "Running";
	s->ops->list(s, &fo, count_fn, &n, &r, &e);
	ok(n == 2, "node_name + phase prefilters: 2 (got %zu)", n);
	n = 0;
	fo.node_name = NULL;
	s->ops->list(s, &fo, count_fn, &n, &r, &e);
	ok(n == 3, "phase prefilter: 3 (got %zu)", n);
	n = 0;
	fo.phase = NULL;
	fo.node_name = "";
	s->ops->list(s, &fo, count_fn, &n, &r, &e);
	ok(n == 2, "node_name \"\" selects unscheduled (absent or empty): 2 (got %zu)", n);
	n = 0;
	fo.node_name = NULL;
	fo.filter = app_is;
	fo.filter_arg = "x";
	s->ops->list(s, &fo, count_fn, &n, &r, &e);
	ok(n == 4, "filter callback: 4 with app=x (got %zu)", n);
	n = 0;
	fo.node_name = "n1";
	s->ops->list(s, &fo, count_fn, &n, &r, &e);
	ok(n == 1, "prefilter + filter: 1 (got %zu)", n);
	n = 0;
	fo.node_name = NULL;
	fo.limit = 2;
	memset(&c, 0, sizeof c);
	s->ops->list(s, &fo, collect_fn, &c, &r, &e);
	ok(c.n == 2 && r.next_key && strcmp(r.next_key, "pods/filt/p3") == 0,
	   "filter with limit stops after 2 kept objects (next %s)",
	   r.next_key ? r.next_key : "null");
	free(r.next_key);
}

static void test_key_bytes(store *s)
{
	k9_err e = {0};
	store_obj o;
	const char *evil[] = {"weird/ns/it's'); DROP TABLE objects;--",
	                      "weird/ns/%",
	                      "weird/ns/_x",
	                      "weird/ns/\xff\xfe",
	                      "weird/n%/a",
	                      "weird/n_/b"};
	json_t *j = pod("x", NULL, NULL, NULL);
	int okc = 0;
	for (size_t i = 0; i < 6; i++)
		if (s->ops->create(s, evil[i], j, &o, &e) == 0) {
			okc++;
			store_obj_free(&o);
		}
	json_decref(j);
	ok(okc == 6, "keys with quotes, LIKE wildcards and 0xff bytes are stored");
	ok(s->ops->get(s, evil[0], &o, &e) == 0, "get key with SQL in it");
	store_obj_free(&o);
	size_t n = 0;
	store_list_result r;
	store_list_opts lo = {.prefix = "weird/n%/"};
	s->ops->list(s, &lo, count_fn, &n, &r, &e);
	ok(n == 1, "'%%' in a prefix is literal (got %zu)", n);
	n = 0;
	lo.prefix = "weird/ns/";
	s->ops->list(s, &lo, count_fn, &n, &r, &e);
	ok(n == 4, "prefix weird/ns/ gets 4 (got %zu)", n);
	n = 0;
	lo.prefix = "weird/ns/\xff";
	s->ops->list(s, &lo, count_fn, &n, &r, &e);
	ok(n == 1, "prefix ending in 0xff (got %zu)", n);
	n = 0;
	lo.prefix = "weird/ns/\xff\xfe";
	s->ops->list(s, &lo, count_fn, &n, &r, &e);
	ok(n == 1, "exact key as prefix (got %zu)", n);
}

/* ---- watch ---- */
static int next(store_watch *w, store *s, store_event *ev, int ms)
{
	k9_err e = {0};
	int rc = s->ops->watch_next(w, ev, ms, &e);
	if (rc < 0)
		printf("# watch_next: %d %s %s\n", e.code, e.reason, e.msg);
	return rc;
}

static void test_watch(store *s)
{
	k9_err e = {0};
	store_event ev;
	store_watch *w = s->ops->watch(s, "pods/", 0, &e);
	ok(w != NULL, "watch pods/ from now");
	ok(next(w, s, &ev, 0) == 0, "nothing pending at first");
	int64_t r1, r2;
	create_simple(s, "pods/w/one", NULL, NULL, NULL, &r1);
	create_simple(s, "podsx/w/no", NULL, NULL, NULL, NULL);
	create_simple(s, "configmaps/w/no", NULL, NULL, NULL, NULL);
	create_simple(s, "pods/w/two", NULL, NULL, NULL, &r2);
	ok(next(w, s, &ev, 1000) == 1 && ev.type == STORE_ADDED && ev.obj.rev == r1 &&
	       strcmp(ev.obj.key, "pods/w/one") == 0,
	   "ADDED pods/w/one");
	ok(text_rv(ev.obj.value) == r1 && ev.obj.len == strlen(ev.obj.value),
	   "event value carries its revision");
	store_obj_free(&ev.obj);
	ok(next(w, s, &ev, 1000) == 1 && ev.obj.rev == r2, "next is pods/w/two (prefix filtered)");
	store_obj_free(&ev.obj);
	uint64_t t0 = k9_mono_ns();
	ok(next(w, s, &ev, 100) == 0, "timeout with nothing new");
	uint64_t dt = (k9_mono_ns() - t0) / 1000000;
	ok(dt >= 90 && dt < 1000, "timeout waited ~100 ms (%" PRIu64 ")", dt);

	store_obj o;
	json_t *j = pod("one", "n9", NULL, NULL);
	s->ops->update(s, "pods/w/one", 0, j, &o, &e);
	json_decref(j);
	int64_t ru = o.rev;
	store_obj_free(&o);
	s->ops->del(s, "pods/w/one", 0, &o, &e);
	int64_t rd = o.rev;
	char *delval = o.value;
	o.value = NULL;
	store_obj_free(&o);
	ok(next(w, s, &ev, 1000) == 1 && ev.type == STORE_MODIFIED && ev.obj.rev == ru, "MODIFIED");
	store_obj_free(&ev.obj);
	ok(next(w, s, &ev, 1000) == 1 && ev.type == STORE_DELETED && ev.obj.rev == rd, "DELETED");
	ok(text_rv(ev.obj.value) == rd && strstr(ev.obj.value, "\"nodeName\":\"n9\""),
	   "DELETED value: last state with the delete's revision");
	is_str(ev.obj.value, delval, "DELETED event text = what del returned");
	free(delval);
	store_obj_free(&ev.obj);
	s->ops->watch_close(w);

	/* from an old revision: replays history in order */
	w = s->ops->watch(s, "pods/w/", r1 - 1, &e);
	int64_t want[] = {r1, r2, ru, rd}, got[8];
	int n = 0;
	while (n < 8 && next(w, s, &ev, 0) == 1) {
		got[n++] = ev.obj.rev;
		store_obj_free(&ev.obj);
	}
	ok(n == 4 && got[0] == want[0] && got[1] == want[1] && got[2] == want[2] &&
	       got[3] == want[3],
	   "watch from an old revision replays the 4 events in order (got %d)", n);
	s->ops->watch_close(w);
	w = s->ops->watch(s, "pods/w/", r2, &e);
	ok(next(w, s, &ev, 0) == 1 && ev.obj.rev == ru, "watch from r2 starts after r2");
	store_obj_free(&ev.obj);
	s->ops->watch_close(w);
}

/* Watch history across reopen (ring empty: everything from the events table). */
static void test_watch_sql(void)
{
	k9_err e = {0};
	store *s = open_db(0);
	int64_t base = s->ops->rev(s);
	char k[64];
	for (int i = 0; i < 600; i++) {
		snprintf(k, sizeof k, "%s/h/o%04d", i % 3 ? "secrets" : "leases", i);
		create_simple(s, k, NULL, NULL, NULL, NULL);
	}
	s->ops->close(s);
	s = open_db(0);
	store_watch *w = s->ops->watch(s, "secrets/", base, &e);
	store_event ev;
	int n = 0, inorder = 1;
	int64_t prev = base;
	while (next(w, s, &ev, 0) == 1) {
		if (ev.obj.rev <= prev || strncmp(ev.obj.key, "secrets/", 8) != 0)
			inorder = 0;
		prev = ev.obj.rev;
		n++;
		store_obj_free(&ev.obj);
	}
	ok(n == 400 && inorder, "after reopen, history replays from the table (%d of 400)", n);
	create_simple(s, "secrets/h/live", NULL, NULL, NULL, NULL);
	ok(next(w, s, &ev, 1000) == 1 && strcmp(ev.obj.key, "secrets/h/live") == 0,
	   "then continues with live events");
	store_obj_free(&ev.obj);
	s->ops->watch_close(w);

	/* compaction */
	int64_t cur = s->ops->rev(s);
	ok(s->ops->compact(s, cur - 10, &e) == 0, "compact");
	ok(s->ops->compacted_rev(s) == cur - 10, "compacted_rev set");
	k9_err_clear(&e);
	w = s->ops->watch(s, "secrets/", base, &e);
	ok(w == NULL && e.code == 410 && strcmp(e.reason, "Expired") == 0,
	   "watch from a compacted revision: 410 Expired");
	char msg[128];
	snprintf(msg, sizeof msg, "too old resource version: %" PRId64 " (%" PRId64 ")", base,
	         cur - 10);
	is_str(e.msg, msg, "410 message");
	w = s->ops->watch(s, "", cur - 10, &e);
	n = 0;
	while (next(w, s, &ev, 0) == 1) {
		n++;
		store_obj_free(&ev.obj);
	}
	ok(n == 10, "watch from the compacted revision itself replays the 10 kept (%d)", n);
	s->ops->watch_close(w);
	s->ops->close(s);
	s = open_db(0);
	ok(s->ops->compacted_rev(s) == cur - 10, "compacted_rev persisted");
	ok(s->ops->rev(s) == cur, "revision persisted across reopen");
	int64_t r;
	create_simple(s, "secrets/h/after", NULL, NULL, NULL, &r);
	ok(r == cur + 1, "revision continues after reopen");
	s->ops->close(s);
}

static void test_many_watchers(store *s)
{
	enum { NW = 100, NE = 50 };
	k9_err e = {0};
	store_watch *ws[NW];
	for (int i = 0; i < NW; i++)
		ws[i] = s->ops->watch(s, i % 2 ? "mw/a/" : "mw/", 0, &e);
	char k[64];
	for (int i = 0; i < NE; i++) {
		snprintf(k, sizeof k, "mw/%s/o%d", i % 2 ? "a" : "b", i);
		create_simple(s, k, NULL, NULL, NULL, NULL);
	}
	int good = 0;
	for (int i = 0; i < NW; i++) {
		store_event ev;
		int n = 0;
		int64_t prev = 0;
		bool order = true;
		while (s->ops->watch_next(ws[i], &ev, 0, &e) == 1) {
			order = order && ev.obj.rev > prev;
			prev = ev.obj.rev;
			n++;
			store_obj_free(&ev.obj);
		}
		if (order && n == (i % 2 ? NE / 2 : NE))
			good++;
		s->ops->watch_close(ws[i]);
	}
	ok(good == NW, "100 watchers each got their events in order (%d)", good);
}

typedef struct waiter {
	store *s;
	store_watch *w;
	int rc;
	k9_err e;
	store_event ev;
} waiter;

static void *wait_thread(void *arg)
{
	waiter *wt = arg;
	wt->rc = wt->s->ops->watch_next(wt->w, &wt->ev, -1, &wt->e);
	return NULL;
}

static void test_blocking_and_close(void)
{
	k9_err e = {0};
	store *s = open_db(0);
	waiter a = {.s = s, .w = s->ops->watch(s, "blk/", 0, &e)};
	pthread_t t;
	pthread_create(&t, NULL, wait_thread, &a);
	usleep(50000);
	create_simple(s, "blk/x/y", NULL, NULL, NULL, NULL);
	pthread_join(t, NULL);
	ok(a.rc == 1 && strcmp(a.ev.obj.key, "blk/x/y") == 0, "blocked watcher woken by a write");
	store_obj_free(&a.ev.obj);
	pthread_create(&t, NULL, wait_thread, &a);
	usleep(50000);
	s->ops->close(s);
	pthread_join(t, NULL);
	ok(a.rc == -1 && a.e.code == 503, "closing the store wakes watchers with an error (%d)",
	   a.e.code);
	s->ops->watch_close(a.w); /* after close: must still be safe */
	ok(1, "watch_close after store close");
}

static void test_auto_compaction(void)
{
	store *s = open_db(100);
	char k[64];
	for (int i = 0; i < 400; i++) {
		snprintf(k, sizeof k, "ac/x/o%d", i);
		create_simple(s, k, NULL, NULL, NULL, NULL);
	}
	int64_t want = s->ops->rev(s) - 100;
	for (int i = 0; i < 40 && s->ops->compacted_rev(s) < want; i++)
		usleep(100000);
	ok(s->ops->compacted_rev(s) >= want,
	   "background compaction keeps history_revs (%" PRId64 " >= %" PRId64 ")",
	   s->ops->compacted_rev(s), want);
	s->ops->close(s);
}

static void test_migrations(void)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;
	sqlite3_open(dbpath, &db);
	sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	ok(v == 1, "user_version is 1 (got %d)", v);
	char mode[16] = "";
	sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(mode, sizeof mode, "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	is_str(mode, "wal", "database is in WAL mode");
	sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL);
	sqlite3_close(db);
	k9_err e = {0};
	store_sqlite_opts o = {.path = dbpath};
	store *s = store_sqlite_open(&o, &e);
	ok(s == NULL && e.code == 500 && strstr(e.msg, "newer"), "newer schema refused: %s", e.msg);
	sqlite3_open(dbpath, &db);
	sqlite3_exec(db, "PRAGMA user_version=1", NULL, NULL, NULL);
	sqlite3_close(db);
	s = open_db(0);
	ok(s != NULL, "reopening an existing database works");
	if (s)
		s->ops->close(s);
	char bad[160];
	snprintf(bad, sizeof bad, "%s/no/such/dir/x.db", dir);
	o.path = bad;
	k9_err_clear(&e);
	ok(store_sqlite_open(&o, &e) == NULL && e.code == 500, "open in a missing dir fails: %s",
	   e.msg);
}

/* ---- concurrency ---- */
enum { NT = 8, PER = 2000 };
typedef struct wthr {
	store *s;
	int id;
	int64_t revs[PER];
	int fails, exists, okc;
} wthr;

static void *creator(void *arg)
{
	wthr *t = arg;
	char k[64];
	for (int i = 0; i < PER; i++) {
		snprintf(k, sizeof k, "conc/t%d/o%05d", t->id, i);
		if (create_simple(t->s, k, "n1", "Running", NULL, &t->revs[i]) < 0)
			t->fails++;
	}
	return NULL;
}

static void *racer(void *arg)
{
	wthr *t = arg;
	char k[64];
	for (int i = 0; i < 100; i++) {
		snprintf(k, sizeof k, "race/x/o%03d", i);
		k9_err e = {0};
		json_t *j = pod("o", NULL, NULL, NULL);
		store_obj o;
		int rc = t->s->ops->create(t->s, k, j, &o, &e);
		json_decref(j);
		if (rc == 0) {
			t->okc++;
			store_obj_free(&o);
		} else if (e.code == 409 && strcmp(e.reason, "AlreadyExists") == 0) {
			t->exists++;
		} else {
			t->fails++;
		}
	}
	return NULL;
}

/* Read-modify-write an integer counter with CAS and retry on Conflict. */
static void *incrementer(void *arg)
{
	wthr *t = arg;
	for (int i = 0; i < 50; i++) {
		for (;;) {
			k9_err e = {0};
			store_obj g;
			if (t->s->ops->get(t->s, "cnt/x/c", &g, &e) < 0) {
				t->fails++;
				break;
			}
			json_t *j = json_loads(g.value, 0, NULL);
			json_object_set_new(
			    j, "n", json_integer(json_integer_value(json_object_get(j, "n")) + 1));
			store_obj o;
			int rc = t->s->ops->update(t->s, "cnt/x/c", g.rev, j, &o, &e);
			json_decref(j);
			store_obj_free(&g);
			if (rc == 0) {
				store_obj_free(&o);
				break;
			}
			if (e.code != 409) {
				t->fails++;
				break;
			}
			t->exists++; /* conflicts seen */
		}
	}
	return NULL;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_concurrency(void)
{
	store *s = open_db(0);
	static wthr th[NT];
	pthread_t t[NT];
	int64_t base = s->ops->rev(s);
	uint64_t t0 = k9_mono_ns();
	for (int i = 0; i < NT; i++) {
		th[i] = (wthr){.s = s, .id = i};
		pthread_create(&t[i], NULL, creator, &th[i]);
	}
	int fails = 0;
	for (int i = 0; i < NT; i++) {
		pthread_join(t[i], NULL);
		fails += th[i].fails;
	}
	double secs = (double)(k9_mono_ns() - t0) / 1e9;
	printf("# %d concurrent creates in %.2fs: %.0f/s\n", NT * PER, secs, NT * PER / secs);
	ok(fails == 0, "8 threads x 2000 creates: no failures (%d)", fails);
	static int64_t all[NT * PER];
	for (int i = 0; i < NT; i++)
		memcpy(all + i * PER, th[i].revs, sizeof th[i].revs);
	qsort(all, NT * PER, sizeof all[0], cmp64);
	bool contiguous = true;
	for (int i = 0; i < NT * PER; i++)
		if (all[i] != base + 1 + i)
			contiguous = false;
	ok(contiguous, "revisions unique and contiguous");
	bool mono = true;
	for (int i = 0; i < NT; i++)
		for (int j = 1; j < PER; j++)
			if (th[i].revs[j] <= th[i].revs[j - 1])
				mono = false;
	ok(mono, "each thread sees strictly increasing revisions");
	k9_err e;
	size_t n = 0;
	store_list_result r;
	store_list_opts lo = {.prefix = "conc/"};
	s->ops->list(s, &lo, count_fn, &n, &r, &e);
	ok(n == NT * PER && r.rev == base + NT * PER, "list sees all 16000 (%zu) at rev %" PRId64,
	   n, r.rev);

	int okc = 0, exists = 0;
	fails = 0;
	for (int i = 0; i < NT; i++) {
		th[i] = (wthr){.s = s, .id = i};
		pthread_create(&t[i], NULL, racer, &th[i]);
	}
	for (int i = 0; i < NT; i++) {
		pthread_join(t[i], NULL);
		okc += th[i].okc;
		exists += th[i].exists;
		fails += th[i].fails;
	}
	ok(okc == 100 && exists == 700 && fails == 0,
	   "racing creates of the same keys: 100 win, 700 AlreadyExists (%d/%d/%d)", okc, exists,
	   fails);

	json_t *j = json_pack("{s:{s:s},s:i}", "metadata", "name", "c", "n", 0);
	store_obj o;
	s->ops->create(s, "cnt/x/c", j, &o, &e);
	store_obj_free(&o);
	json_decref(j);
	int conflicts = 0;
	fails = 0;
	for (int i = 0; i < NT; i++) {
		th[i] = (wthr){.s = s, .id = i};
		pthread_create(&t[i], NULL, incrementer, &th[i]);
	}
	for (int i = 0; i < NT; i++) {
		pthread_join(t[i], NULL);
		conflicts += th[i].exists;
		fails += th[i].fails;
	}
	store_obj g = {0};
	s->ops->get(s, "cnt/x/c", &g, &e);
	j = json_loads(g.value, 0, NULL);
	ok(json_integer_value(json_object_get(j, "n")) == NT * 50 && fails == 0,
	   "CAS increments from 8 threads: %" JSON_INTEGER_FORMAT " of 400 (%d conflicts retried)",
	   json_integer_value(json_object_get(j, "n")), conflicts);
	json_decref(j);
	store_obj_free(&g);
	s->ops->close(s);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/k9store.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dbpath, sizeof dbpath, "%s/state.db", dir);
	test_keys();
	store *s = open_db(0);
	ok(s != NULL, "open a new store");
	if (!s) {
		cleanup();
		return tap_done();
	}
	test_crud(s);
	test_list(s);
	test_key_bytes(s);
	test_watch(s);
	test_many_watchers(s);
	s->ops->close(s);
	test_watch_sql();
	test_blocking_and_close();
	test_auto_compaction();
	test_concurrency();
	test_migrations();
	cleanup();
	return tap_done();
}
