/*
 * node_host.c - this host as a node for the crun runtime: its capacity,
 * the agent's own mount namespace, the state directories, and the janitor
 * that removes what pods deleted while no agent ran left behind.
 *
 * The agent runs in a private mount namespace: the rootfs overlays and the
 * tmpfs of secrets it mounts live and die with it (containers keep their
 * own copies), and on a host whose cgroups are in hybrid mode the cgroup2
 * tree at /sys/fs/cgroup/unified is unmounted there so that crun uses the
 * v1 controllers, memory limits included.
 */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "kube9/tree.h"
#include "kube9/util.h"
#include "node_crun.h"
#include "node_logs.h"
#include "node_usage.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

int node_path(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(out, n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= n) {
		log_warn("path too long: %s...", out);
		return -1;
	}
	return r;
}

json_t *node_state_load(const char *dir, const char *name)
{
	char path[4400];
	if (node_path(path, sizeof path, "%s/%s", dir, name) < 0)
		return NULL;
	char *txt = k9_read_file(path, NULL);
	json_error_t je;
	json_t *o = txt ? json_loads(txt, 0, &je) : NULL;
	free(txt);
	return o;
}

int node_state_save(const char *dir, const char *name, json_t *o)
{
	char path[4400], *txt = json_dumps(o, JSON_COMPACT);
	int rc = node_path(path, sizeof path, "%s/%s", dir, name) < 0 || !txt
	             ? -1
	             : k9_replace_file(path, txt, strlen(txt), 0644);
	free(txt);
	json_decref(o);
	return rc;
}

void node_host_capacity(int64_t *milli_cpu, int64_t *mem_bytes)
{
	*milli_cpu = (int64_t)get_nprocs() * 1000;
	struct sysinfo si;
	*mem_bytes = sysinfo(&si) == 0 ? (int64_t)si.totalram * si.mem_unit : 0;
}

int node_host_init(const char *state_dir, const char *bridge, const char *cidr, double backoff)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		log_err("kube9 node: a private mount namespace: %s (run as root)", strerror(errno));
		return -1;
	}
	struct statfs a, b;
	if (statfs("/sys/fs/cgroup", &a) == 0 && (unsigned long)a.f_type == TMPFS_MAGIC &&
	    statfs("/sys/fs/cgroup/unified", &b) == 0 &&
	    (unsigned long)b.f_type == CGROUP2_SUPER_MAGIC) {
		if (umount2("/sys/fs/cgroup/unified", MNT_DETACH) < 0)
			log_warn("kube9 node: cgroups in hybrid mode and /sys/fs/cgroup/unified "
			         "cannot be "
			         "unmounted: %s",
			         strerror(errno));
		else
			log_info("cgroups in hybrid mode: using v1 (cgroup2 unmounted in the "
			         "agent's namespace)");
	}
	static const char *const sub[] = {"pods", "logs", "crun", "cni", "images", NULL};
	for (int i = 0; sub[i]; i++) {
		char d[4200];
		node_path(d, sizeof d, "%s/%s", state_dir, sub[i]);
		if (k9_mkdir_p(d, 0700) < 0) {
			log_err("kube9 node: %s: %s", d, strerror(errno));
			return -1;
		}
	}
	node_crun.state_dir = state_dir;
	node_path(node_crun.crun_root, sizeof node_crun.crun_root, "%s/crun", state_dir);
	node_path(node_crun.cni_dir, sizeof node_crun.cni_dir, "%s/cni", state_dir);
	node_crun.bridge = bridge;
	node_crun.cidr = cidr;
	node_crun.backoff = backoff;
	node_crun.backoff_max = backoff * 30;
	static char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0) {
		log_err("kube9 node: /proc/self/exe: %s", strerror(errno));
		return -1;
	}
	self[n] = 0;
	/* kube9-shim beside us starts in a millisecond; else kube9 shim|pause */
	char *slash = strrchr(self, '/');
	char shim[4200];
	node_path(shim, sizeof shim, "%.*s/kube9-shim", (int)(slash - self), self);
	if (access(shim, X_OK) == 0)
		node_path(self, sizeof self, "%s", shim);
	else
		log_warn("kube9 node: %s is missing; pods' shims start as `kube9 shim` (slower)",
		         shim);
	node_crun.self = self;
	char d[4200], err[512];
	node_path(d, sizeof d, "%s/images", state_dir);
	if (!(node_crun.images = img_open(d, err, sizeof err))) {
		log_err("kube9 node: image store %s: %s", d, err);
		return -1;
	}
	return 0;
}

void node_host_cgroups_gone(const char *uid)
{
	DIR *d = opendir("/sys/fs/cgroup");
	struct dirent *de;
	char p[600];
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		node_path(p, sizeof p, "/sys/fs/cgroup/%s/kube9/pod%s", de->d_name, uid);
		rmdir(p);
	}
	if (d)
		closedir(d);
	node_path(p, sizeof p, "/sys/fs/cgroup/kube9/pod%s", uid);
	rmdir(p);
}

void node_crun_status(json_t *status)
{
	img_info *im = NULL;
	size_t n = 0;
	if (node_crun.images && img_list(node_crun.images, &im, &n) == 0) {
		json_t *list = json_array();
		for (size_t i = 0; i < n; i++) {
			char at[700];
			const char *colon = strrchr(im[i].ref, ':'),
			           *slash = strrchr(im[i].ref, '/');
			size_t repo = colon && (!slash || colon > slash)
			                  ? (size_t)(colon - im[i].ref)
			                  : strlen(im[i].ref);
			node_path(at, sizeof at, "%.*s@%s", (int)repo, im[i].ref, im[i].manifest);
			json_array_append_new(list,
			                      json_pack("{s:[s,s],s:I}", "names", at, im[i].ref,
			                                "sizeBytes", (json_int_t)im[i].size));
		}
		json_object_set_new(status, "images", list);
		free(im);
	}
	json_t *u = node_usage_node_status();
	if (u)
		json_object_set_new(status, "usage", u);
}

struct find {
	const char *uid;
	bool found;
};

static void find_uid(const char *key, void *val, void *arg)
{
	(void)key;
	struct find *f = arg;
	if (!strcmp(((node_pod *)val)->uid, f->uid))
		f->found = true;
}

static bool active(node_agent *a, const char *uid)
{
	struct find f = {uid, false};
	pthread_mutex_lock(&a->lock);
	k9_map_each_kv(&a->pods, find_uid, &f);
	pthread_mutex_unlock(&a->lock);
	return f.found;
}

/* What a pod nobody runs any more left: containers, sandbox, address, files. */
void node_host_clean_pod(const char *dir, const char *uid)
{
	char path[4400];
	node_path(path, sizeof path, "%s/ctr", dir);
	DIR *d = opendir(path);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		node_ctr c = {0};
		node_path(c.id, sizeof c.id, "k9-%s-%s", uid, de->d_name);
		node_path(c.dir, sizeof c.dir, "%s/%s", path, de->d_name);
		node_ctr_remove(&c); /* crun delete --force: killed if still running */
	}
	if (d)
		closedir(d);
	json_t *sb = node_state_load(dir, "sandbox.json");
	pid_t pause = (pid_t)json_integer_value(json_object_get(sb, "pid"));
	json_decref(sb);
	bool alive = pause > 0 && node_pid_is(pause, uid);
	node_net_del(uid, alive ? pause : 0);
	if (alive)
		kill(pause, SIGKILL);
	node_vol_teardown(dir);
	node_host_cgroups_gone(uid);
	k9_rm_rf(dir);
}

static void *janitor(void *arg)
{
	node_agent *a = arg;
	while (!a->pods_w.synced && !a->stop)
		usleep(100000);
	for (int round = 0; !a->stop; round++) {
		sleep(round ? 30 : 3);
		char pods[4200];
		node_path(pods, sizeof pods, "%s/pods", node_crun.state_dir);
		DIR *d = opendir(pods);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.' || active(a, de->d_name))
				continue;
			char dir[4500];
			node_path(dir, sizeof dir, "%s/%s", pods, de->d_name);
			log_info("pod %s: no longer bound here; removing what it left", de->d_name);
			node_host_clean_pod(dir, de->d_name);
		}
		if (d)
			closedir(d);
		/* logs of pods that are gone: NS_NAME_UID */
		node_path(pods, sizeof pods, "%s/logs", node_crun.state_dir);
		d = opendir(pods);
		while (d && (de = readdir(d))) {
			char ns[256], name[256], uid[256], key[520];
			if (!node_logs_dir_split(de->d_name, ns, name, uid, sizeof ns))
				continue;
			node_path(key, sizeof key, "%s/%s", ns, name);
			json_t *pod = tree_watch_get(&a->pods_w, key);
			bool keep = pod && !strcmp(tree_meta(pod, "uid"), uid);
			json_decref(pod);
			if (!keep) {
				char dir[4500];
				node_path(dir, sizeof dir, "%s/%s", pods, de->d_name);
				k9_rm_rf(dir);
			}
		}
		if (d)
			closedir(d);
	}
	return NULL;
}

void node_host_janitor(node_agent *a)
{
	pthread_t t;
	pthread_create(&t, NULL, janitor, a);
	pthread_detach(t);
}
