/* test_tree.c - the client side of the tree: tree_pick, tree_path, the work queue. */
#include <stdlib.h>
#include <unistd.h>

#include "kube9/tree.h"
#include "tap.h"

static char *dump(const json_t *o)
{
	return json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
}

static void pick(void)
{
	json_t *pod = json_loads(
	    "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"labels\":{\"a\":\"1\"},"
	    "\"annotations\":{\"x\":\"y\"}},\"spec\":{\"nodeName\":\"n\",\"containers\":[{\"name\":"
	    "\"c\",\"image\":\"i\",\"ports\":[{\"containerPort\":80}]},{\"name\":\"d\",\"image\":"
	    "\"j\"}]},\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"c\"}]}}",
	    0, NULL);
	static const char *const f[] = {"metadata.name",
	                                "metadata.labels",
	                                "spec.nodeName",
	                                "spec.containers[].ports",
	                                "spec.containers[].name",
	                                "status.phase",
	                                "spec.missing",
	                                "nope[].x",
	                                NULL};
	json_t *p = tree_pick(pod, f);
	char *s = dump(p);
	is_str(
	    s,
	    "{\"metadata\":{\"labels\":{\"a\":\"1\"},\"name\":\"p\"},\"spec\":{\"containers\":"
	    "[{\"name\":\"c\",\"ports\":[{\"containerPort\":80}]},{\"name\":\"d\"}],\"nodeName\":"
	    "\"n\"},\"status\":{\"phase\":\"Running\"}}",
	    "tree_pick keeps the named fields, through arrays, and nothing else");
	ok(json_object_get(json_object_get(p, "metadata"), "labels") ==
	       json_object_get(json_object_get(pod, "metadata"), "labels"),
	   "a kept subtree is shared, not copied");
	free(s);
	json_decref(p);
	static const char *const none[] = {NULL};
	p = tree_pick(pod, none);
	ok(json_object_size(p) == 0, "no paths: an empty object");
	json_decref(p);
	json_decref(pod);
}

static void paths(void)
{
	char p[256];
	tree_path(p, sizeof p, "pods", "default", "web", "binding");
	is_str(p, "namespaces/default/pods/web.binding", "a namespaced object's file");
	tree_path(p, sizeof p, "nodes", NULL, "n1", "json");
	is_str(p, "nodes/n1.json", "a cluster object's file");
	tree_path(p, sizeof p, "nodes", "", "n1", "status");
	is_str(p, "nodes/n1.status", "an empty namespace is none");
}

static int calls[3];
static int failing;

static int work(void *arg, const char *key)
{
	(void)arg;
	int i = key[0] - 'a';
	__atomic_add_fetch(&calls[i], 1, __ATOMIC_SEQ_CST);
	if (i == 2 && __atomic_add_fetch(&failing, 1, __ATOMIC_SEQ_CST) < 3)
		return -1; /* retried with back-off */
	return 0;
}

static void queue(void)
{
	tree_queue *q = tree_queue_new();
	tree_queue_add(q, "a");
	tree_queue_add(q, "a");
	tree_queue_add(q, "b");
	tree_queue_add_after(q, "b", 0.05);
	tree_queue_add(q, "c");
	tree_queue_run(q, 2, work, NULL);
	usleep(300 * 1000);
	ok(calls[0] == 1, "a key added twice before a worker took it is worked once (%d)",
	   calls[0]);
	ok(calls[1] == 2, "a delayed add comes back (%d)", calls[1]);
	ok(calls[2] == 3, "a failing key is retried until it succeeds (%d)", calls[2]);
	ok(tree_queue_len(q) == 0, "nothing left queued");
	tree_queue_stop(q);
}

int main(void)
{
	pick();
	paths();
	queue();
	return tap_done();
}
