/*
 * mnt_http.c - the mount's HTTPS client (libcurl): one easy handle per thread
 * so connections are kept alive, requests with a time limit, watch streams cut
 * into lines, and API errors (Status objects) turned into k9_err and errno.
 */
#include <curl/curl.h>
#include <errno.h>
#include <string.h>

#include "mnt.h"

/*
 * A pool of easy handles: FUSE worker threads come and go, their requests
 * borrow a handle and give it back. The handles share one cache of open
 * connections, TLS sessions and addresses (a CURLSH), so a request takes
 * any idle connection and a new one resumes a TLS session instead of a
 * full handshake; the pool is as big as the FUSE workers can be many, so
 * under load no handle (and connection) is ever thrown away.
 */
#define POOL_MAX 160
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static CURL *pool[POOL_MAX];
static int npool;
static CURLSH *share;
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
static pthread_once_t share_once = PTHREAD_ONCE_INIT;

static void share_lock(CURL *c, curl_lock_data d, curl_lock_access a, void *arg)
{
	(void)c;
	(void)a;
	(void)arg;
	pthread_mutex_lock(&share_locks[d]);
}

static void share_unlock(CURL *c, curl_lock_data d, void *arg)
{
	(void)c;
	(void)arg;
	pthread_mutex_unlock(&share_locks[d]);
}

static void share_init(void)
{
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&share_locks[i], NULL);
	share = curl_share_init();
	curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
}

static void put_handle(CURL *c)
{
	pthread_mutex_lock(&pool_lock);
	if (npool < POOL_MAX) {
		pool[npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&pool_lock);
	if (c)
		curl_easy_cleanup(c);
}

static size_t to_buf(char *p, size_t sz, size_t n, void *arg)
{
	buf_append(arg, p, sz * n);
	return sz * n;
}

static CURL *get_handle(mnt *m)
{
	CURL *c = NULL;
	pthread_mutex_lock(&pool_lock);
	if (npool)
		c = pool[--npool];
	pthread_mutex_unlock(&pool_lock);
	if (c)
		return c;
	pthread_once(&share_once, share_init);
	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_SHARE, share);
	curl_easy_setopt(c, CURLOPT_MAXCONNECTS, (long)POOL_MAX);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, m->cl.timeout_ms);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 10L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 5L);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	/* only the kubeconfig's CA: loading the system bundle costs more than a request */
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	if (m->cl.ca_path)
		curl_easy_setopt(c, CURLOPT_CAINFO, m->cl.ca_path);
	if (m->cl.insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (m->cl.cert_path)
		curl_easy_setopt(c, CURLOPT_SSLCERT, m->cl.cert_path);
	if (m->cl.key_path)
		curl_easy_setopt(c, CURLOPT_SSLKEY, m->cl.key_path);
	if (m->cl.basic) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, m->cl.basic);
	}
	return c;
}

/* A handle set up for one request to path; put_handle() it afterwards. */
static CURL *handle(mnt *m, const char *path, struct curl_slist **hdrs)
{
	CURL *c = get_handle(m);
	char *url = xasprintf("%s%s", m->cl.server, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	free(url);
	/* per-request options back to their defaults */
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 0L);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 1L);
	*hdrs = curl_slist_append(NULL, "Accept: application/json");
	*hdrs = curl_slist_append(*hdrs, "User-Agent: kube9-mount");
	*hdrs = curl_slist_append(*hdrs, "Expect:");
	if (m->cl.token) {
		char *h = xasprintf("Authorization: Bearer %s", m->cl.token);
		*hdrs = curl_slist_append(*hdrs, h);
		free(h);
	}
	return c;
}

static long finish(CURL *c, CURLcode rc, const char *errbuf, mnt *m, k9_err *e)
{
	long code = 0;
	if (rc != CURLE_OK) {
		const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
		if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
		    rc == CURLE_SSL_CERTPROBLEM)
			k9_errf(e, 503, "ServiceUnavailable",
			        "the server %s is not trusted with the kubeconfig's CA: %s",
			        m->cl.server, why);
		else
			k9_errf(e, 503, "ServiceUnavailable", "cannot reach %s: %s", m->cl.server,
			        why);
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

long mnt_http(mnt *m, const char *method, const char *path, const char *ctype, const char *body,
              size_t len, k9_buf *out, k9_err *e)
{
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c = handle(m, path, &hdrs);
	if (ctype) {
		char *h = xasprintf("Content-Type: %s", ctype);
		hdrs = curl_slist_append(hdrs, h);
		free(h);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, m->cl.timeout_ms * 3);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_buf);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	long code = finish(c, rc, errbuf, m, e);
	put_handle(c);
	return code;
}

struct stream {
	mnt *m;
	k9_buf line;
	int (*on_line)(void *, char *, size_t);
	void *arg;
	bool stop;
};

static size_t to_lines(char *p, size_t sz, size_t n, void *arg)
{
	struct stream *s = arg;
	size_t total = sz * n;
	for (size_t i = 0; i < total;) {
		char *nl = memchr(p + i, '\n', total - i);
		size_t take = nl ? (size_t)(nl - (p + i)) : total - i;
		buf_append(&s->line, p + i, take);
		i += take;
		if (nl) {
			i++;
			if (s->line.len && s->on_line(s->arg, s->line.data, s->line.len) < 0)
				s->stop = true;
			s->line.len = 0;
			if (s->stop)
				return 0;
		}
	}
	return total;
}

static int progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)a, (void)b, (void)c, (void)d;
	struct stream *s = arg;
	return atomic_load(&s->m->stopping) || s->stop;
}

long mnt_http_stream(mnt *m, const char *path, int (*on_line)(void *arg, char *line, size_t n),
                     void *arg, k9_err *e)
{
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct stream s = {.m = m, .on_line = on_line, .arg = arg};
	CURL *c = handle(m, path, &hdrs);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_lines);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	long code;
	if ((rc == CURLE_WRITE_ERROR || rc == CURLE_ABORTED_BY_CALLBACK) &&
	    (s.stop || atomic_load(&m->stopping))) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	} else {
		code = finish(c, rc, errbuf, m, e);
	}
	put_handle(c);
	/* a last line without newline (an error body) */
	if (code >= 0 && s.line.len && !s.stop)
		on_line(arg, s.line.data, s.line.len);
	buf_free(&s.line);
	return code;
}

void mnt_http_status(long code, const k9_buf *body, k9_err *e)
{
	json_t *st = body && body->len ? json_loadb(body->data, body->len, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(st, "message"));
	const char *reason = json_string_value(json_object_get(st, "reason"));
	k9_errf(e, (int)code, reason ? reason : "Unknown", "%s",
	        msg ? msg
	            : (code == 401 ? "the server refused the credentials (401 Unauthorized)"
	                           : "the server answered with an error"));
	json_decref(st);
}

int mnt_errno_of(const k9_err *e)
{
	switch (e->code) {
	case 400:
	case 422:
		return EINVAL;
	case 401:
	case 403:
		return EACCES;
	case 404:
		return ENOENT;
	case 405:
		return EPERM;
	case 409:
		return strcmp(e->reason, "AlreadyExists") ? EBUSY : EEXIST;
	case 410:
		return ESTALE;
	case 413:
		return EFBIG;
	default:
		return EIO;
	}
}
