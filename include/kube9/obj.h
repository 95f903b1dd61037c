/*
 * obj.h - the object model: what kinds exist, how objects are decoded from and
 * encoded to YAML and JSON, defaulted, validated and converted between group
 * versions.
 *
 * One internal representation: a jansson json_t tree in the Kubernetes JSON
 * shape. YAML and JSON input both decode to it; decoding records the source
 * line of every node in an obj_lines map so validation messages can say
 * "line 12". The stored form is JSON with apiVersion/kind (it carries its
 * version).
 */
#ifndef KUBE9_OBJ_H
#define KUBE9_OBJ_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/* One served resource (a kind in one group version). */
typedef struct obj_kind {
	const char *group;       /* "" for the core group */
	const char *version;     /* "v1", "v1beta2" */
	const char *kind;        /* "Pod" */
	const char *plural;      /* "pods" */
	const char *singular;    /* "pod" */
	const char *short_names; /* comma separated: "po" */
	bool namespaced;
	bool has_status; /* status subresource */
	bool has_scale;  /* scale subresource */
	/* The version objects of this kind are stored in (same group). */
	const char *storage_version;
} obj_kind;

/* All served kinds; *n is set to their number. */
const obj_kind *obj_kinds(size_t *n);
/* NULL when not served. group "" = core. */
const obj_kind *obj_kind_by_resource(const char *group, const char *version, const char *plural);
/* apiVersion as written in objects: "v1", "apps/v1". */
const obj_kind *obj_kind_by_gvk(const char *api_version, const char *kind);
/* "apps/v1" or "v1" into out. */
void obj_kind_api_version(const obj_kind *k, char *out, size_t n);

/* Source positions of decoded nodes. */
typedef struct obj_lines obj_lines;
/* 1-based line of node in the source, 0 when unknown. lines may be NULL. */
int obj_lines_get(const obj_lines *lines, const json_t *node);
void obj_lines_free(obj_lines *lines);
/*
 * 1-based line of the field at path ("spec.containers[0].image", "" for the
 * document) in the first document, 0 when unknown; works for every node,
 * including true/false/null. For document i of obj_decode_all use
 * obj_lines_get_doc_path.
 */
int obj_lines_get_path(const obj_lines *lines, const char *path);
int obj_lines_get_doc_path(const obj_lines *lines, size_t doc, const char *path);

#define OBJ_MAX_DEPTH 64 /* deeper documents are refused */

/*
 * Decode one document, JSON or YAML (detected). Returns a new reference, or
 * NULL with e = 400 BadRequest naming line and column. If lines is not NULL,
 * *lines receives the position map (free with obj_lines_free) for YAML input;
 * for JSON input positions are recorded too where the parser offers them.
 * YAML anchors/aliases are refused (billion laughs), as are documents nested
 * deeper than OBJ_MAX_DEPTH.
 */
json_t *obj_decode(const char *buf, size_t len, obj_lines **lines, k9_err *e);

/*
 * Decode a multi-document YAML stream (or a JSON object / a List kind) into
 * an array of documents. Empty documents are skipped. One obj_lines map covers
 * all documents.
 */
json_t *obj_decode_all(const char *buf, size_t len, obj_lines **lines, k9_err *e);

/* Encode as block-style YAML ("---"-less, trailing newline). malloc'd. */
char *obj_encode_yaml(const json_t *obj, size_t *len);

/*
 * Apply the Kubernetes defaults for the kind (pod restartPolicy Always,
 * terminationGracePeriodSeconds 30, dnsPolicy ClusterFirst, container
 * imagePullPolicy and terminationMessagePath, port protocol TCP, service type
 * ClusterIP and targetPort, deployment strategy and revisionHistoryLimit,
 * replicas 1 ...). Idempotent.
 */
void obj_default(const obj_kind *k, json_t *obj);

/*
 * Validate obj as kind k. Checks the schema (unknown fields are reported by
 * their full path), types, required fields, DNS-1123 names, label and
 * annotation syntax, ports, quantities, base64 secret data, the
 * kind-specific rules. On failure returns -1 with e = 422 Invalid and a
 * message in the Kubernetes form:
 *   Pod "web" is invalid: spec.containers[0].image: Required value (line 9); ...
 * lines may be NULL. metadata.name is required: the server fills it from
 * generateName before validating. Errors without a line of their own carry
 * the line of the nearest parent that has one.
 */
int obj_validate(const obj_kind *k, const json_t *obj, const obj_lines *lines, k9_err *e);

/*
 * Validate an update: obj_validate plus immutable fields (metadata.name,
 * namespace, uid; pod spec except images and activeDeadlineSeconds;
 * service clusterIP; selector of deployments/replicasets ...).
 */
int obj_validate_update(const obj_kind *k, const json_t *obj, const json_t *old,
                        const obj_lines *lines, k9_err *e);

/*
 * Convert obj (a new reference is returned) from its apiVersion to the
 * apiVersion of kind `to` (same group and kind). Only registered
 * conversions exist (apps/v1 <-> apps/v1beta2 for Deployment and
 * ReplicaSet; identity otherwise). NULL with e on failure.
 */
json_t *obj_convert(const json_t *obj, const obj_kind *to, k9_err *e);

/* The member at a dotted path of objects ("spec.nodeName"), or NULL. */
const json_t *obj_get_path(const json_t *o, const char *dotted);

/* Name checks; return NULL when valid, else a static explanation. */
const char *obj_check_dns1123_subdomain(const char *s); /* most object names */
const char *obj_check_dns1123_label(const char *s);     /* namespaces, services */
const char *obj_check_label_key(const char *s);
const char *obj_check_label_value(const char *s);
const char *obj_check_config_key(const char *s); /* Secret and ConfigMap data keys */

/*
 * Resource quantities ("250m", "128Mi", "1.5Gi", "1e3"), parsed exactly.
 * *milli receives the value in thousandths of the unit (cpu "250m" -> 250,
 * memory "1Ki" -> 1024000). -1 with e when malformed or out of range
 * (values that do not fit are refused, never rounded silently; fractions
 * smaller than 1m are rounded up, as Kubernetes does).
 */
int obj_quantity_parse(const char *s, int64_t *milli, k9_err *e);

/*
 * Pods and nodes as the scheduler and the node agents see them (obj_pod.c).
 * Requests: the sum over containers (a limit stands in for a missing
 * request, as Kubernetes defaults it), or the largest init container's if
 * that is more; cpu in millicores, memory in bytes.
 */
void obj_pod_requests(const json_t *pod, int64_t *cpu_m, int64_t *mem);
/* A quantity in whole units rounded up (memory bytes), or in milli (cpu); 0 if bad. */
int64_t obj_qty_milli(const json_t *q);
int64_t obj_qty_units(const json_t *q);
/* status.conditions[type].status ("True", "False", "Unknown"), or NULL. */
/* o[k] as a string (NULL when absent or not a string), as a number (dflt when not an integer). */
static inline const char *obj_str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}
static inline double obj_num(const json_t *o, const char *k, double dflt)
{
	const json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (double)json_integer_value(v) : dflt;
}
const char *obj_condition(const json_t *o, const char *type);
/* The uid of the controlling ownerReference, or NULL. */
const char *obj_controller_uid(const json_t *o);
/* A pod still counts (not Succeeded or Failed, not being deleted). */
bool obj_pod_active(const json_t *pod);

#endif
