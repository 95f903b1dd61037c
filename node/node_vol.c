/*
 * node_vol.c - a pod's volumes and its containers' environment, read from
 * the tree (only the pod's own namespace: a pod cannot name another's).
 *
 *   emptyDir                DIR/pods/UID/volumes/NAME (tmpfs for medium Memory)
 *   hostPath                the host's path (type checks as Kubernetes')
 *   configMap, secret       files of the keys (items/defaultMode); secrets on
 *                           tmpfs, mode 0400 unless defaultMode says otherwise
 *   persistentVolumeClaim   the bound PersistentVolume's hostPath or local path
 *
 * (The containers' environment, from the same objects: node_env.c.)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube9/obj.h"
#include "kube9/tree.h"
#include "kube9/util.h"
#include "node_crun.h"

json_t *node_vol_read(const node_pod_ref *r, const char *res, const char *name)
{
	char path[1024];
	tree_path(path, sizeof path, res, tree_meta(r->pod, "namespace"), name, "json");
	return tree_read_json(path);
}

static void add_b64(json_t *out, const char *k, const char *s)
{
	unsigned char *b;
	size_t n;
	if (k9_b64_decode(s, strlen(s), &b, &n) == 0) {
		json_object_set_new(out, k, json_stringn_nocheck((char *)b, n));
		free(b);
	}
}

/* key -> bytes of a ConfigMap (data, binaryData) or Secret (data, stringData). */
json_t *node_vol_data(const json_t *o, bool secret)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(o, "data"), k, v)
	{
		if (secret)
			add_b64(out, k, json_string_value(v) ?: "");
		else
			json_object_set(out, k, v);
	}
	json_object_foreach(json_object_get(o, secret ? "stringData" : "binaryData"), k, v)
	{
		if (secret)
			json_object_set(out, k, v);
		else
			add_b64(out, k, json_string_value(v) ?: "");
	}
	return out;
}

static int write_key(const char *dir, const char *rel, const json_t *val, int mode, char *err,
                     size_t n)
{
	if (strstr(rel, "..") || rel[0] == '/') {
		snprintf(err, n, "item path %s: must be relative and may not contain '..'", rel);
		return -1;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	char *slash = strrchr(path, '/');
	*slash = 0;
	k9_mkdir_p(path, 0755);
	*slash = '/';
	if (k9_replace_file(path, json_string_value(val), json_string_length(val), mode) < 0) {
		snprintf(err, n, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int project(const node_pod_ref *r, const json_t *src, bool secret, const char *dir,
                   char *err, size_t n)
{
	const char *name = obj_str(src, secret ? "secretName" : "name");
	bool optional = json_is_true(json_object_get(src, "optional"));
	json_t *o = name ? node_vol_read(r, secret ? "secrets" : "configmaps", name) : NULL;
	if (!o) {
		if (optional)
			return 0;
		snprintf(err, n, "%s \"%s\" not found", secret ? "secret" : "configmap",
		         name ? name : "");
		return -1;
	}
	json_t *data = node_vol_data(o, secret);
	const json_t *dm = json_object_get(src, "defaultMode");
	int mode = json_is_integer(dm) ? (int)json_integer_value(dm) : secret ? 0400 : 0644;
	int rc = 0;
	const json_t *items = json_object_get(src, "items");
	if (json_array_size(items)) {
		size_t i;
		const json_t *it;
		json_array_foreach(items, i, it)
		{
			const json_t *val = json_object_get(data, obj_str(it, "key") ?: "");
			if (!val) {
				snprintf(err, n, "%s \"%s\" has no key \"%s\"",
				         secret ? "secret" : "configmap", name,
				         obj_str(it, "key") ?: "");
				rc = -1;
				break;
			}
			const json_t *m = json_object_get(it, "mode");
			if ((rc = write_key(dir, obj_str(it, "path") ?: obj_str(it, "key"), val,
			                    json_is_integer(m) ? (int)json_integer_value(m) : mode,
			                    err, n)))
				break;
		}
	} else {
		const char *k;
		json_t *v;
		json_object_foreach(data, k,
		                    v) if ((rc = write_key(dir, k, v, mode, err, n))) break;
	}
	json_decref(data);
	json_decref(o);
	return rc;
}

static bool is_mountpoint(const char *dir)
{
	struct stat a, b;
	char up[4200];
	snprintf(up, sizeof up, "%s/..", dir);
	return stat(dir, &a) == 0 && stat(up, &b) == 0 && a.st_dev != b.st_dev;
}

static int tmpfs(const char *dir, const char *size, char *err, size_t n)
{
	if (is_mountpoint(dir))
		return 0;
	char opts[128];
	snprintf(opts, sizeof opts, "mode=0755%s%s", size ? ",size=" : "", size ? size : "");
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
		snprintf(err, n, "tmpfs on %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

static int host_path(const json_t *hp, char *err, size_t n)
{
	const char *path = obj_str(hp, "path"), *type = obj_str(hp, "type") ?: "";
	struct stat st;
	bool there = path && stat(path, &st) == 0;
	if (!path || path[0] != '/') {
		snprintf(err, n, "hostPath.path %s: must be absolute", path ? path : "(none)");
		return -1;
	}
	if (!strcmp(type, "DirectoryOrCreate") && !there)
		return k9_mkdir_p(path, 0755) < 0
		           ? (snprintf(err, n, "mkdir %s: %s", path, strerror(errno)), -1)
		           : 0;
	if (!strcmp(type, "Directory") && (!there || !S_ISDIR(st.st_mode))) {
		snprintf(err, n, "hostPath type check failed: %s is not a directory", path);
		return -1;
	}
	if (!strcmp(type, "File") && (!there || !S_ISREG(st.st_mode))) {
		snprintf(err, n, "hostPath type check failed: %s is not a file", path);
		return -1;
	}
	return 0;
}

/* A claim's bound volume's path on this host. */
static char *claim_path(const node_pod_ref *r, const json_t *src, char *err, size_t n)
{
	const char *cn = obj_str(src, "claimName") ?: "";
	json_t *pvc = node_vol_read(r, "persistentvolumeclaims", cn);
	const char *vn = obj_str(json_object_get(pvc, "spec"), "volumeName");
	const char *phase = obj_str(json_object_get(pvc, "status"), "phase");
	if (!pvc || !vn || !phase || strcmp(phase, "Bound")) {
		snprintf(err, n, "persistentvolumeclaim \"%s\" %s", cn,
		         pvc ? "is not bound" : "not found");
		json_decref(pvc);
		return NULL;
	}
	char path[1024];
	tree_path(path, sizeof path, "persistentvolumes", NULL, vn, "json");
	json_t *pv = tree_read_json(path);
	json_decref(pvc);
	const json_t *spec = json_object_get(pv, "spec");
	const json_t *hp = json_object_get(spec, "hostPath");
	const char *p = hp ? obj_str(hp, "path") : obj_str(json_object_get(spec, "local"), "path");
	char *out = NULL;
	if (!p)
		snprintf(err, n, "persistentvolume \"%s\" has no hostPath or local path", vn);
	else if (hp && host_path(hp, err, n) < 0)
		;
	else if (!hp && access(p, F_OK) < 0)
		snprintf(err, n, "persistentvolume \"%s\": local path %s: %s", vn, p,
		         strerror(errno));
	else
		out = xstrdup(p);
	json_decref(pv);
	return out;
}

json_t *node_vol_setup(const node_pod_ref *r, char *err, size_t n)
{
	json_t *vols = json_object();
	size_t i;
	const json_t *v;
	json_array_foreach(json_object_get(json_object_get(r->pod, "spec"), "volumes"), i, v)
	{
		const char *name = obj_str(v, "name") ?: "";
		char dir[4200];
		snprintf(dir, sizeof dir, "%s/volumes/%s", r->dir, name);
		const json_t *s;
		char *path = NULL;
		int rc = 0;
		bool ro = false;
		if ((s = json_object_get(v, "emptyDir"))) {
			k9_mkdir_p(dir, 0777);
			chmod(dir, 0777);
			if (!strcmp(obj_str(s, "medium") ?: "", "Memory"))
				rc = tmpfs(dir, obj_str(s, "sizeLimit"), err, n);
			path = xstrdup(dir);
		} else if ((s = json_object_get(v, "hostPath"))) {
			rc = host_path(s, err, n);
			path = xstrdup(obj_str(s, "path") ?: "");
		} else if ((s = json_object_get(v, "configMap")) ||
		           (s = json_object_get(v, "secret"))) {
			bool secret = json_object_get(v, "secret") != NULL;
			k9_mkdir_p(dir, 0755);
			rc = tmpfs(dir, "16m", err, n);
			if (!rc)
				rc = project(r, s, secret, dir, err, n);
			path = xstrdup(dir);
			ro = true;
		} else if ((s = json_object_get(v, "persistentVolumeClaim"))) {
			path = claim_path(r, s, err, n);
			rc = path ? 0 : -1;
			ro = json_is_true(json_object_get(s, "readOnly"));
		} else {
			snprintf(err, n,
			         "volume \"%s\": only emptyDir, hostPath, configMap, secret and "
			         "persistentVolumeClaim are supported",
			         name);
			rc = -1;
		}
		if (rc) {
			free(path);
			json_decref(vols);
			return NULL;
		}
		json_object_set_new(vols, name, json_pack("{s:s,s:b}", "path", path, "ro", ro));
		free(path);
	}
	return vols;
}

/*
 * Walk subPath inside the volume without following a symlink anywhere,
 * making the directories that are missing: a container may have made one
 * of them a symlink to the host's /. (crun mounts the path later; a
 * container racing it could still swap a directory for a symlink.)
 */
static int sub_path(const char *root, const char *sub)
{
	int fd = open(root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char *copy = xstrdup(sub), *save = NULL;
	for (char *t = strtok_r(copy, "/", &save); t && fd >= 0; t = strtok_r(NULL, "/", &save)) {
		int nfd = -1;
		struct stat st;
		/* missing: made a directory (as Kubernetes does); there: never followed */
		if (mkdirat(fd, t, 0755) == 0 || errno == EEXIST) {
			nfd = openat(fd, t, O_PATH | O_NOFOLLOW | O_CLOEXEC);
			if (nfd >= 0 && (fstat(nfd, &st) < 0 || S_ISLNK(st.st_mode))) {
				close(nfd);
				nfd = -1;
				errno = ELOOP;
			}
		}
		int e = errno;
		close(fd);
		errno = e;
		fd = nfd;
	}
	free(copy);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

json_t *node_vol_mounts(const json_t *ctr, const json_t *vols, char *err, size_t n)
{
	json_t *m = json_array();
	size_t i;
	const json_t *vm;
	json_array_foreach(json_object_get(ctr, "volumeMounts"), i, vm)
	{
		const char *name = obj_str(vm, "name") ?: "", *dst = obj_str(vm, "mountPath") ?: "";
		const json_t *v = json_object_get(vols, name);
		if (!v || dst[0] != '/') {
			snprintf(err, n, "volumeMount %s: %s", name,
			         v ? "mountPath must be absolute" : "no such volume in the pod");
			json_decref(m);
			return NULL;
		}
		char src[4200];
		const char *sub = obj_str(vm, "subPath");
		if (sub && *sub) {
			if (strstr(sub, "..") || sub[0] == '/') {
				snprintf(err, n,
				         "volumeMount %s: subPath must be relative, without '..'",
				         name);
				json_decref(m);
				return NULL;
			}
			snprintf(src, sizeof src, "%s/%s", obj_str(v, "path"), sub);
			if (sub_path(obj_str(v, "path"), sub) < 0) {
				snprintf(
				    err, n,
				    "volumeMount %s: subPath %s: %s (a symlink may not lead it "
				    "out of its volume)",
				    name, sub, strerror(errno));
				json_decref(m);
				return NULL;
			}
		} else
			snprintf(src, sizeof src, "%s", obj_str(v, "path"));
		bool ro = json_is_true(json_object_get(vm, "readOnly")) ||
		          json_is_true(json_object_get(v, "ro"));
		json_array_append_new(m, json_pack("{s:s,s:s,s:s,s:[s,s,s]}", "destination", dst,
		                                   "type", "bind", "source", src, "options",
		                                   "rbind", "rprivate", ro ? "ro" : "rw"));
	}
	return m;
}

void node_vol_teardown(const char *dir)
{
	char vd[4200];
	snprintf(vd, sizeof vd, "%s/volumes", dir);
	DIR *d = opendir(vd);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			char p[4500];
			snprintf(p, sizeof p, "%s/%s", vd, de->d_name);
			umount2(p, MNT_DETACH);
		}
	closedir(d);
}
