/*
 * mnt_sub.c - subresource files beside an object's NAME.yaml, unlisted like
 * NAME.json:
 *
 *   NAME.status    (write)  a document whose status: replaces the object's
 *                           status (a merge patch of /status; a
 *                           metadata.resourceVersion in it makes it conditional)
 *   NAME.binding   (write)  pods: a node name, or a Binding document; binds
 *                           the pod to that node unless it already has one
 *   NAME.scale     (read, write)  deployments, replicasets: the replica count
 *   NAME.log       (read)   pods: the log of the default container (the
 *                           kubectl.kubernetes.io/default-container annotation's,
 *                           else the first), from the server's pods/NAME/log
 *   NAME.CONTAINER.log (read)  pods: that container's log; a pod named
 *                           NAME.CONTAINER, if there is one, has the name first
 *   NAME.metrics   (read)   nodes: the node's /metrics/resource, through the
 *                           server's nodes/NAME/proxy
 *
 * The read-only files are fetched whole at open, outside the cache's lock,
 * and report a size of 0 (they are read directly, to their end).
 *
 * As in sysfs or a Plan 9 ctl file, each write(2) is one request and fails
 * with the request's errno, so `echo 3 > web.scale` reports a refusal at
 * once; the sentence goes to the directory's .errors.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube9/obj.h"
#include "mnt.h"

static const char *const sub_name[] = {"", "", "status", "binding", "scale"};

/* Container i of a pod, counting init, regular then ephemeral containers; NULL past them. */
static const char *container_at(const json_t *pod, int i)
{
	static const char *const lists[] = {"initContainers", "containers", "ephemeralContainers"};
	const json_t *spec = json_object_get(pod, "spec");
	for (int l = 0; l < 3; l++) {
		const json_t *a = json_object_get(spec, lists[l]);
		if ((size_t)i < json_array_size(a))
			return json_string_value(
			    json_object_get(json_array_get(a, (size_t)i), "name"));
		i -= (int)json_array_size(a);
	}
	return NULL;
}

bool mnt_sub_valid(const mnt *m, const mnt_obj *o, int osub)
{
	const char *plural = m->res[o->res].plural;
	if (osub <= MNT_OSUB_SCALE)
		return osub >= 0;
	if (osub == MNT_OSUB_METRICS)
		return !strcmp(plural, "nodes");
	return !strcmp(plural, "pods") && osub <= 255;
}

mnt_obj *mnt_sub_log_target(mnt *m, mnt_ns *ns, int res, const char *name, size_t stem, int *osub)
{
	(void)m;
	const char *dot = memrchr(name, '.', stem);
	if (!dot || dot == name)
		return NULL;
	char *pod = xstrndup(name, (size_t)(dot - name));
	char *ctr = xstrndup(dot + 1, stem - (size_t)(dot + 1 - name));
	mnt_obj *o = k9_map_get(&ns->res[res], pod);
	json_t *j = o ? json_loadb(o->json->data, o->json->len, 0, NULL) : NULL;
	const char *c;
	int i = 0;
	for (; j && (c = container_at(j, i)) && strcmp(c, ctr); i++)
		;
	if (!j || !container_at(j, i) || MNT_OSUB_CTRLOG + i > 255)
		o = NULL;
	else
		*osub = MNT_OSUB_CTRLOG + i;
	json_decref(j);
	free(pod);
	free(ctr);
	return o;
}

/* The path fh reads from the server (NAME.log ...): fh->url; 0 or -errno. */
static int remote_open(mnt *m, const mnt_node *n, mnt_fh *fh)
{
	const mnt_obj *o = n->obj;
	if (n->osub == MNT_OSUB_METRICS) {
		fh->url = mnt_obj_url(m, o->ns, o->res, o->name, "/proxy/metrics/resource");
		return 0;
	}
	json_t *pod = json_loadb(o->json->data, o->json->len, 0, NULL);
	const char *ctr = json_string_value(
	    json_object_get(json_object_get(json_object_get(pod, "metadata"), "annotations"),
	                    "kubectl.kubernetes.io/default-container"));
	int i = n->osub - MNT_OSUB_CTRLOG;
	if (n->osub == MNT_OSUB_LOG) {
		/* as kubectl: the annotation's container, else the first one */
		const json_t *cs = json_object_get(json_object_get(pod, "spec"), "containers");
		for (i = 0; ctr && container_at(pod, i) && strcmp(container_at(pod, i), ctr); i++)
			;
		if (!ctr || !container_at(pod, i))
			ctr = json_string_value(json_object_get(json_array_get(cs, 0), "name"));
		else
			ctr = container_at(pod, i);
	} else {
		ctr = container_at(pod, i);
	}
	char *tail = ctr ? xasprintf("/log?container=%s", ctr) : NULL;
	if (tail)
		fh->url = mnt_obj_url(m, o->ns, o->res, o->name, tail);
	free(tail);
	json_decref(pod);
	return fh->url ? 0 : -ENOENT;
}

int mnt_sub_fetch(mnt *m, mnt_fh *fh)
{
	k9_err e = {0};
	k9_buf out = {0};
	long code = mnt_http(m, "GET", fh->url, NULL, NULL, 0, &out, &e);
	int rc = 0;
	if (code >= 200 && code < 300) {
		fh->rd = mnt_blob_new(out.data ? out.data : "", out.len);
	} else {
		char file[600], path[1024];
		const char *q = strchr(fh->url, '?');
		if (code >= 0)
			mnt_http_status(code, &out, &e);
		if (fh->osub == MNT_OSUB_METRICS)
			snprintf(file, sizeof file, "%s.metrics", fh->name);
		else if (fh->osub == MNT_OSUB_LOG || !q)
			snprintf(file, sizeof file, "%s.log", fh->name);
		else
			snprintf(file, sizeof file, "%s.%s.log", fh->name, q + 11);
		mnt_file_path(m, fh->ns, fh->res, file, path, sizeof path);
		rc = mnt_refuse(m, fh->ns, fh->res, path, &e);
	}
	buf_free(&out);
	return rc;
}

/* The replica count of a deployment or replicaset, as its .scale file reads. */
static mnt_blob *scale_text(const mnt_obj *o)
{
	json_t *j = json_loadb(o->json->data, o->json->len, 0, NULL);
	json_int_t n = json_integer_value(json_object_get(json_object_get(j, "spec"), "replicas"));
	json_decref(j);
	char t[32];
	int l = snprintf(t, sizeof t, "%lld\n", (long long)n);
	return mnt_blob_new(t, (size_t)l);
}

int mnt_sub_open(mnt *m, const mnt_node *n, mnt_fh *fh, bool wr)
{
	bool remote = n->osub >= MNT_OSUB_LOG;
	if (remote ? wr : !wr && n->osub != MNT_OSUB_SCALE)
		return -EACCES;
	fh->kind = MNT_FH_SUB;
	fh->osub = n->osub;
	fh->name = xstrdup(n->obj->name);
	fh->writable = wr;
	if (remote)
		return remote_open(m, n, fh);
	if (n->osub == MNT_OSUB_SCALE)
		fh->rd = scale_text(n->obj);
	return 0;
}

/* A one-word write ("node-3", "5") rather than a document. */
static bool one_word(const char *s)
{
	for (; *s; s++)
		if (isspace((unsigned char)*s) || *s == ':' || *s == '{' || *s == '"')
			return false;
	return true;
}

/* The request body for text written to fh's subresource; NULL with e when it is wrong. */
static char *body_of(mnt *m, const mnt_fh *fh, const char *text, const char **method,
                     const char **ctype, k9_err *e)
{
	json_t *doc = NULL, *body = NULL;
	bool word = one_word(text);
	if (!word) {
		if (!(doc = obj_decode(text, strlen(text), NULL, e)))
			return NULL;
		if (!json_is_object(doc)) {
			k9_errf(e, 400, "BadRequest", "the document is not a mapping");
			goto out;
		}
	}
	*ctype = "application/merge-patch+json";
	*method = "PATCH";
	switch (fh->osub) {
	case MNT_OSUB_BINDING: {
		const char *node = word ? text
		                        : json_string_value(json_object_get(
		                              json_object_get(doc, "target"), "name"));
		if (!node || !node[0]) {
			k9_errf(e, 400, "BadRequest",
			        "write a node name, or a Binding with target.name");
			goto out;
		}
		body =
		    json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s}}", "apiVersion", "v1", "kind",
		              "Binding", "metadata", "name", fh->name, "namespace", fh->ns->name,
		              "target", "apiVersion", "v1", "kind", "Node", "name", node);
		*method = "POST";
		*ctype = "application/json";
		break;
	}
	case MNT_OSUB_SCALE: {
		json_t *rep = NULL;
		if (word) {
			char *end;
			long long v = strtoll(text, &end, 10);
			if (!*end && end != text)
				rep = json_integer(v);
		} else {
			rep =
			    json_incref(json_object_get(json_object_get(doc, "spec"), "replicas"));
		}
		if (!json_is_integer(rep) || json_integer_value(rep) < 0) {
			json_decref(rep);
			k9_errf(e, 400, "BadRequest",
			        "write the number of replicas (a non-negative integer), or a Scale "
			        "with spec.replicas");
			goto out;
		}
		body = json_pack("{s:{s:o}}", "spec", "replicas", rep);
		break;
	}
	default: {
		json_t *st = json_object_get(doc, "status");
		if (!json_is_object(st)) {
			k9_errf(e, 400, "BadRequest", "the document has no status: mapping");
			goto out;
		}
		body = json_pack("{s:O}", "status", st);
		const char *rv = json_string_value(
		    json_object_get(json_object_get(doc, "metadata"), "resourceVersion"));
		if (rv)
			json_object_set_new(body, "metadata",
			                    json_pack("{s:s}", "resourceVersion", rv));
	}
	}
out:
	(void)m;
	json_decref(doc);
	char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	return s;
}

int mnt_sub_write(mnt *m, mnt_fh *fh, const char *buf, size_t size)
{
	k9_err e = {0};
	char file[600], path[1024];
	snprintf(file, sizeof file, "%s.%s", fh->name, sub_name[fh->osub]);
	mnt_file_path(m, fh->ns, fh->res, file, path, sizeof path);
	/* the text, without the spaces and newline around it */
	while (size && isspace((unsigned char)*buf))
		buf++, size--;
	while (size && isspace((unsigned char)buf[size - 1]))
		size--;
	char *text = xstrndup(buf, size);
	const char *method = NULL, *ctype = NULL;
	char *body = size ? body_of(m, fh, text, &method, &ctype, &e) : NULL;
	free(text);
	if (!size)
		return 0; /* nothing said */
	if (!body)
		return mnt_refuse(m, fh->ns, fh->res, path, &e);
	char tail[16];
	snprintf(tail, sizeof tail, "/%s", sub_name[fh->osub]);
	char *url = mnt_obj_url(m, fh->ns, fh->res, fh->name, tail);
	long code = mnt_send_obj(m, fh->res, method, url, ctype, body, strlen(body), NULL, &e);
	free(url);
	free(body);
	if (code < 200 || code >= 300)
		return mnt_refuse(m, fh->ns, fh->res, path, &e);
	return 0;
}
