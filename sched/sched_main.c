/*
 * sched_main.c - `kube9 sched`: options, leader election, the scheduling
 * loop (one thread, as kube-scheduler's), and the workers that bind pods or
 * report them unschedulable through the mount.
 *
 * Binding is conflict-safe twice over: the server's binding subresource
 * refuses a pod that has a node already (EBUSY here), and only the holder
 * of the kube9-scheduler lease schedules, so two schedulers never count
 * the same node's room twice.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube9/obj.h"
#include "kube9/util.h"
#include "scheduler.h"

static void usage(FILE *f)
{
	fputs("usage: kube9 sched --mount DIR [options]\n"
	      "\n"
	      "The scheduler. Follows DIR/namespaces/pods.watch and DIR/nodes/.watch, and binds\n"
	      "every pod without a node to the best node that fits it by writing the node's\n"
	      "name to DIR/namespaces/NS/pods/NAME.binding. A pod that fits nowhere gets the\n"
	      "condition PodScheduled=False with the reasons, and an Event.\n"
	      "\n"
	      "      --mount DIR             the kube9 mount to work through (required)\n"
	      "      --scheduler-name NAME   schedule pods that ask for NAME\n"
	      "                              (default default-scheduler)\n"
	      "      --leader-elect BOOL     take the kube9-scheduler lease first (default true)\n"
	      "      --lease-duration S      seconds a silent leader keeps the lease (default 15)\n"
	      "      --bind-workers N        bindings in flight at once (default 16)\n"
	      "  -v, --verbose               debug logging\n"
	      "  -h, --help                  this text\n",
	      f);
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Pick a node for the pod of key and assume it there, or mark it unschedulable (lock held). */
static void schedule_one(sched *s, const char *key)
{
	sched_pod *p = k9_map_get(&s->pods, key);
	if (!p || p->state != SP_PENDING)
		return;
	sched_req r;
	sched_req_init(&r, p->obj, sched_owner_get(s, p->owner, false));
	size_t want = sched_feasible_wanted(s->nnodes), nf = 0, k;
	sched_node **feas = xmalloc((want ? want : 1) * sizeof *feas);
	k9_map reasons = {0};
	char buf[512];
	size_t start = s->nnodes ? s->next_start % s->nnodes : 0;
	for (k = 0; k < s->nnodes && nf < want; k++) {
		sched_node *n = s->nodes[(start + k) % s->nnodes];
		const char *why = sched_filter(&r, n, buf, sizeof buf);
		if (why)
			sched_reasons_add(&reasons, why);
		else
			feas[nf++] = n;
	}
	s->next_start = s->nnodes ? (start + k) % s->nnodes : 0;
	if (!nf) {
		char *msg = sched_fit_message(s->nnodes, &reasons);
		if (!p->msg || strcmp(p->msg, msg)) {
			free(p->msg);
			p->msg = msg;
			p->reported = false;
			tree_queue_add(s->binds, key);
		} else {
			free(msg);
		}
		p->state = SP_UNSCHED;
		s->failed++;
		log_debug("pod %s: %s", key, p->msg);
	} else {
		int max_node = 0, max_zone = 0, max_region = 0;
		if (r.owner) {
			for (size_t i = 0; i < nf; i++) {
				int c = (int)(intptr_t)k9_map_get(&r.owner->by_node, feas[i]->name);
				max_node = c > max_node ? c : max_node;
			}
			for (int z = 0; z < s->nzones; z++)
				max_zone =
				    r.owner->zone[z] > max_zone ? r.owner->zone[z] : max_zone;
			for (int g = 0; g < s->nregions; g++)
				max_region = r.owner->region[g] > max_region ? r.owner->region[g]
				                                             : max_region;
		}
		sched_node *best = NULL;
		double bs = -1;
		for (size_t i = 0; i < nf; i++) {
			double sc = sched_score(&r, feas[i], max_node, max_zone, max_region);
			if (sc > bs) {
				bs = sc;
				best = feas[i];
			}
		}
		sched_assume(s, p, best);
		p->state = SP_ASSUMED;
		tree_queue_add(s->binds, key);
	}
	sched_reasons_free(&reasons);
	free(feas);
}

/* Report an unschedulable pod: the PodScheduled condition and an Event. */
static int report(const char *key, const char *uid, const char *msg)
{
	char ns[256], name[256], now[32];
	tree_key_split(key, ns, name, sizeof ns);
	k9_now_rfc3339(now, sizeof now);
	json_t *st = json_pack("{s:[{s:s,s:s,s:s,s:s,s:n,s:s}]}", "conditions", "type",
	                       "PodScheduled", "status", "False", "reason", "Unschedulable",
	                       "message", msg, "lastProbeTime", "lastTransitionTime", now);
	int rc = tree_put_status_of("pods", key, st);
	json_decref(st);
	if (rc < 0)
		return rc;
	json_t *ref = json_pack("{s:s,s:s,s:s,s:s,s:s}", "kind", "Pod", "apiVersion", "v1",
	                        "namespace", ns, "name", name, "uid", uid);
	rc = tree_event(ref, "Warning", "FailedScheduling", msg, "default-scheduler");
	json_decref(ref);
	return rc;
}

static int bind_job(void *arg, const char *key)
{
	sched *s = arg;
	pthread_mutex_lock(&s->lock);
	sched_pod *p = k9_map_get(&s->pods, key);
	if (!p) {
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	if (p->state == SP_UNSCHED && p->msg && !p->reported) {
		char *msg = xstrdup(p->msg), *uid = xstrdup(p->uid);
		pthread_mutex_unlock(&s->lock);
		int rc = report(key, uid, msg);
		free(uid);
		pthread_mutex_lock(&s->lock);
		p = k9_map_get(&s->pods, key);
		if (p && rc == 0 && p->msg && !strcmp(p->msg, msg))
			p->reported = true;
		pthread_mutex_unlock(&s->lock);
		free(msg);
		if (rc < 0 && rc != -ENOENT)
			log_warn("pod %s: cannot report it unschedulable: %s", key, strerror(-rc));
		return rc < 0 && rc != -ENOENT ? -1 : 0;
	}
	if (p->state != SP_ASSUMED || !p->node) {
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	char *node = xstrdup(p->node);
	pthread_mutex_unlock(&s->lock);
	char ns[256], name[256], path[600];
	tree_key_split(key, ns, name, sizeof ns);
	tree_path(path, sizeof path, "pods", ns, name, "binding");
	int rc = tree_write(path, node, strlen(node));
	pthread_mutex_lock(&s->lock);
	p = k9_map_get(&s->pods, key);
	if (rc == 0) {
		s->scheduled++;
		log_debug("pod %s bound to %s", key, node);
	} else {
		s->bind_errors++;
		if (rc != -ENOENT && rc != -EBUSY)
			log_warn("pod %s: binding to %s: %s", key, node, strerror(-rc));
		if (p && p->state == SP_ASSUMED && p->node && !strcmp(p->node, node)) {
			sched_unassume(s, p);
			/* refused: someone bound it (the watch will say where), or try again */
			p->state = rc == -EBUSY || rc == -ENOENT ? SP_DONE : SP_UNSCHED;
		}
	}
	pthread_mutex_unlock(&s->lock);
	free(node);
	return 0;
}

struct retry_ctx {
	sched *s;
};

static void retry_pod(void *val, void *arg)
{
	sched_pod *p = val;
	sched *s = arg;
	if (p->state == SP_UNSCHED) {
		p->state = SP_PENDING;
		sched_push(s, p->key);
	}
}

/* Unschedulable pods are tried again when nodes or pods changed (at most each second) or every 30
 * s. */
static void *retrier(void *arg)
{
	sched *s = arg;
	double last = mono();
	while (!s->stop) {
		sleep(1);
		pthread_mutex_lock(&s->lock);
		if (s->changed || mono() - last > 30) {
			s->changed = false;
			last = mono();
			k9_map_each(&s->pods, retry_pod, s);
		}
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

static void loop(sched *s)
{
	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		if (!s->alen || !s->nodes_w.synced || !s->pods_w.synced) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&s->cond, &s->lock, &ts);
			continue;
		}
		char *key = s->active[s->ahead];
		s->ahead = (s->ahead + 1) % s->acap;
		s->alen--;
		k9_map_del(&s->in_active, key);
		schedule_one(s, key);
		free(key);
	}
	pthread_mutex_unlock(&s->lock);
}

/* What the scheduler reads of a pod (the rest is not kept). */
static const char *const pod_fields[] = {"metadata.name",
                                         "metadata.namespace",
                                         "metadata.uid",
                                         "metadata.resourceVersion",
                                         "metadata.ownerReferences",
                                         "metadata.deletionTimestamp",
                                         "spec.nodeName",
                                         "spec.schedulerName",
                                         "spec.containers[].resources",
                                         "spec.containers[].ports",
                                         "spec.initContainers[].resources",
                                         "spec.nodeSelector",
                                         "spec.affinity",
                                         "spec.tolerations",
                                         "status.phase",
                                         NULL};

int cmd_sched(int argc, char **argv)
{
	static const struct option opts[] = {{"mount", required_argument, 0, 'm'},
	                                     {"scheduler-name", required_argument, 0, 'n'},
	                                     {"leader-elect", required_argument, 0, 'l'},
	                                     {"lease-duration", required_argument, 0, 'd'},
	                                     {"bind-workers", required_argument, 0, 'w'},
	                                     {"verbose", no_argument, 0, 'v'},
	                                     {"help", no_argument, 0, 'h'},
	                                     {0, 0, 0, 0}};
	const char *mount = NULL, *name = "default-scheduler";
	bool elect = true;
	double dur = 15;
	long workers = 16;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		bool good = true;
		switch (c) {
		case 'm':
			mount = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'l':
			good = k9_flag_bool("kube9 sched", "leader-elect", optarg, &elect);
			break;
		case 'd':
			good = k9_flag_num("kube9 sched", "lease-duration", optarg, 1, 3600, &dur);
			break;
		case 'w':
			good = k9_flag_int("kube9 sched", "bind-workers", optarg, 1, 256, &workers);
			break;
		case 'v':
			k9_log_level = LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (!good)
			return 2;
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (tree_open_mount(mount, "kube9 sched") < 0)
		return 1;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	sched *s = xcalloc(1, sizeof *s);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->scheduler_name = name;
	k9_stop_on_signals(&s->stop);
	tree_lease lease;
	if (elect && tree_lease_elect(&lease, "kube9-scheduler", dur) < 0)
		return 1;
	s->binds = tree_queue_new();
	tree_queue_run(s->binds, (int)workers, bind_job, s);
	if (tree_watch_start(&s->nodes_w, "nodes/.watch", sched_on_node, s) < 0 ||
	    tree_watch_start_pick(&s->pods_w, "namespaces/pods.watch", sched_on_pod, s,
	                          pod_fields) < 0)
		return 1;
	pthread_t rt;
	pthread_create(&rt, NULL, retrier, s);
	log_info("scheduling as %s", name);
	loop(s);
	log_info("kube9 sched: stopping (%llu bound, %llu unschedulable attempts, %llu refused)",
	         (unsigned long long)s->scheduled, (unsigned long long)s->failed,
	         (unsigned long long)s->bind_errors);
	return 0;
}
