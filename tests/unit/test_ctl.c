/* test_ctl.c - the controllers' pure logic (sched/ctl_logic.c): endpoints
 * subsets, unreachable tolerations, node conditions, taint and owner edits;
 * which volume a claim binds (sched/ctl_pv_match.c). */
#include <stdlib.h>

#include "ctl.h"
#include "ctl_logic.h"
#include "tap.h"

static json_t *J(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);
	if (!j)
		printf("# bad test JSON: %s: %s\n", e.text, s);
	return j;
}

/* A pod in ns "d" with labels, an IP (or none), readiness, and a container port named web. */
static json_t *pod(const char *name, const char *labels, const char *ip, bool ready, int web_port)
{
	char s[2048];
	snprintf(s, sizeof s,
	         "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"d\",\"uid\":\"u-%s\","
	         "\"labels\":%s},\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\","
	         "\"ports\":[{\"name\":\"web\",\"containerPort\":%d}]}]},"
	         "\"status\":{%s%s%s\"conditions\":[{\"type\":\"Ready\",\"status\":\"%s\"}]}}",
	         name, name, labels, web_port, ip ? "\"podIP\":\"" : "", ip ? ip : "",
	         ip ? "\"," : "", ready ? "True" : "False");
	return J(s);
}

static char *dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

static void endpoints(void)
{
	json_t *svc = J("{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\"},\"spec\":{\"selector\":"
	                "{\"app\":\"a\"},\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":"
	                "8080,\"protocol\":\"TCP\"}]}}");
	json_t *p[5];
	p[0] = pod("p2", "{\"app\":\"a\"}", "10.0.0.2", true, 9000);
	p[1] = pod("p1", "{\"app\":\"a\",\"x\":\"y\"}", "10.0.0.1", true, 9000);
	p[2] = pod("p3", "{\"app\":\"a\"}", "10.0.0.3", false, 9000);
	p[3] = pod("other", "{\"app\":\"b\"}", "10.0.0.4", true, 9000);
	p[4] = pod("noip", "{\"app\":\"a\"}", NULL, true, 9000);
	json_t *s = ctl_ep_subsets(svc, p, 5);
	char *d = dump(s);
	is_str(
	    d,
	    "[{\"addresses\":[{\"ip\":\"10.0.0.1\",\"nodeName\":\"n1\",\"targetRef\":{\"kind\":"
	    "\"Pod\",\"name\":\"p1\",\"namespace\":\"d\",\"uid\":\"u-p1\"}},{\"ip\":\"10.0.0.2\","
	    "\"nodeName\":\"n1\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"p2\",\"namespace\":"
	    "\"d\",\"uid\":\"u-p2\"}}],\"notReadyAddresses\":[{\"ip\":\"10.0.0.3\",\"nodeName\":"
	    "\"n1\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"p3\",\"namespace\":\"d\",\"uid\":"
	    "\"u-p3\"}}],\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}]}]",
	    "ready pods in addresses sorted by ip, not ready apart, no IP or other labels out");
	free(d);

	/* reversed input gives the same subsets */
	json_t *r[5] = {p[4], p[3], p[2], p[1], p[0]};
	json_t *s2 = ctl_ep_subsets(svc, r, 5);
	ok(ctl_ep_same(s, s2), "the order of the pods does not matter");
	json_decref(s2);
	json_decref(s);

	/* named targetPort: pods with different container ports go to different subsets */
	json_t *named = J("{\"spec\":{\"selector\":{\"app\":\"a\"},\"ports\":[{\"port\":80,"
	                  "\"targetPort\":\"web\"}]}}");
	json_decref(p[0]);
	p[0] = pod("p2", "{\"app\":\"a\"}", "10.0.0.2", true, 9001);
	s = ctl_ep_subsets(named, p, 3);
	ok(json_array_size(s) == 2, "named targetPort resolving differently: two subsets (%zu)",
	   json_array_size(s));
	d = dump(s);
	ok(strstr(d, "\"port\":9000") && strstr(d, "\"port\":9001") && strstr(d, "\"TCP\""),
	   "named targetPort resolved per pod, protocol defaulted: %s", d);
	free(d);
	json_decref(s);

	json_t *missing = J("{\"spec\":{\"selector\":{\"app\":\"a\"},\"ports\":[{\"port\":80,"
	                    "\"targetPort\":\"nope\"}]}}");
	s = ctl_ep_subsets(missing, p, 3);
	ok(json_array_size(s) == 0, "a named targetPort no container has: no addresses");
	json_decref(s);

	json_t *dflt = J("{\"spec\":{\"selector\":{\"app\":\"a\"},\"ports\":[{\"port\":81}]}}");
	s = ctl_ep_subsets(dflt, p, 1);
	d = dump(s);
	ok(strstr(d, "\"port\":81,\"protocol\":\"TCP\""), "no targetPort: the port itself: %s", d);
	free(d);
	json_decref(s);

	/* a terminating pod is out */
	json_object_set_new(json_object_get(p[1], "metadata"), "deletionTimestamp",
	                    json_string("2024-01-01T00:00:00Z"));
	s = ctl_ep_subsets(svc, p, 2);
	d = dump(s);
	ok(!strstr(d, "10.0.0.1") && strstr(d, "10.0.0.2"), "a terminating pod leaves: %s", d);
	free(d);
	json_decref(s);

	json_t *empty = json_array(), *nul = json_null();
	ok(ctl_ep_same(NULL, empty) && ctl_ep_same(nul, empty), "absent, null and [] are the same");
	json_t *one = J("[{\"addresses\":[{\"ip\":\"1.1.1.1\"}]}]");
	ok(!ctl_ep_same(one, empty) && !ctl_ep_same(NULL, one), "[] and one subset differ");
	json_decref(one);
	json_decref(empty);
	json_decref(nul);
	for (int i = 0; i < 5; i++)
		json_decref(p[i]);
	json_decref(svc);
	json_decref(named);
	json_decref(missing);
	json_decref(dflt);
}

static void selectors(void)
{
	json_t *sel = J("{\"a\":\"1\",\"b\":\"2\"}"),
	       *l1 = J("{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}"), *l2 = J("{\"a\":\"1\"}"),
	       *l3 = J("{\"a\":\"1\",\"b\":\"x\"}");
	ok(ctl_sel_match(sel, l1), "a superset of the selector matches");
	ok(!ctl_sel_match(sel, l2) && !ctl_sel_match(sel, l3) && !ctl_sel_match(sel, NULL),
	   "a missing or different label does not");
	json_decref(sel);
	json_decref(l1);
	json_decref(l2);
	json_decref(l3);
}

static double grace_of(const char *tolerations)
{
	char s[1024];
	snprintf(s, sizeof s, "{\"spec\":{\"tolerations\":%s}}", tolerations);
	json_t *p = J(s);
	double g = ctl_unreachable_grace(p, 300);
	json_decref(p);
	return g;
}

static void tolerations(void)
{
	ok(grace_of("[]") == 300, "no toleration: the eviction timeout");
	ok(grace_of("[{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\","
	            "\"effect\":\"NoExecute\"}]") == -1,
	   "tolerates unreachable NoExecute without seconds: stays");
	ok(grace_of("[{\"operator\":\"Exists\"}]") == -1, "tolerates everything: stays");
	ok(grace_of("[{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\","
	            "\"effect\":\"NoExecute\",\"tolerationSeconds\":7}]") == 7,
	   "tolerationSeconds is its time");
	ok(grace_of("[{\"key\":\"node.kubernetes.io/unreachable\",\"effect\":\"NoSchedule\","
	            "\"operator\":\"Exists\"}]") == 300,
	   "another effect does not count");
	ok(grace_of("[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\"}]") == 300,
	   "another key does not count");
}

static void nodes(void)
{
	json_t *conds =
	    J("[{\"type\":\"MemoryPressure\",\"status\":\"False\",\"lastHeartbeatTime\":"
	      "\"T0\"},{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\","
	      "\"lastHeartbeatTime\":\"T0\",\"lastTransitionTime\":\"T-1\"}]");
	json_t *u = ctl_node_conds_unknown(conds, "T1");
	char *d = dump(u);
	is_str(d,
	       "[{\"lastHeartbeatTime\":\"T0\",\"lastTransitionTime\":\"T1\",\"message\":\"Kubelet "
	       "stopped posting node status.\",\"reason\":\"NodeStatusUnknown\",\"status\":"
	       "\"Unknown\",\"type\":\"MemoryPressure\"},{\"lastHeartbeatTime\":\"T0\","
	       "\"lastTransitionTime\":\"T1\",\"message\":\"Kubelet stopped posting node status.\","
	       "\"reason\":\"NodeStatusUnknown\",\"status\":\"Unknown\",\"type\":\"Ready\"}]",
	       "every condition Unknown, heartbeats kept, transition now");
	free(d);
	json_decref(u);
	json_t *none = json_array();
	u = ctl_node_conds_unknown(none, "T1");
	ok(json_array_size(u) == 1, "a node that never posted status gets Ready=Unknown");
	json_decref(u);
	json_decref(none);
	json_decref(conds);

	json_t *taints = J("[{\"key\":\"a\",\"effect\":\"NoSchedule\"},{\"key\":"
	                   "\"node.kubernetes.io/unreachable\",\"effect\":\"NoExecute\"}]");
	ok(ctl_taint_has(taints, "node.kubernetes.io/unreachable", "NoExecute"), "taint found");
	ok(!ctl_taint_has(taints, "node.kubernetes.io/unreachable", "NoSchedule"),
	   "taint with another effect not found");
	json_t *w = ctl_taints_without(taints, "node.kubernetes.io/unreachable", "NoExecute");
	d = dump(w);
	is_str(d, "[{\"effect\":\"NoSchedule\",\"key\":\"a\"}]", "the taint removed, others kept");
	free(d);
	json_decref(w);
	json_decref(taints);
}

static void owners(void)
{
	json_t *refs = J("[{\"uid\":\"1\",\"kind\":\"A\"},{\"uid\":\"2\",\"kind\":\"B\"}]");
	json_t *w = ctl_refs_without(refs, "1");
	ok(json_array_size(w) == 1 &&
	       !strcmp(json_string_value(json_object_get(json_array_get(w, 0), "uid")), "2"),
	   "ownerReferences without one uid");
	json_decref(w);
	json_decref(refs);
	json_t *fin = J("[\"orphan\",\"x\"]");
	ok(ctl_has_string(fin, "orphan") && !ctl_has_string(fin, "foregroundDeletion"),
	   "finalizer lookup");
	w = ctl_strings_without(fin, "orphan");
	ok(json_array_size(w) == 1 && ctl_has_string(w, "x"), "finalizer removed");
	json_decref(w);
	json_decref(fin);
}

/*
 * A PersistentVolume: size, access modes (a JSON array), class (NULL: none),
 * phase, labels (a JSON object) and more spec members (",..." or "").
 */
static json_t *pv(const char *name, const char *size, const char *modes, const char *cls,
                  const char *phase, const char *labels, const char *spec)
{
	char s[2048];
	snprintf(s, sizeof s,
	         "{\"kind\":\"PersistentVolume\",\"metadata\":{\"name\":\"%s\",\"labels\":%s},"
	         "\"spec\":{\"capacity\":{\"storage\":\"%s\"},\"accessModes\":%s%s%s%s%s},"
	         "\"status\":{\"phase\":\"%s\"}}",
	         name, labels, size, modes, cls ? ",\"storageClassName\":\"" : "", cls ? cls : "",
	         cls ? "\"" : "", spec, phase);
	return J(s);
}

/* The claim d/c (uid u-c) for size, modes and class (NULL: none), with more spec members. */
static json_t *claim(const char *size, const char *modes, const char *cls, const char *spec)
{
	char s[2048];
	snprintf(s, sizeof s,
	         "{\"metadata\":{\"name\":\"c\",\"namespace\":\"d\",\"uid\":\"u-c\"},\"spec\":{"
	         "\"accessModes\":%s,\"resources\":{\"requests\":{\"storage\":\"%s\"}}%s%s%s%s}}",
	         modes, size, cls ? ",\"storageClassName\":\"" : "", cls ? cls : "",
	         cls ? "\"" : "", spec);
	return J(s);
}

#define RWO "[\"ReadWriteOnce\"]"
#define NOL "{}"

/* The name of the volume ctl_pv_match picks among v, or "none"; frees the claim. */
static const char *pick(json_t *c, json_t **v, size_t n)
{
	int i = ctl_pv_match(c, v, n);
	json_decref(c);
	return i < 0 ? "none" : tree_meta(v[i], "name");
}

static void free_all(json_t **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(v[i]);
}

static void volumes(void)
{
	json_t *v[8];
	/* size */
	v[0] = pv("ten", "10Gi", RWO, NULL, "Available", NOL, "");
	v[1] = pv("one", "1Gi", RWO, NULL, "Available", NOL, "");
	v[2] = pv("five", "5Gi", RWO, NULL, "Available", NOL, "");
	v[3] = pv("five-b", "5120Mi", RWO, NULL, "Available", NOL, "");
	is_str(pick(claim("3Gi", RWO, NULL, ""), v, 4), "five",
	       "the smallest that fits; equal sizes ('5Gi', '5120Mi') go by name");
	is_str(pick(claim("1Gi", RWO, NULL, ""), v, 4), "one", "a volume of exactly the size fits");
	is_str(pick(claim("1.5G", RWO, NULL, ""), v, 4), "five",
	       "1.5G (decimal) is more than 1Gi: the next one");
	is_str(pick(claim("11Gi", RWO, NULL, ""), v, 4), "none", "none is big enough");
	free_all(v, 4);

	/* class: none matches none or "", a class only itself; the beta annotation wins */
	v[0] = pv("gold", "1Gi", RWO, "gold", "Available", NOL, "");
	v[1] = pv("empty", "2Gi", RWO, "", "Available", NOL, "");
	v[2] = pv("bare", "3Gi", RWO, NULL, "Available", NOL, "");
	is_str(pick(claim("1Gi", RWO, NULL, ""), v, 3), "empty",
	       "a claim without a class binds a volume without one, not a smaller classed one");
	is_str(pick(claim("1Gi", RWO, "", ""), v, 3), "empty", "\"\" is no class");
	is_str(pick(claim("1Gi", RWO, "gold", ""), v, 3), "gold", "a class binds its own");
	is_str(pick(claim("1Gi", RWO, "silver", ""), v, 3), "none",
	       "no default class is made up: a class nobody has binds nothing");
	json_t *c = claim("1Gi", RWO, NULL, "");
	json_object_set_new(json_object_get(c, "metadata"), "annotations",
	                    J("{\"volume.beta.kubernetes.io/storage-class\":\"gold\"}"));
	is_str(ctl_pv_class(c), "gold", "the beta storage-class annotation is the class");
	is_str(pick(c, v, 3), "gold", "and is matched");
	free_all(v, 3);

	/* access modes: all of the claim's offered; fewer extra modes first */
	v[0] = pv("rwo", "5Gi", RWO, NULL, "Available", NOL, "");
	v[1] =
	    pv("both", "1Gi", "[\"ReadWriteOnce\",\"ReadOnlyMany\"]", NULL, "Available", NOL, "");
	v[2] = pv("rwx", "1Gi", "[\"ReadWriteMany\"]", NULL, "Available", NOL, "");
	is_str(pick(claim("1Gi", "[\"ReadOnlyMany\"]", NULL, ""), v, 3), "both",
	       "a mode only one volume offers");
	is_str(pick(claim("1Gi", "[\"ReadWriteOnce\",\"ReadOnlyMany\"]", NULL, ""), v, 3), "both",
	       "every mode of the claim must be offered");
	is_str(pick(claim("1Gi", RWO, NULL, ""), v, 3), "rwo",
	       "the volume with the fewest modes wins over a smaller one with more (Kubernetes' "
	       "index order)");
	is_str(pick(claim("1Gi", "[\"ReadWriteOncePod\"]", NULL, ""), v, 3), "none",
	       "a mode no volume offers");
	free_all(v, 3);

	/* selector */
	v[0] = pv("fast", "5Gi", RWO, NULL, "Available", "{\"tier\":\"fast\",\"zone\":\"a\"}", "");
	v[1] = pv("slow", "1Gi", RWO, NULL, "Available", "{\"tier\":\"slow\"}", "");
	v[2] = pv("plain", "1Gi", RWO, NULL, "Available", NOL, "");
	is_str(pick(claim("1Gi", RWO, NULL, ",\"selector\":{\"matchLabels\":{\"tier\":\"fast\"}}"),
	            v, 3),
	       "fast", "matchLabels");
	is_str(pick(claim("1Gi", RWO, NULL,
	                  ",\"selector\":{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":"
	                  "\"NotIn\",\"values\":[\"fast\"]},{\"key\":\"tier\",\"operator\":"
	                  "\"Exists\"}]}"),
	            v, 3),
	       "slow", "matchExpressions NotIn and Exists");
	is_str(pick(claim("1Gi", RWO, NULL, ",\"selector\":{}"), v, 3), "plain",
	       "an empty selector selects every volume");
	is_str(pick(claim("1Gi", RWO, NULL,
	                  ",\"selector\":{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":"
	                  "\"Bogus\"}]}"),
	            v, 3),
	       "none", "a selector that cannot be read selects nothing");
	free_all(v, 3);

	/* volumeMode (Filesystem by default), phase, being deleted */
	v[0] = pv("block", "1Gi", RWO, NULL, "Available", NOL, ",\"volumeMode\":\"Block\"");
	v[1] = pv("pending", "1Gi", RWO, NULL, "Pending", NOL, "");
	v[2] = pv("released", "1Gi", RWO, NULL, "Released", NOL, "");
	v[3] = pv("fs", "5Gi", RWO, NULL, "Available", NOL, ",\"volumeMode\":\"Filesystem\"");
	is_str(pick(claim("1Gi", RWO, NULL, ""), v, 4), "fs",
	       "a Filesystem claim skips Block volumes and volumes not Available");
	is_str(pick(claim("1Gi", RWO, NULL, ",\"volumeMode\":\"Block\""), v, 4), "block",
	       "a Block claim binds a Block volume");
	json_object_set_new(json_object_get(v[3], "metadata"), "deletionTimestamp",
	                    json_string("2024-01-01T00:00:00Z"));
	is_str(pick(claim("1Gi", RWO, NULL, ""), v, 4), "none",
	       "a volume being deleted is skipped");
	free_all(v, 4);

	/* claimRef: pre-bound wins; bound to another claim, or an older claim of this name, not */
	v[0] = pv("small", "1Gi", RWO, NULL, "Available", NOL, "");
	v[1] = pv("other", "1Gi", RWO, NULL, "Bound", NOL,
	          ",\"claimRef\":{\"namespace\":\"d\",\"name\":\"x\",\"uid\":\"u-x\"}");
	v[2] = pv("old", "1Gi", RWO, NULL, "Released", NOL,
	          ",\"claimRef\":{\"namespace\":\"d\",\"name\":\"c\",\"uid\":\"u-old\"}");
	v[3] = pv("mine", "9Gi", RWO, "other-class", "Pending", "{\"tier\":\"x\"}",
	          ",\"claimRef\":{\"namespace\":\"d\",\"name\":\"c\"}");
	is_str(pick(claim("1Gi", RWO, NULL, ",\"selector\":{\"matchLabels\":{\"a\":\"b\"}}"), v, 4),
	       "mine",
	       "a volume pre-bound by name wins over a smaller free one, whatever its class, "
	       "labels, phase");
	ok(ctl_pv_bound_to(v[3], c = claim("1Gi", RWO, NULL, "")) && !ctl_pv_bound_to(v[2], c) &&
	       !ctl_pv_bound_to(v[1], c) && !ctl_pv_bound_to(v[0], c),
	   "bound_to: by name without a uid, not with another uid, not another name, not unbound");
	json_decref(c);
	is_str(pick(claim("10Gi", RWO, NULL, ""), v, 4), "none",
	       "but it must be big enough, and the others are taken");
	is_str(pick(claim("1Gi", RWO, NULL, ""), v, 3), "small",
	       "without it: the free one, not those claimed by others or an old claim");
	free_all(v, 4);

	/* what a claim naming its volume is held to */
	const char *why = "";
	json_t *vol = pv("v", "5Gi", RWO, "gold", "Available", NOL, "");
	ok(ctl_pv_satisfies(vol, c = claim("5Gi", RWO, "gold", ""), &why), "satisfies");
	json_decref(c);
	ok(!ctl_pv_satisfies(vol, c = claim("6Gi", RWO, "gold", ""), &why) &&
	       !strcmp(why, "requested PV is too small"),
	   "too small: %s", why);
	json_decref(c);
	ok(!ctl_pv_satisfies(vol, c = claim("1Gi", RWO, NULL, ""), &why) &&
	       !strcmp(why, "storageClassName does not match"),
	   "another class: %s", why);
	json_decref(c);
	ok(!ctl_pv_satisfies(vol, c = claim("1Gi", RWO, "gold", ",\"volumeMode\":\"Block\""),
	                     &why) &&
	       !strcmp(why, "incompatible volumeMode"),
	   "another volumeMode: %s", why);
	json_decref(c);
	ok(!ctl_pv_satisfies(vol, c = claim("1Gi", "[\"ReadWriteMany\"]", "gold", ""), &why) &&
	       !strcmp(why, "incompatible accessMode"),
	   "another access mode: %s", why);
	json_decref(c);
	ok(ctl_pv_satisfies(
	       vol,
	       c = claim("1Gi", RWO, "gold", ",\"selector\":{\"matchLabels\":{\"no\":\"pe\"}}"),
	       &why),
	   "the selector is not looked at for a named volume");
	json_decref(c);
	json_decref(vol);
}

int main(void)
{
	endpoints();
	selectors();
	tolerations();
	nodes();
	owners();
	volumes();
	return tap_done();
}
