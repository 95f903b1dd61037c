/*
 * ctl_pv.c - the PersistentVolume controller: binds claims to statically
 * provisioned volumes and follows both through their phases, as
 * Kubernetes' persistentvolume-controller does (syncClaim, syncVolume).
 *
 * Two queues: volumes by NAME, claims by "NS/NAME". Which volume a claim
 * gets is ctl_pv_match's choice (ctl_pv_match.c). Binding writes the
 * volume first (spec.claimRef, then status.phase Bound) and the claim
 * after (spec.volumeName and the pv.kubernetes.io annotations, then its
 * status), each spec write carrying the resourceVersion it was computed
 * from, so two claims racing for a volume cost the loser a retry, and a
 * crash between the two leaves a volume whose claimRef names a pending
 * claim: that claim's next sync finds the volume pre-bound to it and
 * completes the claim.
 *
 * Volumes: Available (no claimRef, or one without a uid: reserved for a
 * claim yet to come), Bound, Released once their claim is gone (Retain
 * keeps the claimRef, so the volume is never bound again; Delete deletes
 * the PersistentVolume object, never the data at its path; Recycle is not
 * supported: a warning Event, and it stays Released), Failed when its
 * reclaim policy is unknown or its deletion was refused. Claims: Pending,
 * Bound, Lost once their volume is gone or bound to another claim. A claim
 * no volume fits gets an Event at most once a minute.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "kube9/util.h"

#define COMPONENT          "persistentvolume-controller"
#define ANN_BIND_COMPLETED "pv.kubernetes.io/bind-completed"
#define ANN_BOUND_BY       "pv.kubernetes.io/bound-by-controller"
#define EVENT_INTERVAL     60.0 /* seconds between two Events about one object */

static ctl *C;
static tree_queue *Qv, *Qc; /* volumes "NAME", claims "NS/NAME" */
static ctl_rate ev_rate = {.lock = PTHREAD_MUTEX_INITIALIZER}; /* "pv/NAME", "pvc/NS/NAME" */

static const char *str(const json_t *o, const char *f)
{
	const char *s = json_string_value(json_object_get(o, f));
	return s ? s : "";
}

static const char *phase(const json_t *o)
{
	return str(json_object_get(o, "status"), "phase");
}

static const json_t *claim_ref(const json_t *pv)
{
	const json_t *r = json_object_get(json_object_get(pv, "spec"), "claimRef");
	return json_is_object(r) ? r : NULL;
}

static const char *volume_name(const json_t *claim)
{
	return str(json_object_get(claim, "spec"), "volumeName");
}

static bool has_ann(const json_t *o, const char *key)
{
	return json_object_get(json_object_get(json_object_get(o, "metadata"), "annotations"),
	                       key) != NULL;
}

/* Set annotation key of o (a copy being prepared for a write). */
static void set_ann(json_t *o, const char *key, const char *val)
{
	json_t *meta = json_object_get(o, "metadata");
	json_t *ann = json_object_get(meta, "annotations");
	if (!json_is_object(ann)) {
		ann = json_object();
		json_object_set_new(meta, "annotations", ann);
	}
	json_object_set_new(ann, key, json_string(val));
}

static bool synced(void)
{
	return C->w[CTL_PV].synced && C->w[CTL_PVC].synced;
}

/* An Event about o (a volume or claim). limited: at most one per EVENT_INTERVAL per object. */
static void event(int res, const json_t *o, const char *type, const char *reason, const char *msg,
                  bool limited)
{
	char key[600], k[520];
	double wait;
	ctl_key(o, k, sizeof k);
	snprintf(key, sizeof key, "%s/%s", res == CTL_PV ? "pv" : "pvc", k);
	if (limited && !ctl_rate_ok(&ev_rate, key, EVENT_INTERVAL, &wait))
		return;
	json_t *ref = tree_obj_ref(o);
	json_object_set_new(ref, "kind", json_string(ctl_res_tab[res].kind));
	json_object_set_new(ref, "apiVersion", json_string(ctl_res_tab[res].api_version));
	int rc = tree_event(ref, type, reason, msg, COMPONENT);
	json_decref(ref);
	if (rc < 0)
		log_warn("%s %s: recording the event %s: %s", ctl_res_tab[res].plural, k, reason,
		         strerror(-rc));
}

/*
 * Write st (stolen) as the status of o through NAME.status; conditional on
 * o's resourceVersion when cond, for decisions made from the informer's
 * copy (a stale one then fails with EBUSY and is retried with the news).
 */
static int put_status(int res, const json_t *o, json_t *st, bool cond)
{
	char path[600];
	ctl_path(path, sizeof path, res, tree_meta(o, "namespace"), tree_meta(o, "name"), "status");
	json_t *doc = json_pack("{s:o}", "status", st);
	if (cond)
		json_object_set_new(
		    doc, "metadata",
		    json_pack("{s:s}", "resourceVersion", tree_meta(o, "resourceVersion")));
	int rc = tree_put_json(path, doc, false);
	json_decref(doc);
	return rc;
}

static int volume_phase(const json_t *pv, const char *ph, bool cond)
{
	if (!strcmp(phase(pv), ph))
		return 0;
	char now[32];
	k9_now_rfc3339(now, sizeof now);
	return put_status(
	    CTL_PV, pv, json_pack("{s:s,s:s}", "phase", ph, "lastPhaseTransitionTime", now), cond);
}

/* The claim's status: phase, and the capacity and access modes of pv (none without one). */
static int claim_phase(const json_t *claim, const char *ph, const json_t *pv, bool cond)
{
	const json_t *st = json_object_get(claim, "status");
	const json_t *spec = json_object_get(pv, "spec");
	const json_t *cap = json_object_get(spec, "capacity");
	const json_t *modes = json_object_get(spec, "accessModes");
	const json_t *hcap = json_object_get(st, "capacity");
	const json_t *hmodes = json_object_get(st, "accessModes");
	if (!strcmp(phase(claim), ph) && (pv ? hcap && cap && json_equal(hcap, cap) : !hcap) &&
	    (pv ? hmodes && modes && json_equal(hmodes, modes) : !hmodes))
		return 0;
	json_t *s = json_pack("{s:s}", "phase", ph);
	if (pv) {
		json_object_set(s, "capacity", cap ? (json_t *)cap : json_null());
		json_object_set(s, "accessModes", modes ? (json_t *)modes : json_null());
	} else {
		if (hcap)
			json_object_set_new(s, "capacity", json_null());
		if (hmodes)
			json_object_set_new(s, "accessModes", json_null());
	}
	return put_status(CTL_PVC, claim, s, cond);
}

static void log_write(const char *what, const char *name, int rc)
{
	if (rc == -EBUSY || rc == -ENOENT)
		log_debug("%s %s: changed meanwhile, again", what, name);
	else if (rc < 0)
		log_warn("%s %s: %s", what, name, strerror(-rc));
}

/*
 * Bind claim and pv (Kubernetes' bind): each of the four writes is skipped
 * when already done, so this also completes a binding a crash cut short.
 */
static int bind(const json_t *pv, const json_t *claim)
{
	const char *pvname = tree_meta(pv, "name");
	char ck[520], path[600];
	ctl_key(claim, ck, sizeof ck);
	int rc = 0;
	if (!ctl_pv_bound_to(pv, claim) ||
	    strcmp(str(claim_ref(pv), "uid"), tree_meta(claim, "uid"))) {
		json_t *o = json_deep_copy(pv);
		json_t *r = tree_obj_ref(claim);
		json_object_set_new(r, "kind", json_string("PersistentVolumeClaim"));
		json_object_set_new(r, "apiVersion", json_string("v1"));
		json_object_set_new(json_object_get(o, "spec"), "claimRef", r);
		if (!ctl_pv_bound_to(pv, claim)) /* not pre-bound by its author */
			set_ann(o, ANN_BOUND_BY, "yes");
		ctl_path(path, sizeof path, CTL_PV, NULL, pvname, "json");
		rc = tree_put_json(path, o, false);
		json_decref(o);
		if (rc < 0) {
			log_write("persistentvolume", pvname, rc);
			return -1;
		}
		log_info("persistentvolume %s: bound to claim %s", pvname, ck);
	}
	if ((rc = volume_phase(pv, "Bound", false)) < 0) {
		log_write("persistentvolume", pvname, rc);
		return -1;
	}
	if (strcmp(volume_name(claim), pvname) || !has_ann(claim, ANN_BIND_COMPLETED)) {
		json_t *o = json_deep_copy(claim);
		json_t *spec = json_object_get(o, "spec");
		if (strcmp(volume_name(claim), pvname)) {
			json_object_set_new(spec, "volumeName", json_string(pvname));
			set_ann(o, ANN_BOUND_BY, "yes");
		}
		set_ann(o, ANN_BIND_COMPLETED, "yes");
		ctl_path(path, sizeof path, CTL_PVC, tree_meta(claim, "namespace"),
		         tree_meta(claim, "name"), "json");
		rc = tree_put_json(path, o, false);
		json_decref(o);
		if (rc < 0) {
			log_write("persistentvolumeclaim", ck, rc);
			return -1;
		}
		log_info("persistentvolumeclaim %s: bound to volume %s", ck, pvname);
	}
	if ((rc = claim_phase(claim, "Bound", pv, false)) < 0) {
		log_write("persistentvolumeclaim", ck, rc);
		return -1;
	}
	return 0;
}

struct pv_list {
	json_t **v;
	size_t n, cap;
};

static void add_pv(void *arg, json_t *pv)
{
	struct pv_list *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 32;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = json_incref(pv);
}

/* A claim without the bind-completed annotation (Kubernetes' syncUnboundClaim). */
static int sync_unbound(const json_t *claim, const char *key)
{
	const char *vn = volume_name(claim);
	char msg[700];
	int rc = 0;
	if (!vn[0]) {
		struct pv_list l = {NULL, 0, 0};
		tree_watch_each(&C->w[CTL_PV], add_pv, &l);
		int i = ctl_pv_match(claim, l.v, l.n);
		if (i >= 0) {
			rc = bind(l.v[i], claim);
		} else {
			const char *cls = ctl_pv_class(claim);
			if (cls[0]) {
				/* no StorageClass is served, so none can provision it */
				snprintf(msg, sizeof msg,
				         "storageclass.storage.k8s.io \"%s\" not found", cls);
				event(CTL_PVC, claim, "Warning", "ProvisioningFailed", msg, true);
			} else {
				event(CTL_PVC, claim, "Normal", "FailedBinding",
				      "no persistent volumes available for this claim and no "
				      "storage class is set",
				      true);
			}
			rc = claim_phase(claim, "Pending", NULL, true);
			log_write("persistentvolumeclaim", key, rc);
		}
		ctl_objs_free(l.v, l.n);
		return rc < 0 ? -1 : 0;
	}
	json_t *pv = ctl_get(C, CTL_PV, vn);
	const char *why;
	if (pv && !claim_ref(pv) && ctl_pv_satisfies(pv, claim, &why)) {
		rc = bind(pv, claim);
	} else if (pv && claim_ref(pv) && ctl_pv_bound_to(pv, claim)) {
		rc = bind(pv, claim);
	} else if (pv && claim_ref(pv) && has_ann(claim, ANN_BOUND_BY)) {
		/* someone took the annotation bind-completed off; leave it to them */
		log_warn("persistentvolumeclaim %s: volume %s, bound by the controller, is bound "
		         "to another claim",
		         key, vn);
	} else {
		if (pv && !claim_ref(pv)) {
			snprintf(msg, sizeof msg, "Cannot bind to requested volume \"%s\": %s", vn,
			         why);
			event(CTL_PVC, claim, "Warning", "VolumeMismatch", msg, true);
		} else if (pv) {
			snprintf(msg, sizeof msg,
			         "volume \"%s\" already bound to a different claim.", vn);
			event(CTL_PVC, claim, "Warning", "FailedBinding", msg, true);
		}
		/* a volume that does not exist yet: its creation queues the claim */
		rc = claim_phase(claim, "Pending", NULL, true);
		log_write("persistentvolumeclaim", key, rc);
	}
	json_decref(pv);
	return rc < 0 ? -1 : 0;
}

static int lost(const json_t *claim, const char *key, const char *reason, const char *msg)
{
	if (!strcmp(phase(claim), "Lost"))
		return 0;
	int rc = claim_phase(claim, "Lost", NULL, true);
	log_write("persistentvolumeclaim", key, rc);
	if (rc < 0)
		return -1;
	log_info("persistentvolumeclaim %s: Lost: %s", key, msg);
	event(CTL_PVC, claim, "Warning", reason, msg, false);
	return 0;
}

/* A claim the controller finished binding once (Kubernetes' syncBoundClaim). */
static int sync_bound(const json_t *claim, const char *key)
{
	const char *vn = volume_name(claim);
	if (!vn[0])
		return lost(
		    claim, key, "ClaimLost",
		    "Bound claim has lost reference to PersistentVolume. Data on the volume "
		    "is lost!");
	json_t *pv = ctl_get(C, CTL_PV, vn);
	int rc;
	if (!pv) {
		/* the informer may lag the mount: believe the volume gone when its file is */
		char path[600];
		ctl_path(path, sizeof path, CTL_PV, NULL, vn, "json");
		json_t *f = tree_read_json(path);
		if (f) {
			json_decref(f);
			tree_queue_add_after(Qc, key, 1);
			return 0;
		}
		return lost(
		    claim, key, "ClaimLost",
		    "Bound claim has lost its PersistentVolume. Data on the volume is lost!");
	}
	const json_t *ref = claim_ref(pv);
	if (!ref || !strcmp(str(ref, "uid"), tree_meta(claim, "uid")))
		rc = bind(pv, claim);
	else
		rc = lost(claim, key, "ClaimMisbound",
		          "Two claims are bound to the same volume, this one is bound incorrectly");
	json_decref(pv);
	return rc;
}

static int sync_claim(void *arg, const char *key)
{
	(void)arg;
	if (!synced()) {
		tree_queue_add_after(Qc, key, 0.2);
		return 0;
	}
	json_t *claim = ctl_get(C, CTL_PVC, key);
	if (!claim) {
		char k[600];
		snprintf(k, sizeof k, "pvc/%s", key);
		ctl_rate_forget(&ev_rate, k);
		return 0;
	}
	int rc =
	    has_ann(claim, ANN_BIND_COMPLETED) ? sync_bound(claim, key) : sync_unbound(claim, key);
	json_decref(claim);
	return rc;
}

/*
 * Whether the claim a volume's claimRef names is gone: not in the informer
 * (or another with that name), and its file on the mount missing or of
 * another uid. 1 gone, 0 not, -1 cannot tell.
 */
static int claim_gone(const json_t *ref)
{
	char key[520], path[600];
	snprintf(key, sizeof key, "%s/%s", str(ref, "namespace"), str(ref, "name"));
	json_t *claim = ctl_get(C, CTL_PVC, key);
	bool same = claim && !strcmp(tree_meta(claim, "uid"), str(ref, "uid"));
	json_decref(claim);
	if (same)
		return 0;
	ctl_path(path, sizeof path, CTL_PVC, str(ref, "namespace"), str(ref, "name"), "json");
	json_t *f = tree_read_json(path);
	if (!f)
		return errno == ENOENT ? 1 : -1;
	same = !strcmp(tree_meta(f, "uid"), str(ref, "uid"));
	json_decref(f);
	return !same;
}

/* A volume whose claim is gone: Released, then its reclaim policy. */
static int release(const json_t *pv, const char *name)
{
	const char *policy = str(json_object_get(pv, "spec"), "persistentVolumeReclaimPolicy");
	int rc;
	if (!policy[0])
		policy = "Retain"; /* the server's default */
	if (strcmp(phase(pv), "Released") && strcmp(phase(pv), "Failed")) {
		if ((rc = volume_phase(pv, "Released", true)) < 0) {
			log_write("persistentvolume", name, rc);
			return -1;
		}
		log_info("persistentvolume %s: Released (its claim is gone); reclaim policy %s",
		         name, policy);
	}
	if (!strcmp(policy, "Retain"))
		return 0;
	if (!strcmp(policy, "Recycle")) {
		event(CTL_PV, pv, "Warning", "VolumeFailedRecycle",
		      "Recycle is not supported by kube9: the volume stays Released; delete it, or "
		      "remove its claimRef to make it Available again",
		      true);
		return 0;
	}
	if (strcmp(policy, "Delete")) {
		if (volume_phase(pv, "Failed", false) < 0)
			return -1;
		event(CTL_PV, pv, "Warning", "VolumeUnknownReclaimPolicy",
		      "Volume has unrecognized PersistentVolumeReclaimPolicy", true);
		return 0;
	}
	if (json_object_get(json_object_get(pv, "metadata"), "deletionTimestamp"))
		return 0;
	char path[600];
	ctl_path(path, sizeof path, CTL_PV, NULL, name, "json");
	rc = tree_unlink(path);
	if (rc == 0 || rc == -ENOENT) {
		log_info("persistentvolume %s: deleted (reclaim policy Delete; the data stays)",
		         name);
		return 0;
	}
	char msg[300];
	snprintf(msg, sizeof msg, "Error deleting the volume: %s", strerror(-rc));
	if (volume_phase(pv, "Failed", false) < 0)
		return -1;
	event(CTL_PV, pv, "Warning", "VolumeFailedDelete", msg, true);
	return 0;
}

/* Bound by the controller to a claim bound elsewhere: free it (Kubernetes' unbindVolume). */
static int unbind(const json_t *pv, const char *name)
{
	char path[600];
	json_t *o = json_deep_copy(pv);
	json_t *spec = json_object_get(o, "spec");
	if (has_ann(pv, ANN_BOUND_BY)) {
		json_object_del(spec, "claimRef");
		json_object_del(json_object_get(json_object_get(o, "metadata"), "annotations"),
		                ANN_BOUND_BY);
	} else {
		/* pre-bound by its author: keep it reserved for that claim */
		json_object_del(json_object_get(spec, "claimRef"), "uid");
	}
	ctl_path(path, sizeof path, CTL_PV, NULL, name, "json");
	int rc = tree_put_json(path, o, false);
	json_decref(o);
	if (rc == 0) {
		log_info("persistentvolume %s: unbound (its claim is bound to another volume)",
		         name);
		rc = volume_phase(pv, "Available", false);
	}
	log_write("persistentvolume", name, rc);
	return rc < 0 ? -1 : 0;
}

/* Kubernetes' syncVolume. */
static int sync_volume(void *arg, const char *name)
{
	(void)arg;
	if (!synced()) {
		tree_queue_add_after(Qv, name, 0.2);
		return 0;
	}
	json_t *pv = ctl_get(C, CTL_PV, name);
	if (!pv) {
		char k[600];
		snprintf(k, sizeof k, "pv/%s", name);
		ctl_rate_forget(&ev_rate, k);
		return 0;
	}
	const json_t *ref = claim_ref(pv);
	int rc = 0;
	if (!ref || !str(ref, "uid")[0]) {
		/* free, or reserved for a claim whose sync will bind it */
		rc = volume_phase(pv, "Available", true);
		log_write("persistentvolume", name, rc);
		json_decref(pv);
		return rc < 0 ? -1 : 0;
	}
	char ck[520];
	snprintf(ck, sizeof ck, "%s/%s", str(ref, "namespace"), str(ref, "name"));
	json_t *claim = ctl_get(C, CTL_PVC, ck);
	if (claim && strcmp(tree_meta(claim, "uid"), str(ref, "uid"))) {
		json_decref(claim); /* another claim of that name */
		claim = NULL;
	}
	if (!claim) {
		int gone = strcmp(phase(pv), "Released") && strcmp(phase(pv), "Failed")
		               ? claim_gone(ref)
		               : 1;
		if (gone == 1)
			rc = release(pv, name);
		else if (gone == 0)
			tree_queue_add_after(Qv, name, 1); /* the informer lags the mount */
		else
			rc = -1;
	} else if (!volume_name(claim)[0]) {
		const char *why;
		if (!ctl_pv_satisfies(pv, claim, &why) && !strcmp(why, "incompatible volumeMode")) {
			char msg[700];
			snprintf(msg, sizeof msg,
			         "Cannot bind PersistentVolume to requested PersistentVolumeClaim "
			         "\"%s\" due to incompatible volumeMode.",
			         tree_meta(claim, "name"));
			event(CTL_PV, pv, "Warning", "VolumeMismatch", msg, true);
			snprintf(msg, sizeof msg,
			         "Cannot bind PersistentVolume \"%s\" to requested "
			         "PersistentVolumeClaim due to incompatible volumeMode.",
			         name);
			event(CTL_PVC, claim, "Warning", "VolumeMismatch", msg, true);
		} else {
			tree_queue_add(Qc, ck); /* bound on our side only: the claim completes it */
		}
	} else if (!strcmp(volume_name(claim), name)) {
		rc = volume_phase(pv, "Bound", true);
		log_write("persistentvolume", name, rc);
	} else {
		rc = unbind(pv, name);
	}
	json_decref(claim);
	json_decref(pv);
	return rc < 0 ? -1 : 0;
}

/* The claims a new or freed volume may serve: those not bound yet. */
static void queue_unbound(void *arg, json_t *claim)
{
	(void)arg;
	if (!has_ann(claim, ANN_BIND_COMPLETED)) {
		char key[520];
		ctl_key(claim, key, sizeof key);
		tree_queue_add(Qc, key);
	}
}

static void queue_ref_claim(const json_t *pv)
{
	const json_t *ref = claim_ref(pv);
	if (ref) {
		char key[520];
		snprintf(key, sizeof key, "%s/%s", str(ref, "namespace"), str(ref, "name"));
		tree_queue_add(Qc, key);
	}
}

/* The volumes whose claimRef names a deleted claim (arg). */
static void queue_claim_volumes(void *arg, json_t *pv)
{
	const json_t *claim = arg, *ref = claim_ref(pv);
	if (ref && !strcmp(str(ref, "namespace"), tree_meta(claim, "namespace")) &&
	    !strcmp(str(ref, "name"), tree_meta(claim, "name")))
		tree_queue_add(Qv, tree_meta(pv, "name"));
}

static void on_event(ctl *c, int res, const char *type, json_t *old, json_t *obj)
{
	const json_t *o = obj ? obj : old;
	char key[520];
	if (!o || !strcmp(type, "SYNCED"))
		return;
	if (res == CTL_PV) {
		tree_queue_add(Qv, tree_meta(o, "name"));
		if (old)
			queue_ref_claim(old);
		if (obj)
			queue_ref_claim(obj);
		if (obj && (!claim_ref(obj) || !str(claim_ref(obj), "uid")[0]))
			tree_watch_each(&c->w[CTL_PVC], queue_unbound, NULL);
	} else if (res == CTL_PVC) {
		ctl_key(o, key, sizeof key);
		tree_queue_add(Qc, key);
		if (!obj)
			tree_watch_each(&c->w[CTL_PV], queue_claim_volumes, old);
	}
}

static void start(ctl *c)
{
	C = c;
	Qv = tree_queue_new();
	Qc = tree_queue_new();
	tree_queue_run(Qv, c->o.workers, sync_volume, NULL);
	tree_queue_run(Qc, c->o.workers, sync_claim, NULL);
}

const ctl_loop ctl_pv_loop = {"persistentvolumes", start, on_event};
