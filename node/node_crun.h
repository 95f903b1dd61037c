/*
 * node_crun.h - the crun runtime's parts. Internal to node/.
 *
 * Layout under the agent's state dir (--state-dir, DIR):
 *   DIR/pods/UID/            one pod: pod.json, sandbox.json, hosts, hostname,
 *                            resolv.conf, volumes/NAME, ctr/NAME/ (state.json,
 *                            shim.pid, exit, R/{config.json,rootfs,upper,work})
 *   DIR/logs/NS_NAME_UID/C/R.log  container C's log after R restarts (CRI format)
 *   DIR/crun/                crun's --root: only containers this agent made
 *   DIR/cni/                 host-local IP allocations
 *   DIR/images/              the image store (img.h)
 */
#ifndef KUBE9_NODE_CRUN_H
#define KUBE9_NODE_CRUN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "img.h"
#include "node.h"

typedef struct node_crun_cfg {
	const char *state_dir;
	char crun_root[4096], cni_dir[4096];
	const char *bridge, *cidr;
	double backoff;     /* first restart back-off, seconds (Kubernetes: 10) */
	double backoff_max; /* seconds (Kubernetes: 300) */
	double sync_period; /* secrets and configmaps written again into volumes, seconds */
	long log_max;       /* bytes per log file before rotation */
	int log_files;      /* rotated files kept */
	img_store *images;
	const char *self; /* this program, for shims */
} node_crun_cfg;

extern node_crun_cfg node_crun;

/* A probe's state. */
typedef struct node_probe_st {
	const json_t *spec; /* NULL: none */
	uint64_t next;      /* monotonic ns */
	int ok, bad;        /* consecutive results */
	bool result;
} node_probe_st;

enum { PR_LIVE, PR_READY, PR_START };

/* A container of a pod worker. */
typedef struct node_ctr {
	const json_t *spec;
	const char *name;
	bool init;
	char id[320], dir[8192];
	int restarts;
	bool ran; /* started at least once */
	pid_t shim;
	int pidfd;
	char started[40];
	json_t *term, *last; /* terminated state now / lastState's */
	char wreason[48], wmsg[1024];
	uint64_t next_start, kill_at;
	double backoff;
	bool done; /* will not run again */
	char image_id[96], image[512];
	node_probe_st pr[3];
	bool started_ok, ready;
	bool up; /* a sidecar that has started once */
} node_ctr;

/* A pod worker: one thread per pod, as the kubelet's pod workers. */
typedef struct node_cpod {
	node_agent *a;
	node_pod *p;
	json_t *pod;
	char uid[64], ns[256], name[256], dir[4200], logs[4500];
	pid_t pause;
	char ip[64];
	node_ctr *c;
	int nc, ninit;
	int efd; /* eventfd: wake up */
	volatile int stop;
	volatile int grace;
	volatile bool forget;
	bool failed_init;
	json_t *posted;
	char start_time[40];
	uint64_t next_sync; /* of the projected volumes */
	json_t *vols;       /* the pod's volumes once made: name -> {path, ro} */
	char cond_since[4][40];
	bool cond_val[4];
} node_cpod;

/* node_ctr.c */
void node_ctr_init(node_cpod *cp, node_ctr *c, const json_t *spec, bool init);
void node_ctr_load(node_cpod *cp, node_ctr *c);
void node_ctr_start(node_cpod *cp, node_ctr *c);
bool node_ctr_reap(node_cpod *cp, node_ctr *c);
/* A run ended with code: restartPolicy and back-off decide; true if it runs again. */
bool node_ctr_ended(node_cpod *cp, node_ctr *c, int code);
/* An init container with restartPolicy Always (a native sidecar). */
bool node_ctr_sidecar(const node_ctr *c);
void node_ctr_kill(node_ctr *c, const char *sig);
void node_ctr_remove(node_ctr *c);
void node_ctr_probe(node_cpod *cp, node_ctr *c, uint64_t now);
json_t *node_ctr_status(const node_ctr *c);
void node_ctr_free(node_ctr *c);

/* node_spec.c */
typedef struct node_spec_in {
	const json_t *pod, *ctr, *img_config;
	json_t *env;    /* NAME -> value, in order */
	json_t *mounts; /* OCI mounts of the container's volumes */
	const char *rootfs, *pod_dir, *cgroup;
	int sandbox_pid;
	long img_uid, img_gid; /* from the image's User, -1 if none */
} node_spec_in;
json_t *node_spec(const node_spec_in *in);
json_t *node_spec_argv(const json_t *ctr, const json_t *imgcfg, const json_t *env);
char *node_spec_expand(const char *s, const json_t *env);
int node_spec_user(const char *rootfs, const char *user, long *uid, long *gid);

/* node_shim.c: processes that outlive the agent */
int cmd_shim(int argc, char **argv);
int cmd_pause(int argc, char **argv);
/* Start `self argv...` in its own session with a report pipe on fd 3 and
 * stderr to errlog; *report gets the read end. The pid, or -1. */
pid_t node_spawn(char *const argv[], const char *errlog, int *report);
/* Read the child's report ("ok ..." or an error) within timeout seconds. 0 if ok. */
int node_report(int fd, double timeout, char *msg, size_t n);
/*
 * Run argv (environment envp; NULL: ours) to completion within timeout
 * seconds, input on its stdin; its output (stdout and stderr) into out.
 * The exit code, or -1.
 */
int node_run(char *const argv[], char *const envp[], const char *input, double timeout, char *out,
             size_t n);
/* crun --root (ours) ARGS..., as node_run runs it. */
int node_crun_cmd(const char *const args[], double timeout, char *out, size_t n);
bool node_pid_is(pid_t pid, const char *word);

/* snprintf for paths and ids: -1 (and a log line) when out is too small. */
int node_path(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* node_host.c */
/* dir/name as JSON (NULL if absent or bad); o written there (and released). */
json_t *node_state_load(const char *dir, const char *name);
int node_state_save(const char *dir, const char *name, json_t *o);
/* What a real node adds to its status: images, and usage (cAdvisor's role). */
void node_crun_status(json_t *status);
void node_host_capacity(int64_t *milli_cpu, int64_t *mem_bytes);
/* Before any thread: private mount namespace, state dirs, node_crun. */
int node_host_init(const char *state_dir, const char *bridge, const char *cidr, double backoff);
void node_host_janitor(node_agent *a);
/* What a pod left in dir: its containers (killed), sandbox, address, volumes, cgroups, files. */
void node_host_clean_pod(const char *dir, const char *uid);
/* The pod's own cgroups (kube9/pod<UID>) once its containers' are gone. */
void node_host_cgroups_gone(const char *uid);

/* node_net.c: CNI bridge + host-local */
int node_net_add(const char *uid, pid_t pid, char *ip, size_t iplen, char *err, size_t errlen);
void node_net_del(const char *uid, pid_t pid);
const char *node_net_gateway(char *out, size_t n);

/* node_vol.c */
typedef struct node_pod_ref {
	const json_t *pod;
	const char *dir; /* DIR/pods/UID */
	const char *ip, *host_ip, *node_name;
} node_pod_ref;
/* Volumes of the pod made ready under dir/volumes: name -> {"path", "ro"}. NULL + err. */
json_t *node_vol_setup(const node_pod_ref *r, char *err, size_t n);
/* The OCI mounts of ctr's volumeMounts. NULL + err. */
json_t *node_vol_mounts(const json_t *ctr, const json_t *vols, char *err, size_t n);
/* The pod's namespace's object res/name (NULL if absent); its keys' bytes (data,
 * stringData/binaryData). */
json_t *node_vol_read(const node_pod_ref *r, const char *res, const char *name);
json_t *node_vol_data(const json_t *o, bool secret);
/* node_env.c: the container's environment: image's, envFrom, env. NULL + err. */
json_t *node_vol_env(const node_pod_ref *r, const json_t *ctr, const json_t *imgcfg, char *err,
                     size_t n);
void node_vol_teardown(const char *dir);

/* node_probe.c: 1 success, 0 failure (msg says why) */
int node_probe(const json_t *probe, const json_t *ctr, const char *ip, const char *ctr_id,
               char *msg, size_t n);

#endif
