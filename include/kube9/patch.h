/*
 * patch.h - the three PATCH flavours the API accepts, on json_t trees:
 * JSON merge patch (RFC 7386), JSON patch (RFC 6902) and the subset of
 * Kubernetes' strategic merge patch that kubectl sends (lists merged by
 * their key - containers by name, ports by port, ... - and the $patch,
 * $setElementOrder, $retainKeys and $deleteFromPrimitiveList directives).
 * Each returns a new reference and leaves its inputs untouched.
 */
#ifndef KUBE9_PATCH_H
#define KUBE9_PATCH_H

#include <jansson.h>

#include "err.h"

json_t *patch_merge(const json_t *target, const json_t *patch);
/* NULL with e (422 for a failed "test" or a bad path, 400 for a malformed patch). */
json_t *patch_json(const json_t *target, const json_t *ops, k9_err *e);
json_t *patch_strategic(const json_t *target, const json_t *patch, k9_err *e);

#endif
