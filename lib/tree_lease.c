/*
 * tree_lease.c - leader election through the mounted tree, so that of
 * several schedulers (or controller managers) only one acts at a time.
 *
 * The lease is a ConfigMap, namespaces/kube-system/configmaps/NAME.json,
 * with data holderIdentity, renewTime (seconds since the epoch) and
 * leaseDurationSeconds. It is taken by an exclusive create, or by a write
 * carrying the resourceVersion that was read (EBUSY when someone else wrote
 * first) once the holder has not renewed for leaseDurationSeconds. The
 * holder renews every third of that; one that cannot renew in time stops
 * the process, as kube-scheduler does, rather than act beside a new leader.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube9/tree.h"
#include "kube9/util.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void lease_path(const tree_lease *l, char *out, size_t n)
{
	snprintf(out, n, "namespaces/kube-system/configmaps/%s.json", l->name);
}

static json_t *lease_obj(const tree_lease *l, const char *rv)
{
	char t[64], d[32];
	snprintf(t, sizeof t, "%.3f", now_s());
	snprintf(d, sizeof d, "%g", l->duration);
	json_t *o =
	    json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s}}", "apiVersion", "v1", "kind",
	              "ConfigMap", "metadata", "name", l->name, "namespace", "kube-system", "data",
	              "holderIdentity", l->id, "renewTime", t, "leaseDurationSeconds", d);
	if (rv)
		json_object_set_new(json_object_get(o, "metadata"), "resourceVersion",
		                    json_string(rv));
	return o;
}

/* One attempt to take or renew the lease: 1 leading, 0 someone else leads, -errno. */
static int try_lead(tree_lease *l)
{
	char path[512];
	lease_path(l, path, sizeof path);
	json_t *cur = tree_read_json(path);
	int rc;
	if (!cur) {
		if (errno != ENOENT)
			return -errno;
		json_t *o = lease_obj(l, NULL);
		rc = tree_put_json(path, o, true);
		json_decref(o);
		return rc == 0 ? 1 : rc == -EEXIST ? 0 : rc;
	}
	json_t *data = json_object_get(cur, "data");
	const char *holder = json_string_value(json_object_get(data, "holderIdentity"));
	const char *renew = json_string_value(json_object_get(data, "renewTime"));
	const char *dur = json_string_value(json_object_get(data, "leaseDurationSeconds"));
	double age = now_s() - (renew ? strtod(renew, NULL) : 0);
	double d = dur ? strtod(dur, NULL) : l->duration;
	if (holder && strcmp(holder, l->id) && age < d) {
		json_decref(cur);
		return 0;
	}
	json_t *o = lease_obj(l, tree_meta(cur, "resourceVersion"));
	rc = tree_put_json(path, o, false);
	json_decref(o);
	json_decref(cur);
	return rc == 0 ? 1 : rc == -EBUSY ? 0 : rc;
}

static void *renewer(void *arg)
{
	tree_lease *l = arg;
	double last = now_s();
	while (!l->stop) {
		usleep((useconds_t)(l->period * 1e6));
		if (l->stop)
			break;
		int rc = try_lead(l);
		if (rc == 1) {
			last = now_s();
			continue;
		}
		if (rc == 0 || now_s() - last > l->duration) {
			log_err("lost the lease %s (%s): stopping", l->name,
			        rc == 0 ? "another holder renewed it" : strerror(-rc));
			exit(1);
		}
		log_warn("cannot renew the lease %s: %s", l->name, strerror(-rc));
	}
	return NULL;
}

int tree_lease_wait(tree_lease *l, const char *name, const char *id, double duration)
{
	memset(l, 0, sizeof *l);
	l->name = xstrdup(name);
	l->id = xstrdup(id);
	l->duration = duration;
	l->period = duration / 3;
	bool said = false;
	for (;;) {
		int rc = try_lead(l);
		if (rc == 1)
			break;
		if (rc < 0)
			log_warn("lease %s: %s", name, strerror(-rc));
		else if (!said)
			log_info("lease %s is held by another process: waiting to lead", name);
		said = true;
		usleep((useconds_t)(l->period * 1e6 / 2));
	}
	log_info("leading (lease %s, as %s)", name, id);
	return pthread_create(&l->thread, NULL, renewer, l) ? -1 : 0;
}

int tree_lease_elect(tree_lease *l, const char *name, double duration)
{
	char id[320], host[256] = "host";
	gethostname(host, sizeof host);
	host[sizeof host - 1] = 0;
	snprintf(id, sizeof id, "%s_%d", host, (int)getpid());
	return tree_lease_wait(l, name, id, duration);
}

void tree_lease_stop(tree_lease *l)
{
	l->stop = 1;
	pthread_join(l->thread, NULL);
	free(l->name);
	free(l->id);
}
