/*
 * ctl_ns.c - the namespace controller: a namespace being deleted
 * (metadata.deletionTimestamp, phase Terminating) is emptied and then
 * finalized, both through its directory on the mount.
 *
 * Emptying walks namespaces/NS/RES/ and unlinks every NAME.yaml: that is
 * the only way to reach every resource, the ones no informer follows
 * included. The rmdir of namespaces/NS finalizes the namespace once
 * nothing is left, terminating objects included; until then the key comes
 * back every 1.5 s, since pods need their node to finish them and objects
 * with finalizers need their controllers.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "kube9/util.h"

#define RETRY_S 1.5

static tree_queue *q;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static k9_map later; /* names with a retry timer set (one chain per name); under lock */

/* Come back to name in RETRY_S, unless a timer for it is set already. */
static void retry_later(const char *name)
{
	pthread_mutex_lock(&lock);
	bool set = k9_map_get(&later, name);
	if (!set)
		k9_map_put(&later, name, (void *)1);
	pthread_mutex_unlock(&lock);
	if (!set)
		tree_queue_add_after(q, name, RETRY_S);
}

/* Whether an informer says NS/NAME of resource plural is already being deleted. */
static bool terminating(ctl *c, const char *plural, const char *ns, const char *name)
{
	for (int r = 0; r < CTL_NRES; r++) {
		if (strcmp(ctl_res_tab[r].plural, plural))
			continue;
		char key[600];
		snprintf(key, sizeof key, "%s/%s", ns, name);
		json_t *o = ctl_get(c, r, key);
		bool t = json_object_get(json_object_get(o, "metadata"), "deletionTimestamp");
		json_decref(o);
		return t;
	}
	return false;
}

/* Delete what is in namespaces/NS/RES/; the number of objects still there. */
static size_t empty_res(ctl *c, const char *ns, const char *res)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/namespaces/%s/%s", tree_root(), ns, res);
	DIR *d = opendir(dir);
	if (!d)
		return 0; /* not a directory, or gone meanwhile */
	size_t left = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len <= 5 || strcmp(e->d_name + len - 5, ".yaml"))
			continue;
		char name[256], rel[PATH_MAX];
		snprintf(name, sizeof name, "%.*s", (int)(len - 5), e->d_name);
		left++;
		/* again would be a second DELETE: for a pod, one that skips its grace period */
		if (terminating(c, res, ns, name))
			continue;
		snprintf(rel, sizeof rel, "namespaces/%s/%s/%s", ns, res, e->d_name);
		int rc = tree_unlink(rel);
		if (rc < 0 && rc != -ENOENT)
			log_debug("namespace %s: %s: %s", ns, rel, strerror(-rc));
	}
	closedir(d);
	return left;
}

static int sync_ns(void *arg, const char *name)
{
	ctl *c = arg;
	pthread_mutex_lock(&lock);
	k9_map_del(&later, name);
	pthread_mutex_unlock(&lock);
	json_t *ns = ctl_get(c, CTL_NS, name);
	bool deleting = json_object_get(json_object_get(ns, "metadata"), "deletionTimestamp");
	json_decref(ns);
	if (!deleting)
		return 0;
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/namespaces/%s", tree_root(), name);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	size_t left = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			left += empty_res(c, name, e->d_name);
	closedir(d);
	if (rmdir(dir) == 0) {
		log_info("namespace %s: empty, finalized", name);
		return 0;
	}
	if (errno == ENOENT)
		return 0;
	log_debug("namespace %s: %zu objects left (%s)", name, left, strerror(errno));
	retry_later(name);
	return 0;
}

static void on_event(ctl *c, int res, const char *type, json_t *old, json_t *obj)
{
	(void)c;
	(void)type;
	(void)old;
	if (res == CTL_NS && obj &&
	    json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp"))
		tree_queue_add(q, tree_meta(obj, "name"));
}

static void start(ctl *c)
{
	q = tree_queue_new();
	tree_queue_run(q, c->o.workers, sync_ns, c);
}

const ctl_loop ctl_ns_loop = {"namespace", start, on_event};
