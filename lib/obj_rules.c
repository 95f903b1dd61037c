/*
 * obj_rules.c - the kind-specific validation rules (what the schema walk
 * cannot say): required fields, value ranges and enumerations, name
 * syntaxes, uniqueness, cross-field rules. A table maps each kind to its
 * check; pod specs are shared by pods and the templates of deployments and
 * replica sets. Messages follow Kubernetes' field.Error wording.
 */
#include <stdlib.h>
#include <string.h>

#include "kube9/sel.h"
#include "obj_priv.h"

static const char *str(const json_t *o, const char *dotted)
{
	return json_string_value(obj_get_path(o, dotted));
}

/* "path.f", or "f" at the root; malloc'd. */
static char *join(const char *path, const char *f)
{
	return xasprintf(*path ? "%s.%s" : "%s%s", path, f);
}

static char *join_idx(const char *path, const char *f, size_t i)
{
	return xasprintf(*path ? "%s.%s[%zu]" : "%s%s[%zu]", path, f, i);
}

static bool one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

/* Check an optional enumerated string field f of o at path. */
static void enum_field(obj_verr *v, const json_t *o, const char *path, const char *f,
                       const char *const *allowed)
{
	const char *s = str(o, f);
	if (!s || one_of(s, allowed))
		return;
	k9_buf b = {0};
	for (const char *const *a = allowed; *a; a++)
		buf_printf(&b, "%s\"%s\"", a == allowed ? "" : ", ", *a);
	char *p = join(path, f);
	obj_verr_add(v, p, "%s: Unsupported value: \"%s\": supported values: %s", p, s, b.data);
	free(p);
	buf_free(&b);
}

/* Integer field f of o in [lo, hi] if present (required: must be present). */
static void range(obj_verr *v, const json_t *o, const char *path, const char *f, long long lo,
                  long long hi, bool required)
{
	const json_t *n = json_object_get(o, f);
	char *p = join(path, f);
	if (!n || json_is_null(n)) {
		if (required)
			obj_verr_add(v, p, "%s: Required value", p);
	} else if (json_is_integer(n) &&
	           (json_integer_value(n) < lo || json_integer_value(n) > hi)) {
		if (hi == INT32_MAX)
			obj_verr_add(
			    v, p, "%s: Invalid value: %lld: must be greater than or equal to %lld",
			    p, (long long)json_integer_value(n), lo);
		else
			obj_verr_add(v, p,
			             "%s: Invalid value: %lld: must be between %lld and %lld, "
			             "inclusive",
			             p, (long long)json_integer_value(n), lo, hi);
	}
	free(p);
}

static void required_str(obj_verr *v, const json_t *o, const char *path, const char *f)
{
	const char *s = str(o, f);
	if (!s || !*s) {
		char *p = join(path, f);
		obj_verr_add(v, p, "%s: Required value", p);
		free(p);
	}
}

/* IANA_SVC_NAME: at most 15 of [a-z0-9-], a letter, no "--", alnum at both ends. */
static const char *check_port_name(const char *s)
{
	size_t n = strlen(s);
	bool letter = false;
	if (n == 0 || n > 15)
		return "must be no more than 15 characters";
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = true;
		else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens "
			       "(-)";
	}
	if (!letter)
		return "must contain at least one letter (a-z)";
	if (strstr(s, "--"))
		return "must not contain consecutive hyphens";
	if (s[0] == '-' || s[n - 1] == '-')
		return "must not begin or end with a hyphen";
	return NULL;
}

/* A quantity given as a string or a number, in milli-units; false if malformed. */
static bool quantity(const json_t *n, int64_t *m)
{
	char buf[64];
	const char *s = json_string_value(n);
	if (json_is_integer(n))
		snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(n)), s = buf;
	else if (json_is_real(n))
		snprintf(buf, sizeof buf, "%.17g", json_real_value(n)), s = buf;
	return s && obj_quantity_parse(s, m, NULL) == 0;
}

static const char *const protocols[] = {"SCTP", "TCP", "UDP", NULL};

/* Elements of the array field f of o, with their path "path.f[i]". */
#define EACH(o, f, path, i, el, p)                                                                 \
	for (size_t i = 0; i < json_array_size(json_object_get(o, f)); i++)                        \
		for (const json_t *el = json_array_get(json_object_get(o, f), i); el; el = NULL)   \
			for (char *p = join_idx(path, f, i); p; free(p), p = NULL)

static void check_resources(obj_verr *v, const json_t *c, const char *path)
{
	const json_t *req = obj_get_path(c, "resources.requests"),
	             *lim = obj_get_path(c, "resources.limits");
	const char *names[] = {"requests", "limits"};
	const json_t *maps[] = {req, lim};
	const char *key;
	json_t *q;
	int64_t r, l;
	for (int m = 0; m < 2; m++) {
		json_object_foreach((json_t *)maps[m], key, q)
		{
			if (!quantity(q, &r) || r >= 0)
				continue;
			char *lp = xasprintf("%s.resources.%s.%s", path, names[m], key);
			char *sh = obj_show(q);
			obj_verr_add(v, lp,
			             "%s.resources.%s[%s]: Invalid value: %s: must be greater than "
			             "or equal to 0",
			             path, names[m], key, sh);
			free(sh);
			free(lp);
		}
	}
	json_object_foreach((json_t *)req, key, q)
	{
		const json_t *lq = json_object_get(lim, key);
		if (!lq || !quantity(q, &r) || !quantity(lq, &l) || r <= l)
			continue;
		char *lp = xasprintf("%s.resources.requests.%s", path, key);
		char *rs = obj_show(q), *ls = obj_show(lq);
		/* Kubernetes prints the limit unquoted */
		const char *lv = json_is_string(lq) ? json_string_value(lq) : ls;
		obj_verr_add(v, lp,
		             "%s.resources.requests: Invalid value: %s: must be less than or equal "
		             "to %s limit of %s",
		             path, rs, key, lv);
		free(rs);
		free(ls);
		free(lp);
	}
}

static void check_container(obj_verr *v, const json_t *c, const char *p, const json_t *vols,
                            json_t *names, const char *base)
{
	static const char *const pull[] = {"Always", "IfNotPresent", "Never", NULL};
	static const char *const tmp[] = {"File", "FallbackToLogsOnError", NULL};
	const char *name = str(c, "name"), *why;
	if (!json_is_object(c))
		return;
	if (!name || !*name) {
		required_str(v, c, p, "name");
	} else if ((why = obj_check_dns1123_label(name))) {
		obj_verr_add(v, p, "%s.name: Invalid value: \"%s\": %s", p, name, why);
	} else if (json_object_get(names, name)) {
		char *lp = xasprintf("%s.name", p);
		obj_verr_add(v, lp, "%s.name: Duplicate value: \"%s\"", p, name);
		free(lp);
	} else {
		json_object_set_new(names, name, json_true());
	}
	required_str(v, c, p, "image");
	enum_field(v, c, p, "imagePullPolicy", pull);
	enum_field(v, c, p, "terminationMessagePolicy", tmp);
	json_t *port_names = json_object();
	EACH(c, "ports", p, i, port, pp)
	{
		range(v, port, pp, "containerPort", 1, 65535, true);
		range(v, port, pp, "hostPort", 0, 65535, false);
		enum_field(v, port, pp, "protocol", protocols);
		const char *pn = str(port, "name");
		if (pn && (why = check_port_name(pn))) {
			obj_verr_add(v, pp, "%s.name: Invalid value: \"%s\": %s", pp, pn, why);
		} else if (pn && json_object_get(port_names, pn)) {
			obj_verr_add(v, pp, "%s.name: Duplicate value: \"%s\"", pp, pn);
		} else if (pn) {
			json_object_set_new(port_names, pn, json_true());
		}
	}
	json_decref(port_names);
	EACH(c, "volumeMounts", p, i, vm, mp)
	{
		const char *vn = str(vm, "name");
		if (!vn || !*vn)
			required_str(v, vm, mp, "name");
		else if (!json_object_get(vols, vn)) {
			char *lp = xasprintf("%s.name", mp);
			obj_verr_add(v, lp, "%s.name: Not found: \"%s\"", mp, vn);
			free(lp);
		}
		required_str(v, vm, mp, "mountPath");
	}
	EACH(c, "env", p, i, ev, envp)
	{
		required_str(v, ev, envp, "name");
	}
	check_resources(v, c, p);
	(void)base;
}

static void check_pod_spec(obj_verr *v, const json_t *spec, const char *path, bool template)
{
	static const char *const restart[] = {"Always", "OnFailure", "Never", NULL};
	static const char *const always[] = {"Always", NULL};
	static const char *const dns[] = {"ClusterFirstWithHostNet", "ClusterFirst", "Default",
	                                  "None", NULL};
	static const char *const tol_ops[] = {"Equal", "Exists", NULL};
	static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute", NULL};
	const char *why;
	if (!json_is_object(spec)) {
		obj_verr_add(v, path, "%s: Required value", path);
		return;
	}
	json_t *vols = json_object(), *names = json_object();
	EACH(spec, "volumes", path, i, vol, vp)
	{
		const char *vn = str(vol, "name");
		if (!vn || !*vn)
			required_str(v, vol, vp, "name");
		else if ((why = obj_check_dns1123_label(vn)))
			obj_verr_add(v, vp, "%s.name: Invalid value: \"%s\": %s", vp, vn, why);
		else if (json_object_get(vols, vn))
			obj_verr_add(v, vp, "%s.name: Duplicate value: \"%s\"", vp, vn);
		else
			json_object_set_new(vols, vn, json_true());
	}
	const json_t *cs = json_object_get(spec, "containers");
	if (!json_array_size(cs)) {
		char *p = xasprintf("%s.containers", path);
		obj_verr_add(v, p, "%s: Required value", p);
		free(p);
	}
	EACH(spec, "containers", path, i, c, cp)
	{
		check_container(v, c, cp, vols, names, path);
	}
	EACH(spec, "initContainers", path, i, c, cp)
	{
		check_container(v, c, cp, vols, names, path);
	}
	json_decref(vols);
	json_decref(names);
	enum_field(v, spec, path, "restartPolicy", template ? always : restart);
	enum_field(v, spec, path, "dnsPolicy", dns);
	range(v, spec, path, "terminationGracePeriodSeconds", 0, INT64_MAX, false);
	range(v, spec, path, "activeDeadlineSeconds", 1, INT64_MAX, false);
	EACH(spec, "tolerations", path, i, t, tp)
	{
		enum_field(v, t, tp, "operator", tol_ops);
		enum_field(v, t, tp, "effect", effects);
	}
	const char *sa = str(spec, "serviceAccountName");
	if (sa && *sa && (why = obj_check_dns1123_subdomain(sa)))
		obj_verr_add(v, path, "%s.serviceAccountName: Invalid value: \"%s\": %s", path, sa,
		             why);
}

static void rule_pod(obj_verr *v, const json_t *obj)
{
	check_pod_spec(v, json_object_get(obj, "spec"), "spec", false);
}

static void rule_service(obj_verr *v, const json_t *obj)
{
	static const char *const types[] = {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort",
	                                    NULL};
	static const char *const affinity[] = {"ClientIP", "None", NULL};
	static const char *const etp[] = {"Cluster", "Local", NULL};
	const json_t *spec = json_object_get(obj, "spec");
	const char *type = str(spec, "type"), *why;
	if (!json_is_object(spec)) {
		obj_verr_add(v, "", "spec: Required value");
		return;
	}
	enum_field(v, spec, "spec", "type", types);
	enum_field(v, spec, "spec", "sessionAffinity", affinity);
	enum_field(v, spec, "spec", "externalTrafficPolicy", etp);
	enum_field(v, spec, "spec", "internalTrafficPolicy", etp);
	bool external = type && !strcmp(type, "ExternalName");
	size_t np = json_array_size(json_object_get(spec, "ports"));
	if (external) {
		const char *en = str(spec, "externalName");
		if (!en || !*en)
			obj_verr_add(v, "spec", "spec.externalName: Required value");
	} else if (np == 0) {
		obj_verr_add(v, "spec", "spec.ports: Required value");
	}
	json_t *names = json_object();
	EACH(spec, "ports", "spec", i, port, pp)
	{
		const char *pn = str(port, "name");
		if ((!pn || !*pn) && np > 1) {
			char *lp = xasprintf("%s.name", pp);
			obj_verr_add(v, lp, "%s.name: Required value", pp);
			free(lp);
		} else if (pn && *pn && (why = obj_check_dns1123_label(pn))) {
			obj_verr_add(v, pp, "%s.name: Invalid value: \"%s\": %s", pp, pn, why);
		} else if (pn && *pn && json_object_get(names, pn)) {
			obj_verr_add(v, pp, "%s.name: Duplicate value: \"%s\"", pp, pn);
		} else if (pn && *pn) {
			json_object_set_new(names, pn, json_true());
		}
		range(v, port, pp, "port", 1, 65535, true);
		range(v, port, pp, "nodePort", 0, 65535, false);
		enum_field(v, port, pp, "protocol", protocols);
		const json_t *tp = json_object_get(port, "targetPort");
		if (json_is_integer(tp)) {
			range(v, port, pp, "targetPort", 1, 65535, false);
		} else if (json_is_string(tp) && (why = check_port_name(json_string_value(tp)))) {
			char *lp = xasprintf("%s.targetPort", pp);
			obj_verr_add(v, lp, "%s: Invalid value: \"%s\": %s", lp,
			             json_string_value(tp), why);
			free(lp);
		}
	}
	json_decref(names);
	const json_t *sel = json_object_get(spec, "selector");
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)sel, key, val)
	{
		const char *s = json_string_value(val);
		if ((why = obj_check_label_key(key)))
			obj_verr_add(v, "spec.selector", "spec.selector: Invalid value: \"%s\": %s",
			             key, why);
		if (s && (why = obj_check_label_value(s)))
			obj_verr_add(v, "spec.selector", "spec.selector: Invalid value: \"%s\": %s",
			             s, why);
	}
}

/* Keys of data maps (Secret, ConfigMap); base64 values when b64; returns byte size. */
static size_t check_data(obj_verr *v, const json_t *obj, const char *f, bool b64,
                         const json_t *other)
{
	const json_t *m = json_object_get(obj, f);
	const char *key, *why;
	json_t *val;
	size_t total = 0;
	json_object_foreach((json_t *)m, key, val)
	{
		char *lp = xasprintf("%s.%s", f, key);
		const char *s = json_string_value(val);
		if ((why = obj_check_config_key(key)))
			obj_verr_add(v, lp, "%s[%s]: Invalid value: \"%s\": %s", f, key, key, why);
		if (other && json_object_get(other, key))
			obj_verr_add(v, lp,
			             "%s[%s]: Invalid value: \"%s\": duplicate of key present "
			             "in data",
			             f, key, key);
		if (s && b64) {
			unsigned char *out;
			size_t n;
			if (k9_b64_decode(s, strlen(s), &out, &n) < 0) {
				obj_verr_add(
				    v, lp,
				    "%s[%s]: Invalid value: \"<secret contents redacted>\": "
				    "illegal base64 data",
				    f, key);
			} else {
				total += n;
				free(out);
			}
		} else if (s) {
			total += strlen(s);
		}
		free(lp);
	}
	return total;
}

static void rule_secret(obj_verr *v, const json_t *obj)
{
	size_t total =
	    check_data(v, obj, "data", true, NULL) + check_data(v, obj, "stringData", false, NULL);
	if (total > 1024 * 1024)
		obj_verr_add(v, "data", "data: Too long: must have at most 1048576 bytes");
	const char *type = str(obj, "type");
	if (type && !strcmp(type, "kubernetes.io/tls")) {
		const json_t *d = json_object_get(obj, "data"),
		             *sd = json_object_get(obj, "stringData");
		const char *need[] = {"tls.crt", "tls.key"};
		for (int i = 0; i < 2; i++)
			if (!json_object_get(d, need[i]) && !json_object_get(sd, need[i]))
				obj_verr_add(v, "data", "data[%s]: Required value", need[i]);
	}
}

static void rule_configmap(obj_verr *v, const json_t *obj)
{
	size_t total = check_data(v, obj, "data", false, NULL) +
	               check_data(v, obj, "binaryData", true, json_object_get(obj, "data"));
	if (total > 1024 * 1024)
		obj_verr_add(v, "data", "data: Too long: must have at most 1048576 bytes");
}

/* maxSurge/maxUnavailable: int >= 0 or "N%"; returns the value or -1. */
static long ios_value(obj_verr *v, const json_t *ru, const char *f)
{
	const json_t *n = json_object_get(ru, f);
	char *p = xasprintf("spec.strategy.rollingUpdate.%s", f);
	long val = -1;
	if (json_is_integer(n)) {
		val = (long)json_integer_value(n);
		if (val < 0)
			obj_verr_add(v, p,
			             "%s: Invalid value: %ld: must be greater than or equal to 0",
			             p, val);
	} else if (json_is_string(n)) {
		const char *s = json_string_value(n);
		char *end;
		val = strtol(s, &end, 10);
		if (end == s || strcmp(end, "%") != 0 || val < 0 || !strchr("0123456789", s[0])) {
			obj_verr_add(v, p,
			             "%s: Invalid value: \"%s\": a valid percent string must be a "
			             "numeric string followed by an ending '%%' (e.g. '1%%',  or "
			             "'93%%', regex used for validation is '[0-9]+%%')",
			             p, s);
			val = -1;
		} else if (val > 100 && !strcmp(f, "maxUnavailable")) {
			obj_verr_add(v, p,
			             "%s: Invalid value: \"%s\": must not be greater than 100%%", p,
			             s);
		}
	}
	free(p);
	return val;
}

static void check_selector_template(obj_verr *v, const json_t *obj, const char *kind)
{
	const json_t *spec = json_object_get(obj, "spec");
	const json_t *selector = json_object_get(spec, "selector");
	const json_t *labels = obj_get_path(spec, "template.metadata.labels");
	k9_err e;
	if (!json_is_object(spec)) {
		obj_verr_add(v, "", "spec: Required value");
		return;
	}
	range(v, spec, "spec", "replicas", 0, INT32_MAX, false);
	range(v, spec, "spec", "minReadySeconds", 0, INT32_MAX, false);
	if (!json_is_object(selector)) {
		obj_verr_add(v, "spec", "spec.selector: Required value");
	} else if (!json_object_size(json_object_get(selector, "matchLabels")) &&
	           !json_array_size(json_object_get(selector, "matchExpressions"))) {
		obj_verr_add(v, "spec.selector",
		             "spec.selector: Invalid value: %s: empty selector is invalid for %s",
		             "{}", kind);
	} else {
		sel *s = sel_from_api(selector, &e);
		if (!s) {
			obj_verr_add(v, "spec.selector", "spec.selector: Invalid value: %s", e.msg);
		} else if (!sel_match_labels(s, labels)) {
			char *sh = labels ? obj_show(labels) : xstrdup("null");
			obj_verr_add(v, "spec.template.metadata.labels",
			             "spec.template.metadata.labels: Invalid value: %s: `selector` "
			             "does not match template `labels`",
			             sh);
			free(sh);
		}
		sel_free(s);
	}
	const json_t *tmpl = json_object_get(spec, "template");
	if (!json_is_object(tmpl))
		obj_verr_add(v, "spec", "spec.template: Required value");
	else
		check_pod_spec(v, json_object_get(tmpl, "spec"), "spec.template.spec", true);
}

static void rule_deployment(obj_verr *v, const json_t *obj)
{
	static const char *const types[] = {"Recreate", "RollingUpdate", NULL};
	const json_t *spec = json_object_get(obj, "spec");
	check_selector_template(v, obj, "deployment");
	enum_field(v, json_object_get(spec, "strategy"), "spec.strategy", "type", types);
	range(v, spec, "spec", "revisionHistoryLimit", 0, INT32_MAX, false);
	range(v, spec, "spec", "progressDeadlineSeconds", 1, INT32_MAX, false);
	const json_t *ru = obj_get_path(spec, "strategy.rollingUpdate");
	const char *type = str(spec, "strategy.type");
	if (type && !strcmp(type, "Recreate") && ru && !json_is_null(ru))
		obj_verr_add(v, "spec.strategy.rollingUpdate",
		             "spec.strategy.rollingUpdate: Forbidden: may not be specified when "
		             "strategy `type` is 'Recreate'");
	long surge = json_is_object(ru) ? ios_value(v, ru, "maxSurge") : -1;
	long unavailable = json_is_object(ru) ? ios_value(v, ru, "maxUnavailable") : -1;
	if (surge == 0 && unavailable == 0)
		obj_verr_add(v, "spec.strategy.rollingUpdate.maxUnavailable",
		             "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: %s: may "
		             "not be 0 when `maxSurge` is 0",
		             json_is_string(json_object_get(ru, "maxUnavailable")) ? "\"0%\""
		                                                                   : "0");
	const json_t *pds = json_object_get(spec, "progressDeadlineSeconds");
	const json_t *mrs = json_object_get(spec, "minReadySeconds");
	if (json_is_integer(pds) && json_is_integer(mrs) &&
	    json_integer_value(pds) <= json_integer_value(mrs))
		obj_verr_add(v, "spec.progressDeadlineSeconds",
		             "spec.progressDeadlineSeconds: Invalid value: %lld: must be greater "
		             "than minReadySeconds",
		             (long long)json_integer_value(pds));
}

static void rule_replicaset(obj_verr *v, const json_t *obj)
{
	check_selector_template(v, obj, "replicaset");
}

static const char *const access_modes[] = {"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany",
                                           "ReadWriteOncePod", NULL};
static const char *const volume_modes[] = {"Block", "Filesystem", NULL};

static void check_access_modes(obj_verr *v, const json_t *spec)
{
	if (!json_array_size(json_object_get(spec, "accessModes")))
		obj_verr_add(
		    v, "spec",
		    "spec.accessModes: Required value: at least 1 access mode is required");
	EACH(spec, "accessModes", "spec", i, m, mp)
	{
		const char *s = json_string_value(m);
		if (s && !one_of(s, access_modes))
			obj_verr_add(
			    v, mp,
			    "spec.accessModes: Unsupported value: \"%s\": supported values: "
			    "\"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", "
			    "\"ReadWriteOncePod\"",
			    s);
	}
	enum_field(v, spec, "spec", "volumeMode", volume_modes);
}

static void rule_pv(obj_verr *v, const json_t *obj)
{
	static const char *const reclaim[] = {"Delete", "Recycle", "Retain", NULL};
	static const char *const sources[] = {"hostPath",
	                                      "local",
	                                      "nfs",
	                                      "csi",
	                                      "iscsi",
	                                      "awsElasticBlockStore",
	                                      "gcePersistentDisk",
	                                      "azureDisk",
	                                      "azureFile",
	                                      "cephfs",
	                                      "rbd",
	                                      "cinder",
	                                      "fc",
	                                      "flexVolume",
	                                      "flocker",
	                                      "glusterfs",
	                                      "portworxVolume",
	                                      "quobyte",
	                                      "scaleIO",
	                                      "storageos",
	                                      "vsphereVolume",
	                                      "photonPersistentDisk",
	                                      NULL};
	const json_t *spec = json_object_get(obj, "spec");
	if (!json_is_object(spec)) {
		obj_verr_add(v, "", "spec: Required value");
		return;
	}
	if (!json_object_get(json_object_get(spec, "capacity"), "storage"))
		obj_verr_add(v, "spec", "spec.capacity: Required value");
	check_access_modes(v, spec);
	enum_field(v, spec, "spec", "persistentVolumeReclaimPolicy", reclaim);
	int n = 0;
	for (const char *const *s = sources; *s; s++)
		n += json_object_get(spec, *s) != NULL;
	if (n == 0)
		obj_verr_add(v, "spec", "spec: Required value: must specify a volume type");
	else if (n > 1)
		obj_verr_add(v, "spec", "spec: Forbidden: may not specify more than 1 volume type");
	if (json_is_object(json_object_get(spec, "hostPath")))
		required_str(v, json_object_get(spec, "hostPath"), "spec.hostPath", "path");
	if (json_is_object(json_object_get(spec, "local")))
		required_str(v, json_object_get(spec, "local"), "spec.local", "path");
}

static void rule_pvc(obj_verr *v, const json_t *obj)
{
	const json_t *spec = json_object_get(obj, "spec");
	if (!json_is_object(spec)) {
		obj_verr_add(v, "", "spec: Required value");
		return;
	}
	check_access_modes(v, spec);
	const json_t *st = obj_get_path(spec, "resources.requests.storage");
	int64_t m;
	if (!st) {
		obj_verr_add(v, "spec.resources", "spec.resources[storage]: Required value");
	} else if (quantity(st, &m) && m <= 0) {
		char *sh = obj_show(st);
		obj_verr_add(
		    v, "spec.resources.requests.storage",
		    "spec.resources[storage]: Invalid value: %s: must be greater than zero", sh);
		free(sh);
	}
}

static void rule_node(obj_verr *v, const json_t *obj)
{
	static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute", NULL};
	const json_t *spec = json_object_get(obj, "spec");
	const char *why;
	EACH(spec, "taints", "spec", i, t, tp)
	{
		const char *key = str(t, "key");
		if (!key || !*key)
			required_str(v, t, tp, "key");
		else if ((why = obj_check_label_key(key)))
			obj_verr_add(v, tp, "%s.key: Invalid value: \"%s\": %s", tp, key, why);
		if (!str(t, "effect"))
			required_str(v, t, tp, "effect");
		enum_field(v, t, tp, "effect", effects);
	}
}

static void rule_endpoints(obj_verr *v, const json_t *obj)
{
	EACH(obj, "subsets", "", i, ss, sp)
	{
		EACH(ss, "addresses", sp, j, a, ap)
		{
			required_str(v, a, ap, "ip");
		}
		EACH(ss, "notReadyAddresses", sp, j, a, ap)
		{
			required_str(v, a, ap, "ip");
		}
		EACH(ss, "ports", sp, j, port, pp)
		{
			range(v, port, pp, "port", 1, 65535, true);
			enum_field(v, port, pp, "protocol", protocols);
		}
	}
}

static void rule_event(obj_verr *v, const json_t *obj)
{
	static const char *const types[] = {"Normal", "Warning", NULL};
	enum_field(v, obj, "", "type", types);
	if (!json_is_object(json_object_get(obj, "involvedObject")))
		obj_verr_add(v, "", "involvedObject: Required value");
	range(v, obj, "", "count", 0, INT32_MAX, false);
}

static const struct {
	const char *kind;
	void (*check)(obj_verr *v, const json_t *obj);
} rules[] = {
    {"Pod", rule_pod},
    {"Service", rule_service},
    {"Secret", rule_secret},
    {"ConfigMap", rule_configmap},
    {"Deployment", rule_deployment},
    {"ReplicaSet", rule_replicaset},
    {"PersistentVolume", rule_pv},
    {"PersistentVolumeClaim", rule_pvc},
    {"Node", rule_node},
    {"Endpoints", rule_endpoints},
    {"Event", rule_event},
};

void obj_rules_check(obj_verr *v, const obj_kind *k, const json_t *obj)
{
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
		if (!strcmp(rules[i].kind, k->kind))
			rules[i].check(v, obj);
}
