/*
 * node_shim.c - the processes of a pod that outlive the agent, and how the
 * agent starts and talks to them.
 *
 *   kube9 pause   the pod sandbox: new network, IPC and UTS namespaces,
 *                 hostname = the pod's name, loopback up; then it waits for
 *                 SIGTERM. Containers join its namespaces.
 *   kube9 shim    one per container run (conmon's role): subreaper; runs
 *                 `crun run --detach` with the container's stdout/stderr on
 *                 pipes it copies to the log file in the CRI format (rotated),
 *                 waits for the container and writes its exit status to a
 *                 file, so the agent learns it even after a restart.
 *
 * Both report to the agent on fd 3: "ok" or the error, then close it.
 * They need nothing but libc and lib/util.c: bin/kube9-shim (cmd/shim/)
 * is them alone, quick to start, and `kube9 shim|pause` the same code.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kube9/util.h"
#include "node_crun.h"

extern char **environ;

/*
 * Leave the agent's mount namespace for a private copy without what is not
 * ours: FUSE mounts (a kube9 mount would otherwise be held open by every
 * pod) and other pods' volumes under pods/ (keep: our own pod's dir).
 */
static void isolate(const char *pods, const char *keep)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	char line[8192], *mps[4096];
	int n = 0;
	size_t lp = pods ? strlen(pods) : 0, lk = keep ? strlen(keep) : 0;
	while (n < 4096 && fgets(line, sizeof line, f)) {
		char mp[4096], fstype[256];
		const char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
		    sscanf(dash + 3, "%255s", fstype) != 1)
			continue;
		bool fuse = !strncmp(fstype, "fuse", 4);
		bool other = pods && !strncmp(mp, pods, lp) && mp[lp] == '/' &&
		             !(keep && !strncmp(mp, keep, lk) && (mp[lk] == '/' || !mp[lk]));
		if (fuse || other)
			mps[n++] = xstrdup(mp);
	}
	fclose(f);
	while (n--) {
		umount2(mps[n], MNT_DETACH);
		free(mps[n]);
	}
}

static void say(const char *msg)
{
	if (write(3, msg, strlen(msg)) < 0) {
	}
	close(3);
}

int cmd_pause(int argc, char **argv)
{
	/* --uid names the pod: how the agent knows its sandbox from a reused pid */
	const char *host = NULL, *pods = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--hostname"))
			host = argv[i + 1];
		else if (!strcmp(argv[i], "--pods"))
			pods = argv[i + 1];
	}
	if (!host) {
		bool help = argc > 1 && !strcmp(argv[1], "--help");
		fputs("usage: kube9 pause --hostname NAME [--uid UID] [--pods DIR]\n\n"
		      "A pod's sandbox, started by `kube9 node`: holds the pod's network, IPC\n"
		      "and UTS namespaces until SIGTERM. Not for use by hand.\n",
		      help ? stdout : stderr);
		return help ? 0 : 2;
	}
	char err[512];
	isolate(pods, NULL);
	if (unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0) {
		snprintf(err, sizeof err, "unshare: %s", strerror(errno));
		say(err);
		return 1;
	}
	if (sethostname(host, strlen(host)) < 0) {
		snprintf(err, sizeof err, "sethostname %s: %s", host, strerror(errno));
		say(err);
		return 1;
	}
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
		snprintf(err, sizeof err, "loopback up: %s", strerror(errno));
		say(err);
		return 1;
	}
	close(s);
	prctl(PR_SET_NAME, "kube9-pause");
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	say("ok\n");
	int sig;
	sigwait(&set, &sig);
	return 0;
}

/* ---- the shim ---- */

typedef struct shim_log {
	const char *path;
	int fd;
	long size, max;
	int keep;
	char part[2][16384]; /* a line not ended yet, per stream */
	size_t plen[2];
} shim_log;

static void log_open(shim_log *l)
{
	l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	struct stat st;
	l->size = l->fd >= 0 && fstat(l->fd, &st) == 0 ? (long)st.st_size : 0;
}

static void log_rotate(shim_log *l)
{
	char from[4200], to[4200];
	for (int i = l->keep; i >= 1; i--) {
		snprintf(to, sizeof to, "%s.%d", l->path, i);
		if (i > 1)
			snprintf(from, sizeof from, "%s.%d", l->path, i - 1);
		else
			snprintf(from, sizeof from, "%s", l->path);
		rename(from, to);
	}
	if (l->fd >= 0)
		close(l->fd);
	log_open(l);
}

static void log_line(shim_log *l, int stream, const char *p, size_t n, char tag)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char head[96];
	int h = (int)strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
	h += snprintf(head + h, sizeof head - (size_t)h, ".%09ldZ %s %c ", ts.tv_nsec,
	              stream ? "stderr" : "stdout", tag);
	if (l->size + h + (long)n + 1 > l->max && l->size > 0)
		log_rotate(l);
	struct iovec iov[3] = {{head, (size_t)h}, {(void *)p, n}, {"\n", 1}};
	ssize_t w = l->fd >= 0 ? writev(l->fd, iov, 3) : -1;
	if (w > 0)
		l->size += w;
}

static void log_data(shim_log *l, int s, const char *p, size_t n)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		size_t room = sizeof l->part[s] - l->plen[s];
		if (take > room) {
			memcpy(l->part[s] + l->plen[s], p, room);
			log_line(l, s, l->part[s], sizeof l->part[s], 'P');
			l->plen[s] = 0;
			p += room;
			n -= room;
			continue;
		}
		memcpy(l->part[s] + l->plen[s], p, take);
		l->plen[s] += take;
		if (!nl)
			return;
		log_line(l, s, l->part[s], l->plen[s], 'F');
		l->plen[s] = 0;
		p += take + 1;
		n -= take + 1;
	}
}

static void write_exit(const char *path, int st)
{
	char now[40], buf[128];
	k9_now_rfc3339(now, sizeof now);
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	int n = snprintf(buf, sizeof buf, "%d %d %s\n", code, sig, now);
	k9_replace_file(path, buf, (size_t)n, 0644);
}

int cmd_shim(int argc, char **argv)
{
	static const struct option opts[] = {{"root", required_argument, 0, 'r'},
	                                     {"bundle", required_argument, 0, 'b'},
	                                     {"id", required_argument, 0, 'i'},
	                                     {"log", required_argument, 0, 'l'},
	                                     {"exit", required_argument, 0, 'e'},
	                                     {"log-max", required_argument, 0, 'm'},
	                                     {"log-files", required_argument, 0, 'k'},
	                                     {"help", no_argument, 0, 'h'},
	                                     {"pods", required_argument, 0, 'p'},
	                                     {"pod", required_argument, 0, 'P'},
	                                     {"rootfs", required_argument, 0, 'R'},
	                                     {"pid-file", required_argument, 0, 'f'},
	                                     {0, 0, 0, 0}};
	const char *root = NULL, *bundle = NULL, *id = NULL, *logp = NULL, *exitp = NULL;
	const char *pods = NULL, *pod = NULL, *rootfs = NULL, *pidf = NULL;
	long max = 10 << 20, keep = 5;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		switch (c) {
		case 'r':
			root = optarg;
			break;
		case 'b':
			bundle = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case 'l':
			logp = optarg;
			break;
		case 'e':
			exitp = optarg;
			break;
		case 'm':
			max = atol(optarg);
			break;
		case 'k':
			keep = atol(optarg);
			break;
		case 'p':
			pods = optarg;
			break;
		case 'P':
			pod = optarg;
			break;
		case 'R':
			rootfs = optarg;
			break;
		case 'f':
			pidf = optarg;
			break;
		case 'h':
			fputs("usage: kube9 shim --root DIR --bundle DIR --id ID --log FILE --exit "
			      "FILE\n\n"
			      "Runs one container with crun for `kube9 node`, copies its output to "
			      "FILE\n"
			      "in the CRI log format and writes its exit status. Not for use by "
			      "hand.\n",
			      stdout);
			return 0;
		default:
			return 2;
		}
	if (!root || !bundle || !id || !logp || !exitp)
		return 2;
	if (pidf) {
		/* first: whoever finds our container finds us */
		char t[32];
		int n = snprintf(t, sizeof t, "%d\n", (int)getpid());
		k9_replace_file(pidf, t, (size_t)n, 0644);
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	prctl(PR_SET_NAME, "kube9-shim");
	isolate(pods, pod);
	if (rootfs) {
		/* the container's overlay lives in this namespace only: it goes with us */
		char dir[4200];
		snprintf(dir, sizeof dir, "%s/rootfs", bundle);
		if (mount("overlay", dir, "overlay", 0, rootfs) < 0) {
			char m[512];
			snprintf(m, sizeof m, "overlay rootfs: %s", strerror(errno));
			say(m);
			return 1;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	int out[2], errp[2];
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		say("pipe failed");
		return 1;
	}
	char pidfile[4200], crunlog[4200], logopt[4300];
	snprintf(pidfile, sizeof pidfile, "%s/pid", bundle);
	snprintf(crunlog, sizeof crunlog, "%s/crun.log", bundle);
	snprintf(logopt, sizeof logopt, "--log=file:%s", crunlog);
	unlink(pidfile);
	char *cargv[] = {"/usr/bin/crun", "--root",   (char *)root, logopt,
	                 "run",           "--detach", "--bundle",   (char *)bundle,
	                 "--pid-file",    pidfile,    (char *)id,   NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_t at;
	posix_spawnattr_init(&at);
	sigset_t none;
	sigemptyset(&none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setsigmask(&at, &none);
	pid_t crun;
	int rc = posix_spawn(&crun, cargv[0], &fa, &at, cargv, environ);
	close(out[1]);
	close(errp[1]);
	if (rc) {
		char m[256];
		snprintf(m, sizeof m, "crun: %s", strerror(rc));
		say(m);
		return 1;
	}
	int st;
	while (waitpid(crun, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		/* crun's own words are the last line of its log */
		char *txt = k9_read_file(crunlog, NULL), m[1024] = "crun run failed";
		if (txt) {
			char *end = txt + strlen(txt);
			while (end > txt && end[-1] == '\n')
				*--end = 0;
			char *line = strrchr(txt, '\n');
			snprintf(m, sizeof m, "%s", line ? line + 1 : txt);
			free(txt);
		}
		say(m);
		return 1;
	}
	char *pidtxt = k9_read_file(pidfile, NULL);
	pid_t ctr = pidtxt ? (pid_t)atoi(pidtxt) : 0;
	free(pidtxt);
	say("ok\n");
	shim_log l = {.path = logp, .max = max, .keep = (int)keep};
	log_open(&l);
	int fds[2] = {out[0], errp[0]};
	bool open_[2] = {true, true}, done = false;
	int exit_ws = 0;
	while (!done || open_[0] || open_[1]) {
		struct pollfd pf[3] = {{open_[0] ? fds[0] : -1, POLLIN, 0},
		                       {open_[1] ? fds[1] : -1, POLLIN, 0},
		                       {sfd, POLLIN, 0}};
		/* once the container is gone, only drain what is already there */
		if (poll(pf, 3, done ? 100 : -1) == 0 && done)
			break;
		for (int s = 0; s < 2; s++)
			if (pf[s].revents) {
				char buf[65536];
				ssize_t r = read(fds[s], buf, sizeof buf);
				if (r > 0)
					log_data(&l, s, buf, (size_t)r);
				else if (r == 0 || (r < 0 && errno != EINTR)) {
					open_[s] = false;
				}
			}
		if (pf[2].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) > 0)
				;
			pid_t w;
			int ws;
			while ((w = waitpid(-1, &ws, WNOHANG)) > 0)
				if (w == ctr || !ctr) {
					exit_ws = ws;
					done = true;
				}
		}
	}
	for (int s = 0; s < 2; s++)
		if (l.plen[s])
			log_line(&l, s, l.part[s], l.plen[s], 'F');
	write_exit(exitp, exit_ws);
	return 0;
}
