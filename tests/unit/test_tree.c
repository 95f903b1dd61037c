/* test_tree.c - the client side of the tree (tree_pick, tree_path, the work queue) and the
 * helpers the commands share: option values, RFC 3339 times. */
#include <stdlib.h>
#include <unistd.h>

#include "kube9/tree.h"
#include "kube9/util.h"
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

static void flags(void)
{
	long n = -7;
	double d = -7;
	bool b = false;
	ok(k9_flag_int("t", "pods", "250", 1, 250, &n) && n == 250, "a whole number at its bound");
	ok(!k9_flag_int("t", "pods", "251", 1, 250, &n) && n == 250,
	   "above the bound: refused, nothing written");
	ok(!k9_flag_int("t", "pods", "5x", 1, 250, &n), "trailing junk refused");
	ok(!k9_flag_int("t", "pods", "", 1, 250, &n), "empty refused");
	ok(!k9_flag_int("t", "pods", "1.5", 1, 250, &n), "a fraction is not a whole number");
	ok(k9_flag_num("t", "heartbeat", "0.5", 0.001, 10, &d) && d == 0.5, "a number");
	ok(!k9_flag_num("t", "heartbeat", "0", 0.001, 10, &d) && d == 0.5, "below the bound");
	ok(!k9_flag_num("t", "heartbeat", "nan", 0, 10, &d), "nan refused");
	ok(k9_flag_bool("t", "leader-elect", "true", &b) && b, "true");
	ok(k9_flag_bool("t", "leader-elect", "false", &b) && !b, "false");
	ok(!k9_flag_bool("t", "leader-elect", "yes", &b), "anything else refused");
}

static void times(void)
{
	char t[32];
	k9_rfc3339(0, t, sizeof t);
	is_str(t, "1970-01-01T00:00:00Z", "k9_rfc3339 of the epoch");
	ok(k9_parse_rfc3339("2026-11-28T02:00:00Z") == 1795831200, "parsed back as UTC");
	ok(k9_parse_rfc3339("yesterday") == (time_t)-1 && k9_parse_rfc3339(NULL) == (time_t)-1,
	   "not a time: -1");
	k9_now_rfc3339(t, sizeof t);
	ok(tree_age(t) >= 0 && tree_age(t) < 5, "the age of now is about 0");
	ok(tree_age("garbage") > 1e17, "the age of no time is huge");
}

int main(void)
{
	flags();
	times();
	pick();
	paths();
	queue();
	{
		char ns[64], name[64], key[130];
		json_t *o =
		    json_pack("{s:{s:s,s:s}}", "metadata", "namespace", "default", "name", "web");
		tree_key(o, key, sizeof key);
		tree_key_split(key, ns, name, sizeof ns);
		ok(!strcmp(key, "default/web") && !strcmp(ns, "default") && !strcmp(name, "web"),
		   "tree_key_split undoes tree_key: %s -> %s, %s", key, ns, name);
		json_decref(o);
		tree_key_split("node-1", ns, name, sizeof ns);
		ok(!ns[0] && !strcmp(name, "node-1"), "a cluster-scoped key has no namespace");
	}
	return tap_done();
}
