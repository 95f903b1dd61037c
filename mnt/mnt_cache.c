/*
 * mnt_cache.c - the mount's watch-fed cache: namespaces, objects (kept as
 * their YAML text and labels), and the entity ids behind inode numbers.
 * Changes reach it from the watches, from relists and from the answers to the
 * mount's own writes; each one is published to .events readers and, when it
 * was not made through this mount, handed to the notifier so the kernel's
 * caches and inotify watchers hear of it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube9/obj.h"
#include "mnt.h"

uint64_t mnt_new_id(mnt *m)
{
	return atomic_fetch_add(&m->next_id, 1);
}

static void idkey(uint64_t id, char out[24])
{
	snprintf(out, 24, "%" PRIx64, id);
}

void mnt_ids_put(mnt *m, void *ent)
{
	char k[24];
	idkey(((mnt_hdr *)ent)->id, k);
	k9_map_put(&m->ids, k, ent);
}

void *mnt_ids_get(mnt *m, uint64_t id, int type)
{
	char k[24];
	idkey(id, k);
	mnt_hdr *h = k9_map_get(&m->ids, k);
	return h && h->etype == type ? h : NULL;
}

void mnt_ids_del(mnt *m, uint64_t id)
{
	char k[24];
	idkey(id, k);
	k9_map_del(&m->ids, k);
}

int mnt_res_index(const mnt *m, const char *plural)
{
	for (int i = 0; i < m->nres; i++)
		if (!strcmp(m->res[i].plural, plural))
			return i;
	return -1;
}

mnt_ns *mnt_ns_get(mnt *m, const char *name, bool create)
{
	if (!name[0])
		return m->cluster;
	mnt_ns *ns = k9_map_get(&m->nss, name);
	if (ns || !create)
		return ns;
	ns = xcalloc(1, sizeof *ns);
	ns->h.id = mnt_new_id(m);
	ns->h.etype = MNT_ENT_NS;
	ns->name = xstrdup(name);
	k9_map_put(&m->nss, name, ns);
	mnt_ids_put(m, ns);
	return ns;
}

bool mnt_ns_visible(const mnt_ns *ns)
{
	return ns->obj && !(ns->obj->flags & MNT_OBJ_GONE);
}

bool mnt_obj_visible(const mnt_obj *o, bool notifier)
{
	if (notifier)
		return !(o->flags & MNT_OBJ_ANNOUNCE);
	return !(o->flags & MNT_OBJ_GONE);
}

void mnt_dir_path(const mnt *m, const mnt_ns *ns, int res, char *out, size_t n)
{
	if (ns == m->cluster)
		snprintf(out, n, "%s", res >= 0 ? m->res[res].plural : "");
	else if (res >= 0)
		snprintf(out, n, "namespaces/%s/%s", ns->name, m->res[res].plural);
	else
		snprintf(out, n, "namespaces/%s", ns->name);
}

void mnt_file_path(const mnt *m, const mnt_ns *ns, int res, const char *file, char *out, size_t n)
{
	char dir[512];
	mnt_dir_path(m, ns, res, dir, sizeof dir);
	snprintf(out, n, "%s%s%s", dir, dir[0] ? "/" : "", file);
}

void mnt_obj_path(const mnt *m, const mnt_obj *o, char *out, size_t n)
{
	char file[600];
	snprintf(file, sizeof file, "%s.yaml", o->name);
	mnt_file_path(m, o->ns, o->res, file, out, n);
}

int mnt_file_ext(const char *file, size_t *stem)
{
	size_t l = strlen(file);
	if (l <= 5 || file[l - 5] != '.')
		return 0;
	*stem = l - 5;
	return !strcmp(file + l - 4, "yaml") ? 1 : !strcmp(file + l - 4, "json") ? 2 : 0;
}

uint64_t mnt_obj_dir_ino(const mnt *m, const mnt_obj *o)
{
	if (o->res == m->ns_res)
		return MNT_INO(0, MNT_SUB_NSLIST);
	return MNT_INO(o->ns == m->cluster ? 0 : o->ns->h.id, MNT_SUB_RES + 4 * o->res);
}

int mnt_sub_ext(const mnt *m, int res, const char *file, size_t *stem)
{
	const char *dot = strrchr(file, '.');
	if (!dot || dot == file || res < 0)
		return 0;
	*stem = (size_t)(dot - file);
	const mnt_res *r = &m->res[res];
	if (!strcmp(dot, ".status") && r->has_status)
		return MNT_OSUB_STATUS;
	if (!strcmp(dot, ".binding") && !strcmp(r->plural, "pods"))
		return MNT_OSUB_BINDING;
	if (!strcmp(dot, ".scale") && r->has_scale)
		return MNT_OSUB_SCALE;
	if (!strcmp(dot, ".log") && !strcmp(r->plural, "pods"))
		return MNT_OSUB_LOG;
	if (!strcmp(dot, ".metrics") && !strcmp(r->plural, "nodes"))
		return MNT_OSUB_METRICS;
	return 0;
}

/* The YAML of an object's JSON (malloc'd; NULL when that cannot be). */
static char *render_yaml(const mnt_obj *o, size_t *len)
{
	json_t *j = json_loadb(o->json->data, o->json->len, 0, NULL);
	char *t = j ? obj_encode_yaml(j, len) : NULL;
	json_decref(j);
	return t;
}

mnt_blob *mnt_obj_yaml(mnt_obj *o)
{
	mnt_blob *y = atomic_load(&o->yaml);
	if (y)
		return y;
	size_t l = 0;
	char *t = render_yaml(o, &l);
	mnt_blob *b = mnt_blob_new(t ? t : "", t ? l : 0);
	free(t);
	mnt_blob *none = NULL;
	if (atomic_compare_exchange_strong(&o->yaml, &none, b))
		return b;
	mnt_blob_unref(b); /* another thread was first */
	return none;
}

size_t mnt_obj_yaml_len(mnt_obj *o)
{
	mnt_blob *y = atomic_load(&o->yaml);
	if (y)
		return y->len;
	long l = atomic_load(&o->yaml_len);
	if (l >= 0)
		return (size_t)l;
	size_t n = 0;
	char *t = render_yaml(o, &n);
	free(t);
	atomic_store(&o->yaml_len, (long)n);
	return n;
}

/* An object's compact JSON with a newline: what NAME.json and .watch serve. */
static mnt_blob *json_blob(const json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!s)
		return mnt_blob_new("{}\n", 3);
	size_t l = strlen(s);
	mnt_blob *b = mnt_blob_new(s, l + 1);
	b->data[l] = '\n';
	free(s);
	return b;
}

static void parse_time(const char *s, struct timespec *ts)
{
	time_t t = k9_parse_rfc3339(s);
	if (t != (time_t)-1)
		*ts = (struct timespec){t, 0};
}

static void obj_free(mnt *m, mnt_obj *o)
{
	mnt_ids_del(m, o->h.id);
	mnt_blob_unref(atomic_load(&o->yaml));
	mnt_blob_unref(o->json);
	json_decref(o->labels);
	free(o->name);
	free(o);
}

void mnt_obj_remove(mnt *m, mnt_obj *o)
{
	k9_map_del(&o->ns->res[o->res], o->name);
	if (o->res == m->ns_res) {
		mnt_ns *ns = mnt_ns_get(m, o->name, false);
		if (ns && ns->obj == o)
			ns->obj = NULL;
	}
	obj_free(m, o);
}

static bool announcing(const mnt *m, mnt_origin origin)
{
	return origin == MNT_ORIGIN_WATCH && !m->no_inotify;
}

/* What an object's names end in, by MNT_OSUB_*: those the kernel may cache must be here. */
static const char *const osub_suffix[] = {".yaml", ".json", ".status", ".binding", ".scale"};

/* Have the notifier drop the kernel's entries dir/NAME.ext for the MNT_OSUB_* in names. */
static void forget_in(mnt *m, uint64_t dir, const char *name, unsigned names)
{
	char file[600];
	for (unsigned s = 0; s < sizeof osub_suffix / sizeof *osub_suffix; s++)
		if (names & 1u << s) {
			snprintf(file, sizeof file, "%s%s", name, osub_suffix[s]);
			mnt_notify(m, MNT_NOTE_FORGET, file, dir);
		}
}

struct forget {
	mnt *m;
	const mnt_obj *o;
	unsigned names;
};

static void forget_seldir(void *val, void *arg)
{
	mnt_seldir *sd = val;
	struct forget *f = arg;
	if (sd->ns == f->o->ns && sd->res == f->o->res && sel_match_labels(sd->sel, f->o->labels))
		forget_in(f->m, MNT_INO(sd->h.id, 0), f->o->name, f->names);
}

/*
 * An object stops being: the kernel may still hold the names it looked up -
 * NAME.json above all, which no unlink drops, and the names in selector
 * directories - for the entry timeout, bound to inodes that now answer ENOENT,
 * also once the object is made again under that name. Drop them all, but the
 * names in skip of its own directory (write lock held).
 */
static void forget_names(mnt *m, const mnt_obj *o, unsigned skip)
{
	struct forget f = {.m = m, .o = o, .names = atomic_load(&o->kernel_names)};
	if (!f.names)
		return;
	forget_in(m, mnt_obj_dir_ino(m, o), o->name, f.names & ~skip);
	k9_map_each(&m->seldirs, forget_seldir, &f);
}

static void deleted(mnt *m, mnt_obj *cur, mnt_origin origin)
{
	char path[1024];
	mnt_obj_path(m, cur, path, sizeof path);
	mnt_events_publish(m, "DELETED", cur->ns, cur->res, cur->name, cur->rv, cur->labels, NULL,
	                   cur->json);
	if (cur->res == m->ns_res) {
		mnt_ns *ns = mnt_ns_get(m, cur->name, false);
		if (ns && announcing(m, origin)) {
			ns->gone_pending = true;
			mnt_notify(m, MNT_NOTE_RMDIR, path, 0);
		}
	}
	if (announcing(m, origin)) {
		cur->flags |= MNT_OBJ_GONE;
		mnt_notify(m, MNT_NOTE_DELETE, path, MNT_INO(cur->h.id, 0));
		forget_names(m, cur, 1u << MNT_OSUB_YAML); /* that unlink drops NAME.yaml */
	} else {
		forget_names(m, cur, 0);
		mnt_obj_remove(m, cur);
	}
}

/* Apply one object (write lock held). */
static void apply_locked(mnt *m, int res, const char *type, const json_t *o, mnt_origin origin)
{
	const json_t *md = json_object_get(o, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *nsname = json_string_value(json_object_get(md, "namespace"));
	const char *rvs = json_string_value(json_object_get(md, "resourceVersion"));
	if (!name)
		return;
	uint64_t rv = rvs ? strtoull(rvs, NULL, 10) : 0;
	if (m->res[res].namespaced && (!nsname || !nsname[0]))
		return;
	mnt_ns *ns = m->res[res].namespaced ? mnt_ns_get(m, nsname, true) : m->cluster;
	mnt_obj *cur = k9_map_get(&ns->res[res], name);
	char *tk = xasprintf("%d/%s/%s", res, ns->name, name);
	uintptr_t tomb = (uintptr_t)k9_map_get(&m->tombs, tk);
	if (!strcmp(type, "DELETED")) {
		/* remember it, so a late answer or event of the old object cannot revive it */
		if (m->tombs.n > 10000)
			k9_map_free(&m->tombs);
		k9_map_put(&m->tombs, tk, (void *)(uintptr_t)(rv > tomb ? rv : tomb));
		free(tk);
		if (cur && !(cur->flags & MNT_OBJ_GONE))
			deleted(m, cur, origin);
		return;
	}
	free(tk);
	if ((!cur || (cur->flags & MNT_OBJ_GONE)) && rv && rv <= tomb)
		return;
	if (cur && !(cur->flags & MNT_OBJ_GONE) && rv && rv <= cur->rv)
		return; /* older than what we have (our own write's echo) */
	json_t *labels = json_object_get(md, "labels");
	bool terminating = json_object_get(md, "deletionTimestamp") != NULL;
	char path[1024];
	if (cur && (cur->flags & MNT_OBJ_GONE)) {
		mnt_obj_remove(m, cur); /* re-created before the notifier unlinked it */
		cur = NULL;
	}
	if (!cur) {
		cur = xcalloc(1, sizeof *cur);
		cur->h.id = mnt_new_id(m);
		cur->h.etype = MNT_ENT_OBJ;
		cur->ns = ns;
		cur->res = res;
		cur->name = xstrdup(name);
		cur->json = json_blob(o);
		cur->yaml_len = -1;
		cur->labels = json_is_object(labels) ? json_copy((json_t *)labels) : NULL;
		cur->rv = rv;
		clock_gettime(CLOCK_REALTIME, &cur->mtime);
		if (origin == MNT_ORIGIN_LIST)
			parse_time(json_string_value(json_object_get(md, "creationTimestamp")),
			           &cur->mtime);
		cur->ctime = cur->mtime;
		if (terminating)
			cur->flags |= MNT_OBJ_TERMINATING;
		k9_map_put(&ns->res[res], name, cur);
		mnt_ids_put(m, cur);
		mnt_obj_path(m, cur, path, sizeof path);
		if (res == m->ns_res) {
			mnt_ns *nns = mnt_ns_get(m, name, true);
			nns->obj = cur;
			nns->gone_pending = false;
			if (announcing(m, origin)) {
				nns->announce = true;
				char dir[512];
				mnt_dir_path(m, nns, -1, dir, sizeof dir);
				mnt_notify(m, MNT_NOTE_MKDIR, dir, 0);
			}
		}
		if (origin != MNT_ORIGIN_LIST)
			mnt_events_publish(m, "ADDED", ns, res, name, rv, NULL, cur->labels,
			                   cur->json);
		if (announcing(m, origin)) {
			cur->flags |= MNT_OBJ_ANNOUNCE;
			mnt_notify(m, MNT_NOTE_CREATE, path, MNT_INO(cur->h.id, 0));
		}
	} else {
		json_t *old = cur->labels;
		mnt_blob_unref(atomic_exchange(&cur->yaml, NULL));
		mnt_blob_unref(cur->json);
		cur->json = json_blob(o);
		cur->yaml_len = -1;
		cur->labels = json_is_object(labels) ? json_copy((json_t *)labels) : NULL;
		cur->rv = rv;
		clock_gettime(CLOCK_REALTIME, &cur->mtime);
		cur->ctime = cur->mtime;
		cur->flags =
		    (cur->flags & ~MNT_OBJ_TERMINATING) | (terminating ? MNT_OBJ_TERMINATING : 0);
		mnt_obj_path(m, cur, path, sizeof path);
		mnt_events_publish(m, "MODIFIED", ns, res, name, rv, old, cur->labels, cur->json);
		json_decref(old);
		if (origin != MNT_ORIGIN_LIST)
			mnt_notify(m, announcing(m, origin) ? MNT_NOTE_MODIFY : MNT_NOTE_INVAL,
			           path, MNT_INO(cur->h.id, 0));
	}
}

void mnt_cache_apply(mnt *m, int res, const char *type, const json_t *o, mnt_origin origin)
{
	pthread_rwlock_wrlock(&m->lock);
	apply_locked(m, res, type, o, origin);
	pthread_rwlock_unlock(&m->lock);
}

struct sweep {
	mnt *m;
	int res;
	const k9_map *seen; /* "ns/name" */
	mnt_origin origin;
};

static void sweep_obj(void *val, void *arg)
{
	struct sweep *s = arg;
	mnt_obj *o = val;
	char *k = xasprintf("%s/%s", o->ns->name, o->name);
	if (!k9_map_get(s->seen, k) && !(o->flags & MNT_OBJ_GONE))
		deleted(s->m, o, s->origin);
	free(k);
}

static void sweep_ns(void *val, void *arg)
{
	struct sweep *s = arg;
	mnt_ns *ns = val;
	k9_map_each(&ns->res[s->res], sweep_obj, s);
}

void mnt_cache_sweep(mnt *m, int res, const k9_map *seen, mnt_origin origin)
{
	struct sweep s = {.m = m, .res = res, .seen = seen, .origin = origin};
	pthread_rwlock_wrlock(&m->lock);
	if (m->res[res].namespaced)
		k9_map_each(&m->nss, sweep_ns, &s);
	else
		k9_map_each(&m->cluster->res[res], sweep_obj, &s);
	pthread_rwlock_unlock(&m->lock);
}

void mnt_cache_forget(mnt *m, int res, const char *nsname, const char *name)
{
	pthread_rwlock_wrlock(&m->lock);
	mnt_ns *ns = m->res[res].namespaced ? mnt_ns_get(m, nsname, false) : m->cluster;
	mnt_obj *o = ns ? k9_map_get(&ns->res[res], name) : NULL;
	if (o && !(o->flags & MNT_OBJ_GONE))
		deleted(m, o, MNT_ORIGIN_LOCAL);
	pthread_rwlock_unlock(&m->lock);
}
