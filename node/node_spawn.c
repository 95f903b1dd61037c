/*
 * node_spawn.c - how the agent starts and talks to the processes that
 * outlive it (node_shim.c) and runs the short-lived tools it needs (crun,
 * the CNI plugins): posix_spawn with only the fds it means to pass, a
 * report pipe read with a deadline, output captured with a timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kube9/util.h"
#include "node_crun.h"

extern char **environ;

/* A child starts with no signal blocked and every handler at its default, whatever ours are. */
static void clean_attrs(posix_spawnattr_t *at, short flags)
{
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_init(at);
	posix_spawnattr_setflags(at, flags | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(at, &none);
	posix_spawnattr_setsigdefault(at, &all);
}

pid_t node_spawn(char *const argv[], const char *errlog, int *report)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	clean_attrs(&at, POSIX_SPAWN_SETSID);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, errlog ? errlog : "/dev/null",
	                                 O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, p[1], 3);
	posix_spawn_file_actions_addclosefrom_np(&fa, 4);
	posix_spawn_file_actions_addchdir_np(&fa, "/");
	pid_t pid;
	int rc = posix_spawn(&pid, node_crun.self, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(p[1]);
	if (rc) {
		close(p[0]);
		errno = rc;
		return -1;
	}
	*report = p[0];
	return pid;
}

int node_report(int fd, double timeout, char *msg, size_t n)
{
	size_t got = 0;
	uint64_t end = k9_mono_ns() + (uint64_t)(timeout * 1e9);
	msg[0] = 0;
	for (;;) {
		uint64_t now = k9_mono_ns();
		if (now >= end) {
			snprintf(msg, n, "no answer within %.0f s", timeout);
			break;
		}
		struct pollfd pf = {fd, POLLIN, 0};
		if (poll(&pf, 1, (int)((end - now) / 1000000) + 1) <= 0)
			continue;
		ssize_t r = read(fd, msg + got, n - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		msg[got] = 0;
		if (got >= n - 1)
			break;
	}
	close(fd);
	msg[strcspn(msg, "\n")] = 0;
	if (!strncmp(msg, "ok", 2))
		return 0;
	if (!*msg)
		snprintf(msg, n, "exited without a word");
	return -1;
}

int node_run(char *const argv[], char *const envp[], const char *input, double timeout, char *out,
             size_t n)
{
	int in[2], o[2];
	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(o, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, o[1], 1);
	posix_spawn_file_actions_adddup2(&fa, o[1], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_t at;
	clean_attrs(&at, 0);
	pid_t pid;
	int rc = posix_spawn(&pid, argv[0], &fa, &at, argv, envp ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(in[0]);
	close(o[1]);
	if (rc) {
		close(in[1]);
		close(o[0]);
		snprintf(out, n, "%s: %s", argv[0], strerror(rc));
		return -1;
	}
	if (input) {
		size_t len = strlen(input), off = 0;
		signal(SIGPIPE, SIG_IGN);
		while (off < len) {
			ssize_t w = write(in[1], input + off, len - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
	}
	close(in[1]);
	size_t got = 0;
	out[0] = 0;
	uint64_t end = k9_mono_ns() + (uint64_t)(timeout * 1e9);
	bool killed = false;
	for (;;) {
		uint64_t now = k9_mono_ns();
		if (now >= end && !killed) {
			kill(pid, SIGKILL);
			killed = true;
		}
		struct pollfd pf = {o[0], POLLIN, 0};
		int pr = poll(&pf, 1, killed ? 1000 : (int)((end - now) / 1000000) + 1);
		if (pr <= 0) {
			if (killed)
				break;
			continue;
		}
		char tmp[4096];
		ssize_t r = read(o[0], tmp, sizeof tmp);
		if (r <= 0)
			break;
		size_t take = (size_t)r < n - 1 - got ? (size_t)r : n - 1 - got;
		memcpy(out + got, tmp, take);
		got += take;
		out[got] = 0;
	}
	close(o[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (killed) {
		snprintf(out, n, "%s: timed out after %.0f s", argv[0], timeout);
		return -1;
	}
	while (got && (out[got - 1] == '\n' || out[got - 1] == ' '))
		out[--got] = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

bool node_pid_is(pid_t pid, const char *word)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	for (ssize_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	return strstr(buf, word) != NULL;
}

int node_crun_cmd(const char *const args[], double timeout, char *out, size_t n)
{
	size_t k = 0;
	while (args[k])
		k++;
	char **argv = xcalloc(k + 4, sizeof *argv);
	argv[0] = "/usr/bin/crun";
	argv[1] = "--root";
	argv[2] = node_crun.crun_root;
	memcpy(argv + 3, args, k * sizeof *argv);
	int rc = node_run(argv, NULL, NULL, timeout, out, n);
	free(argv);
	return rc;
}
