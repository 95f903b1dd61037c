/*
 * store.h - the cluster state store: a versioned key-value map of JSON
 * objects with one cluster-wide revision, compare-and-swap updates and
 * watches that resume from any revision still in the history window.
 *
 * Keys are "RESOURCE/NAMESPACE/NAME" for namespaced objects and
 * "RESOURCE//NAME" for cluster-scoped ones (group-qualified resources use
 * "group.resource", e.g. "apps.deployments/default/web"); callers build
 * them with store_key(). Values are compact JSON text. On every write the
 * store sets metadata.resourceVersion of the stored text to the write's
 * revision, so the bytes a reader gets are exactly what was committed.
 *
 * The interface is a struct of function pointers: SQLite (store_sqlite.c) is
 * the embedded default; an etcd backend can sit beside it. All calls are
 * thread-safe. A write returns only once it is durable against the server
 * process being killed (SIGKILL) at any moment.
 */
#ifndef KUBE9_STORE_H
#define KUBE9_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* One stored object as read. Strings are owned by the store_obj. */
typedef struct store_obj {
	char *key;
	int64_t rev; /* modification revision = resourceVersion */
	char *value; /* compact JSON, NUL-terminated */
	size_t len;
} store_obj;
void store_obj_free(store_obj *o);

typedef enum { STORE_ADDED = 1, STORE_MODIFIED, STORE_DELETED } store_ev_type;

/* One change. For DELETED, value is the last state with rev = the deletion's. */
typedef struct store_event {
	store_ev_type type;
	store_obj obj;
} store_event;

/*
 * A list filter, called with the parsed value of each candidate; return true
 * to keep it. Lets the backend skip objects early without the caller
 * copying them. May be NULL.
 */
typedef bool (*store_filter_fn)(const json_t *obj, void *arg);
/* Called for each listed object in key order; value is only valid during the call. */
typedef void (*store_list_fn)(const store_obj *o, void *arg);

typedef struct store_list_opts {
	const char *prefix;      /* keys starting with this */
	const char *start_after; /* continue after this key ("" or NULL = start) */
	size_t limit;            /* 0 = no limit */
	store_filter_fn filter;  /* NULL = keep all */
	void *filter_arg;
	/*
	 * Cheap prefilters applied before the value is parsed: when set, only
	 * objects whose spec.nodeName / status.phase equal these (as extracted
	 * at write time) are considered.
	 */
	const char *node_name;
	const char *phase;
} store_list_opts;

typedef struct store_list_result {
	int64_t rev;      /* revision the list was read at */
	size_t count;     /* objects passed to fn */
	char *next_key;   /* more remain after this key (malloc'd), or NULL */
	size_t remaining; /* estimate of objects after next_key (0 if none) */
} store_list_result;

typedef struct store_watch store_watch;
typedef struct store store;

typedef struct store_ops {
	int (*get)(store *s, const char *key, store_obj *out, k9_err *e);
	int (*list)(store *s, const store_list_opts *o, store_list_fn fn, void *arg,
	            store_list_result *res, k9_err *e);
	/* 409 AlreadyExists if the key exists. obj is not modified. */
	int (*create)(store *s, const char *key, const json_t *obj, store_obj *out, k9_err *e);
	/*
	 * Replace key's value if its current revision is expect_rev (0: any).
	 * 404 NotFound if absent, 409 Conflict on a revision mismatch.
	 */
	int (*update)(store *s, const char *key, int64_t expect_rev, const json_t *obj,
	              store_obj *out, k9_err *e);
	/* Delete if current revision is expect_rev (0: any); *out = last value. */
	int (*del)(store *s, const char *key, int64_t expect_rev, store_obj *out, k9_err *e);
	/*
	 * Watch keys with prefix for changes after revision from_rev (0: from
	 * now). 410 Gone (reason "Expired") if from_rev is older than the
	 * history window.
	 */
	store_watch *(*watch)(store *s, const char *prefix, int64_t from_rev, k9_err *e);
	/*
	 * Next event: 1 and *ev filled (free with store_obj_free(&ev->obj)),
	 * 0 on timeout, -1 with e when the watch can no longer continue (410 if
	 * the watcher fell behind the history window, or the store closed).
	 */
	int (*watch_next)(store_watch *w, store_event *ev, int timeout_ms, k9_err *e);
	void (*watch_close)(store_watch *w);
	/* Current revision. */
	int64_t (*rev)(store *s);
	/* Forget history at or before rev; never blocks writers for long. */
	int (*compact)(store *s, int64_t rev, k9_err *e);
	/* Revision at or before which history is gone. */
	int64_t (*compacted_rev)(store *s);
	void (*close)(store *s);
} store_ops;

struct store {
	const store_ops *ops;
};

typedef struct store_sqlite_opts {
	const char *path;     /* database file */
	int64_t history_revs; /* keep at least this many revisions of history (default 100000) */
	bool sync_full;       /* PRAGMA synchronous=FULL (power-loss durability) */
} store_sqlite_opts;

store *store_sqlite_open(const store_sqlite_opts *o, k9_err *e);

/* "pods/default/web", "apps.deployments/default/web", "nodes//n1". into out. */
void store_key(char *out, size_t n, const char *group, const char *resource, const char *ns,
               const char *name);

static inline int store_get(store *s, const char *k, store_obj *o, k9_err *e)
{
	return s->ops->get(s, k, o, e);
}

#endif
