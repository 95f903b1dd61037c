/*
 * ctl_gc.c - the garbage collector: dependents whose owners are all gone
 * are deleted (background cascading), and owners being deleted with the
 * finalizer "orphan" or "foregroundDeletion" have their dependents
 * released or deleted first, then lose that finalizer (which lets the
 * server delete them).
 *
 * Two kinds of keys, both "RES/NS/NAME" refs (see ctl_ref_parse):
 *   dep:REF  an object with ownerReferences, queued by its own events and
 *            by the deletion of any of its owners
 *   own:REF  an object being deleted with one of those finalizers, queued
 *            by its events and by the deletion of its dependents
 *
 * An owner and its dependent come through different .watch streams, so a
 * dependent may be seen before its owner (a restart, a slow stream): an
 * owner uid unknown to every informer is believed gone only after the
 * informers are synced, when it is still unknown 2 s later, and when the
 * owner's own file on the mount confirms it (missing, or with another
 * uid). That file also answers for owner kinds no informer follows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "ctl_logic.h"
#include "kube9/obj.h"
#include "kube9/util.h"

#define CONFIRM_S  2.0 /* an owner must stay unknown this long */
#define FG_RETRY_S 1.0

static tree_queue *q;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static k9_map later;   /* keys with a timer set; under lock */
static k9_map missing; /* dep key -> malloc'd double: when its owners were first missed */

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Come back to key in s seconds, unless a timer for it is set already. */
static void retry_later(const char *key, double s)
{
	pthread_mutex_lock(&lock);
	bool set = k9_map_get(&later, key);
	if (!set)
		k9_map_put(&later, key, (void *)1);
	pthread_mutex_unlock(&lock);
	if (!set)
		tree_queue_add_after(q, key, s);
}

/* Seconds since the owners of key were first found missing (0 now). */
static double missing_for(const char *key)
{
	double now = mono();
	pthread_mutex_lock(&lock);
	double *t = k9_map_get(&missing, key);
	if (!t) {
		t = xmalloc(sizeof *t);
		*t = now;
		k9_map_put(&missing, key, t);
	}
	double d = now - *t;
	pthread_mutex_unlock(&lock);
	return d;
}

static void found(const char *key)
{
	pthread_mutex_lock(&lock);
	free(k9_map_del(&missing, key));
	pthread_mutex_unlock(&lock);
}

static const json_t *meta(const json_t *o, const char *f)
{
	return json_object_get(json_object_get(o, "metadata"), f);
}

static bool is_dependent_res(int res)
{
	return res == CTL_PODS || res == CTL_RS || res == CTL_DEPLOY || res == CTL_SVC ||
	       res == CTL_EP;
}

/* The object of a ref, and its informer key and file. */
typedef struct ref {
	int res;
	char ns[256], name[256], key[520], path[600];
} ref;

static int parse(const char *s, ref *r)
{
	r->res = ctl_ref_parse(s, r->ns, r->name, sizeof r->name);
	if (r->res < 0)
		return -1;
	snprintf(r->key, sizeof r->key, "%s%s%s", r->ns, r->ns[0] ? "/" : "", r->name);
	ctl_path(r->path, sizeof r->path, r->res, r->ns, r->name, "json");
	return 0;
}

/*
 * Whether the owner named by ownerReference or (of a dependent in ns) is there
 * according to its file on the mount. When that cannot be told (a kind the
 * server does not serve, a read failing otherwise than ENOENT) it counts as
 * there: deleting is the step that cannot be undone.
 */
static bool owner_on_mount(const json_t * or, const char *ns)
{
	const char *av = json_string_value(json_object_get(or, "apiVersion"));
	const char *kind = json_string_value(json_object_get(or, "kind"));
	const char *name = json_string_value(json_object_get(or, "name"));
	const char *uid = json_string_value(json_object_get(or, "uid"));
	const obj_kind *k = av && kind ? obj_kind_by_gvk(av, kind) : NULL;
	if (!k || !name || !uid)
		return true;
	char path[600];
	tree_path(path, sizeof path, k->plural, k->namespaced ? ns : NULL, name, "json");
	json_t *o = tree_read_json(path);
	if (!o)
		return errno != ENOENT;
	bool same = !strcmp(tree_meta(o, "uid"), uid);
	json_decref(o);
	return same;
}

/* Background deletion: delete the dependent once none of its owners exists. */
static int sync_dep(ctl *c, const char *key, const ref *r)
{
	json_t *o = ctl_get(c, r->res, r->key);
	const json_t *refs = meta(o, "ownerReferences");
	if (!o || meta(o, "deletionTimestamp") || !json_array_size(refs)) {
		found(key);
		json_decref(o);
		return 0;
	}
	if (!ctl_synced(c)) {
		json_decref(o);
		retry_later(key, 1);
		return 0;
	}
	size_t i;
	const json_t * or ;
	json_array_foreach(refs, i, or)
	{
		const char *uid = json_string_value(json_object_get(or, "uid"));
		if (!uid || ctl_uid_known(c, uid)) {
			found(key);
			json_decref(o);
			return 0;
		}
	}
	double gone = missing_for(key);
	if (gone < CONFIRM_S) {
		json_decref(o);
		retry_later(key, CONFIRM_S - gone + 0.05);
		return 0;
	}
	json_array_foreach(refs, i, or) if (owner_on_mount(or, r->ns))
	{
		found(key);
		json_decref(o);
		return 0;
	}
	json_decref(o);
	int rc = tree_unlink(r->path);
	if (rc == 0 || rc == -ENOENT)
		found(key);
	if (rc == 0)
		log_info("garbage collector: %s/%s: deleted, its owners are gone",
		         ctl_res_tab[r->res].plural, r->key);
	else if (rc != -ENOENT)
		log_warn("garbage collector: %s: %s", r->path, strerror(-rc));
	return rc < 0 && rc != -ENOENT ? -1 : 0;
}

/* Write o with the string list at metadata.field set to v (consumed; dropped when empty). */
static int put_with(const json_t *o, const char *path, const char *field, json_t *v)
{
	/* the informer keeps only some fields of a pod: write back the whole file */
	json_t *x = tree_read_json(path);
	if (!x)
		x = json_deep_copy(o);
	json_t *m = json_object_get(x, "metadata");
	if (json_array_size(v))
		json_object_set_new(m, field, v);
	else
		json_object_del(m, field), json_decref(v);
	int rc = tree_put_json(path, x, false);
	json_decref(x);
	return rc;
}

/* Orphan: strip the owner's uid from the ownerReferences of every dependent. */
static int orphan(ctl *c, const char *uid, char **deps, size_t n)
{
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		ref d;
		if (parse(deps[i], &d) < 0)
			continue;
		json_t *o = ctl_get(c, d.res, d.key);
		const json_t *refs = meta(o, "ownerReferences");
		json_t *rest = o ? ctl_refs_without(refs, uid) : NULL;
		int rc = 0;
		if (o && json_array_size(rest) != json_array_size(refs))
			rc = put_with(o, d.path, "ownerReferences", json_incref(rest));
		if (rc < 0 && rc != -ENOENT) {
			if (rc != -EBUSY)
				log_warn("garbage collector: orphaning %s: %s", d.path,
				         strerror(-rc));
			bad = -1;
		}
		json_decref(rest);
		json_decref(o);
	}
	return bad;
}

/* Foreground: delete the dependents; how many are still there. */
static size_t delete_deps(ctl *c, char **deps, size_t n)
{
	size_t left = 0;
	for (size_t i = 0; i < n; i++) {
		ref d;
		if (parse(deps[i], &d) < 0)
			continue;
		json_t *o = ctl_get(c, d.res, d.key);
		if (!o)
			continue;
		left++;
		if (!meta(o, "deletionTimestamp")) {
			int rc = tree_unlink(d.path);
			if (rc < 0 && rc != -ENOENT)
				log_warn("garbage collector: %s: %s", d.path, strerror(-rc));
		}
		json_decref(o);
	}
	return left;
}

static int sync_owner(ctl *c, const char *key, const ref *r)
{
	json_t *o = ctl_get(c, r->res, r->key);
	const json_t *fin = meta(o, "finalizers");
	bool orph = ctl_has_string(fin, "orphan"), fg = ctl_has_string(fin, "foregroundDeletion");
	if (!o || !meta(o, "deletionTimestamp") || (!orph && !fg)) {
		json_decref(o);
		return 0;
	}
	const char *uid = tree_meta(o, "uid");
	size_t n;
	char **deps = ctl_owned(c, uid, &n);
	int rc = 0;
	const char *done = NULL;
	if (orph) {
		if (orphan(c, uid, deps, n) < 0)
			rc = -1;
		else
			done = "orphan";
	} else if (delete_deps(c, deps, n)) {
		retry_later(key, FG_RETRY_S);
	} else {
		done = "foregroundDeletion";
	}
	ctl_keys_free(deps, n);
	if (done) {
		int w = put_with(o, r->path, "finalizers", ctl_strings_without(fin, done));
		if (w == 0)
			log_info(
			    "garbage collector: %s/%s: %zu dependents %s, finalizer %s removed",
			    ctl_res_tab[r->res].plural, r->key, n, orph ? "orphaned" : "deleted",
			    done);
		else if (w != -ENOENT)
			rc = -1;
	}
	json_decref(o);
	return rc;
}

static int sync_gc(void *arg, const char *key)
{
	ctl *c = arg;
	pthread_mutex_lock(&lock);
	k9_map_del(&later, key);
	pthread_mutex_unlock(&lock);
	ref r;
	if (strlen(key) < 4 || parse(key + 4, &r) < 0)
		return 0;
	return strncmp(key, "own:", 4) ? sync_dep(c, key, &r) : sync_owner(c, key, &r);
}

static void queue_ref(const char *kind, const char *ref)
{
	char key[700];
	snprintf(key, sizeof key, "%s:%s", kind, ref);
	tree_queue_add(q, key);
}

static void ref_of(int res, const json_t *o, char *out, size_t n)
{
	snprintf(out, n, "%s/%s/%s", ctl_res_tab[res].plural, tree_meta(o, "namespace"),
	         tree_meta(o, "name"));
}

/* The owners of a deleted dependent that wait for it (foreground) are looked at again. */
static void queue_owners(const json_t *dep)
{
	size_t i;
	const json_t * or ;
	json_array_foreach(meta(dep, "ownerReferences"), i, or)
	{
		const char *av = json_string_value(json_object_get(or, "apiVersion")) ?: "";
		const char *kind = json_string_value(json_object_get(or, "kind")) ?: "";
		const char *name = json_string_value(json_object_get(or, "name")) ?: "";
		for (int r = 0; r < CTL_NRES; r++) {
			if (strcmp(ctl_res_tab[r].kind, kind) ||
			    strcmp(ctl_res_tab[r].api_version, av))
				continue;
			bool cluster = r == CTL_NODES || r == CTL_NS;
			char ref[600];
			snprintf(ref, sizeof ref, "%s/%s/%s", ctl_res_tab[r].plural,
			         cluster ? "" : tree_meta(dep, "namespace"), name);
			queue_ref("own", ref);
		}
	}
}

static void on_event(ctl *c, int res, const char *type, json_t *old, json_t *obj)
{
	(void)type;
	char ref[600];
	if (obj) {
		ref_of(res, obj, ref, sizeof ref);
		if (is_dependent_res(res) && json_array_size(meta(obj, "ownerReferences")))
			queue_ref("dep", ref);
		const json_t *fin = meta(obj, "finalizers");
		if (meta(obj, "deletionTimestamp") &&
		    (ctl_has_string(fin, "orphan") || ctl_has_string(fin, "foregroundDeletion")))
			queue_ref("own", ref);
	} else if (old) {
		size_t n;
		char **deps = ctl_owned(c, tree_meta(old, "uid"), &n);
		for (size_t i = 0; i < n; i++)
			queue_ref("dep", deps[i]);
		ctl_keys_free(deps, n);
		queue_owners(old);
	}
}

static void start(ctl *c)
{
	q = tree_queue_new();
	tree_queue_run(q, c->o.workers, sync_gc, c);
}

const ctl_loop ctl_gc_loop = {"garbagecollector", start, on_event};
