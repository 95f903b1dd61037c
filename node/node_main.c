/*
 * node_main.c - `kube9 node`: options, the nodes to run, and the runtime.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube9/obj.h"
#include "kube9/util.h"
#include "node.h"
#include "node_crun.h"

static void usage(FILE *f)
{
	fputs(
	    "usage: kube9 node --mount DIR [options]\n"
	    "\n"
	    "The node agent. Registers its node(s) in DIR/nodes/, heartbeats, runs the pods\n"
	    "bound to them and reports their status, all through the kube9 mount at DIR.\n"
	    "\n"
	    "      --mount DIR        the kube9 mount to work through (required)\n"
	    "      --hollow N         run N simulated nodes: pods are reported Running with\n"
	    "                         a fake IP, nothing is started (for tests and scale)\n"
	    "      --name NAME        node name; with --hollow the prefix of NAME-00000...\n"
	    "                         (default: this host's name; hollow: \"hollow\")\n"
	    "      --cpu Q            allocatable cpu per node (default 4)\n"
	    "      --memory Q         allocatable memory per node (default 16Gi)\n"
	    "      --pods N           pods per node at most (default 100)\n"
	    "      --zones A,B,...    zones, given to the nodes in turn (default zone-a)\n"
	    "      --regions X,Y,...  regions, given to the nodes in turn (default region-1)\n"
	    "      --heartbeat S      seconds between heartbeats (default 10)\n"
	    "      --workers N        pods handled at once (default 8)\n"
	    "      --state-dir DIR    pods' state, logs and images (default /var/lib/kube9/node)\n"
	    "      --address IP       this node's InternalIP; the HTTP endpoint listens there\n"
	    "                         (default 127.0.0.1)\n"
	    "      --port N           the HTTP endpoint: logs, usage (default 10250; 0: none)\n"
	    "      --pod-cidr CIDR    pods' addresses (default 10.88.0.0/24)\n"
	    "      --bridge NAME      the pods' bridge (default kube9br0)\n"
	    "      --backoff S        first restart back-off of a crashing container, seconds;\n"
	    "                         it doubles up to 30 times that (default 10)\n"
	    "      --log-max-size N   bytes of a container's log file before it is rotated\n"
	    "                         (default 10485760)\n"
	    "      --log-max-files N  rotated log files kept per container run (default 5)\n"
	    "      --sync-period S    seconds between writes of changed secrets and configmaps\n"
	    "                         into pods' volumes (default 60)\n"
	    "  -v, --verbose          debug logging\n"
	    "  -h, --help             this text\n"
	    "\n"
	    "Without --hollow, pods bound to this host run under crun, each in its own\n"
	    "network namespace on the bridge; capacity is the host's unless --cpu or\n"
	    "--memory say otherwise. Needs root.\n",
	    f);
}

/* "a,b,c" -> NULL-terminated list (the string is kept). */
static char **split(char *s, int *n)
{
	char **v = xcalloc(strlen(s) + 2, sizeof *v);
	*n = 0;
	for (char *save = NULL, *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save))
		v[(*n)++] = t;
	return v;
}

static bool quantity(const char *flag, const char *s, int64_t *milli)
{
	k9_err e;
	if (obj_quantity_parse(s, milli, &e) == 0 && *milli > 0)
		return true;
	log_err("kube9 node: --%s %s: not a positive quantity (like 4, 500m, 16Gi)", flag, s);
	return false;
}

int cmd_node(int argc, char **argv)
{
	static const struct option opts[] = {{"mount", required_argument, 0, 'm'},
	                                     {"hollow", required_argument, 0, 'H'},
	                                     {"name", required_argument, 0, 'n'},
	                                     {"cpu", required_argument, 0, 'c'},
	                                     {"memory", required_argument, 0, 'M'},
	                                     {"pods", required_argument, 0, 'p'},
	                                     {"zones", required_argument, 0, 'z'},
	                                     {"regions", required_argument, 0, 'r'},
	                                     {"heartbeat", required_argument, 0, 'b'},
	                                     {"workers", required_argument, 0, 'w'},
	                                     {"state-dir", required_argument, 0, 'S'},
	                                     {"address", required_argument, 0, 'A'},
	                                     {"port", required_argument, 0, 'P'},
	                                     {"pod-cidr", required_argument, 0, 'C'},
	                                     {"bridge", required_argument, 0, 'B'},
	                                     {"backoff", required_argument, 0, 'O'},
	                                     {"log-max-size", required_argument, 0, 'L'},
	                                     {"log-max-files", required_argument, 0, 'F'},
	                                     {"sync-period", required_argument, 0, 'Y'},
	                                     {"verbose", no_argument, 0, 'v'},
	                                     {"help", no_argument, 0, 'h'},
	                                     {0, 0, 0, 0}};
	const char *mount = NULL, *name = NULL, *cpu_s = NULL, *mem_s = NULL;
	const char *state = "/var/lib/kube9/node", *address = "127.0.0.1", *cidr = "10.88.0.0/24";
	const char *bridge = "kube9br0";
	long port = -1;
	double backoff = 10, sync_period = 60;
	long log_max = 10 << 20, log_files = 5;
	char *zones_s = xstrdup("zone-a"), *regions_s = xstrdup("region-1");
	long hollow = 0, pods = 100, workers = 8;
	double hb = 10;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		bool good = true;
		switch (c) {
		case 'm':
			mount = optarg;
			break;
		case 'H':
			good = k9_flag_int("kube9 node", "hollow", optarg, 0, 65535, &hollow);
			break;
		case 'n':
			name = optarg;
			break;
		case 'c':
			cpu_s = optarg;
			break;
		case 'M':
			mem_s = optarg;
			break;
		case 'p':
			good = k9_flag_int("kube9 node", "pods", optarg, 1, 250, &pods);
			break;
		case 'z':
			free(zones_s);
			zones_s = xstrdup(optarg);
			break;
		case 'r':
			free(regions_s);
			regions_s = xstrdup(optarg);
			break;
		case 'b':
			good = k9_flag_num("kube9 node", "heartbeat", optarg, 0.001, 86400, &hb);
			break;
		case 'w':
			good = k9_flag_int("kube9 node", "workers", optarg, 1, 256, &workers);
			break;
		case 'S':
			state = optarg;
			break;
		case 'A':
			address = optarg;
			break;
		case 'P':
			good = k9_flag_int("kube9 node", "port", optarg, 0, 65535, &port);
			if (good && port < 0)
				good = false;
			break;
		case 'C':
			cidr = optarg;
			break;
		case 'B':
			bridge = optarg;
			good = strlen(optarg) > 0 && strlen(optarg) < 16;
			if (!good)
				log_err(
				    "kube9 node: --bridge %s: a link name of 1 to 15 characters",
				    optarg);
			break;
		case 'L':
			good = k9_flag_int("kube9 node", "log-max-size", optarg, 1024, 1L << 40,
			                   &log_max);
			break;
		case 'F':
			good =
			    k9_flag_int("kube9 node", "log-max-files", optarg, 1, 100, &log_files);
			break;
		case 'Y':
			good = k9_flag_num("kube9 node", "sync-period", optarg, 0.1, 86400,
			                   &sync_period);
			break;
		case 'O':
			good = k9_flag_num("kube9 node", "backoff", optarg, 0.01, 3600, &backoff);
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
	int64_t cpu, mem;
	if (!hollow && (!cpu_s || !mem_s))
		node_host_capacity(&cpu, &mem);
	if (!cpu_s && hollow)
		cpu_s = "4";
	if (!mem_s && hollow)
		mem_s = "16Gi";
	if (cpu_s && !quantity("cpu", cpu_s, &cpu))
		return 2;
	if (mem_s && !quantity("memory", mem_s, &mem))
		return 2;
	else if (!mem_s)
		mem *= 1000; /* quantities are in milli-units */
	unsigned c1, c2, c3, c4, bits;
	if (sscanf(cidr, "%u.%u.%u.%u/%u", &c1, &c2, &c3, &c4, &bits) != 5 || c1 > 255 ||
	    c2 > 255 || c3 > 255 || c4 > 255 || bits < 8 || bits > 30) {
		log_err("kube9 node: --pod-cidr %s: give an IPv4 network like 10.88.0.0/24", cidr);
		return 2;
	}
	/* before any thread: the agent's own mount namespace */
	if (!hollow && node_host_init(state, bridge, cidr, backoff) < 0)
		return 1;
	node_crun.log_max = log_max;
	node_crun.log_files = (int)log_files;
	node_crun.sync_period = sync_period;
	if (tree_open_mount(mount, "kube9 node") < 0)
		return 1;
	int nz, nr;
	char **zones = split(zones_s, &nz), **regions = split(regions_s, &nr);
	if (!nz || !nr) {
		log_err("kube9 node: --zones and --regions need at least one name");
		return 2;
	}
	char host[256];
	if (!name) {
		if (hollow)
			name = "hollow";
		else if (gethostname(host, sizeof host) == 0)
			name = host;
		else
			name = "node";
	}
	node_agent *a = xcalloc(1, sizeof *a);
	a->n = hollow ? (int)hollow : 1;
	a->nodes = xcalloc((size_t)a->n, sizeof *a->nodes);
	a->rt = hollow ? &node_hollow_rt : &node_crun_rt;
	a->state_dir = state;
	a->address = address;
	a->port = port >= 0 ? (int)port : hollow ? 0 : 10250;
	a->heartbeat = hb;
	a->workers = (int)workers;
	for (int i = 0; i < a->n; i++) {
		char nn[300];
		if (hollow)
			snprintf(nn, sizeof nn, "%s-%05d", name, i);
		else
			snprintf(nn, sizeof nn, "%s", name);
		node_one_init(&a->nodes[i], i, nn, cpu, mem / 1000, pods, zones[i % nz],
		              regions[i % nr]);
		/* a node's HTTP endpoint is reached at its InternalIP: hollow nodes share one */
		if (!hollow || a->port > 0)
			snprintf(a->nodes[i].ip, sizeof a->nodes[i].ip, "%s", address);
		if (!hollow) {
			snprintf(a->nodes[i].cidr, sizeof a->nodes[i].cidr, "%s", cidr);
		}
	}
	k9_stop_on_signals(&a->stop);
	int rc = node_agent_run(a);
	log_info("kube9 node: stopping");
	return rc < 0 ? 1 : 0;
}
