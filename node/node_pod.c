/*
 * node_pod.c - the crun runtime: one worker thread per pod (the kubelet's
 * pod workers). A worker makes or adopts the pod's sandbox (a `kube9
 * pause` process and its CNI network), runs the init containers in order
 * and then the app containers, restarts them as restartPolicy says, runs
 * their probes, and writes the pod's status whenever it changes. Asked to
 * stop, it sends SIGTERM, waits the grace period, sends SIGKILL, and
 * releases everything the pod had; then it tells the agent.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kube9/obj.h"
#include "kube9/tree.h"
#include "kube9/util.h"
#include "node_crun.h"
#include "node_logs.h"

node_crun_cfg node_crun;

static void wake(node_cpod *cp)
{
	uint64_t one = 1;
	if (write(cp->efd, &one, sizeof one) < 0) {
	}
}

static void unlink_state(node_cpod *cp, const char *name)
{
	char p[4500];
	if (node_path(p, sizeof p, "%s/%s", cp->dir, name) >= 0)
		unlink(p);
}

static int etc_files(node_cpod *cp)
{
	char path[4400], *txt;
	txt = xasprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n",
	                cp->ip, cp->name);
	node_path(path, sizeof path, "%s/hosts", cp->dir);
	k9_replace_file(path, txt, strlen(txt), 0644);
	free(txt);
	txt = xasprintf("%s\n", cp->name);
	node_path(path, sizeof path, "%s/hostname", cp->dir);
	k9_replace_file(path, txt, strlen(txt), 0644);
	free(txt);
	size_t n = 0;
	txt = k9_read_file("/etc/resolv.conf", &n);
	node_path(path, sizeof path, "%s/resolv.conf", cp->dir);
	k9_replace_file(path, txt ? txt : "", txt ? n : 0, 0644);
	free(txt);
	return 0;
}

/* A sandbox that is no more: its containers (in its namespaces) die, its address goes back. */
static void sandbox_gone(node_cpod *cp, pid_t pause)
{
	for (int i = 0; i < cp->nc; i++)
		if (cp->c[i].shim > 0)
			node_ctr_kill(&cp->c[i], "KILL");
	if (pause > 0 && node_pid_is(pause, cp->uid)) {
		node_net_del(cp->uid, pause);
		kill(pause, SIGKILL);
	} else
		node_net_del(cp->uid, 0);
	if (pause > 0)
		waitpid(pause, NULL, WNOHANG);
}

/* The sandbox: adopted if its pause process still runs, else made anew. */
static int sandbox(node_cpod *cp, char *err, size_t n)
{
	json_t *sb = node_state_load(cp->dir, "sandbox.json");
	pid_t old = (pid_t)json_integer_value(json_object_get(sb, "pid"));
	if (old > 0 && node_pid_is(old, cp->uid) && obj_str(sb, "ip")) {
		cp->pause = old;
		node_path(cp->ip, sizeof cp->ip, "%s", obj_str(sb, "ip"));
		node_path(cp->start_time, sizeof cp->start_time, "%s",
		          obj_str(sb, "startTime") ?: "");
		json_decref(sb);
		log_info("pod %s/%s: sandbox adopted (pause %d, %s)", cp->ns, cp->name, old,
		         cp->ip);
		return 0;
	}
	if (sb) {
		/* a sandbox that died, or was being made when the agent went */
		log_info("pod %s/%s: its sandbox is gone; making a new one", cp->ns, cp->name);
		sandbox_gone(cp, old);
		json_decref(sb);
	}
	char pods[4200];
	node_path(pods, sizeof pods, "%s/pods", node_crun.state_dir);
	char *argv[] = {"kube9", "pause",  "--hostname", cp->name, "--uid",
	                cp->uid, "--pods", pods,         NULL};
	char errlog[4400], msg[512];
	node_path(errlog, sizeof errlog, "%s/pause.log", cp->dir);
	int rep;
	pid_t pid = node_spawn(argv, errlog, &rep);
	if (pid < 0 || node_report(rep, 30, msg, sizeof msg) < 0) {
		node_path(err, n, "pod sandbox: %s", pid < 0 ? strerror(errno) : msg);
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		return -1;
	}
	/* recorded before the address is asked for: an agent killed in between gives it back */
	node_state_save(cp->dir, "sandbox.json", json_pack("{s:i}", "pid", (int)pid));
	if (node_net_add(cp->uid, pid, cp->ip, sizeof cp->ip, err, n) < 0) {
		node_net_del(cp->uid, pid);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		unlink_state(cp, "sandbox.json");
		return -1;
	}
	cp->pause = pid;
	k9_now_rfc3339(cp->start_time, sizeof cp->start_time);
	node_state_save(
	    cp->dir, "sandbox.json",
	    json_pack("{s:i,s:s,s:s}", "pid", (int)pid, "ip", cp->ip, "startTime", cp->start_time));
	etc_files(cp);
	return 0;
}

/* Is the sandbox still there? If its pause died, its containers go and a new one is made. */
static void sandbox_check(node_cpod *cp)
{
	if (cp->pause <= 0 || node_pid_is(cp->pause, cp->uid))
		return;
	log_warn(
	    "pod %s/%s: its sandbox (pause %d) died; its containers are restarted in a new one",
	    cp->ns, cp->name, cp->pause);
	sandbox_gone(cp, cp->pause);
	cp->pause = 0;
	char err[1024];
	if (sandbox(cp, err, sizeof err) < 0)
		log_warn("pod %s/%s: %s", cp->ns, cp->name, err);
}

static const char *cond_names[4] = {"PodScheduled", "Initialized", "ContainersReady", "Ready"};

static void cond(node_cpod *cp, int i, bool v, json_t *out)
{
	if (!cp->cond_since[i][0] || cp->cond_val[i] != v) {
		k9_now_rfc3339(cp->cond_since[i], sizeof cp->cond_since[i]);
		cp->cond_val[i] = v;
	}
	json_array_append_new(out, json_pack("{s:s,s:s,s:s}", "type", cond_names[i], "status",
	                                     v ? "True" : "False", "lastTransitionTime",
	                                     cp->cond_since[i]));
}

static int exit_code(const node_ctr *c)
{
	return (int)json_integer_value(json_object_get(c->term, "exitCode"));
}

/* Initialized: init containers done with 0, sidecars started. The phase as the kubelet's getPhase.
 */
static const char *phase(node_cpod *cp, bool *inited)
{
	*inited = true;
	for (int i = 0; i < cp->ninit; i++) {
		const node_ctr *c = &cp->c[i];
		if (node_ctr_sidecar(c) ? !c->up : !(c->done && c->term && exit_code(c) == 0))
			*inited = false;
	}
	if (cp->failed_init)
		return "Failed";
	if (!*inited)
		return "Pending";
	int running = 0, waiting = 0, stopped = 0, succeeded = 0;
	for (int i = cp->ninit; i < cp->nc; i++) {
		const node_ctr *c = &cp->c[i];
		if (c->shim != 0)
			running++;
		else if (c->term) {
			stopped++;
			succeeded += exit_code(c) == 0;
		} else if (!c->last)
			waiting++; /* never ran to an end yet */
		else
			stopped++;
	}
	const char *policy =
	    json_string_value(json_object_get(json_object_get(cp->pod, "spec"), "restartPolicy"))
	        ?: "Always";
	if (waiting)
		return "Pending";
	if (running)
		return "Running";
	if (!stopped)
		return "Pending";
	if (!strcmp(policy, "Always"))
		return "Running";
	if (stopped == succeeded)
		return "Succeeded";
	return !strcmp(policy, "OnFailure") ? "Running" : "Failed";
}

static json_t *status(node_cpod *cp)
{
	bool inited;
	const char *ph = phase(cp, &inited);
	json_t *st = json_object(), *conds = json_array(), *cs = json_array(), *ics = json_array();
	bool ready = inited && cp->nc > cp->ninit;
	for (int i = 0; i < cp->nc; i++) {
		json_array_append_new(i < cp->ninit ? ics : cs, node_ctr_status(&cp->c[i]));
		if ((i >= cp->ninit || node_ctr_sidecar(&cp->c[i])) &&
		    !(cp->c[i].shim != 0 && cp->c[i].ready))
			ready = false;
	}
	/* PodScheduled keeps the scheduler's time */
	size_t k;
	json_t *c;
	json_array_foreach(json_object_get(json_object_get(cp->pod, "status"), "conditions"), k,
	                   c) if (!strcmp(obj_str(c, "type") ?: "", "PodScheduled") &&
	                          !cp->cond_since[0][0])
	    node_path(cp->cond_since[0], sizeof cp->cond_since[0], "%s",
	              obj_str(c, "lastTransitionTime") ?: "");
	cp->cond_val[0] = true;
	cond(cp, 0, true, conds);
	cond(cp, 1, inited, conds);
	cond(cp, 2, ready, conds);
	cond(cp, 3, ready, conds);
	json_object_set_new(st, "phase", json_string(ph));
	json_object_set_new(st, "conditions", conds);
	json_object_set_new(st, "hostIP", json_string(cp->p->node->ip));
	json_object_set_new(st, "hostIPs", json_pack("[{s:s}]", "ip", cp->p->node->ip));
	if (cp->ip[0]) {
		json_object_set_new(st, "podIP", json_string(cp->ip));
		json_object_set_new(st, "podIPs", json_pack("[{s:s}]", "ip", cp->ip));
	}
	if (cp->start_time[0])
		json_object_set_new(st, "startTime", json_string(cp->start_time));
	json_object_set_new(st, "containerStatuses", cs);
	if (cp->ninit)
		json_object_set_new(st, "initContainerStatuses", ics);
	else
		json_decref(ics);
	return st;
}

static void post(node_cpod *cp)
{
	json_t *st = status(cp);
	if (cp->posted && json_equal(st, cp->posted)) {
		json_decref(st);
		return;
	}
	if (node_pod_status(cp->a, cp->p, st) == 0 || cp->stop) {
		json_decref(cp->posted);
		cp->posted = st;
	} else
		json_decref(st);
}

/* Start what is due: init containers one at a time, in order, then the apps. */
static void advance(node_cpod *cp, uint64_t now)
{
	for (int i = 0; i < cp->ninit; i++) {
		node_ctr *c = &cp->c[i];
		if (node_ctr_sidecar(c)) {
			/* a sidecar must have started once before the next one goes */
			if (c->shim == 0 && !c->done && now >= c->next_start)
				node_ctr_start(cp, c);
			if (c->shim != 0 && c->started_ok)
				c->up = true;
			if (c->up)
				continue;
			return;
		}
		if (c->done) {
			if (exit_code(c) == 0)
				continue;
			cp->failed_init = true;
			return;
		}
		if (c->shim == 0 && now >= c->next_start)
			node_ctr_start(cp, c);
		return;
	}
	for (int i = 0; i < cp->nc; i++) {
		node_ctr *c = &cp->c[i];
		if ((i >= cp->ninit || node_ctr_sidecar(c)) && c->shim == 0 && !c->done &&
		    now >= c->next_start)
			node_ctr_start(cp, c);
	}
}

/* Wait for a shim to end, a wake-up or the next deadline. */
static void wait_events(node_cpod *cp, uint64_t now)
{
	uint64_t next = now + (uint64_t)2e9;
	struct pollfd pf[65];
	int n = 0;
	pf[n++] = (struct pollfd){cp->efd, POLLIN, 0};
	for (int i = 0; i < cp->nc; i++) {
		node_ctr *c = &cp->c[i];
		if (c->pidfd >= 0 && n < 65)
			pf[n++] = (struct pollfd){c->pidfd, POLLIN, 0};
		if (c->shim == 0 && !c->done && c->next_start > now && c->next_start < next)
			next = c->next_start;
		for (int k = 0; k < 3 && c->shim > 0; k++)
			if (c->pr[k].spec && c->pr[k].next > now && c->pr[k].next < next)
				next = c->pr[k].next;
		if (c->shim > 0 && c->kill_at && c->kill_at < next)
			next = c->kill_at > now ? c->kill_at : now;
	}
	int ms = (int)((next - now) / 1000000) + 1;
	if (poll(pf, (nfds_t)n, ms) > 0 && pf[0].revents) {
		uint64_t v;
		if (read(cp->efd, &v, sizeof v) < 0) {
		}
	}
}

/*
 * Secrets and configmaps changed since are written again into the pod's
 * volumes every --sync-period, as the kubelet does; the containers see the
 * new files (the tmpfs is the same one their mounts show).
 */
static void volumes_sync(node_cpod *cp, uint64_t now)
{
	if (now < cp->next_sync)
		return;
	cp->next_sync = now + (uint64_t)(node_crun.sync_period * 1e9);
	size_t i;
	const json_t *v;
	bool projected = false;
	json_array_foreach(json_object_get(json_object_get(cp->pod, "spec"), "volumes"), i, v)
	    projected |= json_object_get(v, "secret") || json_object_get(v, "configMap");
	if (!projected)
		return;
	node_pod_ref r = {cp->pod, cp->dir, cp->ip, cp->p->node->ip, cp->p->node->name};
	char err[1024];
	json_t *vols = node_vol_setup(&r, err, sizeof err);
	if (!vols)
		log_debug("pod %s/%s: volumes: %s", cp->ns, cp->name, err);
	else {
		json_decref(cp->vols);
		cp->vols = vols;
	}
}

static void reap_all(node_cpod *cp)
{
	for (int i = 0; i < cp->nc; i++)
		node_ctr_reap(cp, &cp->c[i]);
}

static bool any_running(node_cpod *cp)
{
	for (int i = 0; i < cp->nc; i++)
		if (cp->c[i].shim != 0)
			return true;
	return false;
}

/* SIGTERM, the grace period, SIGKILL; then everything the pod had goes. */
static void teardown(node_cpod *cp)
{
	int grace = cp->grace;
	if (any_running(cp)) {
		log_info("pod %s/%s: stopping (grace %d s)", cp->ns, cp->name, grace);
		for (int i = 0; i < cp->nc; i++)
			if (cp->c[i].shim != 0)
				node_ctr_kill(&cp->c[i], "TERM");
		/* a shorter grace period may come meanwhile (a second delete): cp->grace is read
		 * each time */
		uint64_t t0 = k9_mono_ns();
		while (any_running(cp) && k9_mono_ns() < t0 + (uint64_t)cp->grace * 1000000000ull) {
			wait_events(cp, k9_mono_ns());
			reap_all(cp);
		}
		for (int i = 0; i < cp->nc; i++)
			if (cp->c[i].shim != 0)
				node_ctr_kill(&cp->c[i], "KILL");
		uint64_t end = k9_mono_ns() + (uint64_t)10e9;
		while (any_running(cp) && k9_mono_ns() < end) {
			wait_events(cp, k9_mono_ns());
			reap_all(cp);
		}
	}
	if (cp->posted && cp->forget == false)
		post(cp);
	/* the same cleaning as for a pod some earlier agent left */
	node_host_clean_pod(cp->dir, cp->uid);
	if (cp->pause > 0)
		waitpid(cp->pause, NULL, 0); /* ours to reap, unless adopted (then ECHILD) */
	if (cp->forget)
		k9_rm_rf(cp->logs);
	log_info("pod %s/%s: stopped and cleaned up", cp->ns, cp->name);
}

static void *pod_main(void *arg)
{
	node_cpod *cp = arg;
	k9_mkdir_p(cp->dir, 0755);
	k9_mkdir_p(cp->logs, 0755);
	node_state_save(
	    cp->dir, "pod.json",
	    json_pack("{s:s,s:s,s:s}", "namespace", cp->ns, "name", cp->name, "uid", cp->uid));
	for (int i = 0; i < cp->nc; i++)
		node_ctr_load(cp, &cp->c[i]);
	char err[1024];
	while (!cp->stop && sandbox(cp, err, sizeof err) < 0) {
		log_warn("pod %s/%s: %s", cp->ns, cp->name, err);
		for (int i = 0; i < cp->nc; i++) {
			node_path(cp->c[i].wreason, sizeof cp->c[i].wreason, "ContainerCreating");
			node_path(cp->c[i].wmsg, sizeof cp->c[i].wmsg, "%s", err);
		}
		post(cp);
		wait_events(cp, k9_mono_ns());
	}
	while (!cp->stop) {
		uint64_t now = k9_mono_ns();
		sandbox_check(cp);
		reap_all(cp);
		if (cp->stop)
			break;
		advance(cp, now);
		volumes_sync(cp, now);
		for (int i = 0; i < cp->nc; i++)
			node_ctr_probe(cp, &cp->c[i], k9_mono_ns());
		post(cp);
		wait_events(cp, k9_mono_ns());
	}
	teardown(cp);
	/* from here p is the agent's again (it may free it at once): not touched */
	node_pod_stopped(cp->a, cp->p);
	for (int i = 0; i < cp->nc; i++)
		node_ctr_free(&cp->c[i]);
	free(cp->c);
	close(cp->efd);
	json_decref(cp->posted);
	json_decref(cp->vols);
	json_decref(cp->pod);
	free(cp);
	return NULL;
}

static int crun_start(node_agent *a, node_pod *p, const json_t *pod, json_t *st)
{
	(void)st;
	node_cpod *cp = xcalloc(1, sizeof *cp);
	cp->a = a;
	cp->p = p;
	cp->pod = json_deep_copy(pod);
	node_path(cp->uid, sizeof cp->uid, "%s", p->uid);
	node_path(cp->ns, sizeof cp->ns, "%s", tree_meta(pod, "namespace"));
	node_path(cp->name, sizeof cp->name, "%s", tree_meta(pod, "name"));
	node_path(cp->dir, sizeof cp->dir, "%s/pods/%s", node_crun.state_dir, cp->uid);
	node_logs_dir(cp->logs, sizeof cp->logs, node_crun.state_dir, cp->ns, cp->name, cp->uid);
	const json_t *spec = json_object_get(cp->pod, "spec");
	const json_t *tg = json_object_get(spec, "terminationGracePeriodSeconds");
	cp->grace = json_is_integer(tg) ? (int)json_integer_value(tg) : 30;
	const json_t *ic = json_object_get(spec, "initContainers"),
	             *ac = json_object_get(spec, "containers");
	cp->ninit = (int)json_array_size(ic);
	cp->nc = cp->ninit + (int)json_array_size(ac);
	cp->c = xcalloc((size_t)cp->nc + 1, sizeof *cp->c);
	for (int i = 0; i < cp->nc; i++)
		node_ctr_init(cp, &cp->c[i],
		              i < cp->ninit ? json_array_get(ic, (size_t)i)
		                            : json_array_get(ac, (size_t)(i - cp->ninit)),
		              i < cp->ninit);
	cp->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cp->next_sync = k9_mono_ns() + (uint64_t)(node_crun.sync_period * 1e9);
	p->rt = cp;
	pthread_t th;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 256 << 10);
	pthread_create(&th, &at, pod_main, cp);
	pthread_attr_destroy(&at);
	return 1;
}

static int crun_stop(node_agent *a, node_pod *p, int grace, bool forget)
{
	pthread_mutex_lock(&a->lock);
	node_cpod *cp = p->rt;
	if (cp) {
		if (grace >= 0 && (!cp->stop || grace < cp->grace))
			cp->grace = grace;
		cp->forget = cp->forget || forget;
		cp->stop = 1;
		wake(cp);
	}
	pthread_mutex_unlock(&a->lock);
	return cp ? 1 : 0;
}

/* A pod deleted while no worker had it (the agent was down): what it left goes. */
static void crun_forget(node_agent *a, const json_t *pod)
{
	(void)a;
	char logs[4500], dir[4500];
	node_path(dir, sizeof dir, "%s/pods/%s", node_crun.state_dir, tree_meta(pod, "uid"));
	if (access(dir, F_OK) == 0)
		node_host_clean_pod(dir, tree_meta(pod, "uid"));
	if (node_logs_dir(logs, sizeof logs, node_crun.state_dir, tree_meta(pod, "namespace"),
	                  tree_meta(pod, "name"), tree_meta(pod, "uid")) == 0)
		k9_rm_rf(logs);
}

/* What the agent and this runtime read of a pod: the informer keeps only these. */
static const char *const pod_fields[] = {"apiVersion",
                                         "kind",
                                         "metadata.name",
                                         "metadata.namespace",
                                         "metadata.uid",
                                         "metadata.resourceVersion",
                                         "metadata.deletionTimestamp",
                                         "metadata.deletionGracePeriodSeconds",
                                         "metadata.labels",
                                         "metadata.annotations",
                                         "spec",
                                         "status.phase",
                                         "status.conditions",
                                         NULL};

const node_rt node_crun_rt = {"crun://1", pod_fields, crun_start, crun_stop, crun_forget};
