/*
 * node_net.c - a pod sandbox's network, through Debian's CNI plugins: the
 * bridge plugin puts the sandbox's eth0 on the node's bridge (which is the
 * pods' gateway, so the host reaches every pod), host-local hands out the
 * addresses of the node's pod CIDR and keeps them under DIR/cni.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube9/util.h"
#include "node_crun.h"

#define CNI_PATH "/usr/lib/cni"

static char *netconf(void)
{
	json_t *c = json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:b,s:{s:s,s:[[{s:s}]],s:[{s:s}],s:s}}",
	                      "cniVersion", "1.0.0", "name", "kube9", "type", "bridge", "bridge",
	                      node_crun.bridge, "isGateway", 1, "ipMasq", 0, "hairpinMode", 1,
	                      "ipam", "type", "host-local", "ranges", "subnet", node_crun.cidr,
	                      "routes", "dst", "0.0.0.0/0", "dataDir", node_crun.cni_dir);
	char *s = json_dumps(c, JSON_COMPACT);
	json_decref(c);
	return s;
}

static int cni(const char *cmd, const char *uid, pid_t pid, char *out, size_t n)
{
	char netns[64] = "";
	if (pid > 0)
		snprintf(netns, sizeof netns, "/proc/%d/ns/net", (int)pid);
	char *conf = netconf();
	char e_cmd[32], e_id[128], e_ns[96];
	snprintf(e_cmd, sizeof e_cmd, "CNI_COMMAND=%s", cmd);
	snprintf(e_id, sizeof e_id, "CNI_CONTAINERID=%s", uid);
	snprintf(e_ns, sizeof e_ns, "CNI_NETNS=%s", netns);
	/* the plugin gets the CNI variables and nothing else of ours */
	char *argv[] = {CNI_PATH "/bridge", NULL};
	char *envp[] = {e_cmd, e_id, e_ns, "CNI_IFNAME=eth0", "CNI_PATH=" CNI_PATH, NULL};
	int rc = node_run(argv, envp, conf, 30, out, n);
	free(conf);
	return rc;
}

int node_net_add(const char *uid, pid_t pid, char *ip, size_t iplen, char *err, size_t errlen)
{
	char out[8192];
	int rc = cni("ADD", uid, pid, out, sizeof out);
	json_error_t je;
	json_t *res = rc == 0 ? json_loads(out, 0, &je) : NULL;
	const char *addr = json_string_value(
	    json_object_get(json_array_get(json_object_get(res, "ips"), 0), "address"));
	if (!addr) {
		/* CNI errors are {"code":N,"msg":"...","details":"..."} */
		json_t *e = json_loads(out, 0, &je);
		const char *msg = json_string_value(json_object_get(e, "msg"));
		const char *det = json_string_value(json_object_get(e, "details"));
		snprintf(err, errlen, "CNI bridge ADD: %s%s%s", msg ? msg : out, det ? ": " : "",
		         det ? det : "");
		json_decref(e);
		json_decref(res);
		return -1;
	}
	snprintf(ip, iplen, "%.*s", (int)strcspn(addr, "/"), addr);
	json_decref(res);
	return 0;
}

void node_net_del(const char *uid, pid_t pid)
{
	char out[4096];
	if (cni("DEL", uid, pid, out, sizeof out) != 0)
		log_warn("pod %s: CNI DEL: %s", uid, out);
}

/* The bridge's address: the first of the pod CIDR, as host-local's gateway. */
const char *node_net_gateway(char *out, size_t n)
{
	unsigned a, b, c, d;
	if (sscanf(node_crun.cidr, "%u.%u.%u.%u", &a, &b, &c, &d) != 4)
		return "";
	snprintf(out, n, "%u.%u.%u.%u", a, b, c, d + 1);
	return out;
}
