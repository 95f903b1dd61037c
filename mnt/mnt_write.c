/*
 * mnt_write.c - the write side of the FUSE filesystem. A file written in a
 * resource directory is applied to the server when it is closed (flush) or
 * renamed into place; a refusal fails that close()/rename() with an errno
 * (mnt_errno_of) and is written, with the server's sentence, to the
 * directory's .errors. rm deletes, mkdir/rmdir create and delete namespaces,
 * setfattr/removexattr patch labels. The answers of the server go straight
 * into the cache, so a write is visible through this mount when it returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "kube9/obj.h"
#include "mnt.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE  (1 << 1)
#endif

char *mnt_obj_url(mnt *m, const mnt_ns *ns, int res, const char *name, const char *tail)
{
	const mnt_res *r = &m->res[res];
	k9_buf b = {0};
	buf_puts(&b, r->prefix);
	if (r->namespaced)
		buf_printf(&b, "/namespaces/%s", ns->name);
	buf_printf(&b, "/%s", r->plural);
	if (name)
		buf_printf(&b, "/%s", name);
	if (tail)
		buf_puts(&b, tail);
	return buf_steal(&b, NULL);
}

/* Record a refusal of path (relative to the mount) in its directory's .errors. */
int mnt_refuse(mnt *m, mnt_ns *ns, int res, const char *path, k9_err *e)
{
	char *msg = xasprintf("%s/%s: %s", m->mountpoint, path, e->msg);
	mnt_errors_add(m, ns, res, msg);
	free(msg);
	return -mnt_errno_of(e);
}

/*
 * Send one request about an object. An answer that is the object goes into
 * the cache: as deleted when a DELETE removed it at once (the object as it
 * was, without deletionTimestamp), else as its new state. *obj (may be NULL)
 * says whether the answer was the object.
 */
long mnt_send_obj(mnt *m, int res, const char *method, const char *url, const char *ctype,
                  const char *body, size_t len, bool *obj, k9_err *e)
{
	k9_buf out = {0};
	long code = mnt_http(m, method, url, ctype, body, len, &out, e);
	if (obj)
		*obj = false;
	if (code >= 200 && code < 300) {
		json_t *o = json_loadb(out.data, out.len, 0, NULL);
		const char *kind = json_string_value(json_object_get(o, "kind"));
		if (o && kind && !strcmp(kind, m->res[res].kind)) {
			bool gone =
			    !strcmp(method, "DELETE") &&
			    !json_object_get(json_object_get(o, "metadata"), "deletionTimestamp");
			mnt_cache_apply(m, res, gone ? "DELETED" : "MODIFIED", o, MNT_ORIGIN_LOCAL);
			if (obj)
				*obj = true;
		}
		json_decref(o);
	} else if (code >= 0) {
		mnt_http_status(code, &out, e);
	}
	buf_free(&out);
	return code;
}

static int line_of(const obj_lines *lines, size_t doc, const char *path)
{
	return lines ? obj_lines_get_doc_path(lines, doc, path) : 0;
}

/*
 * Check one decoded document against where it was written and complete it:
 * kind and apiVersion must be those of the directory's resource, the name
 * that of the file (when there is a file name), the namespace that of the
 * directory. Then default and validate it as the server would, so that
 * refusals name the line in the file.
 */
static int prepare(mnt *m, const mnt_ns *ns, int res, const char *fname, json_t *o,
                   const obj_lines *lines, size_t doc, k9_err *e)
{
	const mnt_res *r = &m->res[res];
	if (!json_is_object(o))
		return k9_errf(e, 400, "BadRequest", "the document is not a mapping");
	const char *kind = json_string_value(json_object_get(o, "kind"));
	const char *av = json_string_value(json_object_get(o, "apiVersion"));
	if (kind && strcmp(kind, r->kind))
		return k9_errf(e, 400, "BadRequest",
		               "line %d: kind %s does not belong in %s (it holds %s objects)",
		               line_of(lines, doc, "kind"), kind, r->plural, r->kind);
	const obj_kind *k = obj_kind_by_gvk(av ? av : r->api_version, r->kind);
	if (!k)
		return k9_errf(e, 400, "BadRequest", "line %d: apiVersion %s does not serve %s",
		               line_of(lines, doc, "apiVersion"), av, r->kind);
	json_t *md = json_object_get(o, "metadata");
	if (!md) {
		md = json_object();
		json_object_set_new(o, "metadata", md);
	}
	if (!json_is_object(md))
		return k9_errf(e, 400, "BadRequest", "line %d: metadata must be a mapping",
		               line_of(lines, doc, "metadata"));
	const char *name = json_string_value(json_object_get(md, "name"));
	if (fname && name && strcmp(name, fname))
		return k9_errf(e, 400, "BadRequest",
		               "line %d: metadata.name \"%s\" does not agree with the file name "
		               "\"%s\"",
		               line_of(lines, doc, "metadata.name"), name, fname);
	if (!fname && !name)
		return k9_errf(e, 400, "BadRequest", "document %zu: metadata.name is missing",
		               doc + 1);
	const char *nsn = json_string_value(json_object_get(md, "namespace"));
	if (r->namespaced && nsn && strcmp(nsn, ns->name))
		return k9_errf(e, 400, "BadRequest",
		               "line %d: metadata.namespace \"%s\" does not agree with the "
		               "directory's namespace \"%s\"",
		               line_of(lines, doc, "metadata.namespace"), nsn, ns->name);
	if (!name)
		json_object_set_new(md, "name", json_string(fname));
	if (r->namespaced && !nsn)
		json_object_set_new(md, "namespace", json_string(ns->name));
	if (!kind)
		json_object_set_new(o, "kind", json_string(r->kind));
	if (!av)
		json_object_set_new(o, "apiVersion", json_string(r->api_version));
	obj_default(k, o);
	if (obj_validate(k, o, lines, e) < 0)
		return -1;
	if (strcmp(k->version, obj_kind_by_gvk(r->api_version, r->kind)->version)) {
		/* written in another version: send it in the one this mount watches */
		json_t *c = obj_convert(o, obj_kind_by_gvk(r->api_version, r->kind), e);
		if (!c)
			return -1;
		json_object_clear(o);
		json_object_update(o, c);
		json_decref(c);
	}
	return 0;
}

/* Create or replace o (prepared) on the server; excl: create only (O_EXCL). */
static int send_doc(mnt *m, mnt_ns *ns, int res, json_t *o, bool excl, k9_err *e)
{
	const char *name =
	    json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
	pthread_rwlock_rdlock(&m->lock);
	mnt_obj *cur = k9_map_get(&ns->res[res], name);
	bool exists = cur && mnt_obj_visible(cur, false);
	pthread_rwlock_unlock(&m->lock);
	/*
	 * A resourceVersion makes it a replace of that version: never a create,
	 * whatever the cache says, or a write computed from a deleted object
	 * (a controller's stale copy) would bring it back.
	 */
	bool replace_only =
	    !excl &&
	    json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
	if (replace_only)
		exists = true;
	if (exists && excl)
		return k9_errf(e, 409, "AlreadyExists", "%s \"%s\" already exists",
		               m->res[res].plural, name);
	size_t len;
	char *body = json_dumps(o, JSON_COMPACT);
	len = strlen(body);
	long code = -1;
	for (int attempt = 0; attempt < 3; attempt++) {
		char *url = mnt_obj_url(m, ns, res, exists ? name : NULL, NULL);
		code = mnt_send_obj(m, res, exists ? "PUT" : "POST", url, "application/json", body,
		                    len, NULL, e);
		free(url);
		if (exists && code == 404 && !replace_only)
			exists = false;
		else if (!exists && code == 409 && !strcmp(e->reason, "AlreadyExists") && !excl)
			exists = true;
		else
			break;
	}
	free(body);
	return code >= 200 && code < 300 ? 0 : -1;
}

int mnt_apply_file(mnt *m, mnt_ns *ns, int res, const char *name, const char *text, size_t len,
                   bool excl, const char *path)
{
	k9_err e;
	obj_lines *lines = NULL;
	int rc = 0;
	/*
	 * Decoded without its line map, which costs twice the decode; only a
	 * document that is refused is decoded again with lines, so the
	 * refusal names them.
	 */
	json_t *o = len ? obj_decode(text, len, NULL, &e) : NULL;
	if (!len)
		k9_errf(&e, 400, "BadRequest", "the file is empty");
	bool ok = o && prepare(m, ns, res, name, o, NULL, 0, &e) == 0;
	if (!ok && o) {
		json_decref(o);
		o = obj_decode(text, len, &lines, &e);
		ok = o && prepare(m, ns, res, name, o, lines, 0, &e) == 0;
	}
	if (!ok || send_doc(m, ns, res, o, excl, &e) < 0)
		rc = mnt_refuse(m, ns, res, path, &e);
	json_decref(o);
	obj_lines_free(lines);
	return rc;
}

/* The resource a document of a multi-document stream belongs to. */
static int res_of_doc(mnt *m, const json_t *o)
{
	const char *kind = json_string_value(json_object_get(o, "kind"));
	const char *av = json_string_value(json_object_get(o, "apiVersion"));
	for (int r = 0; kind && av && r < m->nres; r++) {
		const obj_kind *k = obj_kind_by_gvk(av, kind);
		if (k && !strcmp(k->plural, m->res[r].plural))
			return r;
	}
	return -1;
}

/* Documents of a stream sent by a few threads at once (none depends on another's answer). */
typedef struct sender {
	mnt *m;
	mnt_ns *ns;
	json_t *docs;
	const char *path;
	atomic_size_t next;
	atomic_int rc;
} sender;

static void *send_some(void *arg)
{
	sender *sd = arg;
	mnt *m = sd->m;
	for (size_t i; (i = atomic_fetch_add(&sd->next, 1)) < json_array_size(sd->docs);) {
		json_t *o = json_array_get(sd->docs, i);
		int r = res_of_doc(m, o);
		k9_err e;
		if (send_doc(m, m->res[r].namespaced ? sd->ns : m->cluster, r, o, false, &e) < 0) {
			k9_err_prefix(&e, "document %zu", i + 1);
			atomic_store(&sd->rc, mnt_refuse(m, sd->ns, -1, sd->path, &e));
		}
	}
	return NULL;
}

#define STREAM_SENDERS 8

static int send_all(mnt *m, mnt_ns *ns, json_t *docs, const char *path)
{
	sender sd = {.m = m, .ns = ns, .docs = docs, .path = path};
	size_t n = json_array_size(docs) < STREAM_SENDERS ? json_array_size(docs) : STREAM_SENDERS;
	pthread_t t[STREAM_SENDERS];
	for (size_t i = 1; i < n; i++)
		pthread_create(&t[i], NULL, send_some, &sd);
	send_some(&sd);
	for (size_t i = 1; i < n; i++)
		pthread_join(t[i], NULL);
	return atomic_load(&sd.rc);
}

int mnt_apply_stream(mnt *m, mnt_ns *ns, const char *text, size_t len, const char *path)
{
	k9_err e;
	obj_lines *lines = NULL;
	json_t *docs = obj_decode_all(text, len, &lines, &e);
	int rc = 0;
	size_t i;
	json_t *o;
	if (!docs) {
		rc = mnt_refuse(m, ns, -1, path, &e);
		goto out;
	}
	if (!json_array_size(docs)) {
		k9_errf(&e, 400, "BadRequest", "the file has no documents");
		rc = mnt_refuse(m, ns, -1, path, &e);
		goto out;
	}
	/* every document must be acceptable before any is sent */
	json_array_foreach(docs, i, o)
	{
		int r = res_of_doc(m, o);
		if (r < 0) {
			k9_errf(&e, 400, "BadRequest",
			        "document %zu (line %d): apiVersion and kind must name a served "
			        "resource",
			        i + 1, line_of(lines, i, ""));
			rc = mnt_refuse(m, ns, -1, path, &e);
			goto out;
		}
		if (prepare(m, m->res[r].namespaced ? ns : m->cluster, r, NULL, o, lines, i, &e) <
		    0) {
			k9_err_prefix(&e, "document %zu", i + 1);
			rc = mnt_refuse(m, ns, -1, path, &e);
			goto out;
		}
	}
	rc = send_all(m, ns, docs, path);
out:
	json_decref(docs);
	obj_lines_free(lines);
	return rc;
}

/* --- creating files --- */

static char *scratch_key(uint64_t parent, const char *name)
{
	return xasprintf("%llx/%s", (unsigned long long)parent, name);
}

mnt_scratch *mnt_scratch_get(mnt *m, uint64_t parent, const char *name)
{
	char *k = scratch_key(parent, name);
	mnt_scratch *sc = k9_map_get(&m->scratch, k);
	free(k);
	return sc;
}

/* Is a file of this name applied when written (see mnt_scratch.target)? */
static bool applied_name(const mnt_node *dir, const char *name)
{
	size_t stem, l = strlen(name);
	if (mnt_file_ext(name, &stem))
		return name[0] != '.';
	return dir->t == MNT_N_NSDIR && l > 4 && !strcmp(name + l - 4, ".yml");
}

static mnt_scratch *scratch_new(mnt *m, uint64_t parent, const mnt_node *p, const char *name,
                                mode_t mode)
{
	mnt_scratch *sc = xcalloc(1, sizeof *sc);
	sc->h.id = mnt_new_id(m);
	sc->h.etype = MNT_ENT_SCRATCH;
	sc->parent = parent;
	sc->name = xstrdup(name);
	sc->mode = mode & 0777;
	sc->ns = p->ns;
	sc->res = p->res;
	sc->target = applied_name(p, name);
	clock_gettime(CLOCK_REALTIME, &sc->mtime);
	char *k = scratch_key(parent, name);
	k9_map_put(&m->scratch, k, sc);
	free(k);
	mnt_ids_put(m, sc);
	return sc;
}

static void scratch_free_if_done(mnt *m, mnt_scratch *sc)
{
	if (!sc->unlinked || sc->opens > 0)
		return;
	mnt_ids_del(m, sc->h.id);
	buf_free(&sc->data);
	free(sc->name);
	free(sc);
}

/* Take a scratch file out of its directory; freed at its last close (write lock). */
static void scratch_drop(mnt *m, mnt_scratch *sc)
{
	char *k = scratch_key(sc->parent, sc->name);
	if (k9_map_get(&m->scratch, k) == sc)
		k9_map_del(&m->scratch, k);
	free(k);
	sc->unlinked = true;
	scratch_free_if_done(m, sc);
}

void mnt_scratch_close(mnt *m, mnt_scratch *sc)
{
	sc->opens--;
	scratch_free_if_done(m, sc);
}

static mnt_fh *fh_new(int kind, uint64_t ino)
{
	mnt_fh *fh = xcalloc(1, sizeof *fh);
	fh->kind = kind;
	fh->ino = ino;
	fh->res = -1;
	return fh;
}

void mnt_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                   struct fuse_file_info *fi)
{
	mnt *m = mnt_g;
	mnt_node p, n;
	bool notifier = mnt_from_notifier(req);
	pthread_rwlock_wrlock(&m->lock);
	int rc = mnt_resolve(m, parent, &p);
	if (rc == 0 && notifier) {
		/* the echo of an object that arrived by watch: make it appear */
		size_t l;
		char *stem = p.res >= 0 && mnt_file_ext(name, &l) ? xstrndup(name, l) : NULL;
		mnt_obj *o = stem ? k9_map_get(&p.ns->res[p.res], stem) : NULL;
		free(stem);
		if (o && (o->flags & MNT_OBJ_ANNOUNCE)) {
			o->flags &= ~MNT_OBJ_ANNOUNCE;
			mnt_resolve(m, MNT_INO(o->h.id, 0), &n);
			struct fuse_entry_param e;
			mnt_entry_of(m, &n, &e);
			pthread_rwlock_unlock(&m->lock);
			fi->fh = (uintptr_t)fh_new(MNT_FH_ECHO, n.ino);
			fi->direct_io = 1;
			fuse_reply_create(req, &e, fi);
			return;
		}
		rc = -EEXIST;
	} else if (rc == 0 && p.t != MNT_N_RESDIR && p.t != MNT_N_NSDIR && p.t != MNT_N_NSLIST) {
		rc = p.t == MNT_N_SELDIR ? -EROFS : -EACCES;
	} else if (rc == 0 && (!strcmp(name, ".events") || !strcmp(name, ".errors"))) {
		rc = -EEXIST;
	} else if (rc == 0 && mnt_lookup_node(m, parent, name, false, &n) == 0) {
		rc = -EEXIST;
	}
	if (rc < 0) {
		pthread_rwlock_unlock(&m->lock);
		fuse_reply_err(req, -rc);
		return;
	}
	mnt_scratch *sc = scratch_new(m, parent, &p, name, mode);
	sc->excl = (fi->flags & O_EXCL) != 0;
	sc->opens++;
	mnt_resolve(m, MNT_INO(sc->h.id, 0), &n);
	struct fuse_entry_param e;
	mnt_entry_of(m, &n, &e);
	pthread_rwlock_unlock(&m->lock);
	mnt_fh *fh = fh_new(MNT_FH_SCRATCH, n.ino);
	fh->name = xstrdup(name);
	fi->fh = (uintptr_t)fh;
	fi->direct_io = 1;
	fuse_reply_create(req, &e, fi);
}

static void put_bytes(k9_buf *b, const char *p, size_t n, off_t off)
{
	if ((size_t)off + n > b->len)
		buf_resize(b, (size_t)off + n);
	memcpy(b->data + off, p, n);
}

void mnt_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                  struct fuse_file_info *fi)
{
	mnt *m = mnt_g;
	mnt_fh *fh = (mnt_fh *)(uintptr_t)fi->fh;
	if ((size_t)off + size > (64u << 20)) {
		fuse_reply_err(req, EFBIG);
		return;
	}
	switch (fh->kind) {
	case MNT_FH_OBJ: {
		if (!fh->writable)
			break;
		pthread_rwlock_rdlock(&m->lock);
		mnt_obj *o = mnt_ids_get(m, ino >> 8, MNT_ENT_OBJ);
		if (o) /* the kernel now believes the writer's size */
			atomic_store(&o->size_stale, true);
		pthread_rwlock_unlock(&m->lock);
		put_bytes(&fh->wr, buf, size, off);
		fh->dirty = true;
		fuse_reply_write(req, size);
		return;
	}
	case MNT_FH_ECHO:
		fuse_reply_write(req, size);
		return;
	case MNT_FH_SUB: {
		int rc = fh->writable ? mnt_sub_write(m, fh, buf, size) : -EBADF;
		if (rc < 0)
			fuse_reply_err(req, -rc);
		else
			fuse_reply_write(req, size);
		return;
	}
	case MNT_FH_SCRATCH: {
		pthread_rwlock_wrlock(&m->lock);
		mnt_scratch *sc = mnt_ids_get(m, ino >> 8, MNT_ENT_SCRATCH);
		if (sc) {
			put_bytes(&sc->data, buf, size, off);
			clock_gettime(CLOCK_REALTIME, &sc->mtime);
		}
		fh->dirty = true;
		pthread_rwlock_unlock(&m->lock);
		fuse_reply_write(req, size);
		return;
	}
	default:
		break;
	}
	fuse_reply_err(req, EBADF);
}

/* Copy of a scratch file's content and where it goes; NULL when it is gone. */
static char *scratch_take(mnt *m, uint64_t ino, size_t *len, mnt_scratch *out)
{
	pthread_rwlock_rdlock(&m->lock);
	mnt_scratch *sc = mnt_ids_get(m, ino >> 8, MNT_ENT_SCRATCH);
	char *text = NULL;
	if (sc && !sc->unlinked) {
		text = xmalloc(sc->data.len + 1);
		memcpy(text, sc->data.data ? sc->data.data : "", sc->data.len);
		text[sc->data.len] = 0;
		*len = sc->data.len;
		*out = *sc;
	}
	pthread_rwlock_unlock(&m->lock);
	return text;
}

/* Apply the content of a file named fname in directory (ns, res). */
static int apply_named(mnt *m, mnt_ns *ns, int res, const char *fname, const char *text, size_t len,
                       bool excl)
{
	char path[1024];
	mnt_file_path(m, ns, res, fname, path, sizeof path);
	size_t l;
	bool file = mnt_file_ext(fname, &l);
	if (res < 0 || (ns == m->cluster && res == m->ns_res && !file))
		return mnt_apply_stream(m, ns, text, len, path);
	if (!file)
		return -EINVAL;
	char *stem = xstrndup(fname, l);
	int rc = mnt_apply_file(m, ns, res, stem, text, len, excl, path);
	free(stem);
	return rc;
}

void mnt_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	mnt *m = mnt_g;
	mnt_fh *fh = (mnt_fh *)(uintptr_t)fi->fh;
	int rc = 0;
	/*
	 * Only written content is applied: a shell closes the descriptor it dup2()s
	 * before the command writes, and `: > file` must not replace an object by nothing.
	 */
	if (fh->kind == MNT_FH_OBJ && fh->writable && fh->dirty && fh->wr.len) {
		char path[1024];
		mnt_node n;
		bool json = false;
		pthread_rwlock_rdlock(&m->lock);
		if (mnt_resolve(m, ino, &n) == 0)
			json = n.t == MNT_N_JSON;
		pthread_rwlock_unlock(&m->lock);
		char *fname = xasprintf("%s.%s", fh->name, json ? "json" : "yaml");
		mnt_file_path(m, fh->ns, fh->res, fname, path, sizeof path);
		free(fname);
		rc = mnt_apply_file(m, fh->ns, fh->res, fh->name, fh->wr.data, fh->wr.len, false,
		                    path);
		fh->dirty = false;
	} else if (fh->kind == MNT_FH_SCRATCH && fh->dirty) {
		mnt_scratch sc;
		size_t len;
		char *text = scratch_take(m, ino, &len, &sc);
		if (text && sc.target && len) {
			rc = apply_named(m, sc.ns, sc.res, sc.name, text, len, sc.excl);
			/* applied or refused, the file is done: it is the object now, or nothing */
			pthread_rwlock_wrlock(&m->lock);
			mnt_scratch *s = mnt_ids_get(m, ino >> 8, MNT_ENT_SCRATCH);
			if (s)
				scratch_drop(m, s);
			pthread_rwlock_unlock(&m->lock);
		}
		free(text);
		fh->dirty = false;
	}
	fuse_reply_err(req, -rc);
}

void mnt_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                    struct fuse_file_info *fi)
{
	mnt *m = mnt_g;
	mnt_fh *fh = fi ? (mnt_fh *)(uintptr_t)fi->fh : NULL;
	mnt_node n;
	struct stat st;
	pthread_rwlock_wrlock(&m->lock);
	int rc = mnt_resolve(m, ino, &n);
	if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE)) {
		if (n.sc) {
			buf_resize(&n.sc->data, (size_t)attr->st_size);
		} else if (fh && fh->kind == MNT_FH_OBJ && fh->writable) {
			buf_resize(&fh->wr, (size_t)attr->st_size);
			fh->dirty = true;
		}
	}
	if (rc == 0 && n.sc) {
		if (to_set & FUSE_SET_ATTR_MODE)
			n.sc->mode = attr->st_mode & 0777;
		if (to_set & FUSE_SET_ATTR_MTIME)
			n.sc->mtime = attr->st_mtim;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			clock_gettime(CLOCK_REALTIME, &n.sc->mtime);
	}
	/* modes, owners and times of objects are the API's: accepted, not kept */
	if (rc == 0)
		mnt_stat(m, &n, &st);
	if (rc == 0 && fh && fh->kind == MNT_FH_OBJ && fh->writable)
		st.st_size = (off_t)fh->wr.len;
	pthread_rwlock_unlock(&m->lock);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, 0);
}

/* DELETE an object; the answer (the object terminating, or a Status) updates the cache. */
static int delete_obj(mnt *m, mnt_ns *ns, int res, const char *name, bool now, const char *path)
{
	k9_err e;
	bool obj;
	char *url = mnt_obj_url(m, ns, res, name, now ? "?gracePeriodSeconds=0" : NULL);
	long code = mnt_send_obj(m, res, "DELETE", url, NULL, NULL, 0, &obj, &e);
	free(url);
	if (code < 200 || code >= 300)
		return mnt_refuse(m, ns, res, path, &e);
	if (!obj) /* a Status: it is gone */
		mnt_cache_forget(m, res, ns->name, name);
	return 0;
}

void mnt_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	mnt *m = mnt_g;
	mnt_node n;
	bool notifier = mnt_from_notifier(req);
	pthread_rwlock_wrlock(&m->lock);
	int rc = mnt_lookup_node(m, parent, name, notifier, &n);
	if (rc == 0 && notifier) {
		/* the echo of a deletion that arrived by watch */
		if (n.obj && (n.obj->flags & MNT_OBJ_GONE))
			mnt_obj_remove(m, n.obj);
		else
			rc = -ENOENT;
		pthread_rwlock_unlock(&m->lock);
		fuse_reply_err(req, -rc);
		return;
	}
	if (rc == 0) {
		switch (n.t) {
		case MNT_N_SCRATCH:
			scratch_drop(m, n.sc);
			break;
		case MNT_N_ERRORS:
			mnt_errors_clear(m, n.ns, n.res);
			break;
		case MNT_N_EVENTS:
			break; /* so that rm -r goes through; it is still there */
		case MNT_N_YAML:
		case MNT_N_JSON: {
			mnt_ns *ns = n.ns;
			int res = n.res;
			/* a pod already terminating goes at once: how a node finishes it */
			bool now = (n.obj->flags & MNT_OBJ_TERMINATING) &&
			           !strcmp(m->res[res].plural, "pods");
			char *oname = xstrdup(n.obj->name), path[1024];
			mnt_file_path(m, ns, res, name, path, sizeof path);
			pthread_rwlock_unlock(&m->lock);
			rc = delete_obj(m, ns, res, oname, now, path);
			free(oname);
			fuse_reply_err(req, -rc);
			return;
		}
		default:
			rc = -EISDIR;
		}
	}
	pthread_rwlock_unlock(&m->lock);
	fuse_reply_err(req, -rc);
}

struct busy {
	bool busy, terminating_too;
};

static void busy_obj(void *val, void *arg)
{
	mnt_obj *o = val;
	struct busy *b = arg;
	if (mnt_obj_visible(o, false) && (b->terminating_too || !(o->flags & MNT_OBJ_TERMINATING)))
		b->busy = true;
}

/*
 * Does (ns, res) - or all of ns when res < 0 - hold objects not being deleted
 * (or any objects at all, with terminating_too)?
 */
static bool dir_busy(mnt *m, mnt_ns *ns, int res, bool terminating_too)
{
	struct busy b = {false, terminating_too};
	for (int r = 0; r < m->nres && !b.busy; r++)
		if ((res < 0 && m->res[r].namespaced) || r == res)
			k9_map_each(&ns->res[r], busy_obj, &b);
	return b.busy;
}

/* Finish deleting an empty terminating namespace: PUT .../finalize without "kubernetes". */
static int finalize_ns(mnt *m, const char *name, const char *path)
{
	k9_err e;
	char *url = mnt_obj_url(m, m->cluster, m->ns_res, name, "/finalize");
	char *body = xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":"
	                       "{\"name\":\"%s\"},\"spec\":{\"finalizers\":[]}}",
	                       name);
	long code = mnt_send_obj(m, m->ns_res, "PUT", url, "application/json", body, strlen(body),
	                         NULL, &e);
	free(body);
	free(url);
	if (code < 200 || code >= 300)
		return mnt_refuse(m, m->cluster, m->ns_res, path, &e);
	return 0;
}

void mnt_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	mnt *m = mnt_g;
	mnt_node n;
	bool notifier = mnt_from_notifier(req);
	pthread_rwlock_wrlock(&m->lock);
	int rc = mnt_lookup_node(m, parent, name, notifier, &n);
	if (rc == 0 && notifier) {
		if (n.t == MNT_N_NSDIR && n.ns->gone_pending)
			n.ns->gone_pending = false;
		else
			rc = -ENOENT;
	} else if (rc == 0 && n.t == MNT_N_NSDIR) {
		mnt_ns *ns = n.ns;
		/* a terminating namespace with nothing left in it is finalized */
		bool finish = ns->obj && (ns->obj->flags & MNT_OBJ_TERMINATING);
		if (dir_busy(m, ns, -1, finish)) {
			rc = -ENOTEMPTY;
		} else {
			char path[600];
			snprintf(path, sizeof path, "namespaces/%s", ns->name);
			char *nm = xstrdup(ns->name);
			pthread_rwlock_unlock(&m->lock);
			rc = finish ? finalize_ns(m, nm, path)
			            : delete_obj(m, m->cluster, m->ns_res, nm, false, path);
			free(nm);
			fuse_reply_err(req, -rc);
			return;
		}
	} else if (rc == 0 && n.t == MNT_N_RESDIR) {
		rc = dir_busy(m, n.ns, n.res, false) ? -ENOTEMPTY : 0; /* it stays, empty */
	} else if (rc == 0 && n.t != MNT_N_SELDIR) {
		rc = n.t == MNT_N_ROOT || n.t == MNT_N_NSLIST ? -EBUSY : -ENOTDIR;
	}
	pthread_rwlock_unlock(&m->lock);
	fuse_reply_err(req, -rc);
}

void mnt_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)mode;
	mnt *m = mnt_g;
	mnt_node p, n;
	k9_err e;
	struct fuse_entry_param ep;
	bool notifier = mnt_from_notifier(req);
	pthread_rwlock_wrlock(&m->lock);
	int rc = mnt_resolve(m, parent, &p);
	if (rc == 0 && notifier) {
		mnt_ns *ns = k9_map_get(&m->nss, name);
		if (p.t == MNT_N_NSLIST && ns && ns->announce) {
			ns->announce = false;
			mnt_resolve(m, MNT_INO(ns->h.id, MNT_SUB_NSDIR), &n);
			mnt_entry_of(m, &n, &ep);
			pthread_rwlock_unlock(&m->lock);
			fuse_reply_entry(req, &ep);
			return;
		}
		rc = -EEXIST;
	} else if (rc == 0 && mnt_lookup_node(m, parent, name, false, &n) == 0) {
		rc = -EEXIST;
	} else if (rc == 0 && p.t == MNT_N_RESDIR && name[0] == '@') {
		mnt_seldir *sd = mnt_seldir_get(m, p.ns, p.res, name + 1, &e);
		if (!sd) {
			char path[1024];
			mnt_file_path(m, p.ns, p.res, name, path, sizeof path);
			pthread_rwlock_unlock(&m->lock);
			fuse_reply_err(req, -mnt_refuse(m, p.ns, p.res, path, &e));
			return;
		}
		mnt_resolve(m, MNT_INO(sd->h.id, 0), &n);
		mnt_entry_of(m, &n, &ep);
		pthread_rwlock_unlock(&m->lock);
		fuse_reply_entry(req, &ep);
		return;
	} else if (rc == 0 && p.t != MNT_N_NSLIST) {
		rc = -EPERM;
	}
	pthread_rwlock_unlock(&m->lock);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	/* a new namespace */
	json_t *o = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
	                      "metadata", "name", name);
	char *body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	long code = mnt_send_obj(m, m->ns_res, "POST", "/api/v1/namespaces", "application/json",
	                         body, strlen(body), NULL, &e);
	free(body);
	if (code < 200 || code >= 300) {
		char path[600];
		snprintf(path, sizeof path, "namespaces/%s", name);
		fuse_reply_err(req, -mnt_refuse(m, m->cluster, m->ns_res, path, &e));
		return;
	}
	pthread_rwlock_rdlock(&m->lock);
	rc = mnt_lookup_node(m, parent, name, false, &n);
	if (rc == 0) {
		mnt_entry_of(m, &n, &ep);
		pthread_rwlock_unlock(&m->lock);
		fuse_reply_entry(req, &ep);
		return;
	}
	pthread_rwlock_unlock(&m->lock);
	fuse_reply_err(req, EIO);
}

void mnt_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                   const char *newname, unsigned flags)
{
	mnt *m = mnt_g;
	mnt_node src, dp, dst;
	if (flags & RENAME_EXCHANGE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	pthread_rwlock_wrlock(&m->lock);
	int rc = mnt_lookup_node(m, parent, name, false, &src);
	if (rc == 0)
		rc = mnt_resolve(m, newparent, &dp);
	bool dst_exists = rc == 0 && mnt_lookup_node(m, newparent, newname, false, &dst) == 0;
	if (rc == 0 && dst_exists && (flags & RENAME_NOREPLACE))
		rc = -EEXIST;
	if (rc == 0 && src.t != MNT_N_SCRATCH) {
		k9_err e;
		k9_errf(&e, 400, "BadRequest",
		        "objects cannot be renamed; copy the file to the new name and remove this "
		        "one");
		char path[1024];
		mnt_file_path(m, src.ns, src.res, name, path, sizeof path);
		pthread_rwlock_unlock(&m->lock);
		mnt_refuse(m, src.ns, src.res, path, &e);
		fuse_reply_err(req, EPERM);
		return;
	}
	if (rc == 0 && dst_exists && dst.t != MNT_N_SCRATCH && dst.t != MNT_N_YAML &&
	    dst.t != MNT_N_JSON)
		rc = -EISDIR;
	if (rc == 0 && dp.t != MNT_N_RESDIR && dp.t != MNT_N_NSDIR && dp.t != MNT_N_NSLIST)
		rc = -EXDEV;
	if (rc < 0) {
		pthread_rwlock_unlock(&m->lock);
		fuse_reply_err(req, -rc);
		return;
	}
	size_t l;
	if (!mnt_file_ext(newname, &l) || newname[0] == '.') {
		/* a scratch file under a new scratch name (an editor's backup dance) */
		if (dst_exists && dst.t == MNT_N_SCRATCH)
			scratch_drop(m, dst.sc);
		char *k = scratch_key(parent, name);
		k9_map_del(&m->scratch, k);
		free(k);
		free(src.sc->name);
		src.sc->name = xstrdup(newname);
		src.sc->parent = newparent;
		src.sc->ns = dp.ns;
		src.sc->res = dp.res;
		k = scratch_key(newparent, newname);
		k9_map_put(&m->scratch, k, src.sc);
		free(k);
		pthread_rwlock_unlock(&m->lock);
		fuse_reply_err(req, 0);
		return;
	}
	pthread_rwlock_unlock(&m->lock);
	/* renamed into place: apply it */
	mnt_scratch sc;
	size_t len;
	char *text = scratch_take(m, src.ino, &len, &sc);
	rc = text ? apply_named(m, dp.ns, dp.res, newname, text, len, false) : -ENOENT;
	free(text);
	if (rc == 0) {
		pthread_rwlock_wrlock(&m->lock);
		mnt_scratch *s = mnt_ids_get(m, src.ino >> 8, MNT_ENT_SCRATCH);
		if (s)
			scratch_drop(m, s);
		pthread_rwlock_unlock(&m->lock);
	}
	fuse_reply_err(req, -rc);
}

/* PATCH metadata.labels: {"KEY": value} or {"KEY": null}. */
static int patch_label(fuse_ino_t ino, const char *xname, const char *value, size_t size, int flags)
{
	mnt *m = mnt_g;
	mnt_node n;
	k9_err e;
	pthread_rwlock_rdlock(&m->lock);
	int rc = mnt_resolve(m, ino, &n);
	if (rc == 0 && !n.obj)
		rc = -ENOTSUP;
	if (rc == 0 && strncmp(xname, "user.", 5))
		rc = value ? -ENOTSUP : -ENODATA;
	const char *key = xname + 5;
	bool has = rc == 0 && json_object_get(n.obj->labels, key);
	if (rc == 0 && !value && !has)
		rc = -ENODATA;
	if (rc == 0 && (flags & XATTR_CREATE) && has)
		rc = -EEXIST;
	if (rc == 0 && (flags & XATTR_REPLACE) && !has)
		rc = -ENODATA;
	if (rc < 0) {
		pthread_rwlock_unlock(&m->lock);
		return rc;
	}
	mnt_ns *ns = n.ns;
	int res = n.res;
	char *oname = xstrdup(n.obj->name), path[1024];
	char *fname = xasprintf("%s.yaml", oname);
	mnt_file_path(m, ns, res, fname, path, sizeof path);
	free(fname);
	pthread_rwlock_unlock(&m->lock);
	char *val = value ? xstrndup(value, size) : NULL;
	const char *why = obj_check_label_key(key);
	if (!why && val)
		why = obj_check_label_value(val);
	if (why) {
		k9_errf(&e, 422, "Invalid", "label %s%s%s: %s", key, val ? "=" : "", val ? val : "",
		        why);
		rc = mnt_refuse(m, ns, res, path, &e);
	} else {
		json_t *p = json_pack("{s:{s:{s:o}}}", "metadata", "labels", key,
		                      val ? json_string(val) : json_null());
		char *body = json_dumps(p, JSON_COMPACT);
		json_decref(p);
		char *url = mnt_obj_url(m, ns, res, oname, NULL);
		long code = mnt_send_obj(m, res, "PATCH", url, "application/merge-patch+json", body,
		                         strlen(body), NULL, &e);
		free(url);
		free(body);
		if (code < 200 || code >= 300)
			rc = mnt_refuse(m, ns, res, path, &e);
	}
	free(val);
	free(oname);
	return rc;
}

void mnt_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                     size_t size, int flags)
{
	fuse_reply_err(req, -patch_label(ino, name, value ? value : "", size, flags));
}

void mnt_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, -patch_label(ino, name, NULL, 0, 0));
}
