/*
 * tree_file.c - reading and writing the mounted tree, for the programs it
 * drives. A write is applied by the mount when the file is closed (or, for
 * subresource files, at the write), so every call here returns the errno
 * of the request: EBUSY for a stale resourceVersion, EEXIST, EINVAL, ...
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube9/tree.h"
#include "kube9/util.h"

static char root[PATH_MAX - 256] = ".";

void tree_init(const char *mnt)
{
	snprintf(root, sizeof root, "%s", mnt);
}

const char *tree_root(void)
{
	return root;
}

static void full(char *out, size_t n, const char *rel)
{
	snprintf(out, n, "%s/%s", root, rel);
}

void tree_path(char *out, size_t n, const char *res, const char *ns, const char *name,
               const char *ext)
{
	if (ns && ns[0])
		snprintf(out, n, "namespaces/%s/%s/%s.%s", ns, res, name, ext);
	else
		snprintf(out, n, "%s/%s.%s", res, name, ext);
}

static int write_flags(const char *path, const char *text, size_t len, int flags)
{
	char p[PATH_MAX];
	full(p, sizeof p, path);
	int fd = open(p, O_WRONLY | O_CLOEXEC | flags, 0644);
	if (fd < 0)
		return -errno;
	int rc = 0;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int tree_write(const char *path, const char *text, size_t len)
{
	return write_flags(path, text, len, O_CREAT | O_TRUNC);
}

int tree_create(const char *path, const char *text, size_t len)
{
	return write_flags(path, text, len, O_CREAT | O_EXCL);
}

int tree_put_json(const char *path, const json_t *o, bool excl)
{
	char *s = json_dumps(o, JSON_COMPACT);
	if (!s)
		return -EINVAL;
	int rc = excl ? tree_create(path, s, strlen(s)) : tree_write(path, s, strlen(s));
	free(s);
	return rc;
}

int tree_put_status_of(const char *res, const char *key, const json_t *status)
{
	char path[PATH_MAX], ns[256], name[256];
	tree_key_split(key, ns, name, sizeof ns);
	tree_path(path, sizeof path, res, ns, name, "status");
	json_t *doc = json_pack("{s:O}", "status", status);
	int rc = tree_put_json(path, doc, false);
	json_decref(doc);
	return rc;
}

int tree_put_status(const char *res, const json_t *obj, const json_t *status)
{
	char key[600];
	tree_key(obj, key, sizeof key);
	return tree_put_status_of(res, key, status);
}

int tree_unlink(const char *path)
{
	char p[PATH_MAX];
	full(p, sizeof p, path);
	return unlink(p) < 0 ? -errno : 0;
}

char *tree_read(const char *path, size_t *len)
{
	char p[PATH_MAX];
	full(p, sizeof p, path);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	k9_buf b = {0};
	char tmp[65536];
	ssize_t r;
	while ((r = read(fd, tmp, sizeof tmp)) > 0 || (r < 0 && errno == EINTR))
		if (r > 0)
			buf_append(&b, tmp, (size_t)r);
	int err = errno;
	close(fd);
	if (r < 0) {
		buf_free(&b);
		errno = err;
		return NULL;
	}
	if (!b.data)
		buf_append(&b, "", 0);
	buf_append(&b, "", 1);
	*len = b.len - 1;
	return b.data;
}

json_t *tree_read_json(const char *path)
{
	size_t len;
	char *t = tree_read(path, &len);
	if (!t)
		return NULL;
	json_t *o = json_loadb(t, len, 0, NULL);
	free(t);
	if (!o)
		errno = EINVAL;
	return o;
}

double tree_age(const char *s)
{
	time_t t = k9_parse_rfc3339(s);
	return t == (time_t)-1 ? 1e18 : difftime(time(NULL), t);
}

int tree_open_mount(const char *mnt, const char *prog)
{
	char p[PATH_MAX];
	struct stat st;
	if (!mnt || !mnt[0]) {
		log_err("%s: --mount DIR is required (a kube9 mount, see `kube9 mount --help`)",
		        prog);
		return -1;
	}
	snprintf(p, sizeof p, "%s/namespaces/pods.watch", mnt);
	if (stat(p, &st) < 0) {
		log_err("%s: %s is not a kube9 mount (no %s: %s); mount it with `kube9 mount %s`",
		        prog, mnt, p, strerror(errno), mnt);
		return -1;
	}
	tree_init(mnt);
	return 0;
}
