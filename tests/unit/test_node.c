/*
 * test_node.c - the crun runtime's pure parts: a container's argv by
 * Kubernetes' command/args rules against the image's Entrypoint/Cmd,
 * $(VAR) expansion, the OCI config (capabilities, resources, namespaces,
 * user, read-only root, mounts), users from an image's /etc/passwd, and
 * volume mounts.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube9/util.h"
#include "node_crun.h"
#include "tap.h"

static json_t *J(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);
	if (!j)
		fprintf(stderr, "bad test JSON: %s: %s\n", e.text, s);
	return j;
}

static char *dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

static void argv_case(const char *ctr, const char *img, const char *env, const char *want,
                      const char *what)
{
	json_t *c = J(ctr), *i = J(img), *e = J(env);
	json_t *a = node_spec_argv(c, i, e);
	char *got = dump(a);
	is_str(got, want, "argv: %s", what);
	free(got);
	json_decref(a);
	json_decref(c);
	json_decref(i);
	json_decref(e);
}

static const json_t *find_mount(const json_t *spec, const char *dst)
{
	size_t i;
	const json_t *m;
	json_array_foreach(
	    json_object_get(spec, "mounts"), i,
	    m) if (!strcmp(json_string_value(json_object_get(m, "destination")), dst)) return m;
	return NULL;
}

static bool has_cap(const json_t *spec, const char *set, const char *cap)
{
	const json_t *l =
	    json_object_get(json_object_get(json_object_get(spec, "process"), "capabilities"), set);
	size_t i;
	const json_t *v;
	json_array_foreach(l, i, v) if (!strcmp(json_string_value(v), cap)) return true;
	return false;
}

int main(void)
{
	const char *img = "{\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"c1\",\"c2\"]}";
	argv_case("{}", img, "{}", "[\"/ep\",\"c1\",\"c2\"]", "neither: Entrypoint + Cmd");
	argv_case("{\"command\":[\"sh\"]}", img, "{}", "[\"sh\"]",
	          "command: the image's Cmd is ignored");
	argv_case("{\"args\":[\"a\"]}", img, "{}", "[\"/ep\",\"a\"]",
	          "args only: Entrypoint + args");
	argv_case("{\"command\":[\"x\"],\"args\":[\"y\"]}", img, "{}", "[\"x\",\"y\"]",
	          "command and args");
	argv_case("{\"command\":[\"echo\",\"$(A)-$(B)\",\"$$(A)\",\"$(NONE)\"]}", img,
	          "{\"A\":\"1\",\"B\":\"2\"}", "[\"echo\",\"1-2\",\"$(A)\",\"$(NONE)\"]",
	          "$(VAR) expanded, $$ escapes, unknown names kept");
	char *x = node_spec_expand("$(A", NULL);
	is_str(x, "$(A", "an unterminated $( is kept");
	free(x);

	json_t *pod = J("{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\"},\"spec\":{"
	                "\"securityContext\":{\"runAsUser\":7,\"supplementalGroups\":[5]}}}");
	json_t *ctr =
	    J("{\"name\":\"c\",\"image\":\"i\",\"workingDir\":\"/w\","
	      "\"resources\":{\"requests\":{\"cpu\":\"250m\"},\"limits\":{\"cpu\":\"1500m\","
	      "\"memory\":\"64Mi\"}},\"securityContext\":{\"runAsGroup\":9,"
	      "\"readOnlyRootFilesystem\":true,\"allowPrivilegeEscalation\":false,"
	      "\"capabilities\":{\"drop\":[\"NET_RAW\",\"CAP_KILL\"],\"add\":[\"sys_time\"]}}}");
	json_t *icfg = J("{\"Env\":[\"PATH=/bin\"],\"WorkingDir\":\"/img\"}");
	json_t *env = J("{\"PATH\":\"/bin\",\"X\":\"y\"}");
	json_t *mounts = J("[{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/v\","
	                   "\"options\":[\"rbind\",\"ro\"]}]");
	node_spec_in in = {pod, ctr, icfg, env, mounts, "/r/rootfs", "/pods/u", "/kube9/podu/c",
	                   42,  -1,  -1};
	json_t *s = node_spec(&in);
	const json_t *proc = json_object_get(s, "process");
	ok(json_integer_value(json_object_get(json_object_get(proc, "user"), "uid")) == 7,
	   "runAsUser of the pod applies");
	ok(json_integer_value(json_object_get(json_object_get(proc, "user"), "gid")) == 9,
	   "runAsGroup of the container wins");
	ok(json_array_size(json_object_get(json_object_get(proc, "user"), "additionalGids")) == 1,
	   "supplementalGroups are additional gids");
	is_str(json_string_value(json_object_get(proc, "cwd")), "/w", "workingDir");
	char *envs = dump(json_object_get(proc, "env"));
	is_str(envs, "[\"PATH=/bin\",\"X=y\"]", "env as NAME=value in order");
	free(envs);
	ok(json_is_true(json_object_get(proc, "noNewPrivileges")),
	   "allowPrivilegeEscalation false: noNewPrivileges");
	ok(json_is_true(json_object_get(json_object_get(s, "root"), "readonly")),
	   "readOnlyRootFilesystem");
	ok(!has_cap(s, "bounding", "CAP_NET_RAW") && !has_cap(s, "bounding", "CAP_KILL"),
	   "dropped capabilities are gone (either spelling)");
	ok(has_cap(s, "bounding", "CAP_CHOWN") && has_cap(s, "bounding", "CAP_SYS_TIME"),
	   "defaults kept, add added (upper-cased, CAP_ prefixed)");
	ok(!has_cap(s, "effective", "CAP_CHOWN"), "a non-root user has no effective capabilities");
	const json_t *res = json_object_get(json_object_get(s, "linux"), "resources");
	ok(json_integer_value(json_object_get(json_object_get(res, "memory"), "limit")) == 64 << 20,
	   "memory limit in bytes");
	ok(json_integer_value(json_object_get(json_object_get(res, "cpu"), "shares")) == 256,
	   "cpu request 250m: 256 shares");
	ok(json_integer_value(json_object_get(json_object_get(res, "cpu"), "quota")) == 150000 &&
	       json_integer_value(json_object_get(json_object_get(res, "cpu"), "period")) == 100000,
	   "cpu limit 1500m: quota 150000 per 100000");
	char *ns = dump(json_object_get(json_object_get(s, "linux"), "namespaces"));
	ok(strstr(ns, "\"path\":\"/proc/42/ns/net\"") && strstr(ns, "/proc/42/ns/ipc") &&
	       strstr(ns, "/proc/42/ns/uts") && strstr(ns, "\"type\":\"pid\""),
	   "the sandbox's net, ipc and uts namespaces are joined; pid is its own");
	free(ns);
	is_str(json_string_value(json_object_get(json_object_get(s, "linux"), "cgroupsPath")),
	       "/kube9/podu/c", "cgroupsPath");
	const json_t *h = find_mount(s, "/etc/hosts");
	is_str(h ? json_string_value(json_object_get(h, "source")) : NULL, "/pods/u/hosts",
	       "/etc/hosts from the pod's dir");
	ok(find_mount(s, "/data") && find_mount(s, "/proc") && find_mount(s, "/dev/shm"),
	   "volume and standard mounts");
	json_decref(s);

	/* no limits: no resources but the default shares */
	json_t *bare = J("{\"name\":\"b\"}");
	in.ctr = bare;
	in.pod = J("{}");
	s = node_spec(&in);
	ok(json_object_size(json_object_get(json_object_get(s, "linux"), "resources")) == 0,
	   "no resources asked: no cgroup limits");
	ok(json_integer_value(json_object_get(
	       json_object_get(json_object_get(s, "process"), "user"), "uid")) == 0 &&
	       has_cap(s, "effective", "CAP_CHOWN"),
	   "root by default, with the default capabilities effective");
	json_decref(s);
	json_decref((json_t *)in.pod);

	/* users by name from an image's /etc/passwd */
	char dir[] = "/tmp/k9-test-node-XXXXXX";
	ok(mkdtemp(dir) != NULL, "temp dir");
	char p[256];
	snprintf(p, sizeof p, "%s/etc", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/etc/passwd", dir);
	k9_write_file_atomic(p, "root:x:0:0::/root:/bin/sh\nweb:x:33:34::/:/bin/false\n", 50, 0644);
	snprintf(p, sizeof p, "%s/etc/group", dir);
	k9_write_file_atomic(p, "root:x:0:\nwww:x:34:\n", 20, 0644);
	long u, g;
	ok(node_spec_user(dir, "web", &u, &g) == 0 && u == 33 && g == -1,
	   "User web: uid from /etc/passwd");
	ok(node_spec_user(dir, "1000:www", &u, &g) == 0 && u == 1000 && g == 34,
	   "User 1000:www: gid from /etc/group");
	ok(node_spec_user(dir, "nobody", &u, &g) < 0, "an unknown user name is an error");
	ok(node_spec_user(dir, "", &u, &g) == 0 && u == -1, "no User: the pod decides");
	k9_rm_rf(dir);
	ok(access(dir, F_OK) < 0, "k9_rm_rf removes the tree");

	/* volume mounts */
	json_t *vols =
	    J("{\"a\":{\"path\":\"/va\",\"ro\":false},\"s\":{\"path\":\"/vs\",\"ro\":true}}");
	char err[256];
	json_t *vm = J("{\"volumeMounts\":[{\"name\":\"a\",\"mountPath\":\"/"
	               "x\",\"readOnly\":true},{\"name\":\"s\",\"mountPath\":\"/y\"}]}");
	json_t *m = node_vol_mounts(vm, vols, err, sizeof err);
	char *ms = dump(m);
	ok(ms && strstr(ms, "\"destination\":\"/x\"") && strstr(ms, "\"source\":\"/va\""),
	   "a volumeMount is a bind of the volume");
	ok(ms && strstr(ms, "[\"rbind\",\"rprivate\",\"ro\"],\"source\":\"/va\""),
	   "readOnly makes it ro");
	ok(ms && strstr(ms, "[\"rbind\",\"rprivate\",\"ro\"],\"source\":\"/vs\""),
	   "secret/configMap volumes are always ro");
	free(ms);
	json_decref(m);
	json_decref(vm);
	vm = J("{\"volumeMounts\":[{\"name\":\"zz\",\"mountPath\":\"/x\"}]}");
	ok(!node_vol_mounts(vm, vols, err, sizeof err) && strstr(err, "no such volume"),
	   "an unknown volume is refused, named: %s", err);
	json_decref(vm);
	vm = J("{\"volumeMounts\":[{\"name\":\"a\",\"mountPath\":\"/x\",\"subPath\":\"../etc\"}]}");
	ok(!node_vol_mounts(vm, vols, err, sizeof err) && strstr(err, "subPath"),
	   "a subPath with .. is refused: %s", err);
	json_decref(vm);
	json_decref(vols);

	/* subPath never follows a symlink out of its volume */
	char vd[] = "/tmp/k9-test-vol-XXXXXX";
	ok(mkdtemp(vd) != NULL, "volume dir");
	char link[300], made[300];
	snprintf(link, sizeof link, "%s/evil", vd);
	ok(symlink("/", link) == 0, "a symlink to / inside the volume");
	char vj[400];
	snprintf(vj, sizeof vj, "{\"v\":{\"path\":\"%s\",\"ro\":false}}", vd);
	vols = J(vj);
	vm = J(
	    "{\"volumeMounts\":[{\"name\":\"v\",\"mountPath\":\"/x\",\"subPath\":\"evil/etc\"}]}");
	ok(!node_vol_mounts(vm, vols, err, sizeof err) && strstr(err, "symlink"),
	   "a subPath through a symlink is refused: %s", err);
	json_decref(vm);
	vm = J("{\"volumeMounts\":[{\"name\":\"v\",\"mountPath\":\"/x\",\"subPath\":\"evil\"}]}");
	ok(!node_vol_mounts(vm, vols, err, sizeof err), "a subPath that is a symlink is refused");
	json_decref(vm);
	vm = J("{\"volumeMounts\":[{\"name\":\"v\",\"mountPath\":\"/x\",\"subPath\":\"a/b\"}]}");
	m = node_vol_mounts(vm, vols, err, sizeof err);
	snprintf(made, sizeof made, "%s/a/b", vd);
	ok(m && access(made, F_OK) == 0, "a missing subPath is made, inside the volume");
	ok(access("/etc/a", F_OK) < 0, "... and nothing outside it");
	json_decref(m);
	json_decref(vm);
	json_decref(vols);
	k9_rm_rf(vd);
	json_decref(bare);
	json_decref(pod);
	json_decref(ctr);
	json_decref(icfg);
	json_decref(env);
	json_decref(mounts);
	return tap_done();
}
