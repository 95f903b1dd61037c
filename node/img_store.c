/*
 * img_store.c - the image store's face (img.h): opening it, img_get with
 * the pull policies, reading an image out of its manifest and config, and
 * listing what is stored. Blobs and refs are in img_blob.c, layers in
 * img_layer.c, pulls in img_pull.c, OCI layout import in img_import.c.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "img_int.h"
#include "kube9/util.h"

/* Remove temp files and dirs in dir left by processes that are gone. */
static void sweep_temps(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, ".tmp-", 5))
			continue;
		/* .tmp-PID-TID-N (blobs) or .tmp-HEX-PID-TID (layers) */
		const char *p = de->d_name + 5;
		if (strlen(p) > 64 && p[64] == '-')
			p += 65;
		int pid = atoi(p);
		if (pid > 0 && kill(pid, 0) < 0 && errno == ESRCH) {
			char *path = xasprintf("%s/%s", dir, de->d_name);
			img_rm_tree(path);
			free(path);
		}
	}
	if (d)
		closedir(d);
}

img_store *img_open(const char *dir, char *err, size_t errlen)
{
	static const char *const sub[] = {"blobs/sha256", "layers", "refs"};
	char real[PATH_MAX];
	for (size_t i = 0; i < sizeof sub / sizeof *sub; i++) {
		char *p = xasprintf("%s/%s", dir, sub[i]);
		int r = k9_mkdir_p(p, 0755);
		free(p);
		if (r < 0) {
			snprintf(err, errlen, "image store %s: %s", dir, strerror(errno));
			return NULL;
		}
	}
	if (!realpath(dir, real)) {
		snprintf(err, errlen, "image store %s: %s", dir, strerror(errno));
		return NULL;
	}
	img_store *s = xcalloc(1, sizeof *s);
	s->dir = xstrdup(real);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	char *blobs = xasprintf("%s/blobs/sha256", s->dir),
	     *layers = xasprintf("%s/layers", s->dir);
	sweep_temps(blobs);
	sweep_temps(layers);
	free(blobs);
	free(layers);
	return s;
}

void img_close(img_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_busy; i++)
		free(s->busy[i]);
	free(s->busy);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->insecure);
	free(s->dir);
	free(s);
}

void img_set_insecure(img_store *s, const char *hosts)
{
	free(s->insecure);
	s->insecure = hosts ? xstrdup(hosts) : NULL;
}

void img_free(img *i)
{
	for (int k = 0; i->layers && k < i->n_layers; k++)
		free(i->layers[k]);
	free(i->layers);
	json_decref(i->config);
	i->layers = NULL;
	i->config = NULL;
	i->n_layers = 0;
}

static bool digest_field(const json_t *o)
{
	const char *d = json_string_value(json_object_get(o, "digest"));
	return d && img_digest_valid(d);
}

json_t *img_manifest_parse(const char *text, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *m = json_loadb(text, len, 0, &je);
	if (!json_is_object(m)) {
		snprintf(err, errlen, "manifest is not a JSON object (%s)", je.text);
		json_decref(m);
		return NULL;
	}
	json_t *layers = json_object_get(m, "layers"), *l;
	size_t i;
	if (json_is_array(json_object_get(m, "manifests")))
		return m; /* an index: the caller picks */
	bool ok = digest_field(json_object_get(m, "config")) && json_is_array(layers);
	json_array_foreach(layers, i, l)
	{
		ok = ok && digest_field(l) && json_is_string(json_object_get(l, "mediaType"));
	}
	if (!ok) {
		snprintf(err, errlen,
		         "manifest lacks a valid config or layers (schema 1 manifests "
		         "are not supported)");
		json_decref(m);
		return NULL;
	}
	return m;
}

const json_t *img_index_pick(const json_t *index)
{
	const json_t *e, *fallback = NULL;
	size_t i;
	json_array_foreach(json_object_get(index, "manifests"), i, e)
	{
		const json_t *pl = json_object_get(e, "platform");
		const char *os = json_string_value(json_object_get(pl, "os"));
		const char *arch = json_string_value(json_object_get(pl, "architecture"));
		if (!digest_field(e) || !os || !arch || strcmp(os, "linux") ||
		    strcmp(arch, "amd64"))
			continue;
		const char *variant = json_string_value(json_object_get(pl, "variant"));
		if (!variant || !strcmp(variant, "v1"))
			return e;
		fallback = fallback ? fallback : e;
	}
	return fallback;
}

/* Fill out from the manifest mdigest, unpacking layers as needed. */
static int img_resolve(img_store *s, const char *mdigest, img *out, char *err, size_t errlen)
{
	size_t len;
	char *text = img_blob_read(s, mdigest, &len, err, errlen);
	json_t *m = text ? img_manifest_parse(text, len, err, errlen) : NULL, *cfg = NULL;
	free(text);
	if (!m)
		return -1;
	int rc = -1;
	const char *cd = json_string_value(json_object_get(json_object_get(m, "config"), "digest"));
	if (!cd) {
		snprintf(err, errlen, "manifest %s is an index, not an image manifest", mdigest);
		goto out;
	}
	text = img_blob_read(s, cd, &len, err, errlen);
	cfg = text ? json_loadb(text, len, 0, NULL) : NULL;
	free(text);
	if (!json_is_object(cfg)) {
		if (!err[0])
			snprintf(err, errlen, "image config %s is not a JSON object", cd);
		goto out;
	}
	json_t *layers = json_object_get(m, "layers"), *l;
	size_t i;
	out->layers = xcalloc(json_array_size(layers) + 1, sizeof *out->layers);
	json_array_foreach(layers, i, l)
	{
		const char *d = json_string_value(json_object_get(l, "digest"));
		const char *mt = json_string_value(json_object_get(l, "mediaType"));
		if (img_layer_ensure(s, d, mt, err, errlen) < 0)
			goto out;
		out->layers[out->n_layers++] = xasprintf("%s/layers/%s", s->dir, d + 7);
	}
	json_t *c = json_object_get(cfg, "config");
	out->config = json_is_object(c) ? json_incref(c) : json_object();
	snprintf(out->id, sizeof out->id, "%s", cd);
	rc = 0;
out:
	if (rc < 0)
		img_free(out);
	json_decref(cfg);
	json_decref(m);
	return rc;
}

int img_get(img_store *s, const char *ref, const char *policy, const json_t *auths, img *out,
            const char **reason, char *msg, size_t msglen)
{
	char norm[512], md[80], why[1536] = "";
	memset(out, 0, sizeof *out);
	*reason = NULL;
	msg[0] = 0;
	if (img_normalize(ref, norm, sizeof norm) < 0) {
		*reason = "InvalidImageName";
		snprintf(msg, msglen,
		         "Failed to apply default image tag \"%s\": couldn't parse image reference "
		         "\"%s\": invalid reference format",
		         ref, ref);
		return -1;
	}
	if (!policy)
		policy = img_default_policy(norm);
	if (strcmp(policy, "Always") && strcmp(policy, "IfNotPresent") && strcmp(policy, "Never")) {
		*reason = "ErrImagePull";
		snprintf(msg, msglen, "unknown image pull policy \"%s\"", policy);
		return -1;
	}
	snprintf(out->ref, sizeof out->ref, "%s", norm);
	img_claim(s, norm);
	int rc = -1;
	if (strcmp(policy, "Always") && img_ref_read(s, norm, md, sizeof md) == 0 &&
	    img_resolve(s, md, out, why, sizeof why) == 0) {
		rc = 0;
	} else if (!strcmp(policy, "Never")) {
		*reason = "ErrImageNeverPull";
		snprintf(msg, msglen,
		         "Container image \"%s\" is not present with pull policy of Never", ref);
	} else {
		why[0] = 0;
		if (img_pull(s, norm, auths, md, sizeof md, why, sizeof why) == 0 &&
		    img_resolve(s, md, out, why, sizeof why) == 0) {
			rc = 0;
		} else {
			*reason = "ErrImagePull";
			snprintf(msg, msglen, "failed to pull \"%s\": %s", ref, why);
		}
	}
	img_release(s, norm);
	snprintf(out->ref, sizeof out->ref, "%s", norm);
	return rc;
}

/* Add the refs under DIR/refs/rel (recursively) to the list. */
static void list_dir(img_store *s, const char *rel, img_info **v, size_t *n, size_t *cap)
{
	char *path = xasprintf("%s/refs%s%s", s->dir, *rel ? "/" : "", rel);
	DIR *d = opendir(path);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		const char *nm = de->d_name;
		if (nm[0] == '.')
			continue;
		if (nm[0] != ':' && nm[0] != '@') {
			char *sub = xasprintf("%s%s%s", rel, *rel ? "/" : "", nm);
			list_dir(s, sub, v, n, cap);
			free(sub);
			continue;
		}
		img_info in = {0};
		char err[512];
		size_t len;
		snprintf(in.ref, sizeof in.ref, "%s%s", rel, nm);
		if (img_ref_read(s, in.ref, in.manifest, sizeof in.manifest) < 0)
			continue;
		char *text = img_blob_read(s, in.manifest, &len, err, sizeof err);
		json_t *m = text ? img_manifest_parse(text, len, err, sizeof err) : NULL, *l;
		free(text);
		json_t *cfg = json_object_get(m, "config");
		snprintf(in.id, sizeof in.id, "%s",
		         json_string_value(json_object_get(cfg, "digest")) ?: "");
		size_t i;
		json_array_foreach(json_object_get(m, "layers"), i, l)
		{
			in.size += json_integer_value(json_object_get(l, "size"));
		}
		json_decref(m);
		if (*n == *cap)
			*v = xrealloc(*v, (*cap = *cap ? 2 * *cap : 16) * sizeof **v);
		(*v)[(*n)++] = in;
	}
	if (d)
		closedir(d);
	free(path);
}

static int info_cmp(const void *a, const void *b)
{
	return strcmp(((const img_info *)a)->ref, ((const img_info *)b)->ref);
}

int img_list(img_store *s, img_info **out, size_t *n)
{
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	list_dir(s, "", out, n, &cap);
	if (*n)
		qsort(*out, *n, sizeof **out, info_cmp);
	return 0;
}
