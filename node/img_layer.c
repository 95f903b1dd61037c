/*
 * img_layer.c - unpacking layer tarballs (gzip, zstd or plain) with
 * libarchive into DIR/layers/HEX, once per layer, for overlayfs.
 *
 * Containment: every entry's path (and a hard link's target) is cleaned,
 * a leading "/" dropped and ".." refused, then prefixed with the layer dir,
 * and written by archive_write_disk with SECURE_NODOTDOT and
 * SECURE_SYMLINKS, so nothing is written through a symlink. (The layer dir
 * is absolute, which rules out SECURE_NOABSOLUTEPATHS: it refuses every
 * absolute path, ours included; the cleaning does its work.) The layer dir
 * must be free of symlinks itself: libarchive checks every component.
 *
 * OCI whiteouts become overlayfs ones: ".wh.NAME" a character device 0/0
 * named NAME, ".wh..wh..opq" the xattr trusted.overlay.opaque="y" on its
 * directory; both are made through directory fds opened with O_NOFOLLOW.
 * A layer's own trusted.overlay.* xattrs are dropped.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "img_int.h"
#include "kube9/util.h"

static const char *const layer_types[] = {
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
};

bool img_layer_type_ok(const char *mt)
{
	for (size_t i = 0; i < sizeof layer_types / sizeof *layer_types; i++)
		if (!strcmp(mt, layer_types[i]))
			return true;
	return false;
}

/* name without "", "." components and a leading "/"; -1 if it has "..". */
static int clean_path(const char *name, k9_buf *out)
{
	out->len = 0;
	buf_puts(out, "");
	for (const char *p = name; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -1;
		if (n && !(n == 1 && p[0] == '.')) {
			if (out->len)
				buf_puts(out, "/");
			buf_append(out, p, n);
		}
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}

/*
 * An fd of directory rel (relative to root), made if missing, never
 * following a symlink; -1 with errno.
 */
static int open_beneath(int root, const char *rel)
{
	int fd = dup(root);
	char *copy = xstrdup(rel), *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c && fd >= 0; c = strtok_r(NULL, "/", &save)) {
		int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && mkdirat(fd, c, 0755) == 0)
			next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		close(fd);
		fd = next;
		errno = e;
	}
	free(copy);
	return fd;
}

/* Apply the whiteout rel (cleaned, its last component starting ".wh."). */
static int whiteout(int root, const char *rel, char *err, size_t errlen)
{
	const char *slash = strrchr(rel, '/');
	char *dir = slash ? xstrndup(rel, (size_t)(slash - rel)) : xstrdup("");
	const char *base = slash ? slash + 1 : rel, *name = base + 4;
	int rc = 0;
	if (!strncmp(base, ".wh..wh.", 8) && strcmp(base, ".wh..wh..opq"))
		goto out; /* aufs bookkeeping (.wh..wh.plnk ...): nothing to make */
	int fd = open_beneath(root, dir);
	if (fd < 0) {
		snprintf(err, errlen, "whiteout \"%s\": directory \"%s\": %s", rel, dir,
		         strerror(errno));
		rc = -1;
		goto out;
	}
	if (!strcmp(base, ".wh..wh..opq"))
		rc = fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0);
	else if (*name && strcmp(name, ".") && strcmp(name, ".."))
		rc = mknodat(fd, name, S_IFCHR, makedev(0, 0)) < 0 && errno != EEXIST ? -1 : 0;
	if (rc < 0)
		snprintf(err, errlen, "whiteout \"%s\": %s", rel, strerror(errno));
	close(fd);
out:
	free(dir);
	return rc;
}

/* Drop the entry's trusted.overlay.* xattrs: a layer must not steer overlayfs. */
static void drop_overlay_xattrs(struct archive_entry *e)
{
	if (archive_entry_xattr_count(e) == 0)
		return;
	struct archive_entry *keep = archive_entry_new();
	const char *name;
	const void *v;
	size_t n;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &v, &n) == ARCHIVE_OK)
		if (strncmp(name, "trusted.overlay.", 16))
			archive_entry_xattr_add_entry(keep, name, v, n);
	archive_entry_xattr_clear(e);
	archive_entry_xattr_reset(keep);
	while (archive_entry_xattr_next(keep, &name, &v, &n) == ARCHIVE_OK)
		archive_entry_xattr_add_entry(e, name, v, n);
	archive_entry_free(keep);
}

static int copy_data(struct archive *in, struct archive *out)
{
	const void *p;
	size_t n;
	la_int64_t off;
	int r;
	while ((r = archive_read_data_block(in, &p, &n, &off)) == ARCHIVE_OK)
		if (archive_write_data_block(out, p, n, off) < ARCHIVE_WARN)
			return -1;
	return r == ARCHIVE_EOF ? 0 : -1;
}

/* Rewrite e's path and hard link target to lie in dir; -1 (with err) for "..". */
static int place_entry(struct archive_entry *e, const char *dir, k9_buf *rel, char *err,
                       size_t errlen)
{
	const char *hl = archive_entry_hardlink(e);
	if (hl) {
		if (clean_path(hl, rel) < 0) {
			snprintf(err, errlen, "entry \"%s\": link target \"%s\" contains \"..\"",
			         archive_entry_pathname(e), hl);
			return -1;
		}
		char *full = xasprintf("%s/%s", dir, rel->data);
		archive_entry_copy_hardlink(e, full);
		free(full);
	}
	if (clean_path(archive_entry_pathname(e), rel) < 0) {
		snprintf(err, errlen, "entry \"%s\": path contains \"..\"",
		         archive_entry_pathname(e));
		return -1;
	}
	char *full = rel->len ? xasprintf("%s/%s", dir, rel->data) : xstrdup(dir);
	archive_entry_copy_pathname(e, full);
	free(full);
	return 0;
}

int img_layer_unpack(const char *blob, const char *dir, char *err, size_t errlen)
{
	int flags = ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	            ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR;
	if (geteuid() == 0)
		flags |= ARCHIVE_EXTRACT_OWNER;
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	archive_read_support_filter_gzip(in);
	archive_read_support_filter_zstd(in);
	archive_read_support_format_tar(in);
	archive_read_support_format_empty(in);
	archive_write_disk_set_options(out, flags);
	archive_write_disk_set_standard_lookup(out);
	k9_buf rel = {0};
	char *name = NULL;
	int rc = -1, root = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (root < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto out;
	}
	if (archive_read_open_filename(in, blob, 1 << 16) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s", archive_error_string(in));
		goto out;
	}
	struct archive_entry *e;
	int r;
	while ((r = archive_read_next_header(in, &e)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN) {
			snprintf(err, errlen, "%s", archive_error_string(in));
			goto out;
		}
		free(name);
		name = xstrdup(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
		if (clean_path(name, &rel) < 0) {
			snprintf(err, errlen, "entry \"%s\": path contains \"..\"", name);
			goto out;
		}
		const char *base = strrchr(rel.data, '/');
		base = base ? base + 1 : rel.data;
		if (!strncmp(base, ".wh.", 4)) {
			if (whiteout(root, rel.data, err, errlen) < 0)
				goto out;
			continue;
		}
		drop_overlay_xattrs(e);
		if (place_entry(e, dir, &rel, err, errlen) < 0)
			goto out;
		r = archive_write_header(out, e);
		if (r == ARCHIVE_WARN)
			log_debug("image: layer entry \"%s\": %s", name, archive_error_string(out));
		if (r >= ARCHIVE_WARN && archive_entry_size(e) > 0 && copy_data(in, out) < 0)
			r = ARCHIVE_FAILED;
		if (r >= ARCHIVE_WARN)
			r = archive_write_finish_entry(out);
		if (r < ARCHIVE_WARN) {
			snprintf(err, errlen, "entry \"%s\": %s", name,
			         archive_error_string(out) ? archive_error_string(out)
			                                   : archive_error_string(in));
			goto out;
		}
	}
	if (archive_write_close(out) < ARCHIVE_WARN) {
		snprintf(err, errlen, "%s", archive_error_string(out));
		goto out;
	}
	rc = 0;
out:
	if (root >= 0)
		close(root);
	buf_free(&rel);
	free(name);
	archive_read_free(in);
	archive_write_free(out);
	return rc;
}

int img_layer_ensure(img_store *s, const char *digest, const char *media_type, char *err,
                     size_t errlen)
{
	if (!img_digest_valid(digest)) {
		snprintf(err, errlen, "layer \"%s\": not a sha256 digest", digest);
		return -1;
	}
	if (media_type && !img_layer_type_ok(media_type)) {
		snprintf(err, errlen, "layer %s: unsupported media type \"%s\"", digest,
		         media_type);
		return -1;
	}
	char *final = xasprintf("%s/layers/%s", s->dir, digest + 7);
	char *tmp =
	    xasprintf("%s/layers/.tmp-%s-%d-%d", s->dir, digest + 7, (int)getpid(), (int)gettid());
	char *blob = img_blob_path(s, digest);
	int rc = 0;
	img_claim(s, digest);
	if (access(final, F_OK) == 0)
		goto out;
	uint64_t t0 = k9_mono_ns();
	img_rm_tree(tmp);
	rc = mkdir(tmp, 0755);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	char why[1024];
	rc = img_layer_unpack(blob, tmp, why, sizeof why);
	if (rc < 0)
		snprintf(err, errlen, "layer %s: %s", digest, why);
	int fd = rc < 0 ? -1 : open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) /* the files, before the rename makes the layer count as done */
		syncfs(fd), close(fd);
	if (rc == 0 && rename(tmp, final) < 0 && errno != EEXIST && errno != ENOTEMPTY) {
		snprintf(err, errlen, "%s: %s", final, strerror(errno));
		rc = -1;
	}
	if (access(tmp, F_OK) == 0) /* failed, or another process got there first */
		img_rm_tree(tmp);
	if (rc == 0)
		log_info("image: unpacked layer %s in %.2fs", digest,
		         (double)(k9_mono_ns() - t0) / 1e9);
out:
	img_release(s, digest);
	free(blob);
	free(tmp);
	free(final);
	return rc;
}
