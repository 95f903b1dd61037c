/*
 * srv.h - the API server's private interface (fs/srv_*.c).
 *
 * A request flows: srv_http.c (libmicrohttpd, one thread per connection)
 * collects the body, srv_auth.c authenticates and authorizes, srv_route.c
 * turns the path into a srv_req, and the verb handlers in srv_crud.c,
 * srv_watch.c and srv_discovery.c answer it with a srv_resp. Errors travel
 * as k9_err and leave as a Kubernetes Status object, once, in srv_http.c.
 */
#ifndef KUBE9_SRV_H
#define KUBE9_SRV_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "kube9/err.h"
#include "kube9/obj.h"
#include "kube9/store.h"

#define SRV_MAX_BODY (3 * 1024 * 1024) /* bigger bodies get 413 */

typedef struct srv_user {
	char name[256];
	char uid[128];
	char groups[8][128];
	int ngroups;
} srv_user;

typedef struct srv_token {
	char *token, *user, *uid, *groups; /* groups: comma separated */
} srv_token;

typedef struct srv {
	store *st;
	char *data_dir;
	char *listen; /* ADDR:PORT */
	srv_token *tokens;
	size_t ntokens;
	int request_timeout_s; /* non-watch requests */
	int min_watch_timeout_s;
	volatile int stopping;
	uint64_t started_ns;
} srv;

/* What a path names. */
typedef enum {
	R_NONE = 0,
	R_COLLECTION, /* list/watch/create */
	R_OBJECT,     /* get/update/patch/delete */
} srv_target;

typedef struct srv_req {
	srv *s;
	const char *method; /* GET, POST ... */
	const char *path;
	srv_user user;
	/* resource requests */
	const obj_kind *kind; /* as requested (group version) */
	srv_target target;
	char ns[254]; /* "" = all namespaces / cluster-scoped */
	char name[254];
	char sub[32];           /* subresource: status, scale, finalize, binding, log, proxy, "" */
	const char *proxy_path; /* nodes/NAME/proxy: the rest of the path ("/metrics/resource") */
	bool watch;             /* ?watch=true or /watch/ path */
	/* query parameters (NULL when absent) */
	const char *label_selector, *field_selector, *resource_version, *cont, *dry_run;
	const char *grace_period, *propagation, *field_validation;
	long limit;
	long timeout_s;
	/* body */
	const char *content_type;
	const char *body;
	size_t body_len;
	/* the verb used for authorization and metrics */
	const char *verb; /* get list watch create update patch delete deletecollection */
	/* per-connection hook for streaming responses (set by srv_http.c) */
	void *conn;
} srv_req;

typedef struct srv_resp {
	int code;
	char *body; /* malloc'd */
	size_t len;
	const char *content_type;
	/* streaming watch: when set, srv_http.c calls it to produce chunks */
	struct srv_watch_stream *stream;
	/* any other stream (the proxies): read gives up to max bytes, -1 at the end */
	long (*read)(void *cls, char *buf, size_t max);
	void (*free)(void *cls);
	void *cls;
} srv_resp;

/* srv_auth.c */
int srv_tokens_load(srv *s, const char *path, k9_err *e);
void srv_tokens_free(srv *s);
/* 0 and *u filled, or -1 (401). */
int srv_authenticate(srv *s, const char *authorization, srv_user *u, k9_err *e);
/* 0 if u may do r->verb on r, else -1 with 403. */
int srv_authorize(const srv_req *r, k9_err *e);

/* srv_tls.c: CA, serving cert, admin/node credentials, kubeconfigs. */
int srv_bootstrap(srv *s, char **cert_pem, char **key_pem, k9_err *e);

/* srv_route.c: fill r->kind/target/ns/name/sub/watch from r->path. */
int srv_route(srv_req *r, k9_err *e);

/* srv_discovery.c: /api, /apis, /version ...; 1 when it answered. */
int srv_discovery(srv_req *r, srv_resp *out, k9_err *e);

/* srv_openapi.c: /openapi/v3 ...; 1 when it answered. */
int srv_openapi(srv_req *r, srv_resp *out, k9_err *e);

/* srv_read.c, srv_write.c */
int srv_handle_resource(srv_req *r, srv_resp *out, k9_err *e);
/* Create the default and kube-system namespaces if missing. */
int srv_ensure_namespaces(srv *s, k9_err *e);

/* srv_watch.c */
int srv_watch_start(srv_req *r, srv_resp *out, k9_err *e);
/* Produce up to max bytes of the stream into buf; -1 at the end. */
long srv_watch_read(struct srv_watch_stream *w, char *buf, size_t max);
void srv_watch_free(struct srv_watch_stream *w);
/* The client of connection fd hung up (-1: never). */
bool srv_client_gone(int fd);

/*
 * srv_proxy.c: pods/NAME/log and nodes/NAME/proxy/PATH, streamed from the
 * node agent's endpoint (the node's InternalIP and kubelet port).
 */
int srv_proxy_log(srv_req *r, srv_resp *out, k9_err *e);
int srv_proxy_node(srv_req *r, srv_resp *out, k9_err *e);

/* srv_table.c: meta.k8s.io Table answers for kubectl get. */
bool srv_wants_table(const char *accept);
void srv_table(const srv_req *r, const char *include_object, srv_resp *out);

/* srv_nscache.c: namespaces that exist (1), are terminating (0), unknown (-1). */
int srv_nscache_start(srv *s, k9_err *e);
int srv_nscache_lookup(const char *name);

/* srv_metrics.c */
void srv_metrics_observe(const char *verb, const char *resource, int code, uint64_t ns);
char *srv_metrics_render(size_t *len);

/* srv_http.c */
int srv_run(srv *s, const char *cert_pem, const char *key_pem, k9_err *e);
/* A Status object for e. */
char *srv_status_json(const k9_err *e, const srv_req *r, size_t *len);
void srv_resp_json(srv_resp *out, int code, json_t *obj); /* steals obj */
void srv_resp_text(srv_resp *out, int code, const char *ctype, char *body, size_t len);

#endif
