/*
 * ctl_pv_match.c - which PersistentVolume a claim binds to: the pure part
 * of the PV controller (ctl_pv.c), unit-tested in tests/unit/test_ctl.c.
 *
 * It follows Kubernetes' findBestMatchForClaim and checkVolumeSatisfyClaim:
 * a volume pre-bound to the claim (its claimRef names it) is taken if its
 * size, volumeMode and access modes fit, whatever its class, labels or
 * phase; otherwise only Available, unclaimed volumes compete, and must
 * also match the claim's class and selector. Kubernetes searches its
 * volumes grouped by access modes, fewest modes first, then takes the
 * smallest in the first group with a fit; ranking by (number of modes,
 * capacity) is the same order. The name breaks ties so the choice does not
 * depend on the informer's order.
 */
#include <string.h>

#include "ctl.h"
#include "kube9/obj.h"
#include "kube9/sel.h"

static const json_t *spec_of(const json_t *o)
{
	return json_object_get(o, "spec");
}

static const char *str(const json_t *o, const char *f)
{
	const char *s = json_string_value(json_object_get(o, f));
	return s ? s : "";
}

const char *ctl_pv_class(const json_t *o)
{
	const json_t *ann = json_object_get(json_object_get(o, "metadata"), "annotations");
	const char *beta =
	    json_string_value(json_object_get(ann, "volume.beta.kubernetes.io/storage-class"));
	return beta ? beta : str(spec_of(o), "storageClassName");
}

bool ctl_pv_bound_to(const json_t *pv, const json_t *claim)
{
	const json_t *ref = json_object_get(spec_of(pv), "claimRef");
	if (!json_is_object(ref))
		return false;
	const char *uid = str(ref, "uid");
	return !strcmp(str(ref, "namespace"), tree_meta(claim, "namespace")) &&
	       !strcmp(str(ref, "name"), tree_meta(claim, "name")) &&
	       (!uid[0] || !strcmp(uid, tree_meta(claim, "uid")));
}

/* A storage quantity in milli-bytes; -1 when it is not a quantity. */
static int64_t storage(const json_t *q)
{
	int64_t m;
	k9_err e;
	if (json_is_integer(q))
		return json_integer_value(q) * 1000;
	if (!json_is_string(q) || obj_quantity_parse(json_string_value(q), &m, &e) < 0)
		return -1;
	return m;
}

static int64_t pv_size(const json_t *pv)
{
	return storage(json_object_get(json_object_get(spec_of(pv), "capacity"), "storage"));
}

static int64_t claim_size(const json_t *claim)
{
	const json_t *q = obj_get_path(spec_of(claim), "resources.requests.storage");
	return q ? storage(q) : 0;
}

static const char *volume_mode(const json_t *o)
{
	const char *m = str(spec_of(o), "volumeMode");
	return m[0] ? m : "Filesystem";
}

static bool has_string(const json_t *arr, const char *s)
{
	size_t i;
	const json_t *v;
	json_array_foreach(arr, i, v) if (json_is_string(v) &&
	                                  !strcmp(json_string_value(v), s)) return true;
	return false;
}

/* Whether pv offers every access mode the claim asks for. */
static bool modes_fit(const json_t *pv, const json_t *claim)
{
	const json_t *have = json_object_get(spec_of(pv), "accessModes");
	size_t i;
	const json_t *m;
	json_array_foreach(json_object_get(spec_of(claim), "accessModes"), i, m)
	{
		if (!json_is_string(m) || !has_string(have, json_string_value(m)))
			return false;
	}
	return true;
}

static bool deleting(const json_t *o)
{
	return json_object_get(json_object_get(o, "metadata"), "deletionTimestamp") != NULL;
}

bool ctl_pv_satisfies(const json_t *pv, const json_t *claim, const char **why)
{
	int64_t size = pv_size(pv);
	if (deleting(pv))
		*why = "the volume is marked for deletion";
	else if (size < 0 || size < claim_size(claim))
		*why = "requested PV is too small";
	else if (strcmp(ctl_pv_class(pv), ctl_pv_class(claim)))
		*why = "storageClassName does not match";
	else if (strcmp(volume_mode(pv), volume_mode(claim)))
		*why = "incompatible volumeMode";
	else if (!modes_fit(pv, claim))
		*why = "incompatible accessMode";
	else
		return true;
	return false;
}

int ctl_pv_match(const json_t *claim, json_t *const *pvs, size_t n)
{
	const json_t *ls = json_object_get(spec_of(claim), "selector");
	sel *s = NULL;
	k9_err e;
	if (ls && !json_is_null(ls) && !(s = sel_from_api(ls, &e)))
		return -1; /* a selector that cannot be read selects nothing */
	int64_t want = claim_size(claim);
	int best = -1;
	int64_t best_size = 0;
	size_t best_modes = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *pv = pvs[i], *spec = spec_of(pv);
		bool mine = ctl_pv_bound_to(pv, claim);
		if (json_is_object(json_object_get(spec, "claimRef")) && !mine)
			continue;
		int64_t size = pv_size(pv);
		if (size < 0 || size < want || deleting(pv) ||
		    strcmp(volume_mode(pv), volume_mode(claim)) || !modes_fit(pv, claim))
			continue;
		if (mine) {
			best = (int)i;
			break;
		}
		const char *phase = str(json_object_get(pv, "status"), "phase");
		if (strcmp(phase, "Available") || strcmp(ctl_pv_class(pv), ctl_pv_class(claim)))
			continue;
		if (s && !sel_match_labels(
		             s, json_object_get(json_object_get(pv, "metadata"), "labels")))
			continue;
		size_t modes = json_array_size(json_object_get(spec, "accessModes"));
		if (best < 0 || modes < best_modes || (modes == best_modes && size < best_size) ||
		    (modes == best_modes && size == best_size &&
		     strcmp(tree_meta(pv, "name"), tree_meta(pvs[best], "name")) < 0)) {
			best = (int)i;
			best_size = size;
			best_modes = modes;
		}
	}
	sel_free(s);
	return best;
}
