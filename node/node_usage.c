/*
 * node_usage.c - CPU and memory of the node (/proc/stat, /proc/meminfo) and
 * of its pods and containers (their cgroups, v1 or v2), the pods found by
 * their log directories, and CPU rates between two readings. See
 * node_usage.h for the files read.
 */
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube9/map.h"
#include "kube9/util.h"
#include "node_logs.h"
#include "node_usage.h"

const char *node_usage_cgroup_root = "/sys/fs/cgroup";
const char *node_usage_proc_root = "/proc";

/* A small text file's contents into buf; false when it cannot be read. */
static bool read_small(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t got = fread(buf, 1, n - 1, f);
	fclose(f);
	buf[got] = 0;
	return true;
}

static bool read_u64(const char *path, uint64_t *v)
{
	char b[64];
	char *end;
	if (!read_small(path, b, sizeof b))
		return false;
	*v = strtoull(b, &end, 10);
	return end != b;
}

/* The value of "key N" in a file of such lines (memory.stat, cpu.stat, meminfo). */
static bool stat_key(const char *path, const char *key, uint64_t *v)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	char line[256];
	size_t kl = strlen(key);
	bool found = false;
	while (!found && fgets(line, sizeof line, f))
		if (!strncmp(line, key, kl) && (line[kl] == ' ' || line[kl] == '\t')) {
			*v = strtoull(line + kl + 1, NULL, 10);
			found = true;
		}
	fclose(f);
	return found;
}

static void working_set(node_usage_cg *c, uint64_t inactive)
{
	c->mem_ws = c->mem_usage > inactive ? c->mem_usage - inactive : 0;
}

/* The directory of cgroup rel that exists (v2, or v1's memory or cpuacct); false if none. */
static bool cg_dir(const char *root, const char *rel, char *out, size_t n)
{
	static const char *const under[] = {"", "/memory", "/cpuacct"};
	char p[1024];
	snprintf(p, sizeof p, "%s/cgroup.controllers", root);
	bool v2 = access(p, F_OK) == 0;
	for (int i = v2 ? 0 : 1; i < (v2 ? 1 : 3); i++) {
		struct stat st;
		snprintf(out, n, "%s%s/%s", root, under[i], rel);
		if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
			return true;
	}
	return false;
}

int node_usage_cgroup(const char *root, const char *rel, node_usage_cg *out)
{
	char p[1024];
	struct stat st;
	uint64_t v, inactive = 0;
	memset(out, 0, sizeof *out);
	if (!cg_dir(root, rel, p, sizeof p) || stat(p, &st) < 0)
		return -1;
	out->start = st.st_mtim;
	snprintf(p, sizeof p, "%s/cgroup.controllers", root);
	if (access(p, F_OK) == 0) {
		snprintf(p, sizeof p, "%s/%s/cpu.stat", root, rel);
		if ((out->has_cpu = stat_key(p, "usage_usec", &v)))
			out->cpu_ns = v * 1000;
		snprintf(p, sizeof p, "%s/%s/memory.current", root, rel);
		out->has_mem = read_u64(p, &out->mem_usage);
		snprintf(p, sizeof p, "%s/%s/memory.stat", root, rel);
		stat_key(p, "inactive_file", &inactive);
	} else {
		snprintf(p, sizeof p, "%s/cpuacct/%s/cpuacct.usage", root, rel);
		out->has_cpu = read_u64(p, &out->cpu_ns);
		snprintf(p, sizeof p, "%s/memory/%s/memory.usage_in_bytes", root, rel);
		out->has_mem = read_u64(p, &out->mem_usage);
		snprintf(p, sizeof p, "%s/memory/%s/memory.stat", root, rel);
		stat_key(p, "total_inactive_file", &inactive);
	}
	working_set(out, inactive);
	return 0;
}

int node_usage_host(const char *proc, node_usage_cg *out)
{
	char p[512], line[512];
	memset(out, 0, sizeof *out);
	snprintf(p, sizeof p, "%s/stat", proc);
	FILE *f = fopen(p, "r");
	if (!f)
		return -1;
	unsigned long long t[8] = {0}; /* user nice system idle iowait irq softirq steal */
	if (fgets(line, sizeof line, f) &&
	    sscanf(line, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &t[0], &t[1], &t[2], &t[3],
	           &t[4], &t[5], &t[6], &t[7]) >= 4) {
		long hz = sysconf(_SC_CLK_TCK);
		uint64_t busy = t[0] + t[1] + t[2] + t[5] + t[6] + t[7];
		out->cpu_ns = busy * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100));
		out->has_cpu = true;
	}
	fclose(f);
	uint64_t total, free_, inactive = 0;
	snprintf(p, sizeof p, "%s/meminfo", proc);
	if (stat_key(p, "MemTotal:", &total) && stat_key(p, "MemFree:", &free_)) {
		stat_key(p, "Inactive(file):", &inactive);
		out->mem_usage = (total > free_ ? total - free_ : 0) * 1024;
		working_set(out, inactive * 1024);
		out->has_mem = true;
	}
	return out->has_cpu || out->has_mem ? 0 : -1;
}

static int by_ctr(const void *a, const void *b)
{
	return strcmp(((const node_usage_ctr *)a)->name, ((const node_usage_ctr *)b)->name);
}

static int by_pod(const void *a, const void *b)
{
	const node_usage_pod *x = a, *y = b;
	int c = strcmp(x->ns, y->ns);
	return c ? c : strcmp(x->name, y->name);
}

/* The containers of pod p: the directories in its cgroup. */
static void pod_containers(const char *cg_root, const char *rel, node_usage_pod *p)
{
	char dir[1024];
	if (!cg_dir(cg_root, rel, dir, sizeof dir))
		return;
	DIR *d = opendir(dir);
	if (!d)
		return;
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char sub[1200];
		if (de->d_name[0] == '.' || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		snprintf(sub, sizeof sub, "%s/%s", rel, de->d_name);
		node_usage_cg cg;
		if (node_usage_cgroup(cg_root, sub, &cg) < 0 || (!cg.has_cpu && !cg.has_mem))
			continue;
		if (p->nctrs == cap) {
			cap = cap ? cap * 2 : 4;
			p->ctrs = xrealloc(p->ctrs, cap * sizeof *p->ctrs);
		}
		p->ctrs[p->nctrs++] = (node_usage_ctr){xstrdup(de->d_name), cg};
	}
	closedir(d);
	if (p->nctrs)
		qsort(p->ctrs, p->nctrs, sizeof *p->ctrs, by_ctr);
}

node_usage_pod *node_usage_pods(const char *cg_root, const char *state_dir, size_t *n)
{
	char logs[1024];
	node_usage_pod *v = NULL;
	size_t cap = 0;
	*n = 0;
	snprintf(logs, sizeof logs, "%s/logs", state_dir);
	DIR *d = opendir(logs);
	if (!d)
		return NULL;
	struct dirent *de;
	while ((de = readdir(d))) {
		char ns[256], name[256], uid[256];
		if (!node_logs_dir_split(de->d_name, ns, name, uid, sizeof ns))
			continue;
		char rel[512];
		snprintf(rel, sizeof rel, "kube9/pod%s", uid);
		node_usage_pod p = {0};
		if (node_usage_cgroup(cg_root, rel, &p.cg) < 0)
			continue;
		p.ns = xstrdup(ns);
		p.name = xstrdup(name);
		p.uid = xstrdup(uid);
		pod_containers(cg_root, rel, &p);
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[(*n)++] = p;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof *v, by_pod);
	return v;
}

void node_usage_pods_free(node_usage_pod *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < p[i].nctrs; j++)
			free(p[i].ctrs[j].name);
		free(p[i].ctrs);
		free(p[i].ns);
		free(p[i].name);
		free(p[i].uid);
	}
	free(p);
}

/* The last sample of each counter a rate was asked of; guarded by rate_lock. */
typedef struct sample {
	uint64_t at_ns, usage_ns;
} sample;
static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
static k9_map rates;
static uint64_t pruned_ns;

/* Forget the samples of counters not asked of for 10 minutes (pods gone). */
static void prune_old(const char *key, void *val, void *arg)
{
	sample *s = val;
	if (*(uint64_t *)arg - s->at_ns > 600000000000ull)
		free(k9_map_del(&rates, key));
}

bool node_usage_rate(const char *key, uint64_t usage_ns, uint64_t *nanocores)
{
	uint64_t now = k9_mono_ns();
	bool have = false;
	pthread_mutex_lock(&rate_lock);
	if (now - pruned_ns > 60000000000ull) {
		k9_map_each_kv(&rates, prune_old, &now);
		pruned_ns = now;
	}
	sample *s = k9_map_get(&rates, key);
	if (!s) {
		s = xmalloc(sizeof *s);
		*s = (sample){now, usage_ns};
		k9_map_put(&rates, key, s);
	} else {
		uint64_t age = now - s->at_ns;
		if (age >= 50000000ull && usage_ns >= s->usage_ns) {
			*nanocores =
			    (uint64_t)((double)(usage_ns - s->usage_ns) * 1e9 / (double)age);
			have = true;
		}
		/* a counter that went back is a new cgroup of that name */
		if (age >= 1000000000ull || usage_ns < s->usage_ns)
			*s = (sample){now, usage_ns};
	}
	pthread_mutex_unlock(&rate_lock);
	return have;
}

json_t *node_usage_node_status(void)
{
	node_usage_cg c;
	uint64_t nc = 0;
	if (node_usage_host(node_usage_proc_root, &c) < 0)
		return NULL;
	if (!node_usage_rate("node-status", c.cpu_ns, &nc)) {
		usleep(100000);
		if (node_usage_host(node_usage_proc_root, &c) < 0)
			return NULL;
		node_usage_rate("node-status", c.cpu_ns, &nc);
	}
	char cpu[32], mem[32];
	snprintf(cpu, sizeof cpu, "%" PRIu64 "m", nc / 1000000);
	snprintf(mem, sizeof mem, "%" PRIu64, c.mem_ws);
	return json_pack("{s:s,s:s}", "cpu", cpu, "memory", mem);
}
