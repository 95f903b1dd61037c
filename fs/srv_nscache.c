/*
 * srv_nscache.c - which namespaces exist and which are terminating, kept
 * current by a watch on the store, so a create does not read its namespace
 * from SQLite every time (that read was 15% of a create). Like the namespace
 * lifecycle admission of kube-apiserver it is eventually consistent; a
 * namespace the cache has not seen yet is looked up in the store.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube9/util.h"
#include "srv.h"

#define NBUCKETS 4096

typedef struct ns_entry {
	struct ns_entry *next;
	bool terminating;
	char name[];
} ns_entry;

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static ns_entry *buckets[NBUCKETS]; /* protected by lock */

static unsigned hash(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % NBUCKETS;
}

/* Name of a "namespaces//NAME" key. */
static const char *key_name(const char *key)
{
	const char *slash = strrchr(key, '/');
	return slash ? slash + 1 : key;
}

static void set_entry(const char *name, bool present, bool terminating)
{
	unsigned h = hash(name);
	pthread_rwlock_wrlock(&lock);
	ns_entry **p = &buckets[h];
	while (*p && strcmp((*p)->name, name))
		p = &(*p)->next;
	if (!present) {
		if (*p) {
			ns_entry *gone = *p;
			*p = gone->next;
			free(gone);
		}
	} else if (*p) {
		(*p)->terminating = terminating;
	} else {
		ns_entry *n = xmalloc(sizeof *n + strlen(name) + 1);
		strcpy(n->name, name);
		n->terminating = terminating;
		n->next = NULL;
		*p = n;
	}
	pthread_rwlock_unlock(&lock);
}

static void clear_all(void)
{
	pthread_rwlock_wrlock(&lock);
	for (size_t i = 0; i < NBUCKETS; i++) {
		while (buckets[i]) {
			ns_entry *n = buckets[i];
			buckets[i] = n->next;
			free(n);
		}
	}
	pthread_rwlock_unlock(&lock);
}

int srv_nscache_lookup(const char *name)
{
	int r = -1;
	pthread_rwlock_rdlock(&lock);
	for (ns_entry *n = buckets[hash(name)]; n; n = n->next)
		if (!strcmp(n->name, name)) {
			r = n->terminating ? 0 : 1;
			break;
		}
	pthread_rwlock_unlock(&lock);
	return r;
}

static void observe(const store_obj *o, void *arg)
{
	(void)arg;
	set_entry(key_name(o->key), true, strstr(o->value, "\"deletionTimestamp\"") != NULL);
}

static void *follow(void *arg)
{
	srv *s = arg;
	const char *prefix = "namespaces//";
	while (!s->stopping) {
		k9_err e = {0};
		store_list_opts lo = {.prefix = prefix};
		store_list_result res = {0};
		clear_all();
		if (s->st->ops->list(s->st, &lo, observe, NULL, &res, &e) < 0) {
			log_warn("namespace cache: %s", e.msg);
			sleep(1);
			continue;
		}
		free(res.next_key);
		store_watch *w = s->st->ops->watch(s->st, prefix, res.rev, &e);
		if (!w)
			continue;
		while (!s->stopping) {
			store_event ev;
			int rc = s->st->ops->watch_next(w, &ev, 1000, &e);
			if (rc < 0)
				break; /* relist */
			if (rc == 0)
				continue;
			if (ev.type == STORE_DELETED)
				set_entry(key_name(ev.obj.key), false, false);
			else
				observe(&ev.obj, NULL);
			store_obj_free(&ev.obj);
		}
		s->st->ops->watch_close(w);
	}
	return NULL;
}

int srv_nscache_start(srv *s, k9_err *e)
{
	pthread_t t;
	if (pthread_create(&t, NULL, follow, s) != 0)
		return k9_errf(e, 500, "InternalError", "cannot start the namespace cache thread");
	pthread_detach(t);
	return 0;
}
