/*
 * img.h - a node's image store: content-addressed blobs, layers unpacked
 * once and shared by every container, and pulls from OCI / Docker
 * Registry v2 registries. Internal to node/.
 *
 *   DIR/blobs/sha256/HEX      manifests, configs and layer tarballs, verified
 *   DIR/layers/HEX/           a layer unpacked (overlayfs whiteouts), HEX =
 *                             the layer blob's digest; read-only once done
 *   DIR/refs/...              image reference -> manifest digest
 *
 * A container's rootfs is an overlay of its image's layers (bottom first)
 * with an upper directory of its own; the store never writes outside DIR.
 */
#ifndef KUBE9_IMG_H
#define KUBE9_IMG_H

#include <jansson.h>
#include <stddef.h>

typedef struct img_store img_store;

typedef struct img {
	char ref[512]; /* normalized: "docker.io/library/busybox:1.35" */
	char id[80];   /* "sha256:HEX" of the image config (status.imageID) */
	char **layers; /* unpacked layer dirs, bottom first, NULL-terminated */
	int n_layers;
	json_t *config; /* the image config's "config": Entrypoint, Cmd, Env, WorkingDir, User */
} img;

/* Open (creating) the store at dir. NULL with err filled on failure. */
img_store *img_open(const char *dir, char *err, size_t errlen);
void img_close(img_store *s);

/*
 * Make ref present as policy says ("Always", "IfNotPresent", "Never"; NULL:
 * Kubernetes' default for the tag) and fill out. auths is the "auths" object
 * of a kubernetes.io/dockerconfigjson secret (NULL: anonymous); bearer token
 * and basic auth are both answered. Returns 0; or -1 with reason set to
 * "ErrImagePull", "ErrImageNeverPull" or "InvalidImageName" and msg to the
 * registry's own words where there are some.
 */
int img_get(img_store *s, const char *ref, const char *policy, const json_t *auths, img *out,
            const char **reason, char *msg, size_t msglen);
void img_free(img *i);

/* Import an OCI image layout directory (index.json, blobs/) as ref. */
int img_import(img_store *s, const char *layout_dir, const char *ref, char *err, size_t errlen);

/* One stored image, as img_list tells it. */
typedef struct img_info {
	char ref[512];     /* normalized reference */
	char manifest[80]; /* "sha256:HEX" of its manifest */
	char id[80];       /* "sha256:HEX" of its config */
	long long size;    /* the layers' compressed sizes added up */
} img_info;

/* Every stored reference, sorted; *out is malloc'd (free it). Returns 0. */
int img_list(img_store *s, img_info **out, size_t *n);

/*
 * Registries ("host:port", comma separated) pulled from over plain HTTP when
 * HTTPS fails, besides loopback ones and env KUBE9_INSECURE_REGISTRIES.
 */
void img_set_insecure(img_store *s, const char *hosts);

/* "busybox" -> "docker.io/library/busybox:latest"; -1 if it is not a reference. */
int img_normalize(const char *ref, char *out, size_t len);

#endif
