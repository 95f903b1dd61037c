/*
 * tree.h - the client side of the mounted tree, for the programs that are
 * driven by it (scheduler, controllers, node agents). They never speak HTTP:
 * they follow DIR/.watch files, read and write files, unlink them.
 */
#ifndef KUBE9_TREE_H
#define KUBE9_TREE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "kube9/map.h"

/*
 * An informer: follows one .watch file (relative to the mount) and keeps
 * the objects it names, keyed "NS/NAME" (or "NAME" for cluster objects).
 * fn is called from the informer's thread for every change, with the
 * object before (NULL for ADDED) and after (NULL for DELETED), and once
 * with type "SYNCED" (both NULL) when the objects present at the open are
 * all in. When the file ends (the mount dropped a reader that fell
 * behind, or the mount restarted), it is opened again and the difference
 * turned into events, so fn sees every object exactly as it now is.
 * The objects are the informer's: fn may keep a reference (json_incref).
 */
typedef void (*tree_watch_fn)(void *arg, const char *type, json_t *old, json_t *obj);
typedef struct tree_watch {
	char *path;
	tree_watch_fn fn;
	void *arg;
	pthread_t thread;
	int fd;
	volatile int stop;
	volatile bool synced;
	const char *const *pick; /* when set, only these fields are kept (tree_pick) */
	pthread_mutex_t lock;    /* objs; fn is called without it */
	k9_map objs;             /* key -> json_t*; changed only by the informer's thread */
} tree_watch;
int tree_watch_start(tree_watch *w, const char *rel, tree_watch_fn fn, void *arg);
/* The same, keeping (and handing fn) only the fields a program reads: see tree_pick. */
int tree_watch_start_pick(tree_watch *w, const char *rel, tree_watch_fn fn, void *arg,
                          const char *const *pick);
/*
 * A copy of o with only the fields named in paths (NULL-terminated), like
 * "metadata.name" or "spec.containers[].ports"; a path keeps all under it.
 * Parsed objects take about nine times their JSON's size, and a program
 * following 150,000 pods would keep gigabytes of fields it never reads.
 */
json_t *tree_pick(const json_t *o, const char *const *paths);
void tree_watch_stop(tree_watch *w);
/* The object with this key now (a new reference), or NULL. */
json_t *tree_watch_get(tree_watch *w, const char *key);
/* Calls fn for every object, under the informer's lock (fn must not block). */
void tree_watch_each(tree_watch *w, void (*fn)(void *arg, json_t *obj), void *arg);

/*
 * A work queue of keys, as client-go's: a key is queued once however often
 * it is added, and never handed to two workers at once (added again while
 * a worker has it, it comes back when that worker is done).
 */
typedef struct tree_queue tree_queue;
tree_queue *tree_queue_new(void);
void tree_queue_add(tree_queue *q, const char *key);
void tree_queue_add_after(tree_queue *q, const char *key, double seconds);
/* Start n workers calling fn(arg, key); fn returns 0, or -1 to retry the key with back-off. */
void tree_queue_run(tree_queue *q, int n, int (*fn)(void *arg, const char *key), void *arg);
size_t tree_queue_len(tree_queue *q);
void tree_queue_stop(tree_queue *q);

/* "NS/NAME" or "NAME" of an object; and its metadata strings ("" when absent). */
void tree_key(const json_t *o, char *out, size_t n);
/* A key back into namespace ("" for "NAME") and name, each at most n bytes. */
void tree_key_split(const char *key, char *ns, char *name, size_t n);
const char *tree_meta(const json_t *o, const char *field);
/* The path of an object's file: "namespaces/NS/RES/NAME.EXT" or "RES/NAME.EXT". */
void tree_path(char *out, size_t n, const char *res, const char *ns, const char *name,
               const char *ext);

/*
 * Writing. Paths are relative to the mount root given to tree_init. Each
 * returns 0 or -errno; a refusal's sentence is in the directory's .errors.
 */
void tree_init(const char *mnt);
/* Check that mnt is a kube9 mount and tree_init it; -1 with a logged sentence if not. */
int tree_open_mount(const char *mnt, const char *prog);
const char *tree_root(void);
/* Replace or create a file with text (what `cat > path` does). */
int tree_write(const char *path, const char *text, size_t len);
/* Create a file that must not exist yet (O_EXCL). */
int tree_create(const char *path, const char *text, size_t len);
/* Write an object as JSON. excl: create only. */
int tree_put_json(const char *path, const json_t *o, bool excl);
/* Replace the status of obj (of resource res, e.g. "pods") through its NAME.status file. */
int tree_put_status(const char *res, const json_t *obj, const json_t *status);
/* The same for the object of key ("NS/NAME" or "NAME"). */
int tree_put_status_of(const char *res, const char *key, const json_t *status);
int tree_unlink(const char *path);
/* Read a whole file; NULL with errno set. */
char *tree_read(const char *path, size_t *len);
json_t *tree_read_json(const char *path);

/*
 * Events (tree_event.c). tree_obj_ref: an ObjectReference to o (kind,
 * apiVersion, namespace, name, uid, resourceVersion: those it has), a new
 * object. tree_event: report about involved (an ObjectReference) a new
 * Event of type "Normal" or "Warning" from component, in involved's
 * namespace ("default" for cluster-scoped objects, as client-go does).
 * 0 or -errno.
 */
json_t *tree_obj_ref(const json_t *o);
int tree_event(const json_t *involved, const char *type, const char *reason, const char *msg,
               const char *component);

/* Seconds since an RFC 3339 time (huge when unparsable). */
double tree_age(const char *rfc3339);

/*
 * Leader election through a ConfigMap lease (client-go's algorithm): the
 * holder renews namespaces/kube-system/configmaps/NAME.json every period
 * seconds with a resourceVersion-conditional write; others take it over
 * once it is older than duration. tree_lease_wait blocks until this
 * process leads; tree_lease_run keeps renewing (a thread) and exits the
 * process if leadership is lost.
 */
typedef struct tree_lease {
	char *name, *id;
	double duration, period;
	pthread_t thread;
	volatile int stop;
} tree_lease;
int tree_lease_wait(tree_lease *l, const char *name, const char *id, double duration);
/* tree_lease_wait as HOSTNAME_PID, the identity the programs lead as. */
int tree_lease_elect(tree_lease *l, const char *name, double duration);
void tree_lease_stop(tree_lease *l);

#endif
