/*
 * img_pull.c - the registry v2 client: one CURL handle per pull fetches the
 * manifest (an index or manifest list picks linux/amd64), the config and
 * the layer blobs into the store, each verified against its digest on the
 * way. HTTPS first; loopback and listed registries fall back to plain HTTP.
 * A 401 is answered once: a Bearer challenge by a token from its realm, a
 * Basic one by the credentials from the pull's "auths".
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "img_int.h"
#include "kube9/util.h"

#define ACCEPT_MANIFESTS                                                                           \
	"Accept: " IMG_MT_OCI_MANIFEST ", " IMG_MT_OCI_INDEX ", " IMG_MT_DOCKER_MANIFEST           \
	", " IMG_MT_DOCKER_LIST

typedef struct pull {
	img_store *s;
	CURL *h;
	img_refparts rp;
	const char *scheme; /* "https" until a fallback to "http" */
	bool insecure, scheme_known;
	char *user, *pass; /* from auths, or NULL */
	char *authz;       /* "Authorization: ..." header once authenticated */
	char challenge[2048], ctype[256], curl_err[CURL_ERROR_SIZE];
	char *msg;
	size_t msglen;
} pull;

/* Where a response body goes: the blob writer for a 2xx blob, else memory. */
typedef struct sink {
	pull *p;
	k9_buf mem;
	size_t limit;
	img_blob_w *blob;
	bool too_big, io_err;
} sink;

static size_t on_body(char *data, size_t sz, size_t nm, void *arg)
{
	sink *k = arg;
	size_t n = sz * nm;
	long code = 0;
	curl_easy_getinfo(k->p->h, CURLINFO_RESPONSE_CODE, &code);
	if (k->blob && code >= 200 && code < 300) {
		if (img_blob_write(k->blob, data, n) < 0) {
			k->io_err = true;
			return 0;
		}
		return n;
	}
	if (k->mem.len + n > k->limit) {
		k->too_big = true;
		return 0;
	}
	buf_append(&k->mem, data, n);
	return n;
}

/* Keep the last response's WWW-Authenticate and Content-Type. */
static size_t on_header(char *data, size_t sz, size_t nm, void *arg)
{
	pull *p = arg;
	size_t n = sz * nm;
	if (n >= 5 && !strncmp(data, "HTTP/", 5))
		p->challenge[0] = p->ctype[0] = 0;
	const char *colon = memchr(data, ':', n);
	if (!colon)
		return n;
	size_t kn = (size_t)(colon - data), vn = n - kn - 1;
	const char *v = colon + 1;
	while (vn && (*v == ' ' || *v == '\t'))
		v++, vn--;
	while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n'))
		vn--;
	if (kn == 16 && !strncasecmp(data, "WWW-Authenticate", 16))
		snprintf(p->challenge, sizeof p->challenge, "%.*s", (int)vn, v);
	else if (kn == 12 && !strncasecmp(data, "Content-Type", 12))
		snprintf(p->ctype, sizeof p->ctype, "%.*s", (int)strcspn(v, ";"), v);
	return n;
}

/* One GET of url into k; the HTTP status, or -1 with msg naming curl's error. */
static long perform(pull *p, const char *url, const char *accept, bool authz, sink *k)
{
	struct curl_slist *hdrs = NULL;
	CURL *h = p->h;
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "kube9");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, p->curl_err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, k);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, p);
	if (p->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (accept)
		hdrs = curl_slist_append(hdrs, accept);
	if (authz && p->authz)
		hdrs = curl_slist_append(hdrs, p->authz);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	p->curl_err[0] = 0;
	CURLcode rc = curl_easy_perform(h);
	curl_slist_free_all(hdrs);
	long code = -1;
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	else if (k->io_err)
		snprintf(p->msg, p->msglen, "writing a blob: %s", strerror(errno));
	else if (k->too_big)
		snprintf(p->msg, p->msglen, "GET %s: response larger than %zu bytes", url,
		         k->limit);
	else
		snprintf(p->msg, p->msglen, "GET %s: %s%s%s%s", url, curl_easy_strerror(rc),
		         p->curl_err[0] ? " (" : "", p->curl_err, p->curl_err[0] ? ")" : "");
	return code;
}

/* The registry's own words for a failed request, into msg. */
static void registry_error(pull *p, long code, const k9_buf *body)
{
	json_t *j = json_loadb(body->data ? body->data : "", body->len, 0, NULL), *e;
	k9_buf b = {0};
	size_t i;
	json_array_foreach(json_object_get(j, "errors"), i, e)
	{
		const char *m = json_string_value(json_object_get(e, "message"));
		const char *c = json_string_value(json_object_get(e, "code"));
		buf_printf(&b, "%s%s (%s, HTTP %ld)", i ? "; " : "", m ? m : "error", c ? c : "?",
		           code);
	}
	if (!b.len)
		buf_printf(&b, "unexpected HTTP status %ld from %s", code, p->rp.domain);
	snprintf(p->msg, p->msglen, "%s", b.data);
	buf_free(&b);
	json_decref(j);
}

/*
 * Answer the last 401's challenge: 1 when there is a new Authorization to
 * retry with, 0 when there is none to offer, -1 with msg when getting a
 * token failed.
 */
static int pull_auth(pull *p)
{
	img_challenge c;
	if (img_auth_parse(p->challenge, &c) < 0)
		return 0;
	free(p->authz);
	p->authz = NULL;
	if (!strcmp(c.scheme, "Basic")) {
		if (!p->user)
			return 0;
		char *up = xasprintf("%s:%s", p->user, p->pass),
		     *b64 = k9_b64_encode(up, strlen(up));
		p->authz = xasprintf("Authorization: Basic %s", b64);
		free(up);
		free(b64);
		return 1;
	}
	if (!c.realm[0])
		return 0;
	char *scope = c.scope[0] ? xstrdup(c.scope) : xasprintf("repository:%s:pull", p->rp.path);
	char *es = curl_easy_escape(p->h, scope, 0), *ev = curl_easy_escape(p->h, c.service, 0);
	char *url =
	    xasprintf("%s%cservice=%s&scope=%s", c.realm, strchr(c.realm, '?') ? '&' : '?', ev, es);
	curl_free(es);
	curl_free(ev);
	free(scope);
	sink k = {.p = p, .limit = 1 << 20};
	long code;
	if (p->user) { /* the token request carries the credentials as Basic auth */
		char *up = xasprintf("%s:%s", p->user, p->pass),
		     *b64 = k9_b64_encode(up, strlen(up));
		char *saved = p->authz;
		p->authz = xasprintf("Authorization: Basic %s", b64);
		code = perform(p, url, NULL, true, &k);
		free(p->authz);
		p->authz = saved;
		free(up);
		free(b64);
	} else {
		code = perform(p, url, NULL, false, &k);
	}
	int rc = -1;
	json_t *j = code == 200 ? json_loadb(k.mem.data, k.mem.len, 0, NULL) : NULL;
	const char *tok = json_string_value(json_object_get(j, "token"));
	if (!tok || !*tok)
		tok = json_string_value(json_object_get(j, "access_token"));
	if (tok && *tok) {
		p->authz = xasprintf("Authorization: Bearer %s", tok);
		rc = 1;
	} else if (code >= 0) {
		registry_error(p, code, &k.mem);
		char *m = xstrdup(p->msg);
		snprintf(p->msg, p->msglen, "getting a token from %s: %s", c.realm, m);
		free(m);
	}
	json_decref(j);
	buf_free(&k.mem);
	free(url);
	return rc;
}

/* GET /v2/PATH/tail from the registry, authenticating once on a 401. */
static long pull_get(pull *p, const char *tail, const char *accept, sink *k)
{
	for (int attempt = 0;; attempt++) {
		char *url = xasprintf("%s://%s/v2/%s/%s", p->scheme, img_ref_host(&p->rp),
		                      p->rp.path, tail);
		long code = perform(p, url, accept, true, k);
		if (code < 0 && !p->scheme_known && p->insecure && !strcmp(p->scheme, "https")) {
			log_debug("image: %s: %s; trying plain HTTP", img_ref_host(&p->rp), p->msg);
			p->scheme = "http";
			free(url);
			url =
			    xasprintf("http://%s/v2/%s/%s", img_ref_host(&p->rp), p->rp.path, tail);
			code = perform(p, url, accept, true, k);
		}
		free(url);
		if (code < 0)
			return -1;
		p->scheme_known = true;
		if (code != 401 || attempt > 0)
			return code;
		int r = pull_auth(p);
		if (r < 0)
			return -1;
		if (r == 0)
			return code;
		k->mem.len = 0;
	}
}

/* The manifest named by reference (tag or digest); its digest into digest. */
static json_t *pull_manifest(pull *p, const char *reference, char *digest)
{
	sink k = {.p = p, .limit = IMG_MAX_JSON};
	char *tail = xasprintf("manifests/%s", reference);
	long code = pull_get(p, tail, ACCEPT_MANIFESTS, &k);
	free(tail);
	json_t *m = NULL;
	char err[512];
	if (code >= 0 && code != 200)
		registry_error(p, code, &k.mem);
	if (code != 200)
		goto out;
	img_sha256(k.mem.data, k.mem.len, digest);
	if (img_digest_valid(reference) && strcmp(reference, digest)) {
		snprintf(p->msg, p->msglen, "manifest digest mismatch: expected %s, got %s",
		         reference, digest);
		goto out;
	}
	m = img_manifest_parse(k.mem.data, k.mem.len, err, sizeof err);
	if (!m)
		snprintf(p->msg, p->msglen, "manifest %s (%s): %s", digest, p->ctype, err);
	else if (img_blob_put(p->s, k.mem.data, k.mem.len, digest, NULL, err, sizeof err) < 0)
		snprintf(p->msg, p->msglen, "%s", err), json_decref(m), m = NULL;
out:
	buf_free(&k.mem);
	return m;
}

/* Fetch a blob into the store unless it is there; -1 with msg. */
static int pull_blob(pull *p, const char *digest)
{
	if (!digest || !img_digest_valid(digest)) {
		snprintf(p->msg, p->msglen, "\"%s\" is not a sha256 digest", digest ? digest : "");
		return -1;
	}
	if (img_blob_has(p->s, digest))
		return 0;
	char err[512];
	sink k = {.p = p, .limit = 1 << 20, .blob = img_blob_begin(p->s, err, sizeof err)};
	if (!k.blob) {
		snprintf(p->msg, p->msglen, "%s", err);
		return -1;
	}
	char *tail = xasprintf("blobs/%s", digest);
	long code = pull_get(p, tail, NULL, &k);
	free(tail);
	int rc = -1;
	if (code >= 0 && code != 200)
		registry_error(p, code, &k.mem);
	if (code != 200) {
		img_blob_abort(k.blob);
	} else if (img_blob_commit(k.blob, digest, NULL, err, sizeof err) < 0) {
		snprintf(p->msg, p->msglen, "blob %s: %s", digest, err);
	} else {
		rc = 0;
	}
	buf_free(&k.mem);
	return rc;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The manifest (an index resolved to linux/amd64) and every blob it names. */
static int pull_image(pull *p, const char *ref, char *mdigest)
{
	json_t *m = pull_manifest(p, p->rp.digest[0] ? p->rp.digest : p->rp.tag, mdigest), *l;
	if (m && json_is_array(json_object_get(m, "manifests"))) {
		const json_t *e = img_index_pick(m);
		char want[80];
		snprintf(want, sizeof want, "%s",
		         e ? json_string_value(json_object_get(e, "digest")) : "");
		json_decref(m);
		m = NULL;
		if (!e)
			snprintf(p->msg, p->msglen, "no linux/amd64 image in the index %s",
			         mdigest);
		else
			m = pull_manifest(p, want, mdigest);
		if (m && json_is_array(json_object_get(m, "manifests")))
			snprintf(p->msg, p->msglen, "index %s names another index", mdigest),
			    json_decref(m), m = NULL;
	}
	if (!m)
		return -1;
	int rc = pull_blob(
	    p, json_string_value(json_object_get(json_object_get(m, "config"), "digest")));
	size_t i;
	json_array_foreach(json_object_get(m, "layers"), i, l)
	{
		const char *d = json_string_value(json_object_get(l, "digest"));
		char *dir = xasprintf("%s/layers/%s", p->s->dir, d + 7);
		bool unpacked = access(dir, F_OK) == 0;
		free(dir);
		if (rc == 0 && !unpacked)
			rc = pull_blob(p, d);
	}
	char err[512];
	if (rc == 0 && img_ref_write(p->s, ref, mdigest, err, sizeof err) < 0) {
		snprintf(p->msg, p->msglen, "%s", err);
		rc = -1;
	}
	json_decref(m);
	return rc;
}

int img_pull(img_store *s, const char *ref, const json_t *auths, char *digest, size_t dlen,
             char *msg, size_t msglen)
{
	pull p = {.s = s, .scheme = "https", .msg = msg, .msglen = msglen};
	char md[80] = "";
	if (img_ref_parts(ref, &p.rp) < 0) {
		snprintf(msg, msglen, "\"%s\" is not an image reference", ref);
		return -1;
	}
	pthread_once(&curl_once, curl_init);
	p.insecure = img_insecure_host(p.rp.domain, s->insecure);
	if (auths && img_auth_lookup(auths, p.rp.domain, p.rp.path, &p.user, &p.pass) < 0)
		log_debug("image: no credentials for %s in auths", p.rp.domain);
	p.h = curl_easy_init();
	uint64_t t0 = k9_mono_ns();
	int rc = p.h ? pull_image(&p, ref, md) : -1;
	if (!p.h)
		snprintf(msg, msglen, "curl_easy_init failed");
	if (rc == 0) {
		snprintf(digest, dlen, "%s", md);
		log_info("image: pulled %s (%s) in %.2fs", ref, md,
		         (double)(k9_mono_ns() - t0) / 1e9);
	}
	if (p.h)
		curl_easy_cleanup(p.h);
	free(p.user);
	free(p.pass);
	free(p.authz);
	return rc;
}
