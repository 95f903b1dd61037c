/*
 * kube9-shim - the processes of a pod that outlive the node agent (pod
 * sandboxes and container shims, node/node_shim.c) as a program of their
 * own: it links nothing but libc, so a pod pays about 1 ms to start each
 * instead of kube9's library loading. `kube9 shim|pause` run the same code.
 */
#include <stdio.h>
#include <string.h>

int cmd_shim(int argc, char **argv);
int cmd_pause(int argc, char **argv);

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "shim"))
		return cmd_shim(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "pause"))
		return cmd_pause(argc - 1, argv + 1);
	fputs("usage: kube9-shim shim|pause ARGS...\n\n"
	      "Started by `kube9 node` for each pod sandbox (pause) and each container run\n"
	      "(shim); `kube9-shim shim --help` and `kube9-shim pause --help` say more.\n",
	      argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? stdout
	                                                                          : stderr);
	return argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0 : 2;
}
