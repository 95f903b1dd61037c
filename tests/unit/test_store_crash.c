/*
 * test_store_crash.c - durability of the SQLite store against SIGKILL.
 *
 * Each round forks a child that opens the store and creates objects from
 * four threads as fast as it can, writing "KEY REV" to a pipe after each
 * create returns (i.e. after its COMMIT). The parent SIGKILLs the child at a
 * random moment, drains the pipe, reopens the database and checks that
 * every acknowledged write is there with exactly that revision (also in its
 * stored resourceVersion and in the watch history), that the revision
 * counter did not go back, and that a new write gets a higher revision.
 * Five rounds, one of them with sync_full.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kube9/store.h"
#include "kube9/util.h"
#include "tap.h"

static char dir[64], dbpath[128];
static int out_fd;
static store *child_store;
static int round_no;

static void *child_writer(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int i = 0;; i++) {
		char key[96], line[160];
		snprintf(key, sizeof key, "crash/r%d/t%d-%07d", round_no, id, i);
		json_t *j = json_pack("{s:{s:s},s:s}", "metadata", "name", key, "data",
		                      "0123456789abcdef0123456789abcdef0123456789abcdef");
		store_obj o;
		k9_err e;
		if (child_store->ops->create(child_store, key, j, &o, &e) < 0) {
			fprintf(stderr, "child: create: %s\n", e.msg);
			_exit(3);
		}
		int n = snprintf(line, sizeof line, "%s %" PRId64 "\n", key, o.rev);
		if (write(out_fd, line, (size_t)n) != n) /* < PIPE_BUF: atomic */
			_exit(4);
		store_obj_free(&o);
		json_decref(j);
	}
	return NULL;
}

static void child_main(bool sync_full)
{
	k9_err e;
	store_sqlite_opts so = {.path = dbpath, .sync_full = sync_full};
	child_store = store_sqlite_open(&so, &e);
	if (!child_store) {
		fprintf(stderr, "child: open: %s\n", e.msg);
		_exit(2);
	}
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, child_writer, (void *)(intptr_t)i);
	for (;;)
		pause();
}

typedef struct ack {
	char key[96];
	int64_t rev;
} ack;

static int cleanup_dir(void)
{
	const char *sfx[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		char p[160];
		snprintf(p, sizeof p, "%s%s", dbpath, sfx[i]);
		unlink(p);
	}
	return rmdir(dir);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/k9crash.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(dbpath, sizeof dbpath, "%s/state.db", dir);
	unsigned seed;
	k9_random(&seed, sizeof seed);
	printf("# seed %u\n", seed);
	srand(seed);
	int64_t last_rev = 0;
	size_t total_acks = 0;
	{
		/* One write first: watching from revision 0 would mean "from now". */
		k9_err e;
		store_sqlite_opts so = {.path = dbpath};
		store *s = store_sqlite_open(&so, &e);
		json_t *j = json_pack("{s:{s:s}}", "metadata", "name", "first");
		store_obj o = {0};
		ok(s && s->ops->create(s, "first//x", j, &o, &e) == 0 && o.rev == 1,
		   "initial write gets revision 1");
		last_rev = o.rev;
		store_obj_free(&o);
		json_decref(j);
		if (s)
			s->ops->close(s);
	}

	for (round_no = 0; round_no < 5; round_no++) {
		int pfd[2];
		if (pipe(pfd) < 0)
			return 1;
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			out_fd = pfd[1];
			child_main(round_no == 2);
		}
		close(pfd[1]);
		/* Kill after 30..400 ms of writing (counted from the first ack). */
		int delay_ms = 30 + rand() % 370;
		FILE *in = fdopen(pfd[0], "r");
		size_t cap = 1 << 14, n = 0;
		ack *acks = xmalloc(cap * sizeof *acks);
		char line[256];
		bool killed = false;
		uint64_t start = 0;
		while (fgets(line, sizeof line, in)) {
			if (!start)
				start = k9_mono_ns();
			if (n == cap)
				acks = xrealloc(acks, (cap *= 2) * sizeof *acks);
			if (sscanf(line, "%95s %" SCNd64, acks[n].key, &acks[n].rev) == 2)
				n++;
			if (!killed && k9_mono_ns() - start > (uint64_t)delay_ms * 1000000u) {
				kill(pid, SIGKILL);
				killed = true;
			}
		}
		fclose(in);
		int st;
		waitpid(pid, &st, 0);
		ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		   "round %d: child killed by SIGKILL after %d ms, %zu writes acknowledged%s",
		   round_no, delay_ms, n, round_no == 2 ? " (sync_full)" : "");

		k9_err e = {0};
		store_sqlite_opts so = {.path = dbpath};
		store *s = store_sqlite_open(&so, &e);
		ok(s != NULL, "round %d: reopen after the kill: %s", round_no, s ? "ok" : e.msg);
		if (!s)
			return tap_done();
		size_t missing = 0, wrong = 0;
		int64_t max_ack = 0;
		for (size_t i = 0; i < n; i++) {
			store_obj o;
			if (s->ops->get(s, acks[i].key, &o, &e) < 0) {
				if (missing++ < 3)
					printf("# missing %s rev %" PRId64 ": %s\n", acks[i].key,
					       acks[i].rev, e.msg);
				continue;
			}
			char want[40];
			snprintf(want, sizeof want, "\"resourceVersion\":\"%" PRId64 "\"",
			         acks[i].rev);
			if (o.rev != acks[i].rev || !strstr(o.value, want))
				wrong++;
			if (acks[i].rev > max_ack)
				max_ack = acks[i].rev;
			store_obj_free(&o);
		}
		ok(n > 0 && missing == 0 && wrong == 0,
		   "round %d: all %zu acknowledged writes present with their revision (missing "
		   "%zu, "
		   "wrong %zu)",
		   round_no, n, missing, wrong);
		int64_t rev = s->ops->rev(s);
		ok(rev >= max_ack && rev > last_rev,
		   "round %d: revision %" PRId64 " >= last acknowledged %" PRId64
		   " and > previous round's %" PRId64,
		   round_no, rev, max_ack, last_rev);

		/* The history has every acknowledged write of this round, in order. */
		store_watch *w = s->ops->watch(s, "crash/", last_rev, &e);
		size_t seen = 0;
		bool inorder = true;
		int64_t prev = last_rev;
		store_event ev;
		while (w && s->ops->watch_next(w, &ev, 0, &e) == 1) {
			inorder = inorder && ev.obj.rev == prev + 1;
			prev = ev.obj.rev;
			seen++;
			store_obj_free(&ev.obj);
		}
		if (w)
			s->ops->watch_close(w);
		ok(inorder && seen >= n && prev == rev,
		   "round %d: history holds %zu events in contiguous revisions up to %" PRId64,
		   round_no, seen, rev);

		json_t *j = json_pack("{s:{s:s}}", "metadata", "name", "after");
		char key[64];
		snprintf(key, sizeof key, "after/r%d/x", round_no);
		store_obj o;
		ok(s->ops->create(s, key, j, &o, &e) == 0 && o.rev == rev + 1,
		   "round %d: the next write gets revision %" PRId64, round_no, rev + 1);
		last_rev = o.rev;
		store_obj_free(&o);
		json_decref(j);
		s->ops->close(s);
		total_acks += n;
		free(acks);
	}
	/* Earlier rounds survive later crashes too. */
	k9_err e;
	store_sqlite_opts so = {.path = dbpath};
	store *s = store_sqlite_open(&so, &e);
	size_t cnt = 0;
	store_list_result r;
	store_list_opts lo = {.prefix = "crash/"};
	s->ops->list(s, &lo, NULL, NULL, &r, &e);
	cnt = r.count;
	s->ops->close(s);
	ok(cnt >= total_acks, "all rounds: %zu objects stored >= %zu acknowledged", cnt,
	   total_acks);
	ok(cleanup_dir() == 0, "temp dir removed");
	return tap_done();
}
