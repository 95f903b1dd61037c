/*
 * mnt.h - `kube9 mount`: the cluster as a FUSE filesystem (libfuse3 low-level
 * API), fed by watches over HTTPS (libcurl). Internal to mnt/.
 *
 * The tree:
 *   /namespaces/NS/RESOURCE/NAME.yaml|.json   namespaced objects
 *   /RESOURCE/NAME.yaml|.json                 cluster-scoped ones (nodes, pvs)
 *   NAME.status|.binding|.scale               subresources (unlisted; see mnt_sub.c)
 *   NAME.log, NAME.CONTAINER.log, NAME.metrics  logs, a node's usage (read from the server)
 *   DIR/.events   blocking feed of changes     DIR/.errors  latest refusals
 *   DIR/.watch    the same with the objects, in the Kubernetes watch format
 *   /namespaces/RESOURCE.events|.watch          RESOURCE in every namespace (unlisted)
 *   RESOURCE/@SELECTOR/                         objects matching a label selector
 *
 * Inode numbers are structural, ino = id << 8 | sub: every entity (the cluster,
 * a namespace, an object, a selector directory, a scratch file) has an id that
 * is never reused, and sub says which of its nodes is meant (see MNT_SUB_*).
 * The kernel's lookup counts are therefore not needed: an ino whose entity is
 * gone answers ENOENT. All entities live under one rwlock (mnt.lock).
 */
#ifndef KUBE9_MNT_H
#define KUBE9_MNT_H

#define FUSE_USE_VERSION                                                                           \
	312 /* 3.12: fuse_loop_cfg_* (with 35 the loop read our config as the old struct) */
#include <fuse_lowlevel.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "kube9/err.h"
#include "kube9/map.h"
#include "kube9/sel.h"
#include "kube9/util.h"

#define MNT_MAXRES 16

/* Sub-node numbers of the cluster entity (id 0) and of namespace entities. */
enum {
	MNT_SUB_NSDIR = 0,  /* namespace: its directory */
	MNT_SUB_ROOT = 1,   /* cluster: "/" (FUSE_ROOT_ID) */
	MNT_SUB_NSLIST = 2, /* cluster: "/namespaces" */
	MNT_SUB_EVENTS = 3, /* DIR/.events of "/" or of a namespace */
	MNT_SUB_ERRORS = 4, /* DIR/.errors of "/" or of a namespace */
	MNT_SUB_NSL_EVENTS = 5,
	MNT_SUB_NSL_ERRORS = 6,
	MNT_SUB_WATCH = 7, /* DIR/.watch of "/" or of a namespace */
	MNT_SUB_NSL_WATCH = 8,
	MNT_SUB_RES = 16, /* + 4 * r + {0 dir, 1 .events, 2 .errors, 3 .watch} */
	/* of the cluster, for a namespaced r: 1 namespaces/R.events, 3 namespaces/R.watch */
};
/* Selector dirs: 0 dir, 1 .events, 2 .watch. Objects (suffixes: osub_suffix in mnt_cache.c): */
enum {
	MNT_OSUB_YAML,
	MNT_OSUB_JSON,
	MNT_OSUB_STATUS,
	MNT_OSUB_BINDING,
	MNT_OSUB_SCALE,
	MNT_OSUB_LOG,     /* pods: NAME.log, the default container's log */
	MNT_OSUB_METRICS, /* nodes: NAME.metrics, the node's /metrics/resource */
	MNT_OSUB_CTRLOG,  /* pods: NAME.CONTAINER.log, + the container's index (mnt_sub.c) */
};

#define MNT_INO(id, sub) (((uint64_t)(id) << 8) | (uint64_t)(sub))

/* A refcounted immutable text (an object's YAML or JSON), shared with open files. */
typedef struct mnt_blob {
	atomic_int refs;
	size_t len;
	char data[];
} mnt_blob;
mnt_blob *mnt_blob_new(const char *p, size_t n);
mnt_blob *mnt_blob_ref(mnt_blob *b);
void mnt_blob_unref(mnt_blob *b);

/* Flags of an object in the cache. */
enum {
	MNT_OBJ_GONE = 1,     /* deleted; only the notifier still sees it */
	MNT_OBJ_ANNOUNCE = 2, /* new; hidden from the notifier until it creates it */
	MNT_OBJ_TERMINATING = 4,
};

struct mnt_ns;
enum { MNT_ENT_NS = 1, MNT_ENT_OBJ, MNT_ENT_SEL, MNT_ENT_SCRATCH };
/* Every entity starts with this header (see mnt_ids_get). */
typedef struct mnt_hdr {
	uint64_t id;
	int etype; /* MNT_ENT_* */
} mnt_hdr;

typedef struct mnt_obj {
	mnt_hdr h;
	struct mnt_ns *ns;
	int res;
	char *name;
	uint64_t rv;
	mnt_blob *json;           /* compact, one line with its newline */
	_Atomic(mnt_blob *) yaml; /* rendered from json when first read: mnt_obj_yaml */
	_Atomic long yaml_len;    /* its size, once known (-1 before): mnt_obj_yaml_len */
	json_t *labels;
	struct timespec mtime, ctime;
	int flags;
	/* what the kernel has: the revision whose size it was told, whose pages it caches */
	_Atomic uint64_t reported_rv, kcache_rv;
	atomic_bool size_stale; /* written through a handle: the kernel's size is the writer's */
	/* 1 << MNT_OSUB_* of the names the kernel was allowed to cache (mnt_entry_of) */
	atomic_uint kernel_names;
} mnt_obj;

/* A ring of the latest refusals in one directory, for DIR/.errors. */
#define MNT_ERRORS_KEEP 32
typedef struct mnt_errors {
	char *msg[MNT_ERRORS_KEEP];
	unsigned head, n;
} mnt_errors;

/* A namespace, or the cluster itself (id 0, name "") for cluster-scoped kinds. */
typedef struct mnt_ns {
	mnt_hdr h;
	char *name;
	mnt_obj *obj;      /* the Namespace object; NULL while unknown */
	bool gone_pending; /* deleted; the notifier has yet to rmdir it */
	bool announce;     /* new; hidden from the notifier until it mkdirs it */
	k9_map res[MNT_MAXRES];
	mnt_errors errors[MNT_MAXRES + 1]; /* [MNT_MAXRES] = the directory itself */
} mnt_ns;

typedef struct mnt_seldir {
	mnt_hdr h;
	mnt_ns *ns;
	int res;
	char *text;
	sel *sel;
} mnt_seldir;

/* A file that is not (yet) an object: an editor's temp file, a new NAME.yaml. */
typedef struct mnt_scratch {
	mnt_hdr h;
	uint64_t parent;
	char *name;
	k9_buf data;
	struct timespec mtime;
	mode_t mode;
	int opens;
	bool unlinked;
	bool target; /* NAME.yaml in a resource dir, or *.yaml in a namespace: applied on close */
	bool excl;   /* created with O_EXCL: applied as a create only */
	mnt_ns *ns;  /* the directory it is in */
	int res;
} mnt_scratch;

/* One served resource. */
typedef struct mnt_res {
	const char *plural, *kind, *api_version, *prefix; /* prefix: "/api/v1" */
	bool namespaced;
	bool secret;                /* files are 0600 */
	bool has_status, has_scale; /* NAME.status, NAME.scale (from the kinds table) */
} mnt_res;

/* The HTTP client. */
typedef struct mnt_client {
	char *server;  /* "https://host:port" */
	char *ca_path; /* file or /proc/self/fd/N */
	char *cert_path, *key_path;
	char *token; /* bearer token */
	char *basic; /* "user:password" */
	bool insecure;
	long timeout_ms;
} mnt_client;

typedef enum { MNT_ORIGIN_LIST, MNT_ORIGIN_WATCH, MNT_ORIGIN_LOCAL } mnt_origin;

/* The whole mount. */
typedef struct mnt {
	pthread_rwlock_t lock;
	mnt_client cl;
	const char *mountpoint;
	struct fuse_session *se;
	uid_t uid;
	gid_t gid;
	struct timespec start;
	mnt_res res[MNT_MAXRES];
	int nres, ns_res; /* ns_res: index of "namespaces" */
	mnt_ns *cluster;
	k9_map nss;     /* name -> mnt_ns */
	k9_map ids;     /* "%llx" id -> entity (see mnt_ent_*) */
	k9_map seldirs; /* "nsid/res/text" -> mnt_seldir */
	k9_map scratch; /* "parent/name" -> mnt_scratch */
	k9_map tombs;   /* "res/ns/name" -> revision of its deletion */
	atomic_ullong next_id;
	atomic_bool stopping;
	bool no_inotify;
	double attr_timeout;
	/* watch state */
	pthread_t watchers[MNT_MAXRES];
} mnt;

extern mnt *mnt_g; /* the one mount of this process (FUSE callbacks) */

/* --- client (mnt_http.c, mnt_kcfg.c) --- */
int mnt_kcfg_load(mnt_client *c, const char *path, k9_err *e);
/*
 * One request. body may be NULL. Returns the HTTP status (>= 100) with the
 * body in out, or -1 with e when the server could not be reached.
 */
long mnt_http(mnt *m, const char *method, const char *path, const char *ctype, const char *body,
              size_t len, k9_buf *out, k9_err *e);
/* An API error body (a Status) or transport failure as k9_err. */
void mnt_http_status(long code, const k9_buf *body, k9_err *e);
/* Stream a watch: on_line is called for every line; returns the HTTP status or -1. */
long mnt_http_stream(mnt *m, const char *path, int (*on_line)(void *arg, char *line, size_t n),
                     void *arg, k9_err *e);
int mnt_errno_of(const k9_err *e);

/* --- cache (mnt_cache.c); callers hold m->lock as noted --- */
uint64_t mnt_new_id(mnt *m);
void mnt_ids_put(mnt *m, void *ent); /* ent starts with an mnt_hdr */
void *mnt_ids_get(mnt *m, uint64_t id, int type);
void mnt_ids_del(mnt *m, uint64_t id);
mnt_ns *mnt_ns_get(mnt *m, const char *name, bool create); /* write lock to create */
int mnt_res_index(const mnt *m, const char *plural);
/* Store one object as received (ADDED/MODIFIED/DELETED); takes the write lock. */
void mnt_cache_apply(mnt *m, int res, const char *type, const json_t *o, mnt_origin origin);
/* After a relist: delete what the list did not have (seen: "ns/name" keys). */
void mnt_cache_sweep(mnt *m, int res, const k9_map *seen, mnt_origin origin);
/* Forget an object now (our own unlink); takes the write lock. */
/* Drop o from the cache now (write lock held). */
void mnt_obj_remove(mnt *m, mnt_obj *o);
void mnt_cache_forget(mnt *m, int res, const char *ns, const char *name);
bool mnt_ns_visible(const mnt_ns *ns);
bool mnt_obj_visible(const mnt_obj *o, bool notifier);
/*
 * An object's YAML, rendered from its JSON on first need (a stat, a read)
 * and kept until the object changes: the programs driven by the tree read
 * JSON only, and rendering every change would cost more than the change.
 * Read lock held; the blob stays valid while it is.
 */
mnt_blob *mnt_obj_yaml(mnt_obj *o);
/*
 * The size of that YAML. A stat renders it to learn the size but keeps only
 * the size: ls -l, and the notifier's echo of every change, would otherwise
 * keep every object twice, as JSON and as YAML.
 */
size_t mnt_obj_yaml_len(mnt_obj *o);
/* Paths relative to the mount: a directory ("namespaces/x/pods"), a file in it, an object's. */
void mnt_dir_path(const mnt *m, const mnt_ns *ns, int res, char *out, size_t n);
void mnt_file_path(const mnt *m, const mnt_ns *ns, int res, const char *file, char *out, size_t n);
void mnt_obj_path(const mnt *m, const mnt_obj *o, char *out, size_t n);
/* 1 for "NAME.yaml", 2 for "NAME.json" (*stem = strlen(NAME)), 0 for other names. */
int mnt_file_ext(const char *file, size_t *stem);
/* MNT_OSUB_STATUS.. for "NAME.status" etc. when resource res serves it, else 0. */
int mnt_sub_ext(const mnt *m, int res, const char *file, size_t *stem);
/* The inode of the directory an object's file is in. */
uint64_t mnt_obj_dir_ino(const mnt *m, const mnt_obj *o);

/* --- watches (mnt_watch.c) --- */
int mnt_sync_all(mnt *m, k9_err *e); /* the first list of every resource */
void mnt_watch_start(mnt *m);
void mnt_watch_stop(mnt *m);

/* --- .events and .errors (mnt_events.c) --- */
typedef struct mnt_evfilter {
	int scope; /* MNT_EV_* */
	uint64_t ns_id;
	int res;
	uint64_t sel_id;
	bool watch; /* .watch: lines carry the objects */
} mnt_evfilter;
enum { MNT_EV_ALL, MNT_EV_NS, MNT_EV_RES, MNT_EV_SEL, MNT_EV_RESALL };
/* obj: the object's JSON as of this event (its last state for DELETED). */
void mnt_events_publish(mnt *m, const char *type, const mnt_ns *ns, int res, const char *name,
                        uint64_t rv, const json_t *old_labels, const json_t *new_labels,
                        mnt_blob *obj);
void *mnt_events_open(mnt *m, const mnt_evfilter *f);
void mnt_events_read(mnt *m, void *h, fuse_req_t req, size_t size, bool nonblock);
void mnt_events_poll(mnt *m, void *h, fuse_req_t req, struct fuse_pollhandle *ph);
void mnt_events_close(mnt *m, void *h);
void mnt_events_shutdown(mnt *m);
/* Record a refusal in a directory's .errors (and the log); lock not needed. */
void mnt_errors_add(mnt *m, mnt_ns *ns, int res, const char *msg);
char *mnt_errors_text(mnt *m, mnt_ns *ns, int res, size_t *len);
void mnt_errors_clear(mnt *m, mnt_ns *ns, int res);

/* --- the notifier: kernel notifications and inotify echoes (mnt_notify.c) --- */
enum {
	MNT_NOTE_CREATE,
	MNT_NOTE_MODIFY,
	MNT_NOTE_DELETE,
	MNT_NOTE_MKDIR,
	MNT_NOTE_RMDIR,
	MNT_NOTE_INVAL,
	MNT_NOTE_FORGET /* drop the kernel's entry: path is a file name, ino its directory */
};
void mnt_notify(mnt *m, int op, const char *path, uint64_t ino);
void mnt_notify_start(mnt *m);
void mnt_notify_stop(mnt *m);
/* True when the request comes from the notifier thread. */
bool mnt_from_notifier(fuse_req_t req);

/* --- FUSE operations (mnt_ops.c, mnt_write.c) --- */
extern const struct fuse_lowlevel_ops mnt_ops;
void mnt_op_create(fuse_req_t, fuse_ino_t, const char *, mode_t, struct fuse_file_info *);
void mnt_op_write(fuse_req_t, fuse_ino_t, const char *, size_t, off_t, struct fuse_file_info *);
void mnt_op_flush(fuse_req_t, fuse_ino_t, struct fuse_file_info *);
void mnt_op_setattr(fuse_req_t, fuse_ino_t, struct stat *, int, struct fuse_file_info *);
void mnt_op_unlink(fuse_req_t, fuse_ino_t, const char *);
void mnt_op_rmdir(fuse_req_t, fuse_ino_t, const char *);
void mnt_op_mkdir(fuse_req_t, fuse_ino_t, const char *, mode_t);
void mnt_op_rename(fuse_req_t, fuse_ino_t, const char *, fuse_ino_t, const char *, unsigned);
void mnt_op_setxattr(fuse_req_t, fuse_ino_t, const char *, const char *, size_t, int);
void mnt_op_removexattr(fuse_req_t, fuse_ino_t, const char *);

/* A resolved inode. */
typedef enum {
	MNT_N_ROOT,
	MNT_N_NSLIST,
	MNT_N_NSDIR,
	MNT_N_RESDIR,
	MNT_N_EVENTS,
	MNT_N_ERRORS,
	MNT_N_YAML,
	MNT_N_JSON,
	MNT_N_SELDIR,
	MNT_N_SCRATCH,
	MNT_N_SUB /* NAME.status, NAME.binding, NAME.scale */
} mnt_ntype;
typedef struct mnt_node {
	mnt_ntype t;
	mnt_ns *ns; /* the namespace (cluster for cluster-level dirs) */
	int res;    /* -1 when the node is not inside a resource */
	mnt_obj *obj;
	mnt_seldir *sd;
	mnt_scratch *sc;
	mnt_evfilter ev; /* for .events and .watch */
	int osub;        /* MNT_OSUB_* of an object's file */
	uint64_t ino;
} mnt_node;
/* Resolve an inode (read lock held). */
int mnt_resolve(mnt *m, uint64_t ino, mnt_node *n);
/* Find name in directory parent (read lock held); notifier: see hidden objects. */
int mnt_lookup_node(mnt *m, uint64_t parent, const char *name, bool notifier, mnt_node *n);
void mnt_stat(mnt *m, const mnt_node *n, struct stat *st);
/* The selector directory "@text" of (ns, res), registered on first use (write lock). */
mnt_seldir *mnt_seldir_get(mnt *m, mnt_ns *ns, int res, const char *text, k9_err *e);
/* The entry (attributes, cache times) the kernel gets for node n (lock held). */
void mnt_entry_of(mnt *m, const mnt_node *n, struct fuse_entry_param *e);

/* Per-open state. */
typedef struct mnt_fh {
	int kind;     /* MNT_FH_* */
	mnt_blob *rd; /* read snapshot (objects, .errors) */
	k9_buf wr;    /* write buffer (objects) */
	bool dirty, writable;
	uint64_t ino;
	void *events; /* .events reader */
	int osub;     /* MNT_FH_SUB: which subresource */
	/* where a write goes */
	mnt_ns *ns;
	int res;
	char *name; /* object name, or the scratch file's name */
	char *url;  /* MNT_FH_SUB read from the server at open (NAME.log ...): its path */
} mnt_fh;
enum {
	MNT_FH_OBJ,
	MNT_FH_SCRATCH,
	MNT_FH_EVENTS,
	MNT_FH_TEXT,
	MNT_FH_ECHO,
	MNT_FH_DIR,
	MNT_FH_SUB
};

/* Requests about objects (mnt_write.c). */
/* "/api/v1/namespaces/NS/pods[/NAME][TAIL]", tail like "/status" or "?gracePeriodSeconds=0" */
char *mnt_obj_url(mnt *m, const mnt_ns *ns, int res, const char *name, const char *tail);
/* Record a refusal of path (relative to the mount) in .errors; returns -errno. */
int mnt_refuse(mnt *m, mnt_ns *ns, int res, const char *path, k9_err *e);
/* One request; an answer that is the object goes into the cache (*obj says so). */
long mnt_send_obj(mnt *m, int res, const char *method, const char *url, const char *ctype,
                  const char *body, size_t len, bool *obj, k9_err *e);

/* Subresource files (mnt_sub.c): each write(2) is one request. */
int mnt_sub_open(mnt *m, const mnt_node *n, mnt_fh *fh, bool wr);
int mnt_sub_write(mnt *m, mnt_fh *fh, const char *buf, size_t size);
/* After mnt_sub_open, without the lock: what a read-only one reads, from the server. */
int mnt_sub_fetch(mnt *m, mnt_fh *fh);
/* Whether object o has sub-node osub (read lock held). */
bool mnt_sub_valid(const mnt *m, const mnt_obj *o, int osub);
/*
 * "POD.CONTAINER.log" (stem: the length before ".log") in ns/res when no pod
 * is named POD.CONTAINER: the pod, *osub set to its MNT_OSUB_CTRLOG + i; or
 * NULL (read lock held).
 */
mnt_obj *mnt_sub_log_target(mnt *m, mnt_ns *ns, int res, const char *name, size_t stem, int *osub);

/* Scratch files (mnt_write.c): the one named name in parent; an open of it ends. */
mnt_scratch *mnt_scratch_get(mnt *m, uint64_t parent, const char *name);
void mnt_scratch_close(mnt *m, mnt_scratch *sc);

/* Apply text as object NAME of res in ns (the file at path); 0 or -errno. */
int mnt_apply_file(mnt *m, mnt_ns *ns, int res, const char *name, const char *text, size_t len,
                   bool excl, const char *path);
/* Apply a multi-document stream written into a namespace directory. */
int mnt_apply_stream(mnt *m, mnt_ns *ns, const char *text, size_t len, const char *path);

#endif
