/*
 * sel.h - Kubernetes label selectors (equality- and set-based:
 * "a=b,c!=d,e in (x,y),f notin (z),g,!h") and field selectors
 * ("metadata.name=x,spec.nodeName!=") and their matching.
 */
#ifndef KUBE9_SEL_H
#define KUBE9_SEL_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"

typedef struct sel sel;

/* Parse a label selector string. "" selects everything. NULL with e = 400. */
sel *sel_parse_labels(const char *s, k9_err *e);
/* Build from an API LabelSelector object (matchLabels, matchExpressions). */
sel *sel_from_api(const json_t *label_selector, k9_err *e);
/* labels is a JSON object of string values, or NULL (no labels). */
bool sel_match_labels(const sel *s, const json_t *labels);

/*
 * Parse a field selector. Supported fields: metadata.name,
 * metadata.namespace, spec.nodeName, status.phase (and any for which
 * sel_field_value finds a string); operators =, ==, !=.
 */
sel *sel_parse_fields(const char *s, k9_err *e);
bool sel_match_fields(const sel *s, const json_t *obj);
/* True when the selector selects everything. */
bool sel_empty(const sel *s);
/* The required value of field f if the selector has "f=v", else NULL. */
const char *sel_field_equals(const sel *s, const char *field);

void sel_free(sel *s);

#endif
