/*
 * node_logs.c - reading a container's CRI log files as the kubelet's
 * containerLogs answers (see node_logs.h for the files).
 *
 * The files of one restart are read oldest first (R.log.N ... R.log.1,
 * R.log), cut into lines, each line parsed and P parts joined into one
 * message, which is kept or dropped by sinceTime, then tail (a first pass
 * counts the messages there are) and limitBytes. Following, the newest file
 * is looked at every 150 ms: it grew (read on), it was renamed away by a
 * rotation (finish the old one through the open descriptor, then read the
 * new R.log), it was cut (read from its start), or a restart made
 * (R+1).log (go on there). A malformed line is passed on as it is.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube9/util.h"
#include "node_logs.h"

struct node_logs {
	char dir[1024]; /* the container's directory */
	long restart;   /* R of the files being read */
	char **files;   /* the files of R, oldest first; the last is R.log */
	size_t nfiles, ifile;
	int fd;
	ino_t ino;
	node_logs_opts o;
	k9_buf raw;       /* bytes of a line not ended yet */
	k9_buf part;      /* the message of the P parts so far */
	char part_ts[64]; /* the time of its first part */
	bool in_part;
	k9_buf out; /* text not yet read */
	size_t out_off;
	bool counting;    /* the first pass of a tail: count the messages */
	long count, skip; /* messages there are; still to skip */
	long left;        /* bytes still allowed; -1: no limit */
	bool done;
};

bool node_logs_parse_time(const char *s, size_t n, struct timespec *t)
{
	char b[64];
	struct tm tm = {0};
	if (n >= sizeof b)
		return false;
	memcpy(b, s, n);
	b[n] = 0;
	const char *p = strptime(b, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return false;
	long ns = 0, scale = 100000000;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			ns += (*p - '0') * scale;
	time_t sec = timegm(&tm);
	if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		long off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 +
		           ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
		sec -= *p == '+' ? off : -off;
	} else if (strcmp(p, "Z")) {
		return false;
	}
	t->tv_sec = sec;
	t->tv_nsec = ns;
	return true;
}

/* Text for the reader, within limitBytes. */
static void emit(node_logs *l, const char *p, size_t n)
{
	if (l->left >= 0 && (long)n > l->left)
		n = (size_t)l->left;
	buf_append(&l->out, p, n);
	if (l->left >= 0 && (l->left -= (long)n) == 0)
		l->done = true;
}

/* The message of the parts so far is complete (newline: it ended with an F line). */
static void finish(node_logs *l, bool newline)
{
	if (!l->in_part)
		return;
	struct timespec t;
	bool keep = !l->o.since.tv_sec ||
	            !node_logs_parse_time(l->part_ts, strlen(l->part_ts), &t) ||
	            t.tv_sec > l->o.since.tv_sec ||
	            (t.tv_sec == l->o.since.tv_sec && t.tv_nsec >= l->o.since.tv_nsec);
	if (keep && l->counting) {
		l->count++;
	} else if (keep && l->skip > 0) {
		l->skip--;
	} else if (keep && !l->done) {
		if (l->o.timestamps && l->part_ts[0]) {
			emit(l, l->part_ts, strlen(l->part_ts));
			emit(l, " ", 1);
		}
		emit(l, l->part.data ? l->part.data : "", l->part.len);
		if (newline)
			emit(l, "\n", 1);
	}
	l->part.len = 0;
	l->in_part = false;
}

/* One line of a file, without its newline: "TIME STREAM TAG MESSAGE". */
static void on_line(node_logs *l, const char *s, size_t n)
{
	const char *ts_end = memchr(s, ' ', n);
	const char *st = ts_end ? ts_end + 1 : NULL;
	const char *st_end = st ? memchr(st, ' ', n - (size_t)(st - s)) : NULL;
	const char *tag = st_end ? st_end + 1 : NULL;
	const char *tag_end = tag ? memchr(tag, ' ', n - (size_t)(tag - s)) : NULL;
	struct timespec t;
	if (!tag_end || !node_logs_parse_time(s, (size_t)(ts_end - s), &t)) {
		finish(l, true); /* not CRI: the line as it is */
		l->in_part = true;
		l->part_ts[0] = 0;
		buf_append(&l->part, s, n);
		finish(l, true);
		return;
	}
	if (!l->in_part) {
		size_t tl = (size_t)(ts_end - s);
		memcpy(l->part_ts, s, tl);
		l->part_ts[tl] = 0;
		l->in_part = true;
	}
	buf_append(&l->part, tag_end + 1, n - (size_t)(tag_end + 1 - s));
	if (*tag != 'P')
		finish(l, true);
}

/* Bytes read from a file: whole lines go to on_line, the rest waits in raw. */
static void feed(node_logs *l, const char *p, size_t n)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		if (!nl) {
			buf_append(&l->raw, p, n);
			return;
		}
		size_t take = (size_t)(nl - p);
		if (l->raw.len) {
			buf_append(&l->raw, p, take);
			on_line(l, l->raw.data, l->raw.len);
			l->raw.len = 0;
		} else {
			on_line(l, p, take);
		}
		p += take + 1;
		n -= take + 1;
	}
}

/* The end of a file: a last line without newline counts as a line. */
static void end_of_file(node_logs *l)
{
	if (l->raw.len)
		on_line(l, l->raw.data, l->raw.len);
	l->raw.len = 0;
}

static void free_files(node_logs *l)
{
	for (size_t i = 0; i < l->nfiles; i++)
		free(l->files[i]);
	free(l->files);
	l->files = NULL;
	l->nfiles = l->ifile = 0;
}

/* The newest restart with a file in dir: R of the highest R.log (or R.log.K); -1 if none. */
static long newest_restart(const char *dir)
{
	DIR *d = opendir(dir);
	long best = -1;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char *end, *kend;
		long r = strtol(de->d_name, &end, 10);
		if (end == de->d_name || strncmp(end, ".log", 4) || r <= best)
			continue;
		if (!end[4] || (end[4] == '.' && strtol(end + 5, &kend, 10) > 0 && !*kend))
			best = r; /* R.log or R.log.K */
	}
	if (d)
		closedir(d);
	return best;
}

/* The files of restart r, oldest first; false when it has none. */
static bool list_files(node_logs *l, long r)
{
	free_files(l);
	DIR *d = opendir(l->dir);
	long most = 0;
	bool any = false;
	char pre[40];
	int pl = snprintf(pre, sizeof pre, "%ld.log", r);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, pre, (size_t)pl))
			continue;
		const char *rest = de->d_name + pl;
		char *end;
		long k = *rest == '.' ? strtol(rest + 1, &end, 10) : 0;
		if (!*rest)
			any = true;
		else if (*rest == '.' && end != rest + 1 && !*end && k > 0) {
			any = true;
			most = k > most ? k : most;
		}
	}
	if (d)
		closedir(d);
	l->files = xcalloc((size_t)most + 1, sizeof *l->files);
	for (long k = most; k >= 1; k--)
		l->files[l->nfiles++] = xasprintf("%s/%s.%ld", l->dir, pre, k);
	l->files[l->nfiles++] = xasprintf("%s/%s", l->dir, pre);
	l->restart = r;
	return any;
}

static void close_fd(node_logs *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

/* Following: a restart made a newer R.log; go on with its files. false if none. */
static bool follow_restart(node_logs *l)
{
	long r = newest_restart(l->dir);
	if (r <= l->restart)
		return false;
	end_of_file(l);
	finish(l, false);
	close_fd(l);
	list_files(l, r);
	return true;
}

/* Following, at the end of R.log: 1 when there is more to read, 0 when not yet. */
static int follow_next(node_logs *l)
{
	struct stat st, cur;
	if (follow_restart(l))
		return 1;
	if (stat(l->files[l->nfiles - 1], &st) == 0 && st.st_ino != l->ino) {
		/* rotated: the old file is drained (read gave 0), the new one follows */
		end_of_file(l);
		close_fd(l);
		return 1;
	}
	off_t pos = lseek(l->fd, 0, SEEK_CUR);
	if (fstat(l->fd, &cur) == 0 && cur.st_size < pos) {
		lseek(l->fd, 0, SEEK_SET); /* cut in place: from its start */
		l->raw.len = 0;
		return 1;
	}
	return 0;
}

/* Read on: 1 when something was read, 0 when nothing is there yet (follow), -1 at the end. */
static int pump(node_logs *l)
{
	bool follow = l->o.follow && !l->counting;
	if (l->done)
		return -1;
	if (l->ifile >= l->nfiles) {
		end_of_file(l);
		finish(l, false);
		l->done = true;
		return -1;
	}
	if (l->fd < 0) {
		struct stat st;
		l->fd = open(l->files[l->ifile], O_RDONLY | O_CLOEXEC);
		if (l->fd >= 0 && fstat(l->fd, &st) == 0) {
			l->ino = st.st_ino;
		} else {
			close_fd(l);
			if (follow && l->ifile + 1 == l->nfiles) /* R.log is not there yet */
				return follow_restart(l) ? 1 : 0;
			l->ifile++; /* rotated away meanwhile */
			return 1;
		}
	}
	char b[65536];
	ssize_t n = read(l->fd, b, sizeof b);
	if (n > 0) {
		feed(l, b, (size_t)n);
		return 1;
	}
	if (n < 0 && errno == EINTR)
		return 1;
	if (follow && l->ifile + 1 == l->nfiles && n == 0)
		return follow_next(l);
	end_of_file(l);
	close_fd(l);
	l->ifile++;
	return 1;
}

/* The newest directory of ns/pod in logs: NS_POD_UID with the latest mtime. */
static bool pod_dir(const char *logs, const char *ns, const char *pod, char *out, size_t n)
{
	char pre[600];
	int pl = snprintf(pre, sizeof pre, "%s_%s_", ns, pod);
	DIR *d = opendir(logs);
	struct timespec best = {0};
	bool found = false;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		struct stat st;
		char p[1200];
		if (strncmp(de->d_name, pre, (size_t)pl) || strchr(de->d_name + pl, '_'))
			continue;
		if (snprintf(p, sizeof p, "%s/%s", logs, de->d_name) >= (int)sizeof p ||
		    stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (!found || st.st_mtim.tv_sec > best.tv_sec ||
		    (st.st_mtim.tv_sec == best.tv_sec && st.st_mtim.tv_nsec > best.tv_nsec)) {
			best = st.st_mtim;
			found = snprintf(out, n, "%s", p) < (int)n;
		}
	}
	if (d)
		closedir(d);
	return found;
}

static bool name_ok(const char *s)
{
	return s[0] && strcmp(s, ".") && strcmp(s, "..") && !strchr(s, '/') && !strchr(s, '_') &&
	       strlen(s) < 254;
}

node_logs *node_logs_open(const char *state_dir, const char *ns, const char *pod, const char *ctr,
                          const node_logs_opts *o, k9_err *e)
{
	char logs[1024], pdir[1024];
	struct stat st;
	snprintf(logs, sizeof logs, "%s/logs", state_dir);
	if (!name_ok(ns) || !name_ok(pod) || !pod_dir(logs, ns, pod, pdir, sizeof pdir)) {
		k9_errf(e, 404, "NotFound", "pod \"%s\" does not exist", pod);
		return NULL;
	}
	node_logs *l = xcalloc(1, sizeof *l);
	l->fd = -1;
	l->o = *o;
	l->left = o->limit_bytes;
	if (!name_ok(ctr) ||
	    snprintf(l->dir, sizeof l->dir, "%s/%s", pdir, ctr) >= (int)sizeof l->dir ||
	    stat(l->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		k9_errf(e, 404, "NotFound", "container \"%s\" not found in pod \"%s\"", ctr, pod);
		goto fail;
	}
	long r = newest_restart(l->dir);
	if (o->previous) {
		l->o.follow = false; /* a terminated container's log is complete */
		if (r < 1 || !list_files(l, r - 1)) {
			k9_errf(e, 400, "BadRequest",
			        "previous terminated container \"%s\" in pod \"%s\" not found", ctr,
			        pod);
			goto fail;
		}
	} else if (r < 0 || !list_files(l, r)) {
		k9_errf(e, 400, "BadRequest", "container \"%s\" in pod \"%s\" is waiting to start",
		        ctr, pod);
		goto fail;
	}
	if (o->tail_lines >= 0) {
		/* count the messages there are, then read again skipping all but the last */
		l->counting = true;
		l->left = -1;
		while (pump(l) >= 0)
			;
		l->counting = l->done = false;
		l->left = o->limit_bytes;
		l->skip = l->count > o->tail_lines ? l->count - o->tail_lines : 0;
		l->ifile = 0;
		l->raw.len = l->part.len = 0;
		l->in_part = false;
		l->out.len = 0;
		if (o->tail_lines == 0 && !o->follow)
			l->done = true;
	}
	if (l->left == 0)
		l->done = true;
	return l;
fail:
	node_logs_close(l);
	return NULL;
}

size_t node_logs_read(node_logs *l, char *buf, size_t max, bool (*gone)(void *arg), void *arg)
{
	while (l->out_off == l->out.len) {
		l->out.len = l->out_off = 0;
		int r = pump(l);
		if (r < 0 && !l->out.len)
			return 0;
		if (r == 0 && !l->out.len) {
			if (gone && gone(arg))
				return 0;
			usleep(150000);
		}
	}
	size_t n = l->out.len - l->out_off;
	n = n < max ? n : max;
	memcpy(buf, l->out.data + l->out_off, n);
	l->out_off += n;
	return n;
}

void node_logs_close(node_logs *l)
{
	if (!l)
		return;
	close_fd(l);
	free_files(l);
	buf_free(&l->raw);
	buf_free(&l->part);
	buf_free(&l->out);
	free(l);
}

int node_logs_dir(char *out, size_t n, const char *state_dir, const char *ns, const char *name,
                  const char *uid)
{
	int r = snprintf(out, n, "%s/logs/%s_%s_%s", state_dir, ns, name, uid);
	return r < 0 || (size_t)r >= n ? -1 : 0;
}

bool node_logs_dir_split(const char *d, char *ns, char *name, char *uid, size_t n)
{
	const char *first = strchr(d, '_'), *last = strrchr(d, '_');
	if (d[0] == '.' || !first || first == last || !last[1] || (size_t)(first - d) >= n ||
	    (size_t)(last - first - 1) >= n || strlen(last + 1) >= n)
		return false;
	snprintf(ns, n, "%.*s", (int)(first - d), d);
	snprintf(name, n, "%.*s", (int)(last - first - 1), first + 1);
	snprintf(uid, n, "%s", last + 1);
	return true;
}
