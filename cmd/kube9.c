/*
 * kube9.c - the one kube9 binary: a table of subcommands, k3s-style.
 */
#include <stdio.h>
#include <string.h>

int cmd_server(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_node(int argc, char **argv);
int cmd_sched(int argc, char **argv);
int cmd_controllers(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_shim(int argc, char **argv);
int cmd_pause(int argc, char **argv);

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
    {"server", cmd_server, "run the API server (HTTPS, SQLite store)"},
    {"mount", cmd_mount, "mount the cluster as a filesystem (FUSE)"},
    {"sched", cmd_sched, "the scheduler: binds pods to nodes through a mount"},
    {"controllers", cmd_controllers,
     "replica sets, deployments, endpoints, node lifecycle, "
     "namespaces, garbage collection, through a mount"},
    {"node", cmd_node, "the node agent (--hollow N: N simulated nodes), through a mount"},
    {"image", cmd_image, "the node image store: import, pull, ls"},
    {"shim", cmd_shim, "(internal) runs one container for the node agent"},
    {"pause", cmd_pause, "(internal) a pod's sandbox, for the node agent"},
};

#define NCOMMANDS (sizeof commands / sizeof *commands)

static void usage(FILE *f)
{
	fputs("usage: kube9 COMMAND [options]\n\nkube9 is a container orchestrator whose "
	      "cluster state is a filesystem.\n\ncommands:\n",
	      f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fputs("\n'kube9 COMMAND --help' describes a command.\n", f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "kube9: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
