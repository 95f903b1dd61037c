/*
 * obj_priv.h - private to the object model (lib/obj_*.c): building the line
 * map, the field path syntax shared by the decoder and the validator, the
 * scalar classifier shared by the YAML decoder and encoder.
 *
 * Field paths are written the Kubernetes way: "spec.containers[0].image";
 * the root is "". The line map keeps, per document, path -> line, plus
 * node pointer -> line and document root pointer -> document index.
 */
#ifndef KUBE9_OBJ_PRIV_H
#define KUBE9_OBJ_PRIV_H

#include <jansson.h>
#include <stddef.h>

#include "kube9/obj.h"
#include "kube9/util.h"

obj_lines *obj_lines_new(void);
/* Record the line of a node (ignored for the true/false/null singletons). */
void obj_lines_set_node(obj_lines *l, const json_t *node, int line);
void obj_lines_set_path(obj_lines *l, size_t doc, const char *path, int line);
void obj_lines_set_root(obj_lines *l, const json_t *root, size_t doc);
/* Document index of a decoded root, or 0 when unknown. */
size_t obj_lines_doc_of(const obj_lines *l, const json_t *root);
/* Copy the entries of document `from` under path prefix `prefix` to document `to`. */
void obj_lines_move(obj_lines *l, size_t from, const char *prefix, size_t to);
/* The line of path, or of its nearest recorded ancestor; 0 when none. */
int obj_lines_near(const obj_lines *l, size_t doc, const char *path);

/* Append ".key" (or "key" at the root) / "[i]" to a field path. */
void obj_path_key(k9_buf *b, const char *key);
void obj_path_index(k9_buf *b, size_t i);
/* Cut a path buffer back to len bytes. */
void obj_path_cut(k9_buf *b, size_t len);

/* What a plain (unquoted) YAML scalar reads as. */
enum obj_scalar { OBJ_SC_STRING, OBJ_SC_NULL, OBJ_SC_BOOL, OBJ_SC_INT, OBJ_SC_REAL };
enum obj_scalar obj_scalar_kind(const char *s, size_t n);
/* The json_t of a plain scalar (a new reference). */
json_t *obj_scalar_value(const char *s, size_t n);

/*
 * Loaders: append the documents of buf to the array docs, recording lines
 * for document i of the input as document doc_base + i. -1 with e (400).
 */
int obj_yaml_load(const char *buf, size_t len, json_t *docs, obj_lines *l, size_t doc_base,
                  k9_err *e);
int obj_json_load(const char *buf, size_t len, json_t *docs, obj_lines *l, size_t doc_base,
                  k9_err *e);

/*
 * Validation errors: each add() appends "msg (line N)" where N is the line
 * of lpath or of its nearest ancestor; finish() turns them into
 * `Kind "name" is invalid: a; b` (422) and returns -1, or returns 0.
 */
typedef struct obj_verr {
	k9_buf b;
	int n;
	const obj_lines *l;
	size_t doc;
} obj_verr;
void obj_verr_init(obj_verr *v, const obj_lines *l, const json_t *root);
void obj_verr_add(obj_verr *v, const char *lpath, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int obj_verr_finish(obj_verr *v, const obj_kind *k, const json_t *obj, k9_err *e);
/* Compact JSON of v for messages, at most ~200 bytes; malloc'd. */
char *obj_show(const json_t *v);
/* The kind-specific rules of k (obj_rules.c), reported into v. */
void obj_rules_check(obj_verr *v, const obj_kind *k, const json_t *obj);

#endif
