/*
 * store_bench.c - throughput and latency of the SQLite store.
 *
 *   store_bench [DIR] [NCREATES]
 *
 * Creates NCREATES (default 40000) ~2 KB pod-like objects from 8 threads
 * and prints creates/s; then 20000 random gets (p50/p99 latency); then lists
 * of 10,000 objects without a filter, with a nodeName prefilter and with a
 * filter callback; then watch fan-out to 100 watchers. The database lives
 * in a fresh mkdtemp directory under DIR (default /tmp), removed afterwards.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube9/store.h"
#include "kube9/util.h"

enum { NT = 8 };
static store *S;
static int per_thread;

static json_t *big_pod(const char *name, int node)
{
	char pad[1701];
	memset(pad, 'a' + node % 26, sizeof pad - 1);
	pad[sizeof pad - 1] = 0;
	char nn[32];
	snprintf(nn, sizeof nn, "node-%d", node);
	return json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s},s:{s:s}},s:{s:s,s:[{s:s,s:s}]},s:{s:s}}",
	                 "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace",
	                 "bench", "labels", "app", "bench", "annotations", "pad", pad, "spec",
	                 "nodeName", nn, "containers", "name", "c", "image", "busybox:1.36",
	                 "status", "phase", "Running");
}

static void *creator(void *arg)
{
	int id = (int)(intptr_t)arg;
	char key[64], name[32];
	/* One template per node, renamed per create: the bench measures the store, not json_pack.
	 */
	json_t *tmpl[50];
	for (int n = 0; n < 50; n++)
		tmpl[n] = big_pod("x", n);
	for (int i = 0; i < per_thread; i++) {
		snprintf(name, sizeof name, "p%d-%06d", id, i);
		snprintf(key, sizeof key, "pods/bench/%s", name);
		json_t *j = tmpl[i % 50];
		json_object_set_new(json_object_get(j, "metadata"), "name", json_string(name));
		k9_err e;
		store_obj o;
		if (S->ops->create(S, key, j, &o, &e) < 0) {
			fprintf(stderr, "create: %s\n", e.msg);
			exit(1);
		}
		store_obj_free(&o);
	}
	for (int n = 0; n < 50; n++)
		json_decref(tmpl[n]);
	return NULL;
}

static int cmpu(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void count_fn(const store_obj *o, void *arg)
{
	*(size_t *)arg += o->len;
}

static bool keep_all(const json_t *o, void *arg)
{
	(void)o;
	(void)arg;
	return true;
}

int main(int argc, char **argv)
{
	char dir[256], path[300];
	snprintf(dir, sizeof dir, "%s/k9bench.XXXXXX", argc > 1 ? argv[1] : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	int total = argc > 2 ? atoi(argv[2]) : 40000;
	per_thread = total / NT;
	snprintf(path, sizeof path, "%s/state.db", dir);
	k9_err e;
	store_sqlite_opts so = {.path = path};
	S = store_sqlite_open(&so, &e);
	if (!S) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}

	pthread_t t[NT];
	uint64_t t0 = k9_mono_ns();
	for (int i = 0; i < NT; i++)
		pthread_create(&t[i], NULL, creator, (void *)(intptr_t)i);
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	double secs = (double)(k9_mono_ns() - t0) / 1e9;
	store_obj g;
	S->ops->get(S, "pods/bench/p0-000000", &g, &e);
	printf("create: %d objects of %zu bytes from %d threads in %.2f s = %.0f creates/s\n",
	       per_thread * NT, g.len, NT, secs, per_thread * NT / secs);
	store_obj_free(&g);

	enum { NG = 20000 };
	static uint64_t lat[NG];
	char key[64];
	for (int i = 0; i < NG; i++) {
		snprintf(key, sizeof key, "pods/bench/p%d-%06d", rand() % NT, rand() % per_thread);
		uint64_t a = k9_mono_ns();
		if (S->ops->get(S, key, &g, &e) < 0) {
			fprintf(stderr, "get %s: %s\n", key, e.msg);
			return 1;
		}
		lat[i] = k9_mono_ns() - a;
		store_obj_free(&g);
	}
	qsort(lat, NG, sizeof lat[0], cmpu);
	printf("get: p50 %.1f us, p99 %.1f us (%d random gets)\n", lat[NG / 2] / 1e3,
	       lat[NG * 99 / 100] / 1e3, NG);

	size_t bytes = 0;
	store_list_result r;
	store_list_opts lo = {.prefix = "pods/bench/", .limit = 10000};
	for (int pass = 0; pass < 3; pass++) {
		bytes = 0;
		uint64_t a = k9_mono_ns();
		S->ops->list(S, &lo, count_fn, &bytes, &r, &e);
		printf("list %zu objects (%zu MB), no filter: %.1f ms%s\n", r.count, bytes >> 20,
		       (k9_mono_ns() - a) / 1e6, pass ? "" : " (first, cold connection)");
		free(r.next_key);
	}
	lo.filter = keep_all;
	uint64_t a = k9_mono_ns();
	S->ops->list(S, &lo, count_fn, &bytes, &r, &e);
	printf("list %zu objects with a filter callback (parse each): %.1f ms\n", r.count,
	       (k9_mono_ns() - a) / 1e6);
	free(r.next_key);
	lo.filter = NULL;
	lo.limit = 0;
	lo.node_name = "node-7";
	a = k9_mono_ns();
	S->ops->list(S, &lo, count_fn, &bytes, &r, &e);
	printf("list with nodeName prefilter: %zu of %d objects in %.1f ms\n", r.count,
	       per_thread * NT, (k9_mono_ns() - a) / 1e6);

	/* watch fan-out: 100 watchers, 2000 writes */
	enum { NW = 100, NWR = 2000 };
	static store_watch *ws[NW];
	for (int i = 0; i < NW; i++)
		ws[i] = S->ops->watch(S, "pods/", 0, &e);
	per_thread = NWR / NT;
	a = k9_mono_ns();
	for (int i = 0; i < NT; i++)
		pthread_create(&t[i], NULL, creator, (void *)(intptr_t)(100 + i));
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	size_t got = 0;
	for (int i = 0; i < NW; i++) {
		store_event ev;
		while (S->ops->watch_next(ws[i], &ev, 0, &e) == 1) {
			got++;
			store_obj_free(&ev.obj);
		}
		S->ops->watch_close(ws[i]);
	}
	printf("watch: %d writes delivered to %d watchers (%zu events) in %.1f ms\n", NWR, NW, got,
	       (k9_mono_ns() - a) / 1e6);

	S->ops->close(S);
	const char *sfx[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		char p[320];
		snprintf(p, sizeof p, "%s%s", path, sfx[i]);
		unlink(p);
	}
	rmdir(dir);
	return 0;
}
