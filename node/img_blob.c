/*
 * img_blob.c - the store's files: content-addressed blobs
 * (DIR/blobs/sha256/HEX, written to a temp file while hashed, then checked,
 * fsynced and renamed into place, so a blob present is a blob verified),
 * ref files (DIR/refs/DOMAIN/PATH/:TAG, holding a manifest digest), and the
 * per-store claims that keep threads off each other's work.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gnutls/crypto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "img_int.h"
#include "kube9/util.h"

void img_claim(img_store *s, const char *key)
{
	pthread_mutex_lock(&s->mu);
	for (;;) {
		bool busy = false;
		for (size_t i = 0; i < s->n_busy && !busy; i++)
			busy = !strcmp(s->busy[i], key);
		if (!busy)
			break;
		pthread_cond_wait(&s->cv, &s->mu);
	}
	if (s->n_busy == s->cap_busy) {
		s->cap_busy = s->cap_busy ? 2 * s->cap_busy : 8;
		s->busy = xrealloc(s->busy, s->cap_busy * sizeof *s->busy);
	}
	s->busy[s->n_busy++] = xstrdup(key);
	pthread_mutex_unlock(&s->mu);
}

void img_release(img_store *s, const char *key)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n_busy; i++)
		if (!strcmp(s->busy[i], key)) {
			free(s->busy[i]);
			s->busy[i] = s->busy[--s->n_busy];
			break;
		}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void hex(const unsigned char *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

void img_sha256(const void *p, size_t n, char *out)
{
	unsigned char d[32];
	gnutls_hash_fast(GNUTLS_DIG_SHA256, p, n, d);
	strcpy(out, "sha256:");
	hex(d, sizeof d, out + 7);
}

char *img_blob_path(img_store *s, const char *digest)
{
	if (!img_digest_valid(digest))
		return NULL;
	return xasprintf("%s/blobs/sha256/%s", s->dir, digest + 7);
}

bool img_blob_has(img_store *s, const char *digest)
{
	char *p = img_blob_path(s, digest);
	bool has = p && access(p, F_OK) == 0;
	free(p);
	return has;
}

char *img_blob_read(img_store *s, const char *digest, size_t *len, char *err, size_t errlen)
{
	char *p = img_blob_path(s, digest);
	struct stat st;
	if (!p) {
		snprintf(err, errlen, "\"%s\" is not a sha256 digest", digest);
		return NULL;
	}
	if (stat(p, &st) == 0 && st.st_size > (off_t)IMG_MAX_JSON) {
		snprintf(err, errlen, "blob %s is too large (%lld bytes)", digest,
		         (long long)st.st_size);
		free(p);
		return NULL;
	}
	char *text = k9_read_file(p, len);
	if (!text)
		snprintf(err, errlen, "blob %s: %s", digest, strerror(errno));
	free(p);
	return text;
}

struct img_blob_w {
	img_store *s;
	char *tmp;
	int fd;
	gnutls_hash_hd_t h;
};

img_blob_w *img_blob_begin(img_store *s, char *err, size_t errlen)
{
	static atomic_uint seq;
	img_blob_w *w = xcalloc(1, sizeof *w);
	w->s = s;
	w->tmp = xasprintf("%s/blobs/sha256/.tmp-%d-%d-%u", s->dir, (int)getpid(), (int)gettid(),
	                   atomic_fetch_add(&seq, 1));
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0 || gnutls_hash_init(&w->h, GNUTLS_DIG_SHA256) < 0) {
		snprintf(err, errlen, "%s: %s", w->tmp, strerror(errno));
		if (w->fd >= 0)
			close(w->fd), unlink(w->tmp);
		free(w->tmp);
		free(w);
		return NULL;
	}
	return w;
}

int img_blob_write(img_blob_w *w, const void *p, size_t n)
{
	gnutls_hash(w->h, p, n);
	for (const char *c = p; n > 0;) {
		ssize_t r = write(w->fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static void blob_free(img_blob_w *w)
{
	free(w->tmp);
	free(w);
}

void img_blob_abort(img_blob_w *w)
{
	unsigned char d[32];
	gnutls_hash_deinit(w->h, d);
	close(w->fd);
	unlink(w->tmp);
	blob_free(w);
}

int img_blob_commit(img_blob_w *w, const char *want, char *digest_out, char *err, size_t errlen)
{
	unsigned char d[32];
	char got[80] = "sha256:";
	gnutls_hash_deinit(w->h, d);
	hex(d, sizeof d, got + 7);
	if (digest_out)
		strcpy(digest_out, got);
	if (want && strcmp(want, got)) {
		snprintf(err, errlen, "digest mismatch: expected %s, got %s", want, got);
		goto fail;
	}
	if (fsync(w->fd) < 0) {
		snprintf(err, errlen, "%s: fsync: %s", w->tmp, strerror(errno));
		goto fail;
	}
	close(w->fd);
	w->fd = -1;
	char *final = img_blob_path(w->s, got);
	int r = rename(w->tmp, final);
	if (r < 0)
		snprintf(err, errlen, "%s: %s", final, strerror(errno));
	free(final);
	if (r < 0)
		goto fail;
	char *dir = xasprintf("%s/blobs/sha256", w->s->dir);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd), close(dfd);
	free(dir);
	blob_free(w);
	return 0;
fail:
	if (w->fd >= 0)
		close(w->fd);
	unlink(w->tmp);
	blob_free(w);
	return -1;
}

int img_blob_put(img_store *s, const void *p, size_t n, const char *want, char *digest_out,
                 char *err, size_t errlen)
{
	char got[80];
	img_sha256(p, n, got);
	if (want && strcmp(want, got)) {
		snprintf(err, errlen, "digest mismatch: expected %s, got %s", want, got);
		return -1;
	}
	if (digest_out)
		strcpy(digest_out, got);
	if (img_blob_has(s, got))
		return 0;
	img_blob_w *w = img_blob_begin(s, err, errlen);
	if (!w)
		return -1;
	if (img_blob_write(w, p, n) < 0) {
		snprintf(err, errlen, "writing blob %s: %s", got, strerror(errno));
		img_blob_abort(w);
		return -1;
	}
	return img_blob_commit(w, got, NULL, err, errlen);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

void img_rm_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* DIR/refs/DOMAIN/PATH/SUFFIX (SUFFIX ":TAG", "@DIGEST" or both) of a normalized ref. */
static char *ref_file(img_store *s, const char *ref)
{
	img_refparts p;
	if (img_ref_parts(ref, &p) < 0)
		return NULL;
	return xasprintf("%s/refs/%s/%s/%s%s%s%s", s->dir, p.domain, p.path, p.tag[0] ? ":" : "",
	                 p.tag, p.digest[0] ? "@" : "", p.digest);
}

int img_ref_read(img_store *s, const char *ref, char *digest, size_t len)
{
	char *f = ref_file(s, ref);
	char *text = f ? k9_read_file(f, NULL) : NULL;
	free(f);
	if (!text)
		return -1;
	text[strcspn(text, "\n")] = 0;
	int rc = img_digest_valid(text) && strlen(text) < len ? 0 : -1;
	if (rc == 0)
		strcpy(digest, text);
	free(text);
	return rc;
}

int img_ref_write(img_store *s, const char *ref, const char *digest, char *err, size_t errlen)
{
	char *f = ref_file(s, ref);
	if (!f) {
		snprintf(err, errlen, "\"%s\" is not an image reference", ref);
		return -1;
	}
	static atomic_uint seq;
	char *slash = strrchr(f, '/');
	*slash = 0;
	char *tmp = xasprintf("%s/.tmp-%d-%d-%u", f, (int)getpid(), (int)gettid(),
	                      atomic_fetch_add(&seq, 1));
	int rc = k9_mkdir_p(f, 0755);
	*slash = '/';
	char *line = xasprintf("%s\n", digest);
	int fd = rc < 0 ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	rc = fd >= 0 && write(fd, line, strlen(line)) == (ssize_t)strlen(line) && fsync(fd) == 0
	         ? 0
	         : -1;
	if (fd >= 0)
		close(fd);
	if (rc == 0)
		rc = rename(tmp, f);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", f, strerror(errno));
		unlink(tmp);
	}
	free(line);
	free(tmp);
	free(f);
	return rc;
}
