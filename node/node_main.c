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

static void usage(FILE *f)
{
	fputs("usage: kube9 node --mount DIR [options]\n"
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
	      "  -v, --verbose          debug logging\n"
	      "  -h, --help             this text\n"
	      "\n"
	      "Without --hollow this host registers with the flags' capacity, but until the\n"
	      "crun runtime is built every pod bound to it is reported Running by the hollow\n"
	      "runtime, like a hollow node's.\n",
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
	                                     {"verbose", no_argument, 0, 'v'},
	                                     {"help", no_argument, 0, 'h'},
	                                     {0, 0, 0, 0}};
	const char *mount = NULL, *name = NULL, *cpu_s = "4", *mem_s = "16Gi";
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
	if (!quantity("cpu", cpu_s, &cpu) || !quantity("memory", mem_s, &mem))
		return 2;
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
	a->rt = &node_hollow_rt;
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
	}
	k9_stop_on_signals(&a->stop);
	int rc = node_agent_run(a);
	log_info("kube9 node: stopping");
	return rc < 0 ? 1 : 0;
}
