/*
 * mnt_ops.c - the read side of the FUSE filesystem: resolving inodes and
 * names, attributes, directory listings, opening and reading files, label
 * xattrs, .events; and the operations table. Everything answers from the
 * cache under its read lock; nothing here talks to the server.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kube9/obj.h"
#include "mnt.h"

static void node_res(mnt_node *n, mnt_ntype t, mnt_ns *ns, int res, uint64_t ino)
{
	*n = (mnt_node){.t = t, .ns = ns, .res = res, .ino = ino};
}

int mnt_resolve(mnt *m, uint64_t ino, mnt_node *n)
{
	uint64_t id = ino >> 8;
	unsigned sub = ino & 0xff;
	memset(n, 0, sizeof *n);
	n->ino = ino;
	n->res = -1;
	if (id == 0) {
		n->ns = m->cluster;
		switch (sub) {
		case MNT_SUB_ROOT:
			n->t = MNT_N_ROOT;
			return 0;
		case MNT_SUB_NSLIST:
			n->t = MNT_N_NSLIST;
			n->res = m->ns_res;
			return 0;
		case MNT_SUB_EVENTS:
			n->t = MNT_N_EVENTS;
			n->ev.scope = MNT_EV_ALL;
			return 0;
		case MNT_SUB_ERRORS:
			n->t = MNT_N_ERRORS;
			return 0;
		case MNT_SUB_NSL_EVENTS:
			n->t = MNT_N_EVENTS;
			n->res = m->ns_res;
			n->ev = (mnt_evfilter){.scope = MNT_EV_RES, .res = m->ns_res};
			return 0;
		case MNT_SUB_NSL_ERRORS:
			n->t = MNT_N_ERRORS;
			n->res = m->ns_res;
			return 0;
		case MNT_SUB_WATCH:
			n->t = MNT_N_EVENTS;
			n->ev = (mnt_evfilter){.scope = MNT_EV_ALL, .watch = true};
			return 0;
		case MNT_SUB_NSL_WATCH:
			n->t = MNT_N_EVENTS;
			n->res = m->ns_res;
			n->ev =
			    (mnt_evfilter){.scope = MNT_EV_RES, .res = m->ns_res, .watch = true};
			return 0;
		}
	}
	mnt_hdr *h = id ? mnt_ids_get(m, id, MNT_ENT_NS) : (mnt_hdr *)m->cluster;
	if (!h)
		h = mnt_ids_get(m, id, MNT_ENT_OBJ);
	if (!h)
		h = mnt_ids_get(m, id, MNT_ENT_SEL);
	if (!h)
		h = mnt_ids_get(m, id, MNT_ENT_SCRATCH);
	if (!h)
		return -ENOENT;
	switch (h->etype) {
	case MNT_ENT_NS: {
		mnt_ns *ns = (mnt_ns *)h;
		n->ns = ns;
		bool cl = ns == m->cluster;
		if (sub == MNT_SUB_NSDIR && !cl) {
			n->t = MNT_N_NSDIR;
			return 0;
		}
		if (!cl && (sub == MNT_SUB_EVENTS || sub == MNT_SUB_WATCH)) {
			n->t = MNT_N_EVENTS;
			n->ev = (mnt_evfilter){
			    .scope = MNT_EV_NS, .ns_id = ns->h.id, .watch = sub == MNT_SUB_WATCH};
			return 0;
		}
		if (!cl && sub == MNT_SUB_ERRORS) {
			n->t = MNT_N_ERRORS;
			return 0;
		}
		if (sub < MNT_SUB_RES)
			return -ENOENT;
		int r = (sub - MNT_SUB_RES) / 4, k = (sub - MNT_SUB_RES) % 4;
		if (r >= m->nres || r == m->ns_res)
			return -ENOENT;
		n->res = r;
		if (cl && m->res[r].namespaced) {
			/* namespaces/R.events and namespaces/R.watch: R in every namespace */
			if (k != 1 && k != 3)
				return -ENOENT;
			n->t = MNT_N_EVENTS;
			n->ev = (mnt_evfilter){.scope = MNT_EV_RESALL, .res = r, .watch = k == 3};
			return 0;
		}
		if (m->res[r].namespaced == cl)
			return -ENOENT;
		n->t = k == 0 ? MNT_N_RESDIR : k == 2 ? MNT_N_ERRORS : MNT_N_EVENTS;
		n->ev = (mnt_evfilter){
		    .scope = MNT_EV_RES, .ns_id = cl ? 0 : ns->h.id, .res = r, .watch = k == 3};
		return 0;
	}
	case MNT_ENT_OBJ: {
		mnt_obj *o = (mnt_obj *)h;
		if (!mnt_sub_valid(m, o, (int)sub))
			return -ENOENT;
		node_res(n,
		         sub == MNT_OSUB_YAML   ? MNT_N_YAML
		         : sub == MNT_OSUB_JSON ? MNT_N_JSON
		                                : MNT_N_SUB,
		         o->ns, o->res, ino);
		n->obj = o;
		n->osub = (int)sub;
		return 0;
	}
	case MNT_ENT_SEL: {
		mnt_seldir *sd = (mnt_seldir *)h;
		if (sub > 2)
			return -ENOENT;
		node_res(n, sub ? MNT_N_EVENTS : MNT_N_SELDIR, sd->ns, sd->res, ino);
		n->sd = sd;
		n->ev = (mnt_evfilter){.scope = MNT_EV_SEL,
		                       .ns_id = sd->ns == m->cluster ? 0 : sd->ns->h.id,
		                       .res = sd->res,
		                       .sel_id = sd->h.id,
		                       .watch = sub == 2};
		return 0;
	}
	case MNT_ENT_SCRATCH: {
		mnt_scratch *sc = (mnt_scratch *)h;
		if (sub)
			return -ENOENT;
		node_res(n, MNT_N_SCRATCH, sc->ns, sc->res, ino);
		n->sc = sc;
		return 0;
	}
	}
	return -ENOENT;
}

static bool is_dir(mnt_ntype t)
{
	return t == MNT_N_ROOT || t == MNT_N_NSLIST || t == MNT_N_NSDIR || t == MNT_N_RESDIR ||
	       t == MNT_N_SELDIR;
}

/* The special files of every directory, in the order of special_ino's k. */
static const char *const specials[] = {NULL, ".events", ".errors", ".watch"};

/* The inode of DIR/.events (k 1), DIR/.errors (k 2) or DIR/.watch (k 3) of directory p. */
static uint64_t special_ino(mnt *m, const mnt_node *p, int k)
{
	static const unsigned root[] = {0, MNT_SUB_EVENTS, MNT_SUB_ERRORS, MNT_SUB_WATCH};
	static const unsigned nsl[] = {0, MNT_SUB_NSL_EVENTS, MNT_SUB_NSL_ERRORS,
	                               MNT_SUB_NSL_WATCH};
	switch (p->t) {
	case MNT_N_ROOT:
		return MNT_INO(0, root[k]);
	case MNT_N_NSLIST:
		return MNT_INO(0, nsl[k]);
	case MNT_N_NSDIR:
		return MNT_INO(p->ns->h.id, root[k]);
	case MNT_N_RESDIR:
		return MNT_INO(p->ns == m->cluster ? 0 : p->ns->h.id, MNT_SUB_RES + 4 * p->res + k);
	case MNT_N_SELDIR:
		return k == 1 ? MNT_INO(p->sd->h.id, 1) : k == 3 ? MNT_INO(p->sd->h.id, 2) : 0;
	default:
		return 0;
	}
}

static bool ns_visible_to(const mnt_ns *ns, bool notifier)
{
	if (notifier && ns->announce)
		return false;
	if (notifier && ns->gone_pending)
		return true;
	return mnt_ns_visible(ns);
}

/* The selector directory "@text" of (ns, res), registered on first use (write lock). */
mnt_seldir *mnt_seldir_get(mnt *m, mnt_ns *ns, int res, const char *text, k9_err *e)
{
	char *k = xasprintf("%llx/%d/%s", (unsigned long long)ns->h.id, res, text);
	mnt_seldir *sd = k9_map_get(&m->seldirs, k);
	if (!sd) {
		sel *s = sel_parse_labels(text, e);
		if (s) {
			sd = xcalloc(1, sizeof *sd);
			sd->h.id = mnt_new_id(m);
			sd->h.etype = MNT_ENT_SEL;
			sd->ns = ns;
			sd->res = res;
			sd->text = xstrdup(text);
			sd->sel = s;
			k9_map_put(&m->seldirs, k, sd);
			mnt_ids_put(m, sd);
		}
	}
	free(k);
	return sd;
}

int mnt_lookup_node(mnt *m, uint64_t parent, const char *name, bool notifier, mnt_node *n)
{
	mnt_node p;
	if (mnt_resolve(m, parent, &p) < 0)
		return -ENOENT;
	if (!is_dir(p.t))
		return -ENOTDIR;
	for (int k = 1; k <= 3; k++)
		if (!strcmp(name, specials[k])) {
			uint64_t ino = special_ino(m, &p, k);
			return ino ? mnt_resolve(m, ino, n) : -ENOENT;
		}
	size_t stem;
	int ext = mnt_file_ext(name, &stem), osub = 0;
	switch (p.t) {
	case MNT_N_ROOT:
		if (!strcmp(name, "namespaces"))
			return mnt_resolve(m, MNT_INO(0, MNT_SUB_NSLIST), n);
		for (int r = 0; r < m->nres; r++)
			if (!m->res[r].namespaced && r != m->ns_res &&
			    !strcmp(name, m->res[r].plural))
				return mnt_resolve(m, MNT_INO(0, MNT_SUB_RES + 4 * r), n);
		break;
	case MNT_N_NSLIST: {
		if (!ext) {
			mnt_ns *ns = k9_map_get(&m->nss, name);
			if (ns && ns_visible_to(ns, notifier))
				return mnt_resolve(m, MNT_INO(ns->h.id, MNT_SUB_NSDIR), n);
		}
		/* R.events and R.watch: R in every namespace */
		const char *dot = strrchr(name, '.');
		for (int r = 0; dot && r < m->nres; r++)
			if (m->res[r].namespaced &&
			    strlen(m->res[r].plural) == (size_t)(dot - name) &&
			    !strncmp(name, m->res[r].plural, (size_t)(dot - name)) &&
			    (!strcmp(dot, ".events") || !strcmp(dot, ".watch")))
				return mnt_resolve(
				    m, MNT_INO(0, MNT_SUB_RES + 4 * r + (dot[1] == 'e' ? 1 : 3)),
				    n);
		break;
	}
	case MNT_N_NSDIR:
		for (int r = 0; r < m->nres; r++)
			if (m->res[r].namespaced && !strcmp(name, m->res[r].plural))
				return mnt_resolve(m, MNT_INO(p.ns->h.id, MNT_SUB_RES + 4 * r), n);
		break;
	case MNT_N_RESDIR:
		if (name[0] == '@' && !notifier) {
			k9_err e;
			mnt_seldir *sd = mnt_seldir_get(m, p.ns, p.res, name + 1, &e);
			return sd ? mnt_resolve(m, MNT_INO(sd->h.id, 0), n) : -ENOENT;
		}
		break;
	default:
		break;
	}
	if (!ext && !notifier && (p.t == MNT_N_RESDIR || p.t == MNT_N_NSLIST))
		osub = mnt_sub_ext(m, p.res, name, &stem);
	if ((ext || osub) && (p.t == MNT_N_RESDIR || p.t == MNT_N_NSLIST || p.t == MNT_N_SELDIR)) {
		char *oname = xstrndup(name, stem);
		mnt_obj *o = k9_map_get(&p.ns->res[p.res], oname);
		free(oname);
		if (!o && osub == MNT_OSUB_LOG)
			o = mnt_sub_log_target(m, p.ns, p.res, name, stem, &osub);
		if (o && mnt_obj_visible(o, notifier) &&
		    (p.t != MNT_N_SELDIR || sel_match_labels(p.sd->sel, o->labels)))
			return mnt_resolve(m, MNT_INO(o->h.id, osub ? osub : ext == 2), n);
	}
	mnt_scratch *sc = mnt_scratch_get(m, parent, name);
	if (sc)
		return mnt_resolve(m, MNT_INO(sc->h.id, 0), n);
	return -ENOENT;
}

void mnt_stat(mnt *m, const mnt_node *n, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = n->ino;
	st->st_uid = m->uid;
	st->st_gid = m->gid;
	st->st_blksize = 4096;
	st->st_nlink = 1;
	struct timespec t = m->start;
	if (is_dir(n->t)) {
		st->st_mode = S_IFDIR | (n->t == MNT_N_SELDIR ? 0555 : 0755);
		st->st_nlink = 2;
		if (n->t == MNT_N_NSDIR && n->ns->obj)
			t = n->ns->obj->ctime;
	} else if (n->obj) {
		mnt_obj *o = n->obj;
		st->st_mode = S_IFREG | (m->res[o->res].secret ? 0600 : 0644);
		if (n->t == MNT_N_YAML) {
			st->st_size = (off_t)mnt_obj_yaml_len(o);
			atomic_store(&o->reported_rv, o->rv);
			atomic_store(&o->size_stale, false);
		} else if (n->t == MNT_N_JSON) {
			st->st_size = (off_t)o->json->len;
		} else {
			/* subresources: the scale reads as its replica count, logs and metrics are
			 * read only (their size is unknown: 0), the others write only */
			st->st_mode = S_IFREG | (n->osub == MNT_OSUB_SCALE ? 0644
			                         : n->osub >= MNT_OSUB_LOG ? 0444
			                                                   : 0200);
		}
		t = o->mtime;
	} else if (n->sc) {
		st->st_mode = S_IFREG | n->sc->mode;
		st->st_size = (off_t)n->sc->data.len;
		t = n->sc->mtime;
	} else if (n->t == MNT_N_EVENTS) {
		st->st_mode = S_IFREG | 0444;
	} else if (n->t == MNT_N_ERRORS) {
		size_t l;
		free(mnt_errors_text(m, n->ns, n->res, &l));
		st->st_mode = S_IFREG | 0644;
		st->st_size = (off_t)l;
	}
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_atim = st->st_mtim = st->st_ctim = t;
}

/*
 * How long the kernel may cache a node's attributes. Scratch files become
 * objects under the same name, and the sizes of .errors and .events change
 * without a watch event: those are always asked again.
 */
static double node_timeout(const mnt *m, const mnt_node *n)
{
	return n->t == MNT_N_SCRATCH || n->t == MNT_N_ERRORS || n->t == MNT_N_EVENTS ||
	               n->t == MNT_N_SUB
	           ? 0
	           : m->attr_timeout;
}

void mnt_entry_of(mnt *m, const mnt_node *n, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof *e);
	e->ino = n->ino;
	e->entry_timeout = e->attr_timeout = node_timeout(m, n);
	mnt_stat(m, n, &e->attr);
	if (n->obj && e->entry_timeout > 0 && n->osub < 32)
		atomic_fetch_or(&n->obj->kernel_names, 1u << n->osub);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	mnt *m = mnt_g;
	mnt_node n;
	bool notifier = mnt_from_notifier(req);
	/* selector directories may be registered: write lock for those */
	bool w = name[0] == '@';
	if (w)
		pthread_rwlock_wrlock(&m->lock);
	else
		pthread_rwlock_rdlock(&m->lock);
	int rc = mnt_lookup_node(m, parent, name, notifier, &n);
	if (rc < 0) {
		pthread_rwlock_unlock(&m->lock);
		fuse_reply_err(req, -rc);
		return;
	}
	struct fuse_entry_param e;
	mnt_entry_of(m, &n, &e);
	pthread_rwlock_unlock(&m->lock);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	mnt *m = mnt_g;
	mnt_node n;
	struct stat st;
	pthread_rwlock_rdlock(&m->lock);
	int rc = mnt_resolve(m, ino, &n);
	if (rc == 0)
		mnt_stat(m, &n, &st);
	pthread_rwlock_unlock(&m->lock);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, node_timeout(m, &n));
}

/* --- directories: a snapshot of the entries is taken at opendir --- */

typedef struct dent {
	char *name;
	struct fuse_entry_param e;
} dent;

typedef struct dsnap {
	int kind; /* MNT_FH_DIR */
	dent *v;
	size_t n, cap;
} dsnap;

static void dpush(mnt *m, dsnap *d, const char *name, const mnt_node *n)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 32;
		d->v = xrealloc(d->v, d->cap * sizeof *d->v);
	}
	d->v[d->n].name = xstrdup(name);
	mnt_entry_of(m, n, &d->v[d->n].e);
	d->n++;
}

struct dfill {
	mnt *m;
	dsnap *d;
	const mnt_node *dir;
	uint64_t parent;
};

static void fill_obj(void *val, void *arg)
{
	struct dfill *f = arg;
	mnt_obj *o = val;
	if (!mnt_obj_visible(o, false))
		return;
	if (f->dir->t == MNT_N_SELDIR && !sel_match_labels(f->dir->sd->sel, o->labels))
		return;
	/* NAME.json is there to be opened, but not listed: one entry per object */
	mnt_node n;
	char name[600];
	if (mnt_resolve(f->m, MNT_INO(o->h.id, 0), &n) == 0) {
		snprintf(name, sizeof name, "%s.yaml", o->name);
		dpush(f->m, f->d, name, &n);
	}
}

static void fill_ns(void *val, void *arg)
{
	struct dfill *f = arg;
	mnt_ns *ns = val;
	mnt_node n;
	if (mnt_ns_visible(ns) && mnt_resolve(f->m, MNT_INO(ns->h.id, MNT_SUB_NSDIR), &n) == 0)
		dpush(f->m, f->d, ns->name, &n);
}

static void fill_scratch(void *val, void *arg)
{
	struct dfill *f = arg;
	mnt_scratch *sc = val;
	mnt_node n;
	if (sc->parent == f->parent && mnt_resolve(f->m, MNT_INO(sc->h.id, 0), &n) == 0)
		dpush(f->m, f->d, sc->name, &n);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	mnt *m = mnt_g;
	mnt_node p, n;
	dsnap *d = xcalloc(1, sizeof *d);
	d->kind = MNT_FH_DIR;
	pthread_rwlock_rdlock(&m->lock);
	int rc = mnt_resolve(m, ino, &p);
	if (rc == 0 && !is_dir(p.t))
		rc = -ENOTDIR;
	if (rc < 0) {
		pthread_rwlock_unlock(&m->lock);
		free(d);
		fuse_reply_err(req, -rc);
		return;
	}
	dpush(m, d, ".", &p);
	dpush(m, d, "..", &p); /* the kernel fills in the parent */
	for (int k = 1; k <= 3; k++) {
		uint64_t si = special_ino(m, &p, k);
		if (si && mnt_resolve(m, si, &n) == 0)
			dpush(m, d, specials[k], &n);
	}
	struct dfill f = {.m = m, .d = d, .dir = &p, .parent = ino};
	switch (p.t) {
	case MNT_N_ROOT:
		if (mnt_resolve(m, MNT_INO(0, MNT_SUB_NSLIST), &n) == 0)
			dpush(m, d, "namespaces", &n);
		for (int r = 0; r < m->nres; r++)
			if (!m->res[r].namespaced && r != m->ns_res &&
			    mnt_resolve(m, MNT_INO(0, MNT_SUB_RES + 4 * r), &n) == 0)
				dpush(m, d, m->res[r].plural, &n);
		break;
	case MNT_N_NSLIST:
		k9_map_each(&m->nss, fill_ns, &f);
		k9_map_each(&m->cluster->res[m->ns_res], fill_obj, &f);
		break;
	case MNT_N_NSDIR:
		for (int r = 0; r < m->nres; r++)
			if (m->res[r].namespaced &&
			    mnt_resolve(m, MNT_INO(p.ns->h.id, MNT_SUB_RES + 4 * r), &n) == 0)
				dpush(m, d, m->res[r].plural, &n);
		break;
	case MNT_N_RESDIR:
	case MNT_N_SELDIR:
		k9_map_each(&p.ns->res[p.res], fill_obj, &f);
		break;
	default:
		break;
	}
	if (p.t != MNT_N_SELDIR && p.t != MNT_N_ROOT)
		k9_map_each(&m->scratch, fill_scratch, &f);
	pthread_rwlock_unlock(&m->lock);
	fi->fh = (uintptr_t)d;
	fi->cache_readdir = 0;
	fuse_reply_open(req, fi);
}

static void readdir_common(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi,
                           bool plus)
{
	dsnap *d = (dsnap *)(uintptr_t)fi->fh;
	char *buf = xmalloc(size);
	size_t used = 0;
	for (size_t i = (size_t)off; i < d->n; i++) {
		size_t l;
		if (plus)
			l = fuse_add_direntry_plus(req, buf + used, size - used, d->v[i].name,
			                           &d->v[i].e, (off_t)i + 1);
		else
			l = fuse_add_direntry(req, buf + used, size - used, d->v[i].name,
			                      &d->v[i].e.attr, (off_t)i + 1);
		if (l > size - used)
			break;
		used += l;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	(void)ino;
	readdir_common(req, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
	(void)ino;
	readdir_common(req, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	dsnap *d = (dsnap *)(uintptr_t)fi->fh;
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].name);
	free(d->v);
	free(d);
	fuse_reply_err(req, 0);
}

/* --- files --- */

/*
 * A read-only open of NAME.yaml goes through the page cache when the kernel
 * knows the current size (it was told the size of this revision and nobody
 * wrote through a handle since); its pages are kept when they are of this
 * revision. No flush is needed on close. Anything else reads directly.
 */
static bool page_cache_ok(mnt_obj *o, struct fuse_file_info *fi)
{
	if (atomic_load(&o->reported_rv) != o->rv || atomic_load(&o->size_stale))
		return false;
	fi->keep_cache = atomic_exchange(&o->kcache_rv, o->rv) == o->rv;
	fi->noflush = 1;
	return true;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	mnt *m = mnt_g;
	mnt_node n;
	bool wr = (fi->flags & O_ACCMODE) != O_RDONLY;
	mnt_fh *fh = xcalloc(1, sizeof *fh);
	bool cached = false;
	fh->ino = ino;
	fh->res = -1;
	pthread_rwlock_rdlock(&m->lock);
	/*
	 * A gone inode, reached by a name the kernel still holds: ESTALE has it
	 * look the name up again and open what is there now (an object made
	 * anew under that name), whether or not the notifier dropped the name.
	 */
	int rc = mnt_resolve(m, ino, &n) < 0 ? -ESTALE : 0;
	if (rc == 0) {
		fh->ns = n.ns;
		fh->res = n.res;
		switch (n.t) {
		case MNT_N_YAML:
		case MNT_N_JSON:
			fh->name = xstrdup(n.obj->name);
			if (wr && mnt_from_notifier(req)) {
				fh->kind = MNT_FH_ECHO;
			} else if (wr) {
				fh->kind = MNT_FH_OBJ;
				fh->writable = true;
				mnt_blob *b = n.t == MNT_N_YAML ? mnt_obj_yaml(n.obj) : n.obj->json;
				if (!(fi->flags & O_TRUNC))
					buf_append(&fh->wr, b->data, b->len);
			} else {
				fh->kind = MNT_FH_OBJ;
				if (n.t == MNT_N_YAML) {
					fh->rd = mnt_blob_ref(mnt_obj_yaml(n.obj));
					cached = page_cache_ok(n.obj, fi);
				} else {
					fh->rd = mnt_blob_ref(n.obj->json);
				}
			}
			break;
		case MNT_N_SUB:
			rc = mnt_sub_open(m, &n, fh, wr);
			break;
		case MNT_N_SCRATCH:
			fh->kind = MNT_FH_SCRATCH;
			fh->name = xstrdup(n.sc->name);
			n.sc->opens++;
			if (fi->flags & O_TRUNC)
				n.sc->data.len = 0;
			break;
		case MNT_N_EVENTS:
			if (wr) {
				rc = -EACCES;
				break;
			}
			fh->kind = MNT_FH_EVENTS;
			fh->events = mnt_events_open(m, &n.ev);
			fi->nonseekable = 1;
			break;
		case MNT_N_ERRORS: {
			fh->kind = MNT_FH_TEXT;
			size_t l;
			char *t = mnt_errors_text(m, n.ns, n.res, &l);
			fh->rd = mnt_blob_new(t, l);
			free(t);
			if (wr && (fi->flags & O_TRUNC))
				mnt_errors_clear(m, n.ns, n.res);
			break;
		}
		default:
			rc = -EISDIR;
		}
	}
	pthread_rwlock_unlock(&m->lock);
	if (rc == 0 && fh->url)
		rc = mnt_sub_fetch(m, fh);
	if (rc < 0) {
		mnt_blob_unref(fh->rd);
		free(fh->name);
		free(fh->url);
		buf_free(&fh->wr);
		free(fh);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)fh;
	fi->direct_io = !cached;
	/* nothing to apply at close: spare the kernel the FLUSH round trip */
	if (fh->kind == MNT_FH_SUB || fh->kind == MNT_FH_EVENTS || !wr)
		fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	mnt *m = mnt_g;
	mnt_fh *fh = (mnt_fh *)(uintptr_t)fi->fh;
	const char *p = NULL;
	size_t len = 0;
	switch (fh->kind) {
	case MNT_FH_EVENTS:
		mnt_events_read(m, fh->events, req, size, fi->flags & O_NONBLOCK);
		return;
	case MNT_FH_SCRATCH: {
		mnt_node n;
		pthread_rwlock_rdlock(&m->lock);
		if (mnt_resolve(m, ino, &n) == 0 && n.sc && (size_t)off < n.sc->data.len) {
			size_t l = n.sc->data.len - (size_t)off;
			l = l < size ? l : size;
			char *copy = xmalloc(l + 1);
			memcpy(copy, n.sc->data.data + off, l);
			pthread_rwlock_unlock(&m->lock);
			fuse_reply_buf(req, copy, l);
			free(copy);
			return;
		}
		pthread_rwlock_unlock(&m->lock);
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	case MNT_FH_ECHO:
		fuse_reply_buf(req, NULL, 0);
		return;
	default:
		if (fh->writable && fh->kind != MNT_FH_SUB) {
			p = fh->wr.data;
			len = fh->wr.len;
		} else if (fh->rd) {
			p = fh->rd->data;
			len = fh->rd->len;
		}
	}
	if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, p + off, len - (size_t)off < size ? len - (size_t)off : size);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	mnt *m = mnt_g;
	mnt_fh *fh = (mnt_fh *)(uintptr_t)fi->fh;
	if (fh->kind == MNT_FH_EVENTS)
		mnt_events_close(m, fh->events);
	if (fh->kind == MNT_FH_SCRATCH) {
		pthread_rwlock_wrlock(&m->lock);
		mnt_scratch *sc = mnt_ids_get(m, ino >> 8, MNT_ENT_SCRATCH);
		if (sc)
			mnt_scratch_close(m, sc);
		pthread_rwlock_unlock(&m->lock);
	}
	mnt_blob_unref(fh->rd);
	buf_free(&fh->wr);
	free(fh->name);
	free(fh->url);
	free(fh);
	fuse_reply_err(req, 0);
}

static void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
                    struct fuse_pollhandle *ph)
{
	(void)ino;
	mnt_fh *fh = (mnt_fh *)(uintptr_t)fi->fh;
	if (fh->kind != MNT_FH_EVENTS) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM);
		return;
	}
	mnt_events_poll(mnt_g, fh->events, req, ph);
}

/* --- labels as user.* extended attributes --- */

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	mnt *m = mnt_g;
	mnt_node n;
	char *val = NULL;
	if (strncmp(name, "user.", 5)) {
		/* no SELinux labels, no ACLs: and ls -l stops asking after one file */
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	pthread_rwlock_rdlock(&m->lock);
	if (mnt_resolve(m, ino, &n) == 0 && n.obj && !strncmp(name, "user.", 5)) {
		const char *v = json_string_value(json_object_get(n.obj->labels, name + 5));
		if (v)
			val = xstrdup(v);
	}
	pthread_rwlock_unlock(&m->lock);
	if (!val) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	size_t l = strlen(val);
	if (!size)
		fuse_reply_xattr(req, l);
	else if (size < l)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, val, l);
	free(val);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	mnt *m = mnt_g;
	mnt_node n;
	k9_buf b = {0};
	pthread_rwlock_rdlock(&m->lock);
	if (mnt_resolve(m, ino, &n) == 0 && n.obj) {
		const char *k;
		json_t *v;
		json_object_foreach(n.obj->labels, k, v)
		{
			buf_printf(&b, "user.%s", k);
			buf_append(&b, "", 1);
		}
	}
	pthread_rwlock_unlock(&m->lock);
	if (!size)
		fuse_reply_xattr(req, b.len);
	else if (size < b.len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, b.data, b.len);
	buf_free(&b);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	struct statvfs st = {.f_bsize = 4096, .f_frsize = 4096, .f_namemax = 255};
	st.f_files = mnt_g->ids.n;
	fuse_reply_statfs(req, &st);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	(void)ino, (void)nlookup;
	fuse_reply_none(req); /* inode numbers are structural: nothing to count */
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	(void)count, (void)f;
	fuse_reply_none(req);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	conn->max_write = 1 << 20;
}

const struct fuse_lowlevel_ops mnt_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .setattr = mnt_op_setattr,
    .mkdir = mnt_op_mkdir,
    .unlink = mnt_op_unlink,
    .rmdir = mnt_op_rmdir,
    .rename = mnt_op_rename,
    .open = op_open,
    .read = op_read,
    .write = mnt_op_write,
    .flush = mnt_op_flush,
    .release = op_release,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .readdirplus = op_readdirplus,
    .releasedir = op_releasedir,
    .statfs = op_statfs,
    .setxattr = mnt_op_setxattr,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .removexattr = mnt_op_removexattr,
    .create = mnt_op_create,
    .poll = op_poll,
};
