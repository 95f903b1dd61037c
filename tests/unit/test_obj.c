/*
 * test_obj.c - the object model: decoding (YAML, JSON, lines, errors,
 * limits), encoding round trips, kinds, validation rules, update rules,
 * defaults and conversion.
 */
#include <stdlib.h>

#include "kube9/obj.h"
#include "kube9/util.h"
#include "tap.h"

static k9_err e;

static json_t *dec(const char *s, obj_lines **l)
{
	return obj_decode(s, strlen(s), l, &e);
}

/* decode must fail with a message containing want */
static void dec_fails(const char *s, const char *want, const char *what)
{
	json_t *v = dec(s, NULL);
	ok(!v && e.code == 400 && strstr(e.msg, want), "%s: %s", what, v ? "decoded" : e.msg);
	json_decref(v);
}

static const obj_kind *kind(const char *av, const char *k)
{
	return obj_kind_by_gvk(av, k);
}

/* Decode, default, validate; NULL when valid, else the message (static). */
static const char *check(const char *yaml)
{
	obj_lines *l = NULL;
	static char msg[sizeof e.msg + 16];
	json_t *v = dec(yaml, &l);
	if (!v)
		return snprintf(msg, sizeof msg, "DECODE: %s", e.msg), msg;
	const obj_kind *k = kind(json_string_value(json_object_get(v, "apiVersion")),
	                         json_string_value(json_object_get(v, "kind")));
	int rc = -1;
	if (k) {
		obj_default(k, v);
		rc = obj_validate(k, v, l, &e);
	} else {
		snprintf(e.msg, sizeof e.msg, "NO KIND");
	}
	snprintf(msg, sizeof msg, "%s", e.msg);
	if (rc < 0 && e.code != 422 && k)
		snprintf(msg, sizeof msg, "BAD CODE %d", e.code);
	json_decref(v);
	obj_lines_free(l);
	return rc == 0 ? NULL : msg;
}

static void valid(const char *yaml, const char *what)
{
	const char *m = check(yaml);
	ok(!m, "valid: %s%s%s", what, m ? ": " : "", m ? m : "");
}

static void invalid(const char *yaml, const char *want, const char *what)
{
	const char *m = check(yaml);
	ok(m && strstr(m, want), "invalid: %s: %s", what, m ? m : "(accepted)");
	if (m && !strstr(m, want))
		printf("#   want: %s\n", want);
}

#define POD(spec) "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n" spec
#define C1        "  containers:\n  - name: c\n    image: nginx\n"

static char *slurp(const char *path)
{
	size_t n;
	char *s = k9_read_file(path, &n);
	return s ? s : xstrdup("");
}

static void test_kinds(void)
{
	size_t n;
	const obj_kind *all = obj_kinds(&n);
	char av[32];
	ok(n == 14, "14 served kinds (%zu)", n);
	ok(all && kind("v1", "Pod") && kind("v1", "Pod")->namespaced, "Pod is namespaced");
	ok(!kind("v1", "Node")->namespaced && kind("v1", "Node")->has_status,
	   "Node cluster, status");
	ok(!kind("v1", "Namespace")->namespaced, "Namespace cluster-scoped");
	ok(!kind("v1", "PersistentVolume")->namespaced, "PV cluster-scoped");
	ok(kind("apps/v1", "Deployment")->has_scale, "Deployment has scale");
	ok(!kind("v1", "ConfigMap")->has_status, "ConfigMap no status");
	is_str(kind("apps/v1beta2", "ReplicaSet")->storage_version, "v1", "v1beta2 stored as v1");
	ok(kind("apps/v1beta2", "Deployment") != kind("apps/v1", "Deployment"), "two versions");
	ok(!kind("apps/v1", "Pod") && !kind("v1", "Deployment") && !kind("v2", "Pod"),
	   "unknown gvk");
	ok(obj_kind_by_resource("", "v1", "pods") == kind("v1", "Pod"), "by resource");
	ok(obj_kind_by_resource("apps", "v1", "replicasets") == kind("apps/v1", "ReplicaSet"),
	   "by resource apps");
	ok(!obj_kind_by_resource("", "v1", "deployments"), "deployments not core");
	obj_kind_api_version(kind("apps/v1", "Deployment"), av, sizeof av);
	is_str(av, "apps/v1", "api version apps");
	obj_kind_api_version(kind("v1", "Secret"), av, sizeof av);
	is_str(av, "v1", "api version core");
	is_str(kind("v1", "Service")->short_names, "svc", "svc");
	is_str(kind("apps/v1", "Deployment")->short_names, "deploy", "deploy");
	is_str(kind("v1", "PersistentVolumeClaim")->short_names, "pvc", "pvc");
}

static void test_decode(void)
{
	obj_lines *l = NULL;
	json_t *v = dec("a: 1\nb: -2\nc: 1.5\nd: true\ne: False\nf: ~\ng:\nh: null\ni: yes\n"
	                "j: \"1\"\nk: '007'\nl: 0x1f\nm: 0o17\nn: 1e3\no: +3\np: 0644\nq: TRUE\n"
	                "r: .5\ns: 99999999999999999999\nt: 1.2.3\n12: x\ntrue: y\n",
	                &l);
	ok(v != NULL, "scalars decode: %s", v ? "" : e.msg);
	ok(json_integer_value(json_object_get(v, "a")) == 1, "int");
	ok(json_integer_value(json_object_get(v, "b")) == -2, "negative int");
	ok(json_is_real(json_object_get(v, "c")), "float");
	ok(json_is_true(json_object_get(v, "d")) && json_is_false(json_object_get(v, "e")),
	   "bools");
	ok(json_is_null(json_object_get(v, "f")) && json_is_null(json_object_get(v, "g")) &&
	       json_is_null(json_object_get(v, "h")),
	   "nulls");
	is_str(json_string_value(json_object_get(v, "i")), "yes", "yes is a string");
	is_str(json_string_value(json_object_get(v, "j")), "1", "quoted number is a string");
	is_str(json_string_value(json_object_get(v, "k")), "007", "single-quoted");
	ok(json_integer_value(json_object_get(v, "l")) == 31, "hex");
	ok(json_integer_value(json_object_get(v, "m")) == 15, "0o octal");
	ok(json_real_value(json_object_get(v, "n")) == 1000.0, "1e3 float");
	ok(json_integer_value(json_object_get(v, "o")) == 3, "+3");
	ok(json_integer_value(json_object_get(v, "p")) == 420, "0644 octal (YAML 1.1)");
	ok(json_is_true(json_object_get(v, "q")), "TRUE");
	ok(json_real_value(json_object_get(v, "r")) == 0.5, ".5");
	ok(json_is_real(json_object_get(v, "s")), "huge int -> float");
	is_str(json_string_value(json_object_get(v, "t")), "1.2.3", "1.2.3 string");
	is_str(json_string_value(json_object_get(v, "12")), "x", "int key becomes string");
	is_str(json_string_value(json_object_get(v, "true")), "y", "bool key becomes string");
	ok(obj_lines_get_path(l, "k") == 11, "line of k = 11 (%d)", obj_lines_get_path(l, "k"));
	ok(obj_lines_get_path(l, "d") == 4, "line of a singleton by path");
	ok(obj_lines_get(l, json_object_get(v, "c")) == 3, "line by node");
	ok(obj_lines_get(l, v) == 1, "line of root");
	ok(obj_lines_get(NULL, v) == 0 && obj_lines_get_path(NULL, "a") == 0, "NULL lines");
	json_decref(v);
	obj_lines_free(l);

	v = dec("a:\n  b:\n  - x\n  - c: [1, {d: 2}]\n", &l);
	ok(v && obj_lines_get_path(l, "a.b[1].c[1].d") == 4, "nested path line");
	ok(obj_lines_get_path(l, "a.b[0]") == 3, "sequence item line");
	json_decref(v);
	obj_lines_free(l);

	dec_fails("a: 1\nb: 2\na: 3\n",
	          "line 3, column 1: mapping key \"a\" already defined at line 1", "duplicate key");
	dec_fails("a: &x 1\nb: *x\n", "line 1, column 4: YAML anchors are not allowed", "anchor");
	dec_fails("a: *x\n", "YAML aliases are not allowed", "alias");
	dec_fails("a: b: c\n", "line 1, column 5: mapping values are not allowed in this context",
	          "libyaml error with position");
	dec_fails("a:\n  - b\n c: d\n", "line 3", "bad indentation");
	dec_fails("? [a]\n: 1\n", "mapping keys must be scalars", "complex key");
	dec_fails("", "empty", "empty input");
	dec_fails("---\n---\n", "empty", "only empty documents");
	dec_fails("- a\n- b\n", "must be a mapping", "top-level sequence");
	dec_fails("hello\n", "must be a mapping", "top-level scalar");
	dec_fails("a: 1\n---\nb: 2\n", "expected one document", "two documents");
	dec_fails("{\"a\": 1,\n \"b\": }\n", "line 2, column", "JSON syntax error with position");
	dec_fails("{\"a\": 1, \"a\": 2}", "duplicate", "JSON duplicate key");
	dec_fails("[1, 2]", "must be a mapping", "JSON array as one document");

	k9_buf deep = {0};
	for (int i = 0; i < 70; i++)
		buf_puts(&deep, "[");
	for (int i = 0; i < 70; i++)
		buf_puts(&deep, "]");
	dec_fails(deep.data, "nested deeper than 64", "deep JSON");
	buf_free(&deep);
	for (int i = 0; i < 70; i++)
		buf_printf(&deep, "%*sk:\n", i * 2, "");
	dec_fails(deep.data, "nested deeper than 64", "deep YAML");
	buf_free(&deep);
	for (int i = 0; i < 70; i++)
		buf_puts(&deep, "[");
	dec_fails(deep.data, "nested deeper than 64", "deep YAML flow");
	buf_free(&deep);
	for (int i = 0; i < 63; i++)
		buf_printf(&deep, "%*sk:\n", i * 2, "");
	v = dec(deep.data, NULL);
	ok(v != NULL, "63 levels accepted");
	json_decref(v);
	buf_free(&deep);

	v = dec(
	    "\n\n{\"apiVersion\": \"v1\",\n \"kind\": \"Pod\",\n \"spec\": {\"x\": [1,\n true]}}",
	    &l);
	ok(v && obj_lines_get_path(l, "kind") == 4, "JSON line of a key");
	ok(obj_lines_get_path(l, "spec.x[1]") == 6, "JSON line of array item true");
	ok(obj_lines_get(l, json_object_get(v, "spec")) == 5, "JSON line of a node");
	json_decref(v);
	obj_lines_free(l);

	v = dec("{\"a\": [1, {\"b\": null}]}", NULL);
	ok(v && json_is_null(json_object_get(json_array_get(json_object_get(v, "a"), 1), "b")),
	   "JSON without a line map");
	json_decref(v);
	obj_lines *nol = (obj_lines *)1;
	ok(!obj_decode("{", 1, &nol, &e) && nol == NULL, "*lines is NULL after a failure");

	/* multi-document and List */
	char *multi = slurp("tests/fuzz/corpus/multi.yaml");
	json_t *all = obj_decode_all(multi, strlen(multi), &l, &e);
	ok(all && json_array_size(all) == 2, "multi-doc: 2 documents, empty skipped");
	is_str(json_string_value(json_object_get(json_array_get(all, 1), "kind")), "ConfigMap",
	       "second doc");
	ok(obj_lines_get_doc_path(l, 1, "data.b") == 16, "doc 1 line of data.b (%d)",
	   obj_lines_get_doc_path(l, 1, "data.b"));
	ok(obj_lines_get_doc_path(l, 0, "spec.ports[0]") == 7, "doc 0 line");
	is_str(json_string_value(
	           json_object_get(json_object_get(json_array_get(all, 1), "data"), "b")),
	       "line one\nline two\n", "literal block");
	json_decref(all);
	obj_lines_free(l);
	free(multi);
	const char *list = "{\"kind\": \"List\", \"apiVersion\": \"v1\", \"items\": [\n"
	                   "{\"kind\": \"Namespace\", \"metadata\": {\"name\": \"a\"}},\n"
	                   "{\"kind\": \"Pod\",\n \"metadata\": {\"name\": \"b\"}}]}";
	all = obj_decode_all(list, strlen(list), &l, &e);
	ok(all && json_array_size(all) == 2, "List expands to its items");
	is_str(json_string_value(json_object_get(json_array_get(all, 1), "kind")), "Pod", "item 1");
	ok(obj_lines_get_doc_path(l, 1, "metadata") == 4, "List item lines renumbered (%d)",
	   obj_lines_get_doc_path(l, 1, "metadata"));
	json_decref(all);
	obj_lines_free(l);
	all = obj_decode_all("---\n", 4, NULL, &e);
	ok(all && json_array_size(all) == 0, "empty stream: no documents");
	json_decref(all);
	all = obj_decode_all("a: 1\n---\n- 1\n", 12, NULL, &e);
	ok(!all && strstr(e.msg, "line 3"), "decode_all non-object document: %s", e.msg);
	json_decref(all);
}

static void roundtrip(const json_t *v, const char *what)
{
	size_t n;
	char *y = obj_encode_yaml(v, &n);
	json_t *back = obj_decode(y, n, NULL, &e);
	ok(back && json_equal(back, v), "round trip %s", what);
	if (!back || !json_equal(back, v))
		printf("# yaml:\n%s# err: %s\n", y, back ? "differs" : e.msg);
	json_decref(back);
	free(y);
}

static void test_encode(void)
{
	static const char *const strs[] = {"true",
	                                   "123",
	                                   "1e3",
	                                   "",
	                                   "null",
	                                   "~",
	                                   "- x",
	                                   "a: b",
	                                   "#x",
	                                   "  lead",
	                                   "trail ",
	                                   "üñíçødé ✓",
	                                   "a\nb",
	                                   "a\nb\n",
	                                   "\n",
	                                   "\n\nx",
	                                   "x\n\n",
	                                   " x\ny",
	                                   "yes",
	                                   "No",
	                                   "0x1F",
	                                   "0644",
	                                   "1_000",
	                                   ".5",
	                                   "-",
	                                   "?",
	                                   ":",
	                                   "'q'",
	                                   "\"dq\"",
	                                   "a #b",
	                                   "tab\tx",
	                                   "{a}",
	                                   "[b]",
	                                   "*c",
	                                   "&d",
	                                   "!e",
	                                   "%f",
	                                   "@g",
	                                   "`h",
	                                   "|",
	                                   ">",
	                                   "x: |",
	                                   "---",
	                                   "...",
	                                   "=",
	                                   "1:20",
	                                   "\r\n",
	                                   "a\r",
	                                   "\x7f",
	                                   "\xc2\x85",
	                                   "\xe2\x80\xa8",
	                                   "é\n é",
	                                   "+1",
	                                   "-.inf",
	                                   ".NaN",
	                                   "FALSE",
	                                   "Null",
	                                   "0o7",
	                                   "line1\n  indented\nline3",
	                                   NULL};
	json_t *v = json_object();
	char key[16];
	for (int i = 0; strs[i]; i++) {
		snprintf(key, sizeof key, "k%d", i);
		json_object_set_new(v, key, json_string(strs[i]));
		json_t *one = json_pack("{s:s}", "x", strs[i]);
		char what[64];
		snprintf(what, sizeof what, "string #%d", i);
		roundtrip(one, what);
		json_decref(one);
	}
	json_object_set_new(v, "int", json_integer(-42));
	json_object_set_new(v, "big", json_integer(INT64_MIN));
	json_object_set_new(v, "real", json_real(0.1));
	json_object_set_new(v, "realint", json_real(3.0));
	json_object_set_new(v, "tiny", json_real(1e-300));
	json_object_set_new(v, "t", json_true());
	json_object_set_new(v, "n", json_null());
	json_object_set_new(v, "nul", json_stringn("a\0b", 3));
	json_object_set_new(v, "empty obj", json_object());
	json_object_set_new(v, "empty arr", json_array());
	json_object_set_new(v, "", json_string("empty key"));
	json_object_set_new(v, "true", json_string("bool-looking key"));
	json_object_set_new(v, "arr", json_pack("[i,s,[],{},[{s:[s]}]]", 1, "x", "a", "b"));
	roundtrip(v, "everything");
	size_t n;
	char *y = obj_encode_yaml(v, &n);
	ok(n > 0 && y[n - 1] == '\n' && strncmp(y, "---", 3) != 0, "trailing newline, no ---");
	ok(strstr(y, "k0: \"true\"") && strstr(y, "int: -42"),
	   "quoting: \"true\" quoted, ints plain");
	ok(strstr(y, "k12: |-\n  a\n  b\n") != NULL, "multi-line string as literal");
	ok(strstr(y, "k0:") < strstr(y, "k1:") && strstr(y, "k1:") < strstr(y, "int:"),
	   "insertion order");
	free(y);
	json_decref(v);

	char *dep = slurp("tests/fuzz/corpus/deployment.yaml");
	v = obj_decode(dep, strlen(dep), NULL, &e);
	ok(v != NULL, "deployment manifest decodes: %s", v ? "" : e.msg);
	roundtrip(v, "deployment manifest");
	json_decref(v);
	free(dep);
}

static void test_validate_manifests(void)
{
	char *dep = slurp("tests/fuzz/corpus/deployment.yaml");
	valid(dep, "docs-style deployment");
	/* same under apps/v1beta2 */
	char *b2 = xasprintf("apiVersion: apps/v1beta2%s", strchr(dep, '\n'));
	valid(b2, "v1beta2 deployment");
	free(b2);
	/* a typo deep inside, with its line */
	char *typo = xstrdup(dep), *p = strstr(typo, "readOnly: true");
	memcpy(p, "readOnlx", 8);
	invalid(typo,
	        "unknown field \"spec.template.spec.containers[0].volumeMounts[1].readOnlx\" "
	        "(line 173)",
	        "typo with path and line");
	free(typo);
	free(dep);
	char *pod = slurp("tests/fuzz/corpus/pod.json");
	valid(pod, "JSON pod with status");
	free(pod);
	valid(
	    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: default\n"
	    "  uid: 0b7f\n  resourceVersion: \"5\"\n  generation: 1\n"
	    "  creationTimestamp: \"2024-01-01T00:00:00Z\"\n  deletionTimestamp: null\n"
	    "  ownerReferences:\n  - {apiVersion: apps/v1, kind: ReplicaSet, name: rs, uid: u,"
	    " controller: true, blockOwnerDeletion: true}\n"
	    "  finalizers: [a/b]\n  managedFields: [{manager: kubectl, fieldsV1: {f:x: {}}}]\n"
	    "spec:\n  nodeName: n1\n  hostNetwork: true\n  dnsPolicy: ClusterFirstWithHostNet\n"
	    "  containers:\n  - name: c\n    image: x\n"
	    "status:\n  phase: Running\n  hostIP: 1.2.3.4\n  hostIPs: [{ip: 1.2.3.4}]\n"
	    "  podIP: 10.0.0.1\n  podIPs: [{ip: 10.0.0.1}]\n  startTime: \"2024-01-01T00:00:00Z\"\n"
	    "  qosClass: BestEffort\n  conditions:\n  - {type: Ready, status: \"True\","
	    " lastProbeTime: null, lastTransitionTime: \"2024-01-01T00:00:00Z\"}\n"
	    "  containerStatuses:\n  - name: c\n    ready: true\n    restartCount: 2\n"
	    "    image: x\n    imageID: sha\n    containerID: k9://1\n    started: true\n"
	    "    state: {running: {startedAt: \"2024\"}}\n"
	    "    lastState: {terminated: {exitCode: 1, reason: Error, startedAt: a, finishedAt: "
	    "b}}\n"
	    "  initContainerStatuses:\n  - name: i\n    ready: false\n    restartCount: 0\n"
	    "    image: x\n    imageID: \"\"\n    state: {waiting: {reason: PodInitializing}}\n",
	    "full pod metadata and status");
	valid("apiVersion: v1\nkind: Node\nmetadata:\n  name: node-1\n  labels:\n"
	      "    kubernetes.io/hostname: node-1\nspec:\n  podCIDR: 10.244.1.0/24\n"
	      "  podCIDRs: [10.244.1.0/24]\n  providerID: kube9://node-1\n  unschedulable: true\n"
	      "  taints:\n  - {key: node.kubernetes.io/unschedulable, effect: NoSchedule,"
	      " timeAdded: \"2024\"}\nstatus:\n  capacity: {cpu: \"4\", memory: 8Gi, pods: \"110\","
	      " ephemeral-storage: 100Gi}\n  allocatable: {cpu: 3800m, memory: 7Gi, pods: 110}\n"
	      "  conditions:\n  - {type: Ready, status: \"True\", lastHeartbeatTime: a,"
	      " lastTransitionTime: b, reason: KubeletReady, message: ok}\n"
	      "  addresses: [{type: InternalIP, address: 10.0.0.2}, {type: Hostname, address: n}]\n"
	      "  daemonEndpoints: {kubeletEndpoint: {Port: 10250}}\n"
	      "  nodeInfo: {machineID: m, systemUUID: s, bootID: b, kernelVersion: k, osImage: o,"
	      " containerRuntimeVersion: c, kubeletVersion: v1.30.0, kubeProxyVersion: v,"
	      " operatingSystem: linux, architecture: amd64}\n"
	      "  images: [{names: [nginx], sizeBytes: 1000}]\n",
	      "node with full status");
	invalid(
	    "apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus:\n  capacity: {cpu: lots}\n",
	    "status.capacity.cpu: Invalid value: \"lots\"", "node capacity quantity");
	valid(
	    "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: NodePort\n"
	    "  selector: {app: web}\n  clusterIP: 10.96.0.10\n  clusterIPs: [10.96.0.10]\n"
	    "  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: "
	    "60}}\n"
	    "  externalTrafficPolicy: Local\n  ipFamilies: [IPv4]\n  ipFamilyPolicy: SingleStack\n"
	    "  ports:\n  - {name: http, port: 80, targetPort: 8080, nodePort: 30080}\n"
	    "  - {name: https, port: 443, targetPort: https, protocol: TCP}\n"
	    "status:\n  loadBalancer: {}\n",
	    "service");
	valid("apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets:\n"
	      "- addresses: [{ip: 10.0.0.1, nodeName: n, targetRef: {kind: Pod, name: p,"
	      " namespace: default, uid: u}}]\n  notReadyAddresses: [{ip: 10.0.0.2}]\n"
	      "  ports: [{name: http, port: 8080, protocol: TCP}]\n",
	      "endpoints");
	invalid("apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets:\n"
	        "- addresses: [{hostname: x}]\n  ports: [{port: 0}]\n",
	        "subsets[0].addresses[0].ip: Required value (line 5); subsets[0].ports[0].port: "
	        "Invalid value: 0: must be between 1 and 65535, inclusive (line 6)",
	        "endpoints ip and port");
	valid("apiVersion: v1\nkind: Event\nmetadata: {name: web.1, namespace: default}\n"
	      "involvedObject: {kind: Pod, name: web, namespace: default, uid: u, apiVersion: v1,"
	      " fieldPath: \"spec.containers{c}\"}\nreason: Scheduled\nmessage: assigned\n"
	      "source: {component: default-scheduler, host: n}\nfirstTimestamp: \"2024\"\n"
	      "lastTimestamp: \"2024\"\ncount: 1\ntype: Normal\neventTime: null\n"
	      "reportingComponent: kube9\nreportingInstance: n1\naction: Binding\n"
	      "series: {count: 2, lastObservedTime: x}\nrelated: {kind: Node, name: n}\n",
	      "event");
	invalid(
	    "apiVersion: v1\nkind: Event\nmetadata: {name: e}\ninvolvedObject: {}\ntype: Info\n",
	    "type: Unsupported value: \"Info\": supported values: \"Normal\", \"Warning\"",
	    "event type");
	valid("apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\nspec: {finalizers: "
	      "[kubernetes]}\n"
	      "status: {phase: Active}\n",
	      "namespace");
	invalid("apiVersion: v1\nkind: Namespace\nmetadata: {name: team.a}\n",
	        "metadata.name: Invalid value: \"team.a\": a lowercase RFC 1123 label",
	        "ns name is a label");
	valid(
	    "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv1}\nspec:\n"
	    "  capacity: {storage: 10Gi}\n  accessModes: [ReadWriteOnce]\n"
	    "  persistentVolumeReclaimPolicy: Delete\n  storageClassName: local\n"
	    "  volumeMode: Filesystem\n  claimRef: {namespace: default, name: c}\n"
	    "  local: {path: /mnt/disk}\n  nodeAffinity:\n    required:\n      nodeSelectorTerms:\n"
	    "      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [n]}]\n"
	    "status: {phase: Bound}\n",
	    "local PV");
	valid("apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv2}\nspec:\n"
	      "  capacity: {storage: 1Gi}\n  accessModes: [ReadWriteMany]\n"
	      "  hostPath: {path: /tmp/x, type: DirectoryOrCreate}\n",
	      "hostPath PV");
	invalid("apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv}\nspec:\n"
	        "  accessModes: [ReadWriteSome]\n  persistentVolumeReclaimPolicy: Keep\n",
	        "spec.capacity: Required value", "PV capacity");
	invalid("apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv}\nspec:\n"
	        "  accessModes: [ReadWriteSome]\n",
	        "spec.accessModes: Unsupported value: \"ReadWriteSome\"", "PV access mode");
	invalid("apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv}\nspec:\n"
	        "  capacity: {storage: 1Gi}\n  accessModes: [ReadWriteOnce]\n"
	        "  persistentVolumeReclaimPolicy: Keep\n",
	        "must specify a volume type", "PV source");
	invalid("apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv}\nspec:\n"
	        "  capacity: {storage: 1Gi}\n  accessModes: [ReadWriteOnce]\n"
	        "  persistentVolumeReclaimPolicy: Keep\n  hostPath: {path: /x}\n",
	        "persistentVolumeReclaimPolicy: Unsupported value: \"Keep\"", "PV reclaim policy");
	valid("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n"
	      "  accessModes: [ReadWriteOnce]\n  storageClassName: standard\n"
	      "  resources: {requests: {storage: 8Gi}}\n  selector: {matchLabels: {a: b}}\n"
	      "status: {phase: Bound, capacity: {storage: 8Gi}, accessModes: [ReadWriteOnce]}\n",
	      "PVC");
	invalid("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n"
	        "  resources: {}\n",
	        "spec.accessModes: Required value: at least 1 access mode is required (line 4); "
	        "spec.resources[storage]: Required value (line 5)",
	        "PVC access modes and storage");
	invalid("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: d}\nspec:\n"
	        "  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 0}}\n",
	        "must be greater than zero", "PVC zero storage");
}

static void test_validate_rules(void)
{
	/* the example from the brief: both errors, each with its line */
	invalid("apiVersion: v1\nkind: Pod\nmetadata:\n  name: Web_1\nspec:\n  containers:\n"
	        "  - name: web\n",
	        "Pod \"Web_1\" is invalid: spec.containers[0].image: Required value (line 7); "
	        "metadata.name: Invalid value: \"Web_1\": a lowercase RFC 1123 subdomain must "
	        "consist of lower case alphanumeric characters, '-' or '.', and must start and end "
	        "with an alphanumeric character (line 4)",
	        "missing image and bad name, with lines");
	invalid(POD(C1 "    imagee: x\n"), "unknown field \"spec.containers[0].imagee\" (line 9)",
	        "unknown field");
	invalid("apiVersion: v1\nkind: Pod\nmetadata: {}\nspec:\n" C1,
	        "metadata.name: Required value", "name required");
	valid("apiVersion: v1\nkind: Pod\nmetadata: {name: a.b-c}\nspec:\n" C1, "dotted pod name");
	char n254[255];
	memset(n254, 'a', 254);
	n254[254] = 0;
	char *longname =
	    xasprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n" C1, n254);
	invalid(longname, "must be no more than 253 characters", "name too long");
	free(longname);
	invalid("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: Bad_NS\nspec:\n" C1,
	        "metadata.namespace: Invalid value: \"Bad_NS\"", "namespace syntax");
	invalid("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    -bad: x\n"
	        "    good: -bad\n    example.com/ok: fine\n    Ex_ample.com/x: y\nspec:\n" C1,
	        "metadata.labels: Invalid value: \"-bad\": name part must consist", "label key");
	invalid("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    good: -bad\n"
	        "spec:\n" C1,
	        "metadata.labels: Invalid value: \"-bad\": a valid label must be an empty string",
	        "label value");
	invalid(
	    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    Ex_ample.com/x: y\n"
	    "spec:\n" C1,
	    "prefix part a lowercase RFC 1123 subdomain", "label prefix");
	valid("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    empty: \"\"\n"
	      "    a.b/C_d.e: X-1\n  annotations:\n    "
	      "kubectl.kubernetes.io/last-applied-configuration:"
	      " \"{ anything: goes }\"\nspec:\n" C1,
	      "labels and annotations");
	invalid("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    a b: "
	        "x\nspec:\n" C1,
	        "metadata.annotations: Invalid value: \"a b\"", "annotation key");
	k9_buf big = {0};
	buf_puts(&big,
	         "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    a: \"");
	for (int i = 0; i < 300 * 1024; i++)
		buf_puts(&big, "x");
	buf_puts(&big, "\"\nspec:\n" C1);
	invalid(big.data, "metadata.annotations: Too long: must have at most 262144 bytes",
	        "annotations size");
	buf_free(&big);
	invalid(POD("  containers: []\n"), "spec.containers: Required value",
	        "containers required");
	invalid(
	    POD("  restartPolicy: Sometimes\n" C1),
	    "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", "
	    "\"OnFailure\", \"Never\"",
	    "restartPolicy");
	invalid(POD(C1 "  - name: c\n    image: y\n"),
	        "spec.containers[1].name: Duplicate value: \"c\"", "duplicate container names");
	invalid(POD(C1 "  initContainers:\n  - name: c\n    image: y\n"),
	        "spec.initContainers[0].name: Duplicate value: \"c\"",
	        "init and container name clash");
	invalid(POD("  containers:\n  - name: C\n    image: x\n"),
	        "spec.containers[0].name: Invalid value: \"C\": a lowercase RFC 1123 label",
	        "container name syntax");
	invalid(
	    POD(C1 "    ports:\n    - containerPort: 0\n"),
	    "spec.containers[0].ports[0].containerPort: Invalid value: 0: must be between 1 and "
	    "65535, inclusive (line 10)",
	    "containerPort 0");
	invalid(POD(C1 "    ports:\n    - containerPort: 70000\n"), "must be between 1 and 65535",
	        "containerPort too big");
	invalid(POD(C1 "    ports:\n    - {containerPort: 80, hostPort: 65536}\n"),
	        "hostPort: Invalid value: 65536", "hostPort range");
	invalid(
	    POD(C1 "    ports:\n    - {containerPort: 80, protocol: HTTP}\n"),
	    "protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
	    "port protocol");
	invalid(POD(C1 "    ports:\n    - {containerPort: \"80\"}\n"),
	        "containerPort: Invalid value: \"80\": must be an integer", "type: int");
	invalid(POD(C1 "    ports:\n    - {containerPort: 80.5}\n"),
	        "containerPort: Invalid value: 80.5: must be an integer", "type: no fractions");
	valid(POD(C1 "    ports:\n    - {containerPort: 80.0}\n"), "integral float accepted");
	invalid(POD(C1 "    tty: \"yes\"\n"), "tty: Invalid value: \"yes\": must be a boolean",
	        "type: bool");
	invalid(POD(C1 "    args: x\n"), "args: Invalid value: \"x\": must be an array",
	        "type: array");
	invalid(POD(C1 "    args: [1]\n"), "args[0]: Invalid value: 1: must be a string",
	        "type: string");
	invalid(POD("  nodeSelector: {a: 1}\n" C1), "spec.nodeSelector.a: Invalid value: 1",
	        "type: map of strings");
	invalid(POD(C1 "    resources: {limits: {cpu: 1x}}\n"),
	        "resources.limits.cpu: Invalid value: \"1x\": unable to parse quantity's suffix",
	        "quantity syntax");
	invalid(
	    POD(C1 "    resources: {requests: {cpu: \"-1\"}}\n"),
	    "resources.requests[cpu]: Invalid value: \"-1\": must be greater than or equal to 0",
	    "negative quantity");
	invalid(
	    POD(C1 "    resources: {requests: {memory: 2Gi}, limits: {memory: 1Gi}}\n"),
	    "spec.containers[0].resources.requests: Invalid value: \"2Gi\": must be less than or "
	    "equal to memory limit of 1Gi",
	    "requests <= limits");
	valid(POD(C1 "    resources: {requests: {cpu: 500m, memory: 1Gi}, limits: {cpu: 1,"
	             " memory: 1Gi}}\n"),
	      "requests within limits (int quantity)");
	invalid(POD(C1 "    volumeMounts:\n    - {name: data, mountPath: /d}\n"),
	        "spec.containers[0].volumeMounts[0].name: Not found: \"data\"",
	        "mount of no volume");
	invalid(POD(C1 "    volumeMounts:\n    - {name: data}\n  volumes:\n  - name: data\n"
	               "    emptyDir: {}\n  - name: data\n    emptyDir: {}\n"),
	        "spec.volumes[1].name: Duplicate value: \"data\"", "duplicate volumes");
	invalid(POD(C1 "    volumeMounts:\n    - {name: data}\n  volumes:\n  - name: data\n"
	               "    emptyDir: {}\n"),
	        "volumeMounts[0].mountPath: Required value", "mountPath required");
	invalid(
	    POD(C1 "  volumes:\n  - name: v\n    emptyDir: {medium: Memory, sizeLimit: lots}\n"),
	    "spec.volumes[0].emptyDir.sizeLimit: Invalid value: \"lots\"", "sizeLimit quantity");
	invalid(POD(C1 "    imagePullPolicy: Sometimes\n"), "imagePullPolicy: Unsupported value",
	        "imagePullPolicy");
	invalid(POD("  dnsPolicy: Google\n" C1), "spec.dnsPolicy: Unsupported value", "dnsPolicy");
	invalid(POD(C1 "    env:\n    - value: x\n"),
	        "spec.containers[0].env[0].name: Required value", "env name");
	invalid(POD("  tolerations: [{key: a, operator: Maybe}]\n" C1),
	        "spec.tolerations[0].operator: Unsupported value", "toleration operator");

	/* Service */
	const char *svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\nspec:\n%s";
	char *y;
#define SVC(name, spec) (y = xasprintf(svc, name, spec))
	valid(SVC("web", "  ports: [{port: 80}]\n"), "minimal service");
	free(y);
	invalid(SVC("web.x", "  ports: [{port: 80}]\n"), "RFC 1123 label",
	        "service name is a label");
	free(y);
	invalid(SVC("web", "  selector: {app: web}\n"), "spec.ports: Required value (line 5)",
	        "ports required");
	free(y);
	valid(SVC("ext", "  type: ExternalName\n  externalName: example.com\n"), "ExternalName");
	free(y);
	invalid(SVC("web", "  type: Magic\n  ports: [{port: 80}]\n"),
	        "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", "
	        "\"ExternalName\", \"LoadBalancer\", \"NodePort\"",
	        "service type");
	free(y);
	invalid(SVC("web", "  ports:\n  - {port: 80}\n  - {port: 81}\n"),
	        "spec.ports[0].name: Required value", "names required with 2 ports");
	free(y);
	invalid(SVC("web", "  ports:\n  - {name: a, port: 80}\n  - {name: a, port: 81}\n"),
	        "spec.ports[1].name: Duplicate value: \"a\"", "unique port names");
	free(y);
	invalid(SVC("web", "  ports: [{port: 0}]\n"), "spec.ports[0].port: Invalid value: 0",
	        "service port range");
	free(y);
	invalid(SVC("web", "  ports: [{port: 80, targetPort: 0}]\n"),
	        "spec.ports[0].targetPort: Invalid value: 0", "targetPort int range");
	free(y);
	invalid(SVC("web", "  ports: [{port: 80, targetPort: Not_A_Name}]\n"),
	        "spec.ports[0].targetPort: Invalid value: \"Not_A_Name\"", "targetPort name");
	free(y);
	invalid(SVC("web", "  ports: [{port: 80, targetPort: [1]}]\n"),
	        "must be an integer or a string", "targetPort type");
	free(y);
	invalid(SVC("web", "  ports: [{port: 80}]\n  sessionAffinity: Sticky\n"),
	        "spec.sessionAffinity: Unsupported value", "sessionAffinity");
	free(y);

	/* Secret and ConfigMap */
	valid("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\n"
	      "data: {tls.crt: YQ==, tls.key: YWI=}\nstringData: {extra: plain}\nimmutable: true\n",
	      "secret");
	invalid(
	    "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  ok: YQ==\n  pw: "
	    "not-base64!\n",
	    "data[pw]: Invalid value: \"<secret contents redacted>\": illegal base64 data (line 6)",
	    "secret base64");
	invalid("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  bad key: YQ==\n",
	        "data[bad key]: Invalid value: \"bad key\": a valid config key", "secret key");
	invalid("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\n",
	        "data[tls.crt]: Required value", "tls secret keys");
	big = (k9_buf){0};
	buf_puts(&big, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  a: ");
	for (int i = 0; i < 1100 * 1024; i++)
		buf_puts(&big, "x");
	buf_puts(&big, "\n");
	invalid(big.data, "data: Too long: must have at most 1048576 bytes", "secret size");
	buf_free(&big);
	valid("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  game.properties: |\n"
	      "    a=b\n  ui: x\nbinaryData: {bin: AAE=}\n",
	      "configmap");
	invalid("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  a/b: x\n",
	        "data[a/b]: Invalid value: \"a/b\"", "configmap key");
	invalid("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {x: 1}\n",
	        "data.x: Invalid value: 1: must be a string", "configmap value type");
	invalid("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {x: a}\n"
	        "binaryData: {x: AAE=}\n",
	        "binaryData[x]: Invalid value: \"x\": duplicate of key present in data",
	        "configmap duplicate key");

	/* Deployment and ReplicaSet */
	const char *dep = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n%s"
	                  "  template:\n    metadata:\n      labels: {app: web}\n    spec:\n"
	                  "      containers: [{name: c, image: x}]\n";
#define DEP(spec) (y = xasprintf(dep, spec))
	valid(DEP("  selector: {matchLabels: {app: web}}\n"), "minimal deployment");
	free(y);
	invalid(DEP(""), "spec.selector: Required value", "selector required");
	free(y);
	invalid(DEP("  selector: {matchLabels: {app: db}}\n"),
	        "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does "
	        "not match template `labels` (line 9)",
	        "selector must match labels");
	free(y);
	invalid(DEP("  selector: {}\n"), "empty selector is invalid for deployment",
	        "empty selector");
	free(y);
	invalid(DEP("  selector: {matchExpressions: [{key: app, operator: Like}]}\n"),
	        "spec.selector: Invalid value", "selector operator");
	free(y);
	invalid(DEP("  replicas: -1\n  selector: {matchLabels: {app: web}}\n"),
	        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
	        "replicas >= 0");
	free(y);
	invalid(DEP("  selector: {matchLabels: {app: web}}\n  strategy:\n    rollingUpdate:\n"
	            "      maxSurge: 0\n      maxUnavailable: 0%\n"),
	        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"0%\": may not be 0 "
	        "when `maxSurge` is 0",
	        "maxSurge and maxUnavailable both 0");
	free(y);
	invalid(DEP("  selector: {matchLabels: {app: web}}\n  strategy:\n    rollingUpdate:\n"
	            "      maxSurge: 10\n      maxUnavailable: lots\n"),
	        "maxUnavailable: Invalid value: \"lots\": a valid percent string",
	        "percent syntax");
	free(y);
	invalid(DEP("  selector: {matchLabels: {app: web}}\n  strategy:\n    type: Recreate\n"
	            "    rollingUpdate: {maxSurge: 1}\n"),
	        "spec.strategy.rollingUpdate: Forbidden", "Recreate with rollingUpdate");
	free(y);
	invalid(DEP("  selector: {matchLabels: {app: web}}\n  strategy: {type: Blue}\n"),
	        "spec.strategy.type: Unsupported value", "strategy type");
	free(y);
	invalid(DEP("  selector: {matchLabels: {app: web}}\n  revisionHistoryLimit: -2\n"),
	        "spec.revisionHistoryLimit: Invalid value: -2", "revisionHistoryLimit");
	free(y);
	y = xasprintf(dep, "  selector: {matchLabels: {app: web}}\n");
	char *rp = xasprintf("%s      restartPolicy: Never\n", y);
	invalid(rp,
	        "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported "
	        "values: \"Always\"",
	        "template restartPolicy");
	free(rp);
	free(y);
	invalid(
	    "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: r}\nspec:\n"
	    "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: x}}\n"
	    "    spec: {containers: [{name: c}]}\n",
	    "`selector` does not match template `labels` (line 7); "
	    "spec.template.spec.containers[0].image: Required value (line 8)",
	    "replicaset selector and template");
	valid("apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: r}\nspec:\n  replicas: 2\n"
	      "  selector: {matchExpressions: [{key: app, operator: In, values: [web]}]}\n"
	      "  template:\n    metadata: {labels: {app: web}}\n"
	      "    spec: {containers: [{name: c, image: x}]}\n"
	      "status: {replicas: 2, readyReplicas: 2, availableReplicas: 2,"
	      " fullyLabeledReplicas: 2, observedGeneration: 1}\n",
	      "replicaset");
	invalid("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, "
	        "image: x}]}"
	        "\nstatus: {phase: 1}\n",
	        "status.phase: Invalid value: 1: must be a string", "status schema");
	invalid("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, "
	        "image: x}]}"
	        "\nextra: 1\n",
	        "unknown field \"extra\" (line 5)", "unknown top-level field");
	/* errors for a decoded copy still find lines by path */
	obj_lines *l;
	json_t *v = dec(POD("  containers:\n  - name: c\n"), &l), *copy = json_deep_copy(v);
	ok(obj_validate(kind("v1", "Pod"), copy, l, &e) < 0 && strstr(e.msg, "(line 7)"),
	   "lines found by path for a copy: %s", e.msg);
	ok(obj_validate(kind("v1", "Pod"), copy, NULL, &e) < 0 && !strstr(e.msg, "(line"),
	   "no lines without a map");
	json_decref(copy);
	json_decref(v);
	obj_lines_free(l);
}

static json_t *pod(const char *spec)
{
	char *y = xasprintf(POD("%s"), spec);
	json_t *v = dec(y, NULL);
	free(y);
	obj_default(kind("v1", "Pod"), v);
	return v;
}

static void test_update(void)
{
	const obj_kind *pk = kind("v1", "Pod");
	json_t *old = pod(C1 "  tolerations: [{key: a, operator: Exists}]\n");
	json_t *new = json_deep_copy(old);
	ok(obj_validate_update(pk, new, old, NULL, &e) == 0, "unchanged pod update ok");
	json_object_set_new(
	    json_array_get(json_object_get(json_object_get(new, "spec"), "containers"), 0), "image",
	    json_string("nginx:2"));
	json_object_set_new(json_object_get(new, "spec"), "activeDeadlineSeconds",
	                    json_integer(30));
	json_array_append_new(json_object_get(json_object_get(new, "spec"), "tolerations"),
	                      json_pack("{s:s,s:s}", "key", "b", "operator", "Exists"));
	ok(obj_validate_update(pk, new, old, NULL, &e) == 0,
	   "image, deadline, added toleration: %s", e.msg);
	json_object_set_new(json_object_get(new, "spec"), "restartPolicy", json_string("Never"));
	ok(obj_validate_update(pk, new, old, NULL, &e) < 0 &&
	       strstr(e.msg, "spec: Forbidden: pod updates may not change fields other than"),
	   "pod spec change forbidden: %s", e.msg);
	json_decref(new);
	new = json_deep_copy(old);
	json_object_set_new(json_object_get(new, "spec"), "tolerations", json_array());
	ok(obj_validate_update(pk, new, old, NULL, &e) < 0, "removing a toleration forbidden");
	json_decref(new);
	new = json_deep_copy(old);
	json_object_set_new(json_object_get(new, "spec"), "nodeName", json_string("n1"));
	ok(obj_validate_update(pk, new, old, NULL, &e) == 0, "binding: nodeName unset -> set");
	json_decref(old);
	old = new;
	new = json_deep_copy(old);
	json_object_set_new(json_object_get(new, "spec"), "nodeName", json_string("n2"));
	ok(obj_validate_update(pk, new, old, NULL, &e) < 0, "nodeName change forbidden");
	json_decref(new);
	new = json_deep_copy(old);
	json_object_set_new(json_object_get(new, "metadata"), "name", json_string("other"));
	ok(obj_validate_update(pk, new, old, NULL, &e) < 0 &&
	       strstr(e.msg, "metadata.name: Invalid value: \"other\": field is immutable"),
	   "name immutable: %s", e.msg);
	json_decref(new);
	new = json_deep_copy(old);
	json_object_set_new(json_object_get(new, "metadata"), "labels",
	                    json_pack("{s:s}", "a", "b"));
	json_object_set_new(new, "status", json_pack("{s:s}", "phase", "Running"));
	ok(obj_validate_update(pk, new, old, NULL, &e) == 0, "labels and status may change");
	json_object_set_new(json_object_get(new, "metadata"), "labels",
	                    json_pack("{s:s}", "a", "-"));
	ok(obj_validate_update(pk, new, old, NULL, &e) < 0 && strstr(e.msg, "metadata.labels"),
	   "update also runs obj_validate");
	json_decref(new);
	json_decref(old);

	const obj_kind *sk = kind("v1", "Secret");
	old = dec(
	    "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: YQ==}\nimmutable: true\n",
	    NULL);
	new = json_deep_copy(old);
	json_object_set_new(json_object_get(new, "data"), "a", json_string("Yg=="));
	ok(obj_validate_update(sk, new, old, NULL, &e) < 0 &&
	       strstr(e.msg, "data: Forbidden: field is immutable when `immutable` is set"),
	   "immutable secret data: %s", e.msg);
	json_decref(new);
	new = json_deep_copy(old);
	json_object_set_new(json_object_get(new, "metadata"), "labels",
	                    json_pack("{s:s}", "a", "b"));
	ok(obj_validate_update(sk, new, old, NULL, &e) == 0, "immutable secret labels may change");
	json_object_set_new(new, "immutable", json_false());
	ok(obj_validate_update(sk, new, old, NULL, &e) < 0, "immutable cannot be unset");
	json_decref(new);
	json_decref(old);
	const obj_kind *ck = kind("v1", "ConfigMap");
	old = dec("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: x}\n", NULL);
	new = dec("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: y}\n", NULL);
	ok(obj_validate_update(ck, new, old, NULL, &e) == 0, "mutable configmap data may change");
	json_object_set_new(old, "immutable", json_true());
	json_object_set_new(new, "immutable", json_true());
	ok(obj_validate_update(ck, new, old, NULL, &e) < 0, "immutable configmap data");
	json_decref(new);
	json_decref(old);

	const obj_kind *svk = kind("v1", "Service");
	old = dec("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {clusterIP: 10.0.0.1,"
	          " ports: [{port: 80}]}\n",
	          NULL);
	new = json_deep_copy(old);
	json_object_set_new(json_object_get(new, "spec"), "clusterIP", json_string("10.0.0.2"));
	ok(obj_validate_update(svk, new, old, NULL, &e) < 0 &&
	       strstr(e.msg, "spec.clusterIP: Invalid value: \"10.0.0.2\": field is immutable"),
	   "clusterIP immutable");
	json_decref(new);
	json_decref(old);
	const obj_kind *dk = kind("apps/v1", "Deployment");
	old = dec("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
	          "  selector: {matchLabels: {app: web}}\n  template:\n"
	          "    metadata: {labels: {app: web, v: a}}\n"
	          "    spec: {containers: [{name: c, image: x}]}\n",
	          NULL);
	new = json_deep_copy(old);
	json_object_set_new(json_object_get(new, "spec"), "replicas", json_integer(5));
	ok(obj_validate_update(dk, new, old, NULL, &e) == 0, "deployment scale ok: %s", e.msg);
	json_object_set_new(json_object_get(new, "spec"), "selector",
	                    json_pack("{s:{s:s}}", "matchLabels", "v", "a"));
	ok(obj_validate_update(dk, new, old, NULL, &e) < 0 &&
	       strstr(e.msg, "spec.selector: Invalid value: {\"matchLabels\":{\"v\":\"a\"}}: "
	                     "field is immutable"),
	   "selector immutable: %s", e.msg);
	json_decref(new);
	json_decref(old);
	const obj_kind *ck2 = kind("v1", "PersistentVolumeClaim");
	old = dec("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: c}\nspec:\n"
	          "  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n",
	          NULL);
	new = json_deep_copy(old);
	json_object_set_new(
	    json_object_get(json_object_get(json_object_get(new, "spec"), "resources"), "requests"),
	    "storage", json_string("2Gi"));
	json_object_set_new(json_object_get(new, "spec"), "volumeName", json_string("pv1"));
	ok(obj_validate_update(ck2, new, old, NULL, &e) == 0, "pvc resize and bind ok: %s", e.msg);
	json_object_set_new(json_object_get(new, "spec"), "storageClassName", json_string("x"));
	ok(obj_validate_update(ck2, new, old, NULL, &e) < 0, "pvc spec immutable");
	json_decref(new);
	json_decref(old);
}

static const char *sget(const json_t *o, const char *a, const char *b)
{
	return json_string_value(json_object_get(b ? json_object_get(o, a) : o, b ? b : a));
}

static void test_default(void)
{
	json_t *p =
	    pod("  containers:\n  - name: a\n    image: nginx\n    ports: [{containerPort: 80}]\n"
	        "  - name: b\n    image: nginx:1.2\n  - name: c\n    image: nginx:latest\n"
	        "  - name: d\n    image: reg:5000/x\n  - name: e\n    image: x@sha256:ab\n"
	        "    imagePullPolicy: Never\n");
	json_t *spec = json_object_get(p, "spec"), *cs = json_object_get(spec, "containers");
	is_str(sget(spec, "restartPolicy", NULL), "Always", "restartPolicy");
	ok(json_integer_value(json_object_get(spec, "terminationGracePeriodSeconds")) == 30,
	   "tgps");
	is_str(sget(spec, "dnsPolicy", NULL), "ClusterFirst", "dnsPolicy");
	is_str(sget(spec, "schedulerName", NULL), "default-scheduler", "schedulerName");
	ok(json_is_object(json_object_get(spec, "securityContext")), "securityContext {}");
	is_str(sget(json_array_get(cs, 0), "imagePullPolicy", NULL), "Always", "no tag: Always");
	is_str(sget(json_array_get(cs, 1), "imagePullPolicy", NULL), "IfNotPresent",
	       "tag: IfNotPresent");
	is_str(sget(json_array_get(cs, 2), "imagePullPolicy", NULL), "Always", "latest: Always");
	is_str(sget(json_array_get(cs, 3), "imagePullPolicy", NULL), "Always",
	       "registry port, no tag");
	is_str(sget(json_array_get(cs, 4), "imagePullPolicy", NULL), "Never", "explicit kept");
	is_str(sget(json_array_get(cs, 0), "terminationMessagePath", NULL), "/dev/termination-log",
	       "terminationMessagePath");
	is_str(sget(json_array_get(cs, 0), "terminationMessagePolicy", NULL), "File", "tmp");
	is_str(sget(json_array_get(json_object_get(json_array_get(cs, 0), "ports"), 0), "protocol",
	            NULL),
	       "TCP", "port protocol");
	json_t *again = json_deep_copy(p);
	obj_default(kind("v1", "Pod"), again);
	ok(json_equal(again, p), "pod defaults idempotent");
	ok(obj_validate(kind("v1", "Pod"), p, NULL, &e) == 0, "defaulted pod valid: %s", e.msg);
	json_decref(again);
	json_decref(p);

	json_t *s = dec("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n"
	                "  ports: [{port: 80}, {port: 81, targetPort: web, protocol: UDP}]\n",
	                NULL);
	obj_default(kind("v1", "Service"), s);
	is_str(sget(s, "spec", "type"), "ClusterIP", "service type");
	is_str(sget(s, "spec", "sessionAffinity"), "None", "sessionAffinity");
	json_t *ports = json_object_get(json_object_get(s, "spec"), "ports");
	ok(json_integer_value(json_object_get(json_array_get(ports, 0), "targetPort")) == 80,
	   "targetPort = port");
	is_str(sget(json_array_get(ports, 0), "protocol", NULL), "TCP", "service port protocol");
	is_str(sget(json_array_get(ports, 1), "targetPort", NULL), "web", "named targetPort kept");
	is_str(sget(json_array_get(ports, 1), "protocol", NULL), "UDP", "protocol kept");
	json_decref(s);

	json_t *d = dec("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
	                "  template: {spec: {containers: [{name: c, image: x:1}]}}\n",
	                NULL);
	obj_default(kind("apps/v1", "Deployment"), d);
	json_t *ds = json_object_get(d, "spec");
	ok(json_integer_value(json_object_get(ds, "replicas")) == 1, "replicas 1");
	ok(json_integer_value(json_object_get(ds, "revisionHistoryLimit")) == 10, "rhl 10");
	ok(json_integer_value(json_object_get(ds, "progressDeadlineSeconds")) == 600, "pds 600");
	is_str(sget(ds, "strategy", "type"), "RollingUpdate", "strategy type");
	is_str(sget(json_object_get(ds, "strategy"), "rollingUpdate", "maxSurge"), "25%",
	       "maxSurge");
	is_str(sget(json_object_get(ds, "strategy"), "rollingUpdate", "maxUnavailable"), "25%",
	       "maxUnavailable");
	json_t *tspec = json_object_get(json_object_get(ds, "template"), "spec");
	is_str(sget(tspec, "restartPolicy", NULL), "Always", "template pod defaults");
	json_decref(d);
	d = dec("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
	        "  strategy: {type: Recreate}\n  replicas: 0\n",
	        NULL);
	obj_default(kind("apps/v1", "Deployment"), d);
	ok(!json_object_get(json_object_get(json_object_get(d, "spec"), "strategy"),
	                    "rollingUpdate"),
	   "no rollingUpdate for Recreate");
	ok(json_integer_value(json_object_get(json_object_get(d, "spec"), "replicas")) == 0,
	   "replicas 0 kept");
	json_decref(d);
	json_t *rs = dec("apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: r}\n", NULL);
	obj_default(kind("apps/v1", "ReplicaSet"), rs);
	ok(json_integer_value(json_object_get(json_object_get(rs, "spec"), "replicas")) == 1,
	   "rs replicas 1");
	json_decref(rs);
	json_t *sec = dec("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n", NULL);
	obj_default(kind("v1", "Secret"), sec);
	is_str(sget(sec, "type", NULL), "Opaque", "secret Opaque");
	json_decref(sec);
	json_t *pvc = dec("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: c}\n"
	                  "spec: {accessModes: [ReadWriteOnce]}\n",
	                  NULL);
	obj_default(kind("v1", "PersistentVolumeClaim"), pvc);
	is_str(sget(pvc, "spec", "volumeMode"), "Filesystem", "pvc volumeMode");
	json_decref(pvc);
	json_t *pv = dec("apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: v}\n", NULL);
	obj_default(kind("v1", "PersistentVolume"), pv);
	is_str(sget(pv, "spec", "persistentVolumeReclaimPolicy"), "Retain", "pv Retain");
	json_decref(pv);
	obj_default(kind("v1", "Pod"), NULL);
	ok(1, "obj_default(NULL) is harmless");
}

static void test_convert(void)
{
	char *dep = slurp("tests/fuzz/corpus/deployment.yaml");
	json_t *v1 = obj_decode(dep, strlen(dep), NULL, &e);
	const obj_kind *b2k = kind("apps/v1beta2", "Deployment"),
	               *v1k = kind("apps/v1", "Deployment");
	json_t *b2 = obj_convert(v1, b2k, &e);
	is_str(sget(b2, "apiVersion", NULL), "apps/v1beta2", "v1 -> v1beta2 apiVersion");
	json_t *back = obj_convert(b2, v1k, &e);
	ok(back && json_equal(back, v1), "v1beta2 deployment round-trips to v1");
	json_t *same = obj_convert(v1, v1k, &e);
	ok(same && json_equal(same, v1) && same != v1, "same version: a copy");
	ok(!obj_convert(v1, kind("apps/v1", "ReplicaSet"), &e) && e.code == 400,
	   "different kind refused: %s", e.msg);
	json_t *rs = json_pack("{s:s,s:s}", "apiVersion", "apps/v1beta2", "kind", "ReplicaSet");
	json_t *rs1 = obj_convert(rs, kind("apps/v1", "ReplicaSet"), &e);
	is_str(sget(rs1, "apiVersion", NULL), "apps/v1", "replicaset v1beta2 -> v1");
	json_t *pod = json_pack("{s:s,s:s}", "apiVersion", "v1", "kind", "Pod");
	json_t *p2 = obj_convert(pod, kind("v1", "Pod"), &e);
	ok(p2 && json_equal(p2, pod), "core identity");
	json_t *bad = json_pack("{s:s,s:s}", "apiVersion", "apps/v2", "kind", "Deployment");
	ok(!obj_convert(bad, v1k, &e), "unknown version refused: %s", e.msg);
	json_decref(bad);
	json_decref(p2);
	json_decref(pod);
	json_decref(rs1);
	json_decref(rs);
	json_decref(same);
	json_decref(back);
	json_decref(b2);
	json_decref(v1);
	free(dep);
}

static void test_names(void)
{
	ok(!obj_check_dns1123_label("a-1") && obj_check_dns1123_label("-a") &&
	       obj_check_dns1123_label("a.b") && obj_check_dns1123_label(""),
	   "dns label");
	ok(!obj_check_dns1123_subdomain("a.b-c.d") && obj_check_dns1123_subdomain("a..b") &&
	       obj_check_dns1123_subdomain("A"),
	   "dns subdomain");
	char l64[65];
	memset(l64, 'a', 64);
	l64[64] = 0;
	ok(obj_check_dns1123_label(l64) != NULL, "label max 63");
	l64[63] = 0;
	ok(!obj_check_dns1123_label(l64) && !obj_check_label_value(l64), "63 ok");
	ok(!obj_check_label_key("app.kubernetes.io/name") && obj_check_label_key("/a") &&
	       obj_check_label_key("a/") && obj_check_label_key("a/b/c"),
	   "label keys");
	ok(!obj_check_label_value("") && !obj_check_label_value("A_b.c-1") &&
	       obj_check_label_value("a b"),
	   "label values");
	ok(!obj_check_config_key("tls.crt") && obj_check_config_key("a/b") &&
	       obj_check_config_key("..x"),
	   "config keys");
}

int main(void)
{
	test_kinds();
	test_names();
	test_decode();
	test_encode();
	test_validate_manifests();
	test_validate_rules();
	test_update();
	test_default();
	test_convert();
	return tap_done();
}
