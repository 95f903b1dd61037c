/*
 * node_ctr.c - one container of a pod worker: its image, rootfs, OCI
 * config and shim; its exits and restarts with back-off; its probes; its
 * status. What must survive the agent is in DIR/pods/UID/ctr/NAME/:
 * state.json (restarts, start time, last state), shim.pid, exit (written
 * by the shim), and one bundle per run, R/ (config.json, rootfs, upper,
 * work): every restart is a new container with a fresh writable layer, as
 * in Kubernetes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kube9/obj.h"
#include "kube9/tree.h"
#include "kube9/util.h"
#include "node_crun.h"

void node_ctr_init(node_cpod *cp, node_ctr *c, const json_t *spec, bool init)
{
	memset(c, 0, sizeof *c);
	c->spec = spec;
	c->name = obj_str(spec, "name") ?: "";
	c->init = init;
	c->pidfd = -1;
	node_path(c->id, sizeof c->id, "k9-%s-%s", cp->uid, c->name);
	node_path(c->dir, sizeof c->dir, "%s/ctr/%s", cp->dir, c->name);
	node_path(c->image, sizeof c->image, "%s", obj_str(spec, "image") ?: "");
	node_path(c->wreason, sizeof c->wreason, "ContainerCreating");
	c->backoff = 0;
	static const char *const kinds[3] = {"livenessProbe", "readinessProbe", "startupProbe"};
	for (int i = 0; i < 3; i++)
		c->pr[i].spec = init ? NULL : json_object_get(spec, kinds[i]);
}

static void save(node_ctr *c)
{
	json_t *st = json_pack("{s:i,s:b,s:s,s:b,s:s}", "restarts", c->restarts, "ran", c->ran,
	                       "started", c->started, "done", c->done, "imageID", c->image_id);
	if (c->last)
		json_object_set(st, "last", c->last);
	if (c->term)
		json_object_set(st, "term", c->term);
	node_state_save(c->dir, "state.json", st);
}

/* After an agent restart: what the last agent knew, and a shim maybe still running. */
void node_ctr_load(node_cpod *cp, node_ctr *c)
{
	char path[4400];
	json_t *st = node_state_load(c->dir, "state.json");
	if (!st)
		return;
	c->restarts = (int)obj_num(st, "restarts", 0);
	c->ran = json_is_true(json_object_get(st, "ran"));
	c->done = json_is_true(json_object_get(st, "done"));
	node_path(c->started, sizeof c->started, "%s", obj_str(st, "started") ?: "");
	node_path(c->image_id, sizeof c->image_id, "%s", obj_str(st, "imageID") ?: "");
	c->last = json_incref(json_object_get(st, "last"));
	c->term = json_incref(json_object_get(st, "term"));
	json_decref(st);
	node_path(path, sizeof path, "%s/shim.pid", c->dir);
	char *pid = k9_read_file(path, NULL);
	pid_t shim = pid ? (pid_t)atoi(pid) : 0;
	free(pid);
	if (shim > 0 && node_pid_is(shim, c->id)) {
		c->shim = shim;
		c->pidfd = (int)syscall(SYS_pidfd_open, shim, 0);
		c->wreason[0] = 0;
		c->started_ok = !c->pr[PR_START].spec;
		log_info("pod %s/%s: container %s adopted (shim %d)", cp->ns, cp->name, c->name,
		         shim);
	} else if (c->ran && !c->done) {
		/* it ended while no agent watched: the shim left its status */
		c->shim = -1;
	}
}

static json_t *pull_auths(node_cpod *cp)
{
	json_t *auths = NULL;
	size_t i;
	const json_t *s;
	json_array_foreach(json_object_get(json_object_get(cp->pod, "spec"), "imagePullSecrets"), i,
	                   s)
	{
		char path[1024];
		tree_path(path, sizeof path, "secrets", cp->ns, obj_str(s, "name") ?: "", "json");
		json_t *sec = tree_read_json(path);
		const char *b64 = obj_str(json_object_get(sec, "data"), ".dockerconfigjson");
		unsigned char *raw;
		size_t n;
		if (b64 && k9_b64_decode(b64, strlen(b64), &raw, &n) == 0) {
			json_error_t je;
			json_t *cfg = json_loadb((char *)raw, n, 0, &je);
			if (!auths)
				auths = json_object();
			json_object_update(auths, json_object_get(cfg, "auths"));
			json_decref(cfg);
			free(raw);
		}
		json_decref(sec);
	}
	return auths;
}

static void backoff(node_ctr *c)
{
	if (c->backoff <= 0)
		c->backoff = node_crun.backoff;
	else
		c->backoff =
		    c->backoff * 2 > node_crun.backoff_max ? node_crun.backoff_max : c->backoff * 2;
	c->next_start = k9_mono_ns() + (uint64_t)(c->backoff * 1e9);
}

/* The overlay options of a run's rootfs; the shim mounts it in its own namespace. */
static char *rootfs_opts(const img *im, const char *b)
{
	k9_buf lower = {0};
	for (int i = im->n_layers - 1; i >= 0; i--) {
		if (lower.len)
			buf_puts(&lower, ":");
		buf_puts(&lower, im->layers[i]);
	}
	static const char *const sub[] = {"upper", "work", "rootfs"};
	for (int i = 0; i < 3; i++) {
		char d[8192];
		node_path(d, sizeof d, "%s/%s", b, sub[i]);
		k9_mkdir_p(d, 0755);
	}
	char *opts = xasprintf("lowerdir=%.*s,upperdir=%s/upper,workdir=%s/work", (int)lower.len,
	                       lower.data ? lower.data : "", b, b);
	buf_free(&lower);
	return opts;
}

/* Bundles of earlier runs: unmounted and removed. */
static void drop_bundles(node_ctr *c, int keep)
{
	for (int r = 0; r < c->restarts + 2; r++) {
		if (r == keep)
			continue;
		char b[4400];
		node_path(b, sizeof b, "%s/%d", c->dir, r);
		k9_rm_rf(b);
	}
}

static int crun(const char *verb, const char *id, const char *arg)
{
	const char *args[] = {verb, id, arg, NULL};
	const char *del[] = {verb, "--force", id, NULL};
	char out[1024];
	return node_crun_cmd(strcmp(verb, "delete") ? args : del, 20, out, sizeof out);
}

void node_ctr_kill(node_ctr *c, const char *sig)
{
	crun("kill", c->id, sig);
}

void node_ctr_remove(node_ctr *c)
{
	crun("delete", c->id, NULL);
	drop_bundles(c, -1);
}

static void fail_start(node_cpod *cp, node_ctr *c, const char *reason, const char *msg)
{
	node_path(c->wreason, sizeof c->wreason, "%s", reason);
	node_path(c->wmsg, sizeof c->wmsg, "%s", msg);
	log_warn("pod %s/%s: container %s: %s: %s", cp->ns, cp->name, c->name, reason, msg);
	backoff(c);
}

/* What this runtime cannot do yet, said plainly rather than done wrong. */
static const char *unsupported(const node_cpod *cp, const node_ctr *c)
{
	const json_t *spec = json_object_get(cp->pod, "spec");
	static const char *const host[] = {"hostNetwork", "hostPID", "hostIPC", NULL};
	for (int i = 0; host[i]; i++)
		if (json_is_true(json_object_get(spec, host[i])))
			return host[i];
	if (json_is_true(
	        json_object_get(json_object_get(c->spec, "securityContext"), "privileged")))
		return "securityContext.privileged";
	return NULL;
}

void node_ctr_start(node_cpod *cp, node_ctr *c)
{
	char err[1024] = "";
	const char *reason = NULL;
	img im = {0};
	const char *no = unsupported(cp, c);
	if (no) {
		node_path(err, sizeof err, "%s is not supported by kube9's crun runtime", no);
		fail_start(cp, c, "CreateContainerConfigError", err);
		return;
	}
	json_t *auths = pull_auths(cp);
	int rc = img_get(node_crun.images, c->image, obj_str(c->spec, "imagePullPolicy"), auths,
	                 &im, &reason, err, sizeof err);
	json_decref(auths);
	if (rc < 0) {
		reason = reason ? reason : "ErrImagePull";
		if (!strcmp(reason, "ErrImagePull") && c->backoff > 0) {
			/* failed before: the kubelet says it is backing off */
			char m[sizeof err + 600];
			node_path(m, sizeof m, "Back-off pulling image \"%s\": %s", c->image, err);
			fail_start(cp, c, "ImagePullBackOff", m);
		} else
			fail_start(cp, c, reason, err);
		return;
	}
	node_path(c->image_id, sizeof c->image_id, "%s", im.id);
	if (!strcmp(c->wreason, "ErrImagePull") || !strcmp(c->wreason, "ImagePullBackOff"))
		c->backoff = 0; /* pulls and crashes back off apart, as in the kubelet */
	node_pod_ref r = {cp->pod, cp->dir, cp->ip, cp->p->node->ip, cp->p->node->name};
	/* the pod's volumes are made once for all its containers, kept fresh by volumes_sync */
	if (!cp->vols)
		cp->vols = node_vol_setup(&r, err, sizeof err);
	json_t *vols = cp->vols, *env = NULL, *mounts = NULL;
	if (vols)
		env = node_vol_env(&r, c->spec, im.config, err, sizeof err);
	if (env)
		mounts = node_vol_mounts(c->spec, vols, err, sizeof err);
	int run = c->ran ? c->restarts + 1 : c->restarts;
	char b[4400], path[4500];
	node_path(b, sizeof b, "%s/%d", c->dir, run);
	char *opts = NULL;
	if (mounts) {
		opts = rootfs_opts(&im, b);
		long uid = -1, gid = -1;
		/* names in the image's /etc/passwd: the top layer that has one */
		for (int l = im.n_layers - 1; l >= 0 && uid < 0; l--)
			node_spec_user(im.layers[l], obj_str(im.config, "User"), &uid, &gid);
		node_path(path, sizeof path, "%s/rootfs", b);
		char cg[256];
		node_path(cg, sizeof cg, "/kube9/pod%s/%s", cp->uid, c->name);
		node_spec_in in = {cp->pod, c->spec, im.config, env, mounts, path,
		                   cp->dir, cg,      cp->pause, uid, gid};
		json_t *spec = node_spec(&in);
		node_path(path, sizeof path, "%s/config.json", b);
		json_dump_file(spec, path, JSON_COMPACT);
		json_decref(spec);
	}
	json_decref(env);
	if (!mounts) {
		img_free(&im);
		fail_start(cp, c, "CreateContainerConfigError", err);
		return;
	}
	json_decref(mounts);
	img_free(&im);
	crun("delete", c->id, NULL);
	char logdir[4600], logf[4700], exitf[4400], errlog[4400], max[32], keep[16];
	node_path(logdir, sizeof logdir, "%s/%s", cp->logs, c->name);
	k9_mkdir_p(logdir, 0755);
	node_path(logf, sizeof logf, "%s/%d.log", logdir, run);
	/* the kubelet keeps this run's log and the previous one's */
	for (int k = 0; run >= 2 && k <= node_crun.log_files; k++) {
		char old[4800];
		if (k)
			node_path(old, sizeof old, "%s/%d.log.%d", logdir, run - 2, k);
		else
			node_path(old, sizeof old, "%s/%d.log", logdir, run - 2);
		unlink(old);
	}
	node_path(exitf, sizeof exitf, "%s/exit", c->dir);
	node_path(errlog, sizeof errlog, "%s/shim.log", c->dir);
	node_path(max, sizeof max, "%ld", node_crun.log_max);
	node_path(keep, sizeof keep, "%d", node_crun.log_files);
	/*
	 * The run is counted and the old one's files go before the shim
	 * starts: an agent killed from here on finds the shim by the pid file
	 * the shim writes itself, or no shim, never an unrecorded one.
	 */
	char pidf[4400];
	node_path(pidf, sizeof pidf, "%s/shim.pid", c->dir);
	unlink(exitf);
	unlink(pidf);
	if (c->ran)
		c->restarts++;
	c->ran = true;
	c->done = false;
	if (c->term) {
		json_decref(c->last);
		c->last = c->term;
		c->term = NULL;
	}
	k9_now_rfc3339(c->started, sizeof c->started);
	save(c);
	char pods[4200];
	node_path(pods, sizeof pods, "%s/pods", node_crun.state_dir);
	char *argv[] = {"kube9",     "shim", "--root",      node_crun.crun_root,
	                "--bundle",  b,      "--id",        c->id,
	                "--log",     logf,   "--exit",      exitf,
	                "--log-max", max,    "--log-files", keep,
	                "--pods",    pods,   "--pod",       cp->dir,
	                "--rootfs",  opts,   "--pid-file",  pidf,
	                NULL};
	int rep;
	pid_t pid = node_spawn(argv, errlog, &rep);
	free(opts);
	char msg[1024];
	if (pid < 0 || node_report(rep, 60, msg, sizeof msg) < 0) {
		if (pid < 0)
			node_path(msg, sizeof msg, "cannot start the shim: %s", strerror(errno));
		else {
			/* it leads its own session: crun, if hung, goes with it */
			kill(-pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		/* as Kubernetes: a container that could not start is terminated, StartError */
		c->term =
		    json_pack("{s:i,s:s,s:s,s:s,s:s}", "exitCode", 128, "reason", "StartError",
		              "message", msg, "startedAt", c->started, "finishedAt", c->started);
		unlink(pidf);
		crun("delete", c->id, NULL);
		log_warn("pod %s/%s: container %s: StartError: %s", cp->ns, cp->name, c->name, msg);
		c->shim = 0;
		c->wreason[0] = 0;
		node_ctr_ended(cp, c, 128);
		save(c);
		return;
	}
	c->shim = pid;
	c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	c->wreason[0] = c->wmsg[0] = 0;
	c->started_ok = !c->pr[PR_START].spec;
	c->ready = false;
	uint64_t now = k9_mono_ns();
	for (int i = 0; i < 3; i++) {
		c->pr[i].ok = c->pr[i].bad = 0;
		c->pr[i].result = false;
		c->pr[i].next =
		    now + (uint64_t)(obj_num(c->pr[i].spec, "initialDelaySeconds", 0) * 1e9);
	}
	c->kill_at = 0;
	drop_bundles(c, run);
	save(c);
	log_info("pod %s/%s: container %s started (run %d)", cp->ns, cp->name, c->name, run);
}

/* Was the container killed by the OOM killer? Asked of its cgroup before it goes. */
static bool oom_killed(node_cpod *cp, node_ctr *c)
{
	char path[512];
	node_path(path, sizeof path, "/sys/fs/cgroup/memory/kube9/pod%s/%s/memory.oom_control",
	          cp->uid, c->name);
	char *t = k9_read_file(path, NULL);
	if (!t) {
		node_path(path, sizeof path, "/sys/fs/cgroup/kube9/pod%s/%s/memory.events", cp->uid,
		          c->name);
		t = k9_read_file(path, NULL);
	}
	const char *k = t ? strstr(t, "oom_kill ") : NULL;
	bool oom = k && atol(k + 9) > 0;
	free(t);
	return oom;
}

bool node_ctr_sidecar(const node_ctr *c)
{
	return c->init && !strcmp(obj_str(c->spec, "restartPolicy") ?: "", "Always");
}

/* A run is over with code: what restartPolicy says next, with the kubelet's back-off. */
bool node_ctr_ended(node_cpod *cp, node_ctr *c, int code)
{
	c->ready = false;
	c->kill_at = 0;
	const char *policy = obj_str(json_object_get(cp->pod, "spec"), "restartPolicy") ?: "Always";
	bool again = node_ctr_sidecar(c) ? true
	             : c->init
	                 ? code != 0 && strcmp(policy, "Never")
	                 : !strcmp(policy, "Always") || (!strcmp(policy, "OnFailure") && code != 0);
	if (cp->stop)
		again = false;
	c->done = !again;
	if (!again)
		return false;
	/* the kubelet's back-off: reset after a long enough good run */
	if (tree_age(c->started) > 2 * node_crun.backoff_max)
		c->backoff = 0;
	if (c->backoff <= 0) {
		c->backoff = node_crun.backoff / 2;
		c->next_start = k9_mono_ns();
	} else
		backoff(c);
	if (c->next_start > k9_mono_ns()) {
		node_path(c->wreason, sizeof c->wreason, "CrashLoopBackOff");
		node_path(c->wmsg, sizeof c->wmsg,
		          "back-off %.0fs restarting failed container=%s pod=%s_%s(%s)", c->backoff,
		          c->name, cp->name, cp->ns, cp->uid);
	}
	return true;
}

/* The shim has gone: the container's run is over. True if something changed. */
bool node_ctr_reap(node_cpod *cp, node_ctr *c)
{
	if (c->shim == 0)
		return false;
	if (c->shim > 0 && kill(c->shim, 0) == 0 && node_pid_is(c->shim, c->id))
		return false;
	if (c->shim > 0)
		waitpid(c->shim, NULL, WNOHANG);
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pidfd = -1;
	c->shim = 0;
	char path[4400];
	node_path(path, sizeof path, "%s/exit", c->dir);
	char *t = k9_read_file(path, NULL);
	int code = 255, sig = 0;
	char fin[40] = "";
	if (t)
		sscanf(t, "%d %d %39s", &code, &sig, fin);
	free(t);
	if (!fin[0])
		k9_now_rfc3339(fin, sizeof fin);
	const char *reason = code == 0 ? "Completed" : oom_killed(cp, c) ? "OOMKilled" : "Error";
	crun("delete", c->id, NULL);
	json_decref(c->term);
	c->term = json_pack("{s:i,s:s,s:s,s:s,s:s}", "exitCode", code, "reason", reason,
	                    "startedAt", c->started, "finishedAt", fin, "containerID", "");
	char cid[256];
	node_path(cid, sizeof cid, "crun://%s", c->id);
	json_object_set_new(c->term, "containerID", json_string(cid));
	if (sig)
		json_object_set_new(c->term, "signal", json_integer(sig));
	if (!t)
		json_object_set_new(c->term, "message",
		                    json_string("the container's shim ended without a status"));
	bool again = node_ctr_ended(cp, c, code);
	log_info("pod %s/%s: container %s exited %d (%s)%s", cp->ns, cp->name, c->name, code,
	         reason, again ? ", will restart" : "");
	save(c);
	return true;
}

json_t *node_ctr_status(const node_ctr *c)
{
	char cid[256];
	node_path(cid, sizeof cid, "crun://%s", c->id);
	json_t *state;
	bool waiting = false;
	if (c->shim != 0)
		state = json_pack("{s:{s:s}}", "running", "startedAt", c->started);
	else if (c->term && (c->done || !c->wreason[0]))
		state = json_pack("{s:O}", "terminated", c->term);
	else {
		waiting = true;
		state = json_pack("{s:{s:s}}", "waiting", "reason",
		                  c->wreason[0] ? c->wreason : "ContainerCreating");
		if (c->wmsg[0])
			json_object_set_new(json_object_get(state, "waiting"), "message",
			                    json_string(c->wmsg));
	}
	json_t *s =
	    json_pack("{s:s,s:o,s:b,s:i,s:s,s:s,s:b}", "name", c->name, "state", state, "ready",
	              c->shim != 0 && c->ready, "restartCount", c->restarts, "image", c->image,
	              "imageID", c->image_id, "started", c->shim != 0 && c->started_ok);
	/* waiting to run again: the run that just ended is the last state */
	const json_t *last = waiting && c->term ? c->term : c->last;
	json_object_set_new(s, "lastState",
	                    last ? json_pack("{s:O}", "terminated", last) : json_object());
	if (c->ran)
		json_object_set_new(s, "containerID", json_string(cid));
	return s;
}

void node_ctr_free(node_ctr *c)
{
	if (c->pidfd >= 0)
		close(c->pidfd);
	json_decref(c->term);
	json_decref(c->last);
}
