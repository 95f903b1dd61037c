/* srv_obj.h - shared helpers of the verb handlers (srv_obj.c). */
#ifndef KUBE9_SRV_OBJ_H
#define KUBE9_SRV_OBJ_H

#include "kube9/sel.h"
#include "srv.h"

/* Store key of object name / prefix of the request's collection. */
void srv_key(const srv_req *r, const char *name, char *out, size_t n);
void srv_prefix(const srv_req *r, char *out, size_t n);
/* The request's version is the storage version (no conversion needed). */
bool srv_same_version(const srv_req *r);
const obj_kind *srv_storage_kind(const obj_kind *k);
/* Stored text -> new json_t in the request's version. */
json_t *srv_to_request_version(const srv_req *r, const char *text, size_t len, k9_err *e);
/* Request version -> storage version (new reference). */
json_t *srv_to_storage_version(const srv_req *r, const json_t *o, k9_err *e);
/* Read r->name; 404 in the Kubernetes wording. obj (optional) in request version. */
int srv_get_current(const srv_req *r, store_obj *cur, json_t **obj, k9_err *e);
/* Decode the body as one object (JSON or YAML). */
json_t *srv_decode_body(const srv_req *r, obj_lines **lines, k9_err *e);
/* metadata of o, created if missing (borrowed). */
json_t *srv_meta(json_t *o);
const char *srv_meta_str(const json_t *o, const char *field);
/* apiVersion/kind/namespace of a body against the URL; fills what is missing. */
int srv_check_type(const srv_req *r, json_t *o, k9_err *e);
/* Respond with a stored object, converted to the request's version. */
void srv_resp_stored(const srv_req *r, srv_resp *out, int code, const store_obj *o);

/* The request's label and field selectors (either may stay NULL); 400 when malformed. */
int srv_parse_selectors(const srv_req *r, sel **labels, sel **fields, k9_err *e);
/* Whether o passes both selectors (NULL selects everything). */
bool srv_selectors_match(const json_t *o, const sel *labels, const sel *fields);

/* The write verbs (srv_write.c), dispatched by srv_handle_resource. */
int srv_create(srv_req *r, srv_resp *out, k9_err *e);
int srv_update(srv_req *r, srv_resp *out, k9_err *e);
int srv_delete(srv_req *r, srv_resp *out, k9_err *e);
int srv_get_scale(srv_req *r, srv_resp *out, k9_err *e);
int srv_bind(srv_req *r, srv_resp *out, k9_err *e);

#endif
