/* test_sched.c - the scheduler's pure logic (sched/sched_fit.c): every
 * filter and its reason, the scores (least allocated, spreading), how many
 * feasible nodes to look for, the unschedulable message, host ports. */
#include <math.h>
#include <stdlib.h>

#include "scheduler.h"
#include "tap.h"

static json_t *J(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);
	if (!j)
		printf("# bad test JSON: %s: %s\n", e.text, s);
	return j;
}

static int fabs_eq(double a, double b)
{
	return fabs(a - b) < 1e-6;
}

/* A Ready node with 4 cpu, 8000 bytes, 10 pods, nothing counted on it;
 * obj has the labels and spec given (JSON text, "" for none). */
static sched_node node(const char *name, const char *labels, const char *spec)
{
	char s[2048];
	snprintf(s, sizeof s, "{\"metadata\":{\"name\":\"%s\",\"labels\":%s},\"spec\":%s}", name,
	         labels && labels[0] ? labels : "{}", spec && spec[0] ? spec : "{}");
	sched_node n = {0};
	n.name = (char *)name;
	n.obj = J(s);
	n.cpu = 4000;
	n.mem = 8000;
	n.pods = 10;
	n.ready = true;
	n.zone = n.region = -1;
	sched_node_index(&n);
	return n;
}

/* A pod asking cpu (millicores, 0 for none) and memory (bytes, 0 for none),
 * with extra spec fields (JSON members, "" for none) and container fields. */
static json_t *pod(int cpu, int mem, const char *spec_extra, const char *ctr_extra)
{
	char req[256] = "", s[4096];
	if (cpu && mem)
		snprintf(req, sizeof req,
		         "\"resources\":{\"requests\":{\"cpu\":\"%dm\",\"memory\":\"%d\"}},", cpu,
		         mem);
	else if (cpu)
		snprintf(req, sizeof req, "\"resources\":{\"requests\":{\"cpu\":\"%dm\"}},", cpu);
	else if (mem)
		snprintf(req, sizeof req, "\"resources\":{\"requests\":{\"memory\":\"%d\"}},", mem);
	snprintf(s, sizeof s,
	         "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\"},\"spec\":{%s%s"
	         "\"containers\":[{%s%s\"name\":\"c\",\"image\":\"x\"}]}}",
	         spec_extra ? spec_extra : "", spec_extra && spec_extra[0] ? "," : "", req,
	         ctr_extra ? ctr_extra : "");
	return J(s);
}

/* sched_filter's answer for pod json (spec extras) on node n, NULL when it fits. */
static const char *filter(const json_t *p, const sched_node *n)
{
	static char buf[512];
	sched_req r;
	sched_req_init(&r, p, NULL);
	return sched_filter(&r, n, buf, sizeof buf);
}

static const char *filter_spec(const char *spec_extra, const sched_node *n)
{
	static char keep[512];
	json_t *p = pod(0, 0, spec_extra, NULL);
	const char *w = filter(p, n);
	if (w)
		snprintf(keep, sizeof keep, "%s", w);
	json_decref(p);
	return w ? keep : NULL;
}

#define UNSCHED  "node(s) were unschedulable"
#define NOTREADY "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
#define AFFINITY "node(s) didn't match Pod's node affinity/selector"
#define PORTS    "node(s) didn't have free ports for the requested pod ports"

static void unschedulable_and_ready(void)
{
	sched_node n = node("n1", NULL, "{\"unschedulable\":true}");
	n.unschedulable = true;
	is_str(filter_spec("", &n), UNSCHED, "a cordoned node: %s", UNSCHED);
	is_str(filter_spec("\"tolerations\":[{\"key\":\"node.kubernetes.io/unschedulable\","
	                   "\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}]",
	                   &n),
	       NULL, "...unless the pod tolerates node.kubernetes.io/unschedulable");
	is_str(filter_spec("\"tolerations\":[{\"operator\":\"Exists\"}]", &n), NULL,
	       "...or tolerates everything (empty key, Exists)");
	is_str(filter_spec("\"tolerations\":[{\"key\":\"node.kubernetes.io/unschedulable\","
	                   "\"operator\":\"Exists\",\"effect\":\"NoExecute\"}]",
	                   &n),
	       UNSCHED, "...a toleration of another effect does not do");
	json_decref(n.obj);

	n = node("n1", NULL, NULL);
	n.ready = false;
	is_str(filter_spec("", &n), NOTREADY, "a node not Ready: the not-ready taint");
	is_str(filter_spec("\"tolerations\":[{\"key\":\"node.kubernetes.io/not-ready\","
	                   "\"operator\":\"Exists\"}]",
	                   &n),
	       NULL, "...tolerated by a pod tolerating not-ready (any effect)");
	n.unschedulable = true;
	is_str(filter_spec("", &n), UNSCHED, "cordoned and not ready: unschedulable comes first");
	json_decref(n.obj);

	n = node("n1", NULL, NULL);
	is_str(filter_spec("", &n), NULL, "a Ready node with room: fits");
	json_decref(n.obj);
}

static void taints(void)
{
	sched_node ns = node("n1", NULL,
	                     "{\"taints\":[{\"key\":\"dedicated\",\"value\":\"gpu\",\"effect\":"
	                     "\"NoSchedule\"}]}");
	sched_node ne = node("n2", NULL,
	                     "{\"taints\":[{\"key\":\"dedicated\",\"value\":\"gpu\",\"effect\":"
	                     "\"NoExecute\"}]}");
	sched_node np = node("n3", NULL,
	                     "{\"taints\":[{\"key\":\"dedicated\",\"value\":\"gpu\",\"effect\":"
	                     "\"PreferNoSchedule\"}]}");
	sched_node nk =
	    node("n4", NULL, "{\"taints\":[{\"key\":\"bare\",\"effect\":\"NoSchedule\"}]}");
	const char *want = "node(s) had untolerated taint {dedicated: gpu}";
	is_str(filter_spec("", &ns), want, "NoSchedule taint, no toleration");
	is_str(filter_spec("", &ne), want, "NoExecute taint, no toleration");
	is_str(filter_spec("", &np), NULL, "PreferNoSchedule does not filter");
	is_str(filter_spec("", &nk), "node(s) had untolerated taint {bare: }",
	       "a taint without value: the message has it empty");

	const char *eq = "\"tolerations\":[{\"key\":\"dedicated\",\"operator\":\"Equal\","
	                 "\"value\":\"gpu\",\"effect\":\"NoSchedule\"}]";
	is_str(filter_spec(eq, &ns), NULL, "Equal toleration with key, value, effect: tolerated");
	is_str(filter_spec(eq, &ne), want, "...but not the same taint with NoExecute");
	const char *noop = "\"tolerations\":[{\"key\":\"dedicated\",\"value\":\"gpu\"}]";
	is_str(filter_spec(noop, &ns), NULL,
	       "no operator means Equal; no effect means any (NoSchedule)");
	is_str(filter_spec(noop, &ne), NULL, "...and NoExecute");
	is_str(filter_spec("\"tolerations\":[{\"key\":\"dedicated\",\"value\":\"cpu\"}]", &ns),
	       want, "Equal with another value: not tolerated");
	is_str(filter_spec("\"tolerations\":[{\"key\":\"other\",\"operator\":\"Exists\"}]", &ns),
	       want, "Exists on another key: not tolerated");
	is_str(
	    filter_spec("\"tolerations\":[{\"key\":\"dedicated\",\"operator\":\"Exists\"}]", &ns),
	    NULL, "Exists on the key: tolerated (any value)");
	is_str(filter_spec("\"tolerations\":[{\"key\":\"dedicated\",\"operator\":\"Exists\","
	                   "\"effect\":\"NoExecute\"}]",
	                   &ne),
	       NULL, "Exists with effect NoExecute tolerates the NoExecute taint");
	is_str(filter_spec("\"tolerations\":[{\"operator\":\"Exists\"}]", &ns), NULL,
	       "empty key with Exists tolerates everything");
	is_str(filter_spec("\"tolerations\":[{\"operator\":\"Exists\",\"effect\":\"NoExecute\"}]",
	                   &ns),
	       want, "empty key with Exists and effect NoExecute: not a NoSchedule taint");
	is_str(filter_spec("\"tolerations\":[{\"operator\":\"Exists\",\"effect\":\"NoExecute\"}]",
	                   &ne),
	       NULL, "...but a NoExecute one");
	is_str(filter_spec("\"tolerations\":[{\"value\":\"gpu\"}]", &ns), want,
	       "empty key with Equal tolerates nothing");
	is_str(filter_spec("\"tolerations\":[{\"key\":\"bare\",\"operator\":\"Equal\"}]", &nk),
	       NULL, "Equal without value tolerates a taint without value");

	sched_node two =
	    node("n5", NULL,
	         "{\"taints\":[{\"key\":\"a\",\"value\":\"1\",\"effect\":\"NoSchedule\"},"
	         "{\"key\":\"b\",\"value\":\"2\",\"effect\":\"NoExecute\"}]}");
	is_str(filter_spec("\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}]", &two),
	       "node(s) had untolerated taint {b: 2}",
	       "two taints, one tolerated: the other is named");
	is_str(
	    filter_spec("\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"},{\"key\":\"b\","
	                "\"operator\":\"Equal\",\"value\":\"2\"}]",
	                &two),
	    NULL, "both tolerated: fits");
	json_decref(ns.obj);
	json_decref(ne.obj);
	json_decref(np.obj);
	json_decref(nk.obj);
	json_decref(two.obj);
}

static const char *aff(const char *exprs, const sched_node *n)
{
	char s[1024];
	snprintf(
	    s, sizeof s,
	    "\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
	    "{\"nodeSelectorTerms\":[{\"matchExpressions\":[%s]}]}}}",
	    exprs);
	return filter_spec(s, n);
}

static void affinity(void)
{
	sched_node a = node("na", "{\"disk\":\"ssd\",\"gen\":\"5\",\"zone\":\"z1\"}", NULL);
	sched_node b = node("nb", "{\"disk\":\"hdd\",\"gen\":\"3\"}", NULL);
	is_str(filter_spec("\"nodeSelector\":{\"disk\":\"ssd\"}", &a), NULL,
	       "nodeSelector matches");
	is_str(filter_spec("\"nodeSelector\":{\"disk\":\"ssd\"}", &b), AFFINITY,
	       "nodeSelector with another value: %s", AFFINITY);
	is_str(filter_spec("\"nodeSelector\":{\"disk\":\"ssd\",\"zone\":\"z1\"}", &a), NULL,
	       "nodeSelector with two labels, both there");
	is_str(filter_spec("\"nodeSelector\":{\"disk\":\"ssd\",\"zone\":\"z2\"}", &a), AFFINITY,
	       "...one of them different");
	is_str(filter_spec("\"nodeSelector\":{\"missing\":\"x\"}", &a), AFFINITY,
	       "nodeSelector on a label the node lacks");

	const char *in = "{\"key\":\"disk\",\"operator\":\"In\",\"values\":[\"nvme\",\"ssd\"]}";
	is_str(aff(in, &a), NULL, "In: the value is listed");
	is_str(aff(in, &b), AFFINITY, "In: not listed");
	const char *notin = "{\"key\":\"disk\",\"operator\":\"NotIn\",\"values\":[\"ssd\"]}";
	is_str(aff(notin, &a), AFFINITY, "NotIn: listed");
	is_str(aff(notin, &b), NULL, "NotIn: not listed");
	is_str(aff("{\"key\":\"nolabel\",\"operator\":\"NotIn\",\"values\":[\"x\"]}", &a), NULL,
	       "NotIn: the label is absent: matches");
	const char *ex = "{\"key\":\"zone\",\"operator\":\"Exists\"}";
	is_str(aff(ex, &a), NULL, "Exists: has it");
	is_str(aff(ex, &b), AFFINITY, "Exists: has it not");
	const char *dne = "{\"key\":\"zone\",\"operator\":\"DoesNotExist\"}";
	is_str(aff(dne, &a), AFFINITY, "DoesNotExist: has it");
	is_str(aff(dne, &b), NULL, "DoesNotExist: has it not");
	const char *gt = "{\"key\":\"gen\",\"operator\":\"Gt\",\"values\":[\"4\"]}";
	is_str(aff(gt, &a), NULL, "Gt: 5 > 4");
	is_str(aff(gt, &b), AFFINITY, "Gt: 3 > 4 is false");
	is_str(aff("{\"key\":\"gen\",\"operator\":\"Gt\",\"values\":[\"5\"]}", &a), AFFINITY,
	       "Gt: 5 > 5 is false");
	is_str(aff("{\"key\":\"zone\",\"operator\":\"Gt\",\"values\":[\"4\"]}", &b), AFFINITY,
	       "Gt: the label is absent: no match");
	is_str(aff("{\"key\":\"gen\",\"operator\":\"Lt\",\"values\":[\"4\"]}", &b), NULL,
	       "Lt: 3 < 4");
	is_str(aff("{\"key\":\"disk\",\"operator\":\"In\",\"values\":[\"ssd\"]},"
	           "{\"key\":\"gen\",\"operator\":\"Gt\",\"values\":[\"9\"]}",
	           &a),
	       AFFINITY, "expressions of one term are ANDed");
	is_str(aff("{\"key\":\"disk\",\"operator\":\"Bogus\",\"values\":[\"ssd\"]}", &a), AFFINITY,
	       "an unknown operator matches nothing");

	const char *terms =
	    "\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":{"
	    "\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"disk\",\"operator\":\"In\","
	    "\"values\":[\"nvme\"]}]},{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Lt\","
	    "\"values\":[\"4\"]}]}]}}}";
	is_str(filter_spec(terms, &b), NULL, "terms are ORed: the second matches");
	is_str(filter_spec(terms, &a), AFFINITY, "...neither matches");
	is_str(filter_spec(
	           "\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExec"
	           "ution\":{\"nodeSelectorTerms\":[{}]}}}",
	           &a),
	       AFFINITY, "an empty term matches no node");
	is_str(filter_spec(
	           "\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExec"
	           "ution\":{\"nodeSelectorTerms\":[{\"matchFields\":[{\"key\":\"metadata.name\","
	           "\"operator\":\"In\",\"values\":[\"nb\"]}]}]}}}",
	           &b),
	       NULL, "matchFields metadata.name In [nb] on nb");
	is_str(filter_spec(
	           "\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExec"
	           "ution\":{\"nodeSelectorTerms\":[{\"matchFields\":[{\"key\":\"metadata.name\","
	           "\"operator\":\"In\",\"values\":[\"nb\"]}]}]}}}",
	           &a),
	       AFFINITY, "...not on na");
	is_str(
	    filter_spec("\"nodeSelector\":{\"disk\":\"ssd\"},\"affinity\":{\"nodeAffinity\":{"
	                "\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":"
	                "[{\"matchExpressions\":["
	                "{\"key\":\"gen\",\"operator\":\"Lt\",\"values\":[\"4\"]}"
	                "]}]}}}",
	                &a),
	    AFFINITY, "nodeSelector and affinity must both match (affinity fails)");
	is_str(filter_spec(
	           "\"affinity\":{\"nodeAffinity\":{\"preferredDuringSchedulingIgnoredDuringExe"
	           "cution\":[{\"weight\":1,\"preference\":{\"matchExpressions\":[{\"key\":"
	           "\"disk\",\"operator\":\"In\",\"values\":[\"nvme\"]}]}}]}}",
	           &a),
	       NULL, "preferred affinity does not filter");
	json_decref(a.obj);
	json_decref(b.obj);
}

static void ports(void)
{
	ok(sched_port("TCP", 80) == 80 && sched_port(NULL, 80) == 80,
	   "TCP (or none) port 80 is 80");
	ok(sched_port("UDP", 53) == (1 << 16 | 53), "UDP 53 is 1<<16|53");
	ok(sched_port("SCTP", 9) == (2 << 16 | 9), "SCTP 9 is 2<<16|9");
	ok(sched_port("TCP", 53) != sched_port("UDP", 53), "TCP and UDP of one number differ");

	json_t *p = pod(0, 0, "",
	                "\"ports\":[{\"containerPort\":8080,\"hostPort\":80},"
	                "{\"containerPort\":53,\"hostPort\":53,\"protocol\":\"UDP\"},"
	                "{\"containerPort\":9000}],");
	sched_req r;
	sched_req_init(&r, p, NULL);
	ok(r.nports == 2 && r.ports[0] == 80 && r.ports[1] == sched_port("UDP", 53),
	   "sched_req_init collects the host ports only (%zu)", r.nports);
	sched_node n = node("n1", NULL, NULL);
	int used[2] = {sched_port("TCP", 53), sched_port("TCP", 81)};
	n.ports = used;
	n.nports = 2;
	is_str(filter(p, &n), NULL, "TCP 53 and 81 in use: the pod's TCP 80 and UDP 53 fit");
	used[1] = sched_port("TCP", 80);
	is_str(filter(p, &n), PORTS, "TCP 80 in use: %s", PORTS);
	used[1] = 81;
	used[0] = sched_port("UDP", 53);
	is_str(filter(p, &n), PORTS, "UDP 53 in use: conflict");
	json_decref(p);
	p = pod(0, 0, "", "\"ports\":[{\"containerPort\":80}],");
	used[0] = 80;
	is_str(filter(p, &n), NULL, "a pod without host ports ignores the node's");
	json_decref(p);
	json_decref(n.obj);
}

static void resources(void)
{
	sched_node n = node("n1", NULL, NULL); /* 4000m, 8000 bytes, 10 pods */
	json_t *p = pod(1000, 1000, "", NULL);
	is_str(filter(p, &n), NULL, "an empty node fits a small pod");
	n.req_pods = 9;
	is_str(filter(p, &n), NULL, "9 of 10 pods: one more fits");
	n.req_pods = 10;
	is_str(filter(p, &n), "Too many pods", "10 of 10 pods: Too many pods");
	n.req_pods = 0;
	n.req_cpu = 3000;
	is_str(filter(p, &n), NULL, "cpu exactly full after it: fits");
	n.req_cpu = 3001;
	is_str(filter(p, &n), "Insufficient cpu", "1m short: Insufficient cpu");
	n.req_cpu = 0;
	n.req_mem = 7001;
	is_str(filter(p, &n), "Insufficient memory", "1 byte short: Insufficient memory");
	n.req_cpu = 3500;
	is_str(filter(p, &n), "Insufficient cpu\nInsufficient memory",
	       "both short: both reasons, one a line");
	n.req_pods = 10;
	is_str(filter(p, &n), "Too many pods", "pods, cpu and memory short: Too many pods first");
	json_decref(p);
	n.req_pods = 0;
	n.req_cpu = 4000;
	n.req_mem = 8000;
	p = pod(0, 0, "", NULL);
	is_str(filter(p, &n), NULL, "a pod asking nothing fits a full node");
	json_decref(p);
	p = pod(1, 0, "", NULL);
	is_str(filter(p, &n), "Insufficient cpu", "...asking 1m cpu it does not");
	json_decref(p);
	n.req_cpu = n.req_mem = 0;
	p = pod(5000, 0, "", NULL);
	is_str(filter(p, &n), "Insufficient cpu", "a pod asking more than the node has at all");
	json_decref(p);
	/* an earlier filter wins over resources */
	n.unschedulable = true;
	p = pod(5000, 0, "", NULL);
	is_str(filter(p, &n), UNSCHED, "cordoned and too small: unschedulable is the reason");
	json_decref(p);
	json_decref(n.obj);
}

static double score(const json_t *p, const sched_node *n, const sched_owner *o, int mn, int mz,
                    int mr)
{
	sched_req r;
	sched_req_init(&r, p, o);
	return sched_score(&r, n, mn, mz, mr);
}

static void scores(void)
{
	json_t *p = pod(1000, 1000, "", NULL);
	sched_node a = node("a", NULL, NULL), b = node("b", NULL, NULL);
	b.req_cpu = 2000;
	b.req_mem = 4000;
	double sa = score(p, &a, NULL, 0, 0, 0), sb = score(p, &b, NULL, 0, 0, 0);
	ok(sa > sb, "less allocated scores higher (%.1f > %.1f)", sa, sb);
	ok(sa <= 200 && sb >= 0, "no owner: 0..200 (least + balanced)");
	/* balanced: same total use, one node lopsided */
	sched_node c = node("c", NULL, NULL), d = node("d", NULL, NULL);
	c.req_cpu = 1000; /* after: cpu 2000/4000 = .5, mem 5000/8000 = .625 */
	c.req_mem = 4000;
	d.req_cpu = 3000; /* after: cpu 1, mem 1000/8000 = .125 */
	d.req_mem = 0;
	ok(score(p, &c, NULL, 0, 0, 0) > score(p, &d, NULL, 0, 0, 0),
	   "balanced use beats lopsided use");
	/* empty node: cpu 1000/4000 = .25, mem 1000/8000 = .125: least 81.25, balanced 87.5 */
	ok(fabs_eq(sa, 81.25 + 87.5), "empty node: least 81.25 + balanced 87.5 = %.2f", sa);

	/* spreading: owner has 2 pods on a (zone 0), none on b (zone 1) */
	sched_owner o = {0};
	o.uid = "rs";
	k9_map_put(&o.by_node, "a", (void *)(intptr_t)2);
	o.zone[0] = 2;
	o.total = 2;
	a.zone = 0;
	sched_node b2 = node("b2", NULL, NULL);
	b2.zone = 1;
	double s1 = score(p, &a, &o, 2, 2, 0), s2 = score(p, &b2, &o, 2, 2, 0);
	ok(s2 > s1, "spreading: the node without the owner's pods scores higher (%.1f > %.1f)", s2,
	   s1);
	ok(fabs_eq(s2 - s1, 2 * 100), "...by the whole spread weight (200) when the rest is equal");
	/* same node count, different zones: node a2 in the crowded zone, b3 in the empty one */
	sched_node a2 = node("a2", NULL, NULL), b3 = node("b3", NULL, NULL);
	a2.zone = 0;
	b3.zone = 1;
	double z1 = score(p, &a2, &o, 2, 2, 0), z2 = score(p, &b3, &o, 2, 2, 0);
	ok(z2 > z1,
	   "zone spreading: a fresh node in an empty zone beats one in a full zone "
	   "(%.1f > %.1f)",
	   z2, z1);
	/* regions count too */
	sched_node r1 = node("r1", NULL, NULL), r2 = node("r2", NULL, NULL);
	r1.region = 0;
	r2.region = 1;
	o.region[0] = 2;
	ok(score(p, &r2, &o, 2, 2, 2) > score(p, &r1, &o, 2, 2, 2),
	   "region spreading: the region without the owner's pods wins");
	/* a pod without owner gets no spread bonus, and equal nodes score equally */
	ok(fabs_eq(score(p, &a2, NULL, 0, 0, 0), score(p, &b3, NULL, 0, 0, 0)),
	   "no owner: zones do not matter");
	/* spread against resources: a node half full with none of the owner's pods
	 * still beats an empty one holding them all */
	ok(score(p, &b, &o, 2, 2, 0) > score(p, &a, &o, 2, 2, 0),
	   "spreading outweighs being less allocated here");
	k9_map_free(&o.by_node);
	json_decref(p);
	sched_node *all[] = {&a, &b, &c, &d, &b2, &a2, &b3, &r1, &r2};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		json_decref(all[i]->obj);
}

static void feasible(void)
{
	ok(sched_feasible_wanted(0) == 0 && sched_feasible_wanted(1) == 1 &&
	       sched_feasible_wanted(99) == 99,
	   "under 100 nodes: all of them");
	ok(sched_feasible_wanted(100) == 100, "100 nodes: 100 (%zu)", sched_feasible_wanted(100));
	ok(sched_feasible_wanted(200) == 100, "200 nodes: 49%% is 98, at least 100 (%zu)",
	   sched_feasible_wanted(200));
	ok(sched_feasible_wanted(1000) == 420, "1000 nodes: 42%% = 420 (%zu)",
	   sched_feasible_wanted(1000));
	ok(sched_feasible_wanted(5000) == 500, "5000 nodes: 10%% = 500 (%zu)",
	   sched_feasible_wanted(5000));
	ok(sched_feasible_wanted(6000) == 300, "6000 nodes: at least 5%% = 300 (%zu)",
	   sched_feasible_wanted(6000));
	ok(sched_feasible_wanted(100000) == 5000, "100000 nodes: 5%% (%zu)",
	   sched_feasible_wanted(100000));
}

static void message(void)
{
	k9_map m = {0};
	char *s = sched_fit_message(0, &m);
	is_str(s, "0/0 nodes are available.", "no nodes: %s", s);
	free(s);
	for (int i = 0; i < 2; i++)
		sched_reasons_add(&m, "Insufficient cpu");
	for (int i = 0; i < 3; i++)
		sched_reasons_add(&m, AFFINITY);
	s = sched_fit_message(5, &m);
	is_str(s,
	       "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) didn't match Pod's node "
	       "affinity/selector.",
	       "Kubernetes' example");
	free(s);
	sched_reasons_free(&m);

	/* both resources from one node count both; sort is on "COUNT REASON" as strings */
	memset(&m, 0, sizeof m);
	sched_reasons_add(&m, "Insufficient cpu\nInsufficient memory");
	for (int i = 0; i < 10; i++)
		sched_reasons_add(&m, "Too many pods");
	sched_reasons_add(&m, "Insufficient cpu");
	sched_reasons_add(&m, UNSCHED);
	sched_reasons_add(&m, UNSCHED);
	s = sched_fit_message(14, &m);
	is_str(s,
	       "0/14 nodes are available: 1 Insufficient memory, 10 Too many pods, 2 Insufficient "
	       "cpu, 2 node(s) were unschedulable.",
	       "string order: \"10 ...\" before \"2 ...\", then the reason");
	free(s);
	sched_reasons_free(&m);

	memset(&m, 0, sizeof m);
	sched_reasons_add(&m, "node(s) had untolerated taint {b: 2}");
	sched_reasons_add(&m, "node(s) had untolerated taint {a: 1}");
	sched_reasons_add(&m, "Insufficient cpu");
	s = sched_fit_message(3, &m);
	is_str(s,
	       "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {a: "
	       "1}, 1 node(s) had untolerated taint {b: 2}.",
	       "equal counts: by reason, capitals first");
	free(s);
	sched_reasons_free(&m);
}

int main(void)
{
	unschedulable_and_ready();
	taints();
	affinity();
	ports();
	resources();
	scores();
	feasible();
	message();
	return tap_done();
}
