/*
 * img_int.h - the image store's private interface, shared by its files
 * (img_store.c, img_pull.c, img_auth.c, img_ref.c, img_layer.c) and exposed
 * to tests/unit/test_img.c: reference parts, pull policy, registry auth
 * helpers, the blob writer and layer unpacking.
 *
 * Errors: functions that can fail return -1 and write one sentence into a
 * caller's (err, errlen); only the top (img_get, the command) reports it.
 */
#ifndef KUBE9_IMG_INT_H
#define KUBE9_IMG_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "img.h"

/* Manifest media types answered by the registry and found in layouts. */
#define IMG_MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define IMG_MT_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define IMG_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define IMG_MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"

/* The largest manifest or config accepted into memory. */
#define IMG_MAX_JSON (8u << 20)

/* A normalized reference taken apart (img_ref.c). */
typedef struct img_refparts {
	char domain[256]; /* "docker.io", "127.0.0.1:5000", "[::1]:5000" */
	char path[256];   /* "library/busybox" */
	char tag[130];    /* "1.35"; "" when only a digest is given */
	char digest[80];  /* "sha256:HEX" or "" */
} img_refparts;

/* Split a reference (normalizing it first); -1 if it is not one. */
int img_ref_parts(const char *ref, img_refparts *p);
/* The host to talk to: "registry-1.docker.io" for docker.io, else the domain. */
const char *img_ref_host(const img_refparts *p);
/* "Always" for ":latest" without a digest, else "IfNotPresent" (Kubernetes' default). */
const char *img_default_policy(const char *normalized_ref);
/* true for "sha256:" and 64 lowercase hex digits. */
bool img_digest_valid(const char *digest);

/* A parsed WWW-Authenticate challenge (img_auth.c). */
typedef struct img_challenge {
	char scheme[16]; /* "Bearer" or "Basic" */
	char realm[1024];
	char service[256];
	char scope[512];
} img_challenge;

/* Parse a WWW-Authenticate header value; -1 if it is neither Bearer nor Basic. */
int img_auth_parse(const char *header, img_challenge *c);
/*
 * The credentials an "auths" object (dockerconfigjson) holds for host and
 * repository path: the longest matching key wins ("https://" prefixes, paths
 * and "*." host wildcards are understood; index.docker.io stands for
 * docker.io). 0 with *user and *pass malloc'd, -1 when there are none.
 */
int img_auth_lookup(const json_t *auths, const char *host, const char *path, char **user,
                    char **pass);
/* true for hosts pulled over plain HTTP when HTTPS fails: loopback, or listed in list/env. */
bool img_insecure_host(const char *host, const char *list);

/* img_store.c: the store's files. */
struct img_store {
	char *dir; /* absolute, symlink-free (libarchive's symlink checks walk it) */
	char *insecure;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char **busy; /* keys being worked on (refs, layers); protected by mu */
	size_t n_busy, cap_busy;
};

/* Wait until no other thread works on key, then own it; release gives it up. */
void img_claim(img_store *s, const char *key);
void img_release(img_store *s, const char *key);

/* DIR/blobs/sha256/HEX of a valid digest, malloc'd; NULL for an invalid one. */
char *img_blob_path(img_store *s, const char *digest);
bool img_blob_has(img_store *s, const char *digest);
/* A whole blob into memory (at most IMG_MAX_JSON bytes); NULL with err. */
char *img_blob_read(img_store *s, const char *digest, size_t *len, char *err, size_t errlen);

/*
 * A blob being written: to a temp file beside its final place, hashed on the
 * way; commit checks the digest, fsyncs and renames it into place.
 */
typedef struct img_blob_w img_blob_w;
img_blob_w *img_blob_begin(img_store *s, char *err, size_t errlen);
int img_blob_write(img_blob_w *w, const void *p, size_t n);
/*
 * Frees w. The blob's digest into digest_out (>= 72 bytes, may be NULL); -1
 * on a mismatch with want (when not NULL; the message names both) or I/O error.
 */
int img_blob_commit(img_blob_w *w, const char *want, char *digest_out, char *err, size_t errlen);
/* Remove a directory tree (a failed unpack, a stale temp dir); never crosses a symlink. */
void img_rm_tree(const char *dir);
void img_blob_abort(img_blob_w *w);
/* Store p[0..n) as a blob; its digest into digest_out (>= 72 bytes). want may be NULL. */
int img_blob_put(img_store *s, const void *p, size_t n, const char *want, char *digest_out,
                 char *err, size_t errlen);
/* "sha256:HEX" of p[0..n), into out (>= 72 bytes). */
void img_sha256(const void *p, size_t n, char *out);

/* The manifest digest DIR/refs/... names for a normalized ref; -1 if none. */
int img_ref_read(img_store *s, const char *ref, char *digest, size_t len);
int img_ref_write(img_store *s, const char *ref, const char *digest, char *err, size_t errlen);

/* Parse manifest JSON; its config digest and layers (digest, mediaType) are checked. */
json_t *img_manifest_parse(const char *text, size_t len, char *err, size_t errlen);
/* The linux/amd64 entry of an index or manifest list; NULL if none. */
const json_t *img_index_pick(const json_t *index);

/*
 * Unpack the tarball at blob (gzip or plain) into dir, which must exist and
 * be absolute and symlink-free: entries with ".." are refused, absolute ones
 * land inside dir, nothing is written through a symlink, OCI whiteouts become
 * overlayfs ones. -1 with err (the layer is then unusable).
 */
int img_layer_unpack(const char *blob, const char *dir, char *err, size_t errlen);
/* Unpack the layer blob digest into DIR/layers/HEX unless it is there. */
int img_layer_ensure(img_store *s, const char *digest, const char *media_type, char *err,
                     size_t errlen);
/* true for the layer media types unpacked (tar, tar+gzip, tar+zstd, docker's). */
bool img_layer_type_ok(const char *media_type);

/*
 * Fetch ref (normalized) from its registry into the store: the manifest
 * (an index picks linux/amd64), config and layer blobs, and the ref file.
 * 0 with the manifest digest in digest; -1 with msg (the registry's words).
 */
int img_pull(img_store *s, const char *ref, const json_t *auths, char *digest, size_t dlen,
             char *msg, size_t msglen);

#endif
