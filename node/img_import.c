/*
 * img_import.c - importing an OCI image layout directory (oci-layout,
 * index.json, blobs/sha256/...) into the store under a reference, with no
 * registry: the blobs are copied and verified like pulled ones, the layers
 * unpacked, the ref written last.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img_int.h"
#include "kube9/util.h"

#define ANN_REF_NAME "org.opencontainers.image.ref.name"

/* Copy layout/blobs/sha256/HEX into the store, checking its digest. */
static int copy_blob(img_store *s, const char *layout, const char *digest, char *err, size_t errlen)
{
	if (!digest || !img_digest_valid(digest)) {
		snprintf(err, errlen, "\"%s\" is not a sha256 digest", digest ? digest : "");
		return -1;
	}
	if (img_blob_has(s, digest))
		return 0;
	char *src = xasprintf("%s/blobs/sha256/%s", layout, digest + 7), buf[1 << 16];
	int fd = open(src, O_RDONLY | O_CLOEXEC), rc = -1;
	img_blob_w *w = fd < 0 ? NULL : img_blob_begin(s, err, errlen);
	if (fd < 0)
		snprintf(err, errlen, "%s: %s", src, strerror(errno));
	ssize_t n = 0;
	while (w && (n = read(fd, buf, sizeof buf)) > 0)
		if (img_blob_write(w, buf, (size_t)n) < 0) {
			n = -1;
			break;
		}
	if (w && n < 0) {
		snprintf(err, errlen, "copying %s: %s", src, strerror(errno));
		img_blob_abort(w);
	} else if (w) {
		char why[256];
		rc = img_blob_commit(w, digest, NULL, why, sizeof why);
		if (rc < 0)
			snprintf(err, errlen, "%s: %s", src, why);
	}
	if (fd >= 0)
		close(fd);
	free(src);
	return rc;
}

/* The descriptor in index.json for ref: the only one, or the one named like its tag. */
static const json_t *layout_pick(const json_t *index, const char *ref, const char *norm, char *err,
                                 size_t errlen)
{
	const json_t *ms = json_object_get(index, "manifests"), *e;
	img_refparts p;
	size_t i;
	if (json_array_size(ms) == 1)
		return json_array_get(ms, 0);
	img_ref_parts(norm, &p);
	json_array_foreach(ms, i, e)
	{
		const char *name = json_string_value(
		    json_object_get(json_object_get(e, "annotations"), ANN_REF_NAME));
		if (name && (!strcmp(name, p.tag) || !strcmp(name, ref) || !strcmp(name, norm)))
			return e;
	}
	snprintf(err, errlen, "the layout holds %zu images and none is named \"%s\" (%s)",
	         json_array_size(ms), p.tag, ANN_REF_NAME);
	return NULL;
}

/* Copy and parse the manifest named by descriptor d. */
static json_t *import_manifest(img_store *s, const char *layout, const json_t *d, char *digest,
                               char *err, size_t errlen)
{
	const char *dg = json_string_value(json_object_get(d, "digest"));
	size_t len;
	if (copy_blob(s, layout, dg, err, errlen) < 0)
		return NULL;
	snprintf(digest, 80, "%s", dg);
	char *text = img_blob_read(s, dg, &len, err, errlen);
	json_t *m = text ? img_manifest_parse(text, len, err, errlen) : NULL;
	free(text);
	return m;
}

int img_import(img_store *s, const char *layout, const char *ref, char *err, size_t errlen)
{
	char norm[512], md[80];
	if (img_normalize(ref, norm, sizeof norm) < 0) {
		snprintf(err, errlen, "\"%s\" is not an image reference", ref);
		return -1;
	}
	char *ipath = xasprintf("%s/index.json", layout);
	json_error_t je;
	json_t *index = json_load_file(ipath, 0, &je), *m = NULL, *l;
	int rc = -1;
	img_claim(s, norm);
	const json_t *d = NULL;
	if (!json_is_object(index))
		snprintf(err, errlen, "%s: %s", ipath, index ? "not a JSON object" : je.text);
	else
		d = layout_pick(index, ref, norm, err, errlen);
	if (d)
		m = import_manifest(s, layout, d, md, err, errlen);
	if (m && json_is_array(json_object_get(m, "manifests"))) {
		d = img_index_pick(m);
		json_t *inner = d ? import_manifest(s, layout, d, md, err, errlen) : NULL;
		if (!d)
			snprintf(err, errlen, "no linux/amd64 image in the index %s", md);
		json_decref(m);
		m = inner;
	}
	if (m && json_is_array(json_object_get(m, "manifests")))
		snprintf(err, errlen, "index %s names another index", md);
	if (!m || json_is_array(json_object_get(m, "manifests")))
		goto out;
	if (copy_blob(s, layout,
	              json_string_value(json_object_get(json_object_get(m, "config"), "digest")),
	              err, errlen) < 0)
		goto out;
	size_t i;
	json_array_foreach(json_object_get(m, "layers"), i, l)
	{
		const char *dg = json_string_value(json_object_get(l, "digest"));
		const char *mt = json_string_value(json_object_get(l, "mediaType"));
		if (copy_blob(s, layout, dg, err, errlen) < 0 ||
		    img_layer_ensure(s, dg, mt, err, errlen) < 0)
			goto out;
	}
	rc = img_ref_write(s, norm, md, err, errlen);
	if (rc == 0)
		log_info("image: imported %s from %s (%s)", norm, layout, md);
out:
	img_release(s, norm);
	json_decref(m);
	json_decref(index);
	free(ipath);
	return rc;
}
