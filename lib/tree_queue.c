/*
 * tree_queue.c - the work queue of the programs driven by the tree: a FIFO
 * of distinct keys, a set of keys being worked on, and a timer list for
 * keys to come back later (retries with back-off, periodic checks).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube9/tree.h"
#include "kube9/util.h"

enum { QUEUED = 1, BUSY = 2, AGAIN = 4 };

typedef struct later {
	double at;
	char *key;
} later;

struct tree_queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	k9_map state; /* key -> QUEUED|BUSY|AGAIN bits (as a pointer) */
	k9_map fails; /* key -> consecutive failures */
	char **fifo;
	size_t head, n, cap;
	later *timers;
	size_t ntimers, tcap;
	bool stop;
	int (*fn)(void *arg, const char *key);
	void *arg;
	pthread_t *threads;
	int nthreads;
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

tree_queue *tree_queue_new(void)
{
	tree_queue *q = xcalloc(1, sizeof *q);
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	return q;
}

static uintptr_t st(tree_queue *q, const char *key)
{
	return (uintptr_t)k9_map_get(&q->state, key);
}

static void set_st(tree_queue *q, const char *key, uintptr_t s)
{
	if (s)
		k9_map_put(&q->state, key, (void *)s);
	else
		k9_map_del(&q->state, key);
}

static void push(tree_queue *q, const char *key)
{
	if (q->n == q->cap) {
		size_t nc = q->cap ? 2 * q->cap : 256;
		char **f = xmalloc(nc * sizeof *f);
		for (size_t i = 0; i < q->n; i++)
			f[i] = q->fifo[(q->head + i) % q->cap];
		free(q->fifo);
		q->fifo = f;
		q->cap = nc;
		q->head = 0;
	}
	q->fifo[(q->head + q->n++) % q->cap] = xstrdup(key);
	pthread_cond_signal(&q->cond);
}

static void add_locked(tree_queue *q, const char *key)
{
	uintptr_t s = st(q, key);
	if (s & QUEUED)
		return;
	if (s & BUSY) {
		set_st(q, key, s | AGAIN);
		return;
	}
	set_st(q, key, QUEUED);
	push(q, key);
}

void tree_queue_add(tree_queue *q, const char *key)
{
	pthread_mutex_lock(&q->lock);
	add_locked(q, key);
	pthread_mutex_unlock(&q->lock);
}

void tree_queue_add_after(tree_queue *q, const char *key, double seconds)
{
	pthread_mutex_lock(&q->lock);
	if (q->ntimers == q->tcap) {
		q->tcap = q->tcap ? 2 * q->tcap : 64;
		q->timers = xrealloc(q->timers, q->tcap * sizeof *q->timers);
	}
	q->timers[q->ntimers++] = (later){mono() + seconds, xstrdup(key)};
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

/* Move due timers to the queue; the time of the next one (lock held). */
static double due(tree_queue *q)
{
	double now = mono(), next = INFINITY;
	for (size_t i = 0; i < q->ntimers;) {
		if (q->timers[i].at <= now) {
			add_locked(q, q->timers[i].key);
			free(q->timers[i].key);
			q->timers[i] = q->timers[--q->ntimers];
			continue;
		}
		if (q->timers[i].at < next)
			next = q->timers[i].at;
		i++;
	}
	return next;
}

static void *worker(void *arg)
{
	tree_queue *q = arg;
	pthread_mutex_lock(&q->lock);
	while (!q->stop) {
		double next = due(q);
		if (!q->n) {
			if (isinf(next)) {
				pthread_cond_wait(&q->cond, &q->lock);
			} else {
				struct timespec ts = {(time_t)next,
				                      (long)((next - floor(next)) * 1e9)};
				pthread_cond_timedwait(&q->cond, &q->lock, &ts);
			}
			continue;
		}
		char *key = q->fifo[q->head];
		q->head = (q->head + 1) % q->cap;
		q->n--;
		set_st(q, key, BUSY);
		pthread_mutex_unlock(&q->lock);
		int rc = q->fn(q->arg, key);
		pthread_mutex_lock(&q->lock);
		uintptr_t fails = (uintptr_t)k9_map_get(&q->fails, key);
		if (rc < 0) {
			/* back-off: 5 ms doubling to 60 s */
			double d = fmin(0.005 * pow(2, (double)fails), 60);
			k9_map_put(&q->fails, key, (void *)(fails + 1));
			pthread_mutex_unlock(&q->lock);
			tree_queue_add_after(q, key, d);
			pthread_mutex_lock(&q->lock);
		} else if (fails) {
			k9_map_del(&q->fails, key);
		}
		bool again = st(q, key) & AGAIN;
		set_st(q, key, 0);
		if (again)
			add_locked(q, key);
		free(key);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

void tree_queue_run(tree_queue *q, int n, int (*fn)(void *arg, const char *key), void *arg)
{
	q->fn = fn;
	q->arg = arg;
	q->threads = xcalloc((size_t)n, sizeof *q->threads);
	q->nthreads = n;
	for (int i = 0; i < n; i++)
		pthread_create(&q->threads[i], NULL, worker, q);
}

size_t tree_queue_len(tree_queue *q)
{
	pthread_mutex_lock(&q->lock);
	size_t n = q->n;
	pthread_mutex_unlock(&q->lock);
	return n;
}

void tree_queue_stop(tree_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	for (int i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	while (q->n) {
		free(q->fifo[q->head]);
		q->head = (q->head + 1) % q->cap;
		q->n--;
	}
	for (size_t i = 0; i < q->ntimers; i++)
		free(q->timers[i].key);
	free(q->timers);
	free(q->fifo);
	free(q->threads);
	k9_map_free(&q->state);
	k9_map_free(&q->fails);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q);
}
