/*
 * ctl_logic.h - the pure parts of the endpoints, node lifecycle and garbage
 * collector controllers: functions of objects to objects, with no tree and
 * no informer, so tests/unit/test_ctl.c can check them alone.
 */
#ifndef KUBE9_CTL_LOGIC_H
#define KUBE9_CTL_LOGIC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Whether labels hold every key=value of a service's selector (a map). */
bool ctl_sel_match(const json_t *selector, const json_t *labels);

/*
 * The subsets of a service's Endpoints (a new array) from pods already
 * known to be in its namespace: those matching spec.selector, with a
 * status.podIP, not being deleted and not finished. Ready=True pods go to
 * addresses, others to notReadyAddresses. A pod's ports are the service's
 * ports with targetPort resolved for it (a number; a name looked up in its
 * containers' ports; absent = port); pods with the same ports share a
 * subset. Everything is sorted (subsets by ports, addresses by ip), so two
 * builds of the same pods compare equal with ctl_ep_same.
 */
json_t *ctl_ep_subsets(const json_t *svc, json_t *const *pods, size_t n);
/* Whether two subsets lists say the same (absent or null = empty). */
bool ctl_ep_same(const json_t *a, const json_t *b);

/*
 * How long a pod stays on a node tainted node.kubernetes.io/unreachable
 * NoExecute: -1 when it tolerates that forever, the toleration's
 * tolerationSeconds when it has one, otherwise def.
 */
double ctl_unreachable_grace(const json_t *pod, double def);
/* The node's conditions with every status "Unknown" (a new array), as the
 * node lifecycle controller marks a silent node; heartbeats are kept. */
json_t *ctl_node_conds_unknown(const json_t *conds, const char *now);
/* Whether taints (spec.taints) holds key with effect. */
bool ctl_taint_has(const json_t *taints, const char *key, const char *effect);
/* taints without key/effect (a new array). */
json_t *ctl_taints_without(const json_t *taints, const char *key, const char *effect);

/* ownerReferences without those of uid (a new array). */
json_t *ctl_refs_without(const json_t *refs, const char *uid);
/* Whether the strings array arr holds s. */
bool ctl_has_string(const json_t *arr, const char *s);
/* arr without s (a new array). */
json_t *ctl_strings_without(const json_t *arr, const char *s);

#endif
