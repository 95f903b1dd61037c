/*
 * node_spec.c - a container's OCI runtime config (config.json for crun),
 * generated from its pod, its container spec and its image's config.
 *
 *   process   Kubernetes' rules for command/args against the image's
 *             Entrypoint/Cmd, $(VAR) expansion, env (image's, then the
 *             container's), workingDir, runAsUser/runAsGroup, capabilities
 *             (containerd's default set, then drop and add), noNewPrivileges
 *   root      the overlay rootfs; readOnlyRootFilesystem
 *   linux     memory limit, cpu shares (requests) and quota (limits); the
 *             pod sandbox's network, IPC and UTS namespaces joined, its own
 *             pid and mount namespaces; the cgroup kube9/pod<UID>/<NAME>
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube9/obj.h"
#include "kube9/util.h"
#include "node_crun.h"

static const char *const default_caps[] = {"CAP_CHOWN",
                                           "CAP_DAC_OVERRIDE",
                                           "CAP_FSETID",
                                           "CAP_FOWNER",
                                           "CAP_MKNOD",
                                           "CAP_NET_RAW",
                                           "CAP_SETGID",
                                           "CAP_SETUID",
                                           "CAP_SETFCAP",
                                           "CAP_SETPCAP",
                                           "CAP_NET_BIND_SERVICE",
                                           "CAP_SYS_CHROOT",
                                           "CAP_KILL",
                                           "CAP_AUDIT_WRITE",
                                           NULL};

static const json_t *get(const json_t *o, const char *k)
{
	return json_object_get(o, k);
}

/* Kubernetes' $(VAR) expansion: known names are replaced, $$ escapes, the rest is kept. */
char *node_spec_expand(const char *s, const json_t *env)
{
	k9_buf b = {0};
	for (const char *p = s; *p;) {
		if (p[0] == '$' && p[1] == '$') {
			buf_append(&b, "$", 1);
			p += 2;
			continue;
		}
		if (p[0] == '$' && p[1] == '(') {
			const char *end = strchr(p + 2, ')');
			if (end) {
				char name[256];
				size_t n = (size_t)(end - p - 2);
				if (n < sizeof name) {
					memcpy(name, p + 2, n);
					name[n] = 0;
					const char *v = obj_str(env, name);
					if (v) {
						buf_puts(&b, v);
						p = end + 1;
						continue;
					}
				}
			}
		}
		buf_append(&b, p, 1);
		p++;
	}
	buf_append(&b, "", 1);
	return buf_steal(&b, NULL);
}

static void add_strings(json_t *to, const json_t *from, const json_t *env)
{
	size_t i;
	const json_t *v;
	json_array_foreach(from, i, v)
	{
		if (!json_is_string(v))
			continue;
		char *s = node_spec_expand(json_string_value(v), env);
		json_array_append_new(to, json_string(s));
		free(s);
	}
}

/* argv by Kubernetes' rules; env is the final NAME -> value object. */
json_t *node_spec_argv(const json_t *ctr, const json_t *imgcfg, const json_t *env)
{
	json_t *argv = json_array();
	const json_t *cmd = get(ctr, "command"), *args = get(ctr, "args");
	if (json_array_size(cmd)) {
		add_strings(argv, cmd, env);
		add_strings(argv, args, env);
	} else {
		size_t i;
		const json_t *v;
		json_array_foreach(get(imgcfg, "Entrypoint"), i, v)
		    json_array_append(argv, (json_t *)v);
		if (json_array_size(args))
			add_strings(argv, args, env);
		else
			json_array_foreach(get(imgcfg, "Cmd"), i, v)
			    json_array_append(argv, (json_t *)v);
	}
	return argv;
}

static bool cap_in(const json_t *list, const char *cap)
{
	size_t i;
	const json_t *v;
	json_array_foreach(list, i, v)
	{
		const char *s = json_string_value(v);
		if (!s)
			continue;
		if (!strcasecmp(s, "ALL"))
			return true;
		const char *c = !strncasecmp(s, "CAP_", 4) ? s + 4 : s;
		if (!strcasecmp(c, cap + 4))
			return true;
	}
	return false;
}

static json_t *capabilities(const json_t *sc, bool root)
{
	const json_t *caps = get(sc, "capabilities");
	const json_t *drop = get(caps, "drop"), *add = get(caps, "add");
	json_t *set = json_array();
	for (int i = 0; default_caps[i]; i++)
		if (!cap_in(drop, default_caps[i]))
			json_array_append_new(set, json_string(default_caps[i]));
	size_t i;
	const json_t *v;
	json_array_foreach(add, i, v)
	{
		const char *s = json_string_value(v);
		if (!s || !strcasecmp(s, "ALL"))
			continue;
		char name[64];
		snprintf(name, sizeof name, "%s%s", strncasecmp(s, "CAP_", 4) ? "CAP_" : "", s);
		for (char *p = name; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		if (!cap_in(set, name))
			json_array_append_new(set, json_string(name));
	}
	json_t *none = json_array();
	json_t *o = json_pack("{s:O,s:O,s:O}", "bounding", set, "permitted", root ? set : none,
	                      "effective", root ? set : none);
	json_decref(set);
	json_decref(none);
	return o;
}

/* The container's securityContext field k, else the pod's. */
static const json_t *sc_get(const json_t *pod, const json_t *ctr, const char *k)
{
	const json_t *v = get(get(ctr, "securityContext"), k);
	return v ? v : get(get(get(pod, "spec"), "securityContext"), k);
}

static json_t *resources(const json_t *ctr)
{
	json_t *r = json_object();
	const json_t *lim = get(get(ctr, "resources"), "limits");
	const json_t *req = get(get(ctr, "resources"), "requests");
	int64_t milli;
	k9_err e;
	if (obj_str(lim, "memory") && obj_quantity_parse(obj_str(lim, "memory"), &milli, &e) == 0)
		json_object_set_new(r, "memory",
		                    json_pack("{s:I}", "limit", (json_int_t)(milli / 1000)));
	json_t *cpu = json_object();
	const char *rq = obj_str(req, "cpu") ? obj_str(req, "cpu") : obj_str(lim, "cpu");
	if (rq && obj_quantity_parse(rq, &milli, &e) == 0) {
		int64_t shares = milli * 1024 / 1000;
		json_object_set_new(cpu, "shares", json_integer(shares < 2 ? 2 : shares));
	}
	if (obj_str(lim, "cpu") && obj_quantity_parse(obj_str(lim, "cpu"), &milli, &e) == 0) {
		int64_t quota = milli * 100;
		json_object_set_new(cpu, "quota", json_integer(quota < 1000 ? 1000 : quota));
		json_object_set_new(cpu, "period", json_integer(100000));
	}
	if (json_object_size(cpu))
		json_object_set_new(r, "cpu", cpu);
	else
		json_decref(cpu);
	return r;
}

static json_t *mnt(const char *dst, const char *type, const char *src, const char *opts)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:[]}", "destination", dst, "type", type, "source", src,
	                      "options");
	char *copy = xstrdup(opts), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(json_object_get(o, "options"), json_string(t));
	free(copy);
	return o;
}

static json_t *std_mounts(const node_spec_in *in)
{
	char p[4096];
	json_t *m = json_array();
	json_array_append_new(m, mnt("/proc", "proc", "proc", "nosuid,noexec,nodev"));
	json_array_append_new(
	    m, mnt("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
	json_array_append_new(m, mnt("/dev/pts", "devpts", "devpts",
	                             "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"));
	json_array_append_new(
	    m, mnt("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"));
	json_array_append_new(m, mnt("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
	json_array_append_new(m, mnt("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
	json_array_append_new(
	    m, mnt("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid,noexec,nodev,relatime,ro"));
	static const char *const etc[] = {"hosts", "hostname", "resolv.conf", NULL};
	for (int i = 0; etc[i]; i++) {
		char dst[64];
		snprintf(p, sizeof p, "%s/%s", in->pod_dir, etc[i]);
		snprintf(dst, sizeof dst, "/etc/%s", etc[i]);
		json_array_append_new(m, mnt(dst, "bind", p, "rbind,rprivate,rw"));
	}
	size_t i;
	json_t *v;
	json_array_foreach(in->mounts, i, v) json_array_append(m, v);
	return m;
}

json_t *node_spec(const node_spec_in *in)
{
	const json_t *ctr = in->ctr, *pod = in->pod;
	json_t *envo = in->env; /* NAME -> value, in order */
	json_t *argv = node_spec_argv(ctr, in->img_config, envo);
	json_t *env = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(envo, k, v)
	{
		char *kv = xasprintf("%s=%s", k, json_string_value(v) ?: "");
		json_array_append_new(env, json_string(kv));
		free(kv);
	}
	json_int_t uid = 0, gid = 0;
	const json_t *u = sc_get(pod, ctr, "runAsUser"), *g = sc_get(pod, ctr, "runAsGroup");
	if (json_is_integer(u))
		uid = json_integer_value(u);
	else if (in->img_uid >= 0)
		uid = in->img_uid;
	if (json_is_integer(g))
		gid = json_integer_value(g);
	else if (in->img_gid >= 0)
		gid = in->img_gid;
	json_t *user = json_pack("{s:I,s:I}", "uid", uid, "gid", gid);
	const json_t *sup = get(get(get(pod, "spec"), "securityContext"), "supplementalGroups");
	if (json_array_size(sup))
		json_object_set(user, "additionalGids", (json_t *)sup);
	const char *cwd = obj_str(ctr, "workingDir");
	if (!cwd || !*cwd)
		cwd = obj_str(in->img_config, "WorkingDir");
	if (!cwd || !*cwd)
		cwd = "/";
	const json_t *sc = get(ctr, "securityContext");
	bool nnp = json_is_false(get(sc, "allowPrivilegeEscalation"));
	bool ro = json_is_true(get(sc, "readOnlyRootFilesystem"));
	char ns[3][64];
	snprintf(ns[0], sizeof ns[0], "/proc/%d/ns/net", in->sandbox_pid);
	snprintf(ns[1], sizeof ns[1], "/proc/%d/ns/ipc", in->sandbox_pid);
	snprintf(ns[2], sizeof ns[2], "/proc/%d/ns/uts", in->sandbox_pid);
	json_t *spec = json_pack(
	    "{s:s,s:{s:b,s:o,s:o,s:o,s:s,s:o,s:b},s:{s:s,s:b},s:o,s:{s:[{s:s},{s:s},{s:s,s:s},{s:s,"
	    "s:s},"
	    "{s:s,s:s}],s:s,s:o,s:[sssssssssss],s:[sssss]}}",
	    "ociVersion", "1.0.2", "process", "terminal", 0, "user", user, "args", argv, "env", env,
	    "cwd", cwd, "capabilities", capabilities(sc, uid == 0), "noNewPrivileges", nnp, "root",
	    "path", in->rootfs, "readonly", ro, "mounts", std_mounts(in), "linux", "namespaces",
	    "type", "pid", "type", "mount", "type", "network", "path", ns[0], "type", "ipc", "path",
	    ns[1], "type", "uts", "path", ns[2], "cgroupsPath", in->cgroup, "resources",
	    resources(ctr), "maskedPaths", "/proc/acpi", "/proc/asound", "/proc/kcore",
	    "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
	    "/proc/sched_debug", "/sys/firmware", "/proc/scsi", "/sys/devices/virtual/powercap",
	    "readonlyPaths", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
	    "/proc/sysrq-trigger");
	return spec;
}

/* "1000", "1000:1000", "root", "nobody:nogroup" against rootfs/etc/{passwd,group}. */
static long lookup(const char *rootfs, const char *file, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/etc/%s", rootfs, file);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[1024];
	long id = -1;
	size_t n = strlen(name);
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, name, n) && line[n] == ':') {
			char *p = strchr(line + n + 1, ':');
			if (p)
				id = strtol(p + 1, NULL, 10);
			break;
		}
	fclose(f);
	return id;
}

int node_spec_user(const char *rootfs, const char *user, long *uid, long *gid)
{
	*uid = *gid = -1;
	if (!user || !*user)
		return 0;
	char u[256];
	snprintf(u, sizeof u, "%s", user);
	char *grp = strchr(u, ':');
	if (grp)
		*grp++ = 0;
	char *end;
	*uid = strtol(u, &end, 10);
	if (*end || end == u)
		*uid = !strcmp(u, "root") ? 0 : lookup(rootfs, "passwd", u);
	if (*uid < 0)
		return -1;
	if (grp) {
		*gid = strtol(grp, &end, 10);
		if (*end || end == grp)
			*gid = lookup(rootfs, "group", grp);
		if (*gid < 0)
			return -1;
	}
	return 0;
}
