/*
 * api_bench.c - load generator for kube9's API server, and for etcd's JSON
 * gateway as the yardstick. It prints figures; it is not a test and has no
 * pass/fail thresholds (bench/run.sh compares the figures with the goals).
 *
 *   api_bench MODE [options]
 *
 *   create    POST --count ~2 KB pods named PREFIX-NNNNNNN into --ns from
 *             --clients threads: creates/s and latency p50/p99/max
 *   get       --count GETs of random pods PREFIX-0 .. PREFIX-(--pool - 1)
 *             from --clients threads: latency p50/p99/max
 *   list      --runs GETs of every pod in --ns (one client): median, min
 *             and max time; checks the list holds --expect items
 *   watch     --watchers threads each hold ?watch=1&resourceVersion=RV on
 *             --ns; one writer then makes --changes changes one at a time
 *             (first half creates, second half merge patches of those
 *             pods). Each change carries CLOCK_MONOTONIC taken just before
 *             its request in an annotation; each watcher computes the delay
 *             when the event's line is complete: p50/p99/max over all
 *             deliveries, and how many of the expected arrived
 *   count     the number of pods in all namespaces (limit=1 and
 *             remainingItemCount)
 *   etcd-put  --count puts of the same ~2 KB pod JSON (the value) under
 *             /registry/pods/NS/NAME through etcd's JSON gateway
 *             (POST /v3/kv/put, base64 key and value, plain HTTP) from
 *             --clients threads: puts/s and latency p50/p99/max
 *
 * Every client thread owns one CURL easy handle, reused for all its requests
 * (HTTP/1.1 keep-alive); it connects, and for HTTPS does its TLS handshake,
 * with one warm-up request before the clock starts. "Expect: 100-continue"
 * is switched off so a POST is one round trip, as with kubectl. Latency is
 * the time around curl_easy_perform, that is request sent to response body
 * received. Figures go to stdout as "TAG.key value" lines (read by
 * bench/run.sh), last the CPU time the client itself used ("client_cpu_s", so
 * run.sh can tell the server's share from the client's and from other
 * processes'); progress and errors go to stderr. Any unexpected response
 * or transport error ends the program with status 1 and the response body.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum { POD_SIZE = 2048, MAX_THREADS = 1000 };

#define SENT_KEY "bench.kube9.io/sent-ns"

static struct {
	const char *url, *token, *cacert, *ns, *prefix, *tag;
	long count, pool, clients, runs, watchers, changes, expect;
} opt = {
    .ns = "default",
    .prefix = "bench",
    .count = 10000,
    .clients = 8,
    .runs = 5,
    .watchers = 100,
    .changes = 1000,
    .expect = -1,
};

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("api_bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "  [%s] ", opt.tag);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* One figure for run.sh: "TAG.key value". */
static void result(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void result(const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s.%s ", opt.tag, key);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	va_end(ap);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

/* A growable byte buffer, always NUL-terminated. */
typedef struct buf {
	char *p;
	size_t len, cap;
} buf;

static void buf_add(buf *b, const void *d, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			die("out of memory");
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void buf_reset(buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = 0;
}

static size_t on_body(char *d, size_t sz, size_t n, void *arg)
{
	buf_add(arg, d, sz * n);
	return sz * n;
}

static char *b64(const void *src, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = src;
	char *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? tab[v & 63] : '=';
	}
	*o = 0;
	return out;
}

/*
 * A realistic pod manifest, padded (in the last annotation) to exactly
 * POD_SIZE bytes of JSON. sent goes into the SENT_KEY annotation with a
 * fixed width. Returns the length; out holds POD_SIZE + 1 bytes.
 */
static size_t make_pod(char *out, const char *ns, const char *name, uint64_t sent)
{
	static const char tail[] =
	    "\"}},"
	    "\"spec\":{\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,"
	    "\"dnsPolicy\":\"ClusterFirst\",\"serviceAccountName\":\"default\","
	    "\"containers\":["
	    "{\"name\":\"web\",\"image\":\"registry.example.com/shop/frontend:1.24.3\","
	    "\"imagePullPolicy\":\"IfNotPresent\","
	    "\"ports\":[{\"name\":\"http\",\"containerPort\":8080,\"protocol\":\"TCP\"}],"
	    "\"env\":[{\"name\":\"LOG_LEVEL\",\"value\":\"info\"},"
	    "{\"name\":\"BACKEND_URL\",\"value\":\"http://backend.shop.svc:8080\"},"
	    "{\"name\":\"CACHE_TTL_SECONDS\",\"value\":\"300\"}],"
	    "\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"128Mi\"},"
	    "\"limits\":{\"cpu\":\"500m\",\"memory\":\"256Mi\"}}},"
	    "{\"name\":\"log-shipper\",\"image\":\"registry.example.com/infra/fluent-bit:2.1.8\","
	    "\"args\":[\"--config\",\"/fluent-bit/etc/fluent-bit.conf\"],"
	    "\"env\":[{\"name\":\"FLUENT_HOST\",\"value\":\"logs.example.com\"},"
	    "{\"name\":\"FLUENT_PORT\",\"value\":\"24224\"}],"
	    "\"resources\":{\"requests\":{\"cpu\":\"50m\",\"memory\":\"64Mi\"},"
	    "\"limits\":{\"cpu\":\"200m\",\"memory\":\"128Mi\"}}}]}}";
	int n = snprintf(out, POD_SIZE + 1,
	                 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
	                 "\"namespace\":\"%s\",\"labels\":{\"app\":\"frontend\",\"tier\":\"web\","
	                 "\"release\":\"stable\",\"pod-template-hash\":\"7d9f8c6b5\"},"
	                 "\"annotations\":{\"prometheus.io/scrape\":\"true\","
	                 "\"prometheus.io/port\":\"9102\","
	                 "\"team.example.com/owner\":\"storefront@example.com\","
	                 "\"" SENT_KEY "\":\"%020" PRIu64 "\",\"bench.kube9.io/pad\":\"",
	                 name, ns, sent);
	size_t head = (size_t)n, tl = sizeof tail - 1;
	if (n < 0 || head + tl > POD_SIZE)
		die("pod manifest for %s does not fit in %d bytes", name, POD_SIZE);
	size_t pad = POD_SIZE - head - tl;
	for (size_t i = 0; i < pad; i++)
		out[head + i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i % 36];
	memcpy(out + head + pad, tail, tl + 1);
	return POD_SIZE;
}

/* One client connection: a reused easy handle. */
typedef struct client {
	CURL *h;
	struct curl_slist *json, *patch; /* header sets */
	buf body;
	char err[CURL_ERROR_SIZE];
	long connects; /* connections opened after the warm-up */
} client;

static struct curl_slist *headers(const char *ctype)
{
	struct curl_slist *l = NULL;
	char a[4200];
	if (opt.token) {
		snprintf(a, sizeof a, "Authorization: Bearer %s", opt.token);
		l = curl_slist_append(l, a);
	}
	snprintf(a, sizeof a, "Content-Type: %s", ctype);
	l = curl_slist_append(l, a);
	l = curl_slist_append(l, "Accept: application/json");
	l = curl_slist_append(l, "Expect:");
	if (!l)
		die("out of memory");
	return l;
}

static void client_init(client *c)
{
	memset(c, 0, sizeof *c);
	if (!(c->h = curl_easy_init()))
		die("curl_easy_init failed");
	c->json = headers("application/json");
	c->patch = headers("application/merge-patch+json");
	curl_easy_setopt(c->h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->err);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->body);
	if (opt.cacert) { /* only this CA: no system CA directory to load per handshake */
		curl_easy_setopt(c->h, CURLOPT_CAINFO, opt.cacert);
		curl_easy_setopt(c->h, CURLOPT_CAPATH, NULL);
	}
}

static void client_free(client *c)
{
	curl_easy_cleanup(c->h);
	curl_slist_free_all(c->json);
	curl_slist_free_all(c->patch);
	free(c->body.p);
}

/*
 * One request on c's connection: method GET (data NULL), POST or PATCH
 * (a merge patch). Returns the HTTP status; the body is in c->body.
 */
static long do_req(client *c, const char *method, const char *url, const char *data, size_t len)
{
	buf_reset(&c->body);
	c->err[0] = 0;
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	bool patch = !strcmp(method, "PATCH");
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, patch ? c->patch : c->json);
	if (data) {
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)len);
		curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, patch ? "PATCH" : NULL);
	} else {
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, NULL);
	}
	CURLcode rc = curl_easy_perform(c->h);
	if (rc != CURLE_OK)
		die("%s %s: %s", method, url, c->err[0] ? c->err : curl_easy_strerror(rc));
	long code = 0, nc = 0;
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(c->h, CURLINFO_NUM_CONNECTS, &nc);
	c->connects += nc;
	return code;
}

/* do_req, and die with the response unless the status is want. */
static void must(client *c, const char *method, const char *url, const char *data, size_t len,
                 long want)
{
	long code = do_req(c, method, url, data, len);
	if (code != want)
		die("%s %s: HTTP %ld, want %ld; response: %.1000s", method, url, code, want,
		    c->body.p ? c->body.p : "");
}

static void ensure_namespace(client *c)
{
	char url[1024], body[512];
	snprintf(url, sizeof url, "%s/api/v1/namespaces", opt.url);
	int n = snprintf(body, sizeof body,
	                 "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":"
	                 "\"%s\"}}",
	                 opt.ns);
	long code = do_req(c, "POST", url, body, (size_t)n);
	if (code != 201 && code != 409)
		die("POST %s (namespace %s): HTTP %ld: %.1000s", url, opt.ns, code, c->body.p);
}

/* Connect (and handshake) before the clock starts. */
static void warm_up(client *c, bool etcd)
{
	char url[1024];
	if (etcd) {
		static const char q[] = "{\"key\":\"d2FybS11cA==\"}"; /* "warm-up" */
		snprintf(url, sizeof url, "%s/v3/kv/range", opt.url);
		must(c, "POST", url, q, sizeof q - 1, 200);
	} else {
		snprintf(url, sizeof url, "%s/api/v1/namespaces/%s", opt.url, opt.ns);
		must(c, "GET", url, NULL, 0, 200);
	}
	c->connects = 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v. */
static double pct_ms(const uint64_t *v, size_t n, double p)
{
	if (!n)
		return NAN;
	size_t i = (size_t)ceil(p * (double)n);
	i = i ? i - 1 : 0;
	if (i >= n)
		i = n - 1;
	return (double)v[i] / 1e6;
}

static void report_latency(const char *what, uint64_t *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_u64);
	result("p50_ms", "%.2f", pct_ms(v, n, 0.50));
	result("p99_ms", "%.2f", pct_ms(v, n, 0.99));
	result("max_ms", "%.2f", pct_ms(v, n, 1.0));
	progress("%s latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu samples)", what,
	         pct_ms(v, n, 0.50), pct_ms(v, n, 0.99), pct_ms(v, n, 1.0), n);
}

/* ---- create, get, etcd-put: CLIENTS threads, each a share of COUNT ---- */

typedef enum { W_CREATE, W_GET, W_ETCD_PUT } wkind;

typedef struct worker {
	pthread_t t;
	int id;
	wkind kind;
	client c;
	uint64_t *lat;
	size_t nlat;
} worker;

static pthread_barrier_t start_line;

static void *worker_main(void *arg)
{
	worker *w = arg;
	client *c = &w->c;
	char url[1024], pod[POD_SIZE + 1], name[256];
	uint64_t rng = 0x9E3779B97F4A7C15ull * (uint64_t)(w->id + 1);
	client_init(c);
	warm_up(c, w->kind == W_ETCD_PUT);
	long n = opt.count / opt.clients + (w->id < opt.count % opt.clients);
	w->lat = xmalloc((size_t)n * sizeof *w->lat);
	if (w->kind == W_CREATE)
		snprintf(url, sizeof url, "%s/api/v1/namespaces/%s/pods", opt.url, opt.ns);
	else if (w->kind == W_ETCD_PUT)
		snprintf(url, sizeof url, "%s/v3/kv/put", opt.url);
	pthread_barrier_wait(&start_line);
	for (long k = 0; k < n; k++) {
		long i = w->id + k * opt.clients; /* unique across threads */
		uint64_t t0;
		switch (w->kind) {
		case W_CREATE: {
			snprintf(name, sizeof name, "%s-%07ld", opt.prefix, i);
			size_t len = make_pod(pod, opt.ns, name, 0);
			t0 = now_ns();
			must(c, "POST", url, pod, len, 201);
			break;
		}
		case W_GET: {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			snprintf(url, sizeof url, "%s/api/v1/namespaces/%s/pods/%s-%07ld", opt.url,
			         opt.ns, opt.prefix, (long)(rng % (uint64_t)opt.pool));
			t0 = now_ns();
			must(c, "GET", url, NULL, 0, 200);
			break;
		}
		case W_ETCD_PUT: {
			char key[512];
			snprintf(name, sizeof name, "%s-%07ld", opt.prefix, i);
			size_t len = make_pod(pod, opt.ns, name, 0);
			int kl = snprintf(key, sizeof key, "/registry/pods/%s/%s", opt.ns, name);
			char *k64 = b64(key, (size_t)kl), *v64 = b64(pod, len);
			size_t bl = strlen(k64) + strlen(v64) + 32;
			char *body = xmalloc(bl);
			int blen =
			    snprintf(body, bl, "{\"key\":\"%s\",\"value\":\"%s\"}", k64, v64);
			t0 = now_ns();
			must(c, "POST", url, body, (size_t)blen, 200);
			free(body);
			free(k64);
			free(v64);
			break;
		}
		default:
			die("bad worker kind");
		}
		w->lat[w->nlat++] = now_ns() - t0;
	}
	return NULL;
}

static int run_workers(wkind kind)
{
	if (opt.clients < 1 || opt.clients > MAX_THREADS || opt.count < 1)
		die("--clients must be 1..%d and --count positive", MAX_THREADS);
	if (kind == W_GET && opt.pool < 1)
		die("get needs --pool N (pods PREFIX-0 .. PREFIX-(N-1) must exist)");
	if (kind == W_CREATE) {
		client c;
		client_init(&c);
		ensure_namespace(&c);
		client_free(&c);
	}
	worker *w = calloc((size_t)opt.clients, sizeof *w);
	if (!w)
		die("out of memory");
	pthread_barrier_init(&start_line, NULL, (unsigned)opt.clients + 1);
	for (long i = 0; i < opt.clients; i++) {
		w[i].id = (int)i;
		w[i].kind = kind;
		if (pthread_create(&w[i].t, NULL, worker_main, &w[i]))
			die("pthread_create failed");
	}
	pthread_barrier_wait(&start_line);
	uint64_t t0 = now_ns();
	for (long i = 0; i < opt.clients; i++)
		pthread_join(w[i].t, NULL);
	double secs = (double)(now_ns() - t0) / 1e9;
	size_t n = 0;
	long reconnects = 0;
	for (long i = 0; i < opt.clients; i++) {
		n += w[i].nlat;
		reconnects += w[i].c.connects;
	}
	uint64_t *all = xmalloc(n * sizeof *all);
	n = 0;
	for (long i = 0; i < opt.clients; i++) {
		memcpy(all + n, w[i].lat, w[i].nlat * sizeof *all);
		n += w[i].nlat;
		free(w[i].lat);
		client_free(&w[i].c);
	}
	static const char *const what[] = {"create", "get", "etcd put"};
	result("count", "%zu", n);
	result("seconds", "%.2f", secs);
	result("rate", "%.0f", (double)n / secs);
	result("reconnects", "%ld", reconnects);
	progress("%zu %ss from %ld clients in %.2f s = %.0f/s (%ld reconnects after warm-up)", n,
	         what[kind], opt.clients, secs, (double)n / secs, reconnects);
	report_latency(what[kind], all, n);
	free(all);
	free(w);
	return 0;
}

/* ---- list ---- */

static size_t count_items(const char *s, size_t len)
{
	static const char pat[] = "\"kind\":\"Pod\"";
	size_t n = 0;
	const char *p = s, *end = s + len;
	while ((p = memmem(p, (size_t)(end - p), pat, sizeof pat - 1))) {
		n++;
		p += sizeof pat - 1;
	}
	return n;
}

static int run_list(void)
{
	if (opt.runs < 1 || opt.runs > 1000)
		die("--runs must be 1..1000");
	client c;
	client_init(&c);
	warm_up(&c, false);
	char url[1024];
	snprintf(url, sizeof url, "%s/api/v1/namespaces/%s/pods", opt.url, opt.ns);
	uint64_t *t = xmalloc((size_t)opt.runs * sizeof *t);
	size_t items = 0, bytes = 0;
	for (long i = 0; i < opt.runs; i++) {
		uint64_t t0 = now_ns();
		must(&c, "GET", url, NULL, 0, 200);
		t[i] = now_ns() - t0;
		items = count_items(c.body.p, c.body.len);
		bytes = c.body.len;
		if (opt.expect >= 0 && items != (size_t)opt.expect)
			die("GET %s: %zu items, want %ld", url, items, opt.expect);
		progress("list %zu pods (%.1f MB): %.1f ms", items, (double)bytes / 1e6,
		         (double)t[i] / 1e6);
	}
	qsort(t, (size_t)opt.runs, sizeof *t, cmp_u64);
	result("items", "%zu", items);
	result("mbytes", "%.1f", (double)bytes / 1e6);
	result("median_ms", "%.1f", (double)t[(opt.runs - 1) / 2] / 1e6);
	result("min_ms", "%.1f", (double)t[0] / 1e6);
	result("max_ms", "%.1f", (double)t[opt.runs - 1] / 1e6);
	result("reconnects", "%ld", c.connects);
	free(t);
	client_free(&c);
	return 0;
}

/* ---- count ---- */

static int run_count(void)
{
	client c;
	client_init(&c);
	char url[1024];
	snprintf(url, sizeof url, "%s/api/v1/pods?limit=1", opt.url);
	must(&c, "GET", url, NULL, 0, 200);
	long n = (long)count_items(c.body.p, c.body.len);
	const char *r = strstr(c.body.p, "\"remainingItemCount\":");
	if (r)
		n += strtol(r + 21, NULL, 10);
	else if (strstr(c.body.p, "\"continue\":\""))
		die("GET %s: a continue token but no remainingItemCount", url);
	result("pods", "%ld", n);
	client_free(&c);
	return 0;
}

/* ---- watch ---- */

typedef struct watcher {
	pthread_t t;
	int id;
	client c;
	buf line; /* the incomplete line so far */
	uint64_t *lat;
	size_t nlat;
	bool synced;
} watcher;

static atomic_long w_synced, w_delivered, w_errors;
static atomic_bool w_stop;
static char w_url[1024];

static void watch_line(watcher *w, const char *s, size_t len, uint64_t now)
{
	static const char key[] = "sent-ns\":\"";
	const char *p = memmem(s, len, key, sizeof key - 1);
	if (!p) {
		if (atomic_fetch_add(&w_errors, 1) < 3)
			fprintf(stderr, "api_bench: watcher %d: unexpected line: %.500s\n", w->id,
			        s);
		return;
	}
	uint64_t sent = strtoull(p + sizeof key - 1, NULL, 10);
	if (!sent) {
		if (!w->synced) {
			w->synced = true;
			atomic_fetch_add(&w_synced, 1);
		}
		return;
	}
	if (w->nlat < (size_t)opt.changes)
		w->lat[w->nlat++] = now - sent;
	atomic_fetch_add(&w_delivered, 1);
}

static size_t on_watch_data(char *d, size_t sz, size_t n, void *arg)
{
	watcher *w = arg;
	uint64_t now = now_ns();
	size_t len = sz * n;
	const char *p = d, *end = d + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			buf_add(&w->line, p, (size_t)(end - p));
			break;
		}
		if (w->line.len) {
			buf_add(&w->line, p, (size_t)(nl - p));
			watch_line(w, w->line.p, w->line.len, now);
			buf_reset(&w->line);
		} else {
			watch_line(w, p, (size_t)(nl - p), now);
		}
		p = nl + 1;
	}
	return len;
}

static int on_watch_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)arg;
	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return atomic_load(&w_stop) ? 1 : 0;
}

static void *watcher_main(void *arg)
{
	watcher *w = arg;
	client_init(&w->c);
	curl_easy_setopt(w->c.h, CURLOPT_URL, w_url);
	curl_easy_setopt(w->c.h, CURLOPT_HTTPHEADER, w->c.json);
	curl_easy_setopt(w->c.h, CURLOPT_WRITEFUNCTION, on_watch_data);
	curl_easy_setopt(w->c.h, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->c.h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(w->c.h, CURLOPT_XFERINFOFUNCTION, on_watch_progress);
	CURLcode rc = curl_easy_perform(w->c.h);
	long code = 0;
	curl_easy_getinfo(w->c.h, CURLINFO_RESPONSE_CODE, &code);
	if (!atomic_load(&w_stop) || (rc != CURLE_ABORTED_BY_CALLBACK && rc != CURLE_OK)) {
		fprintf(stderr, "api_bench: watcher %d: stream ended early: HTTP %ld, %s\n", w->id,
		        code, w->c.err[0] ? w->c.err : curl_easy_strerror(rc));
		atomic_fetch_add(&w_errors, 1);
	} else if (code != 200) {
		fprintf(stderr, "api_bench: watcher %d: HTTP %ld\n", w->id, code);
		atomic_fetch_add(&w_errors, 1);
	}
	return NULL;
}

/* Wait until *v reaches want or timeout_s passes; returns the last value. */
static long wait_for(atomic_long *v, long want, int timeout_s)
{
	uint64_t until = now_ns() + (uint64_t)timeout_s * 1000000000u;
	long x;
	while ((x = atomic_load(v)) < want && now_ns() < until)
		usleep(1000);
	return x;
}

static int run_watch(void)
{
	if (opt.watchers < 1 || opt.watchers > MAX_THREADS || opt.changes < 2)
		die("--watchers must be 1..%d and --changes at least 2", MAX_THREADS);
	client m;
	client_init(&m);
	ensure_namespace(&m);
	char url[1024], body[POD_SIZE + 1], name[256];
	snprintf(url, sizeof url, "%s/api/v1/namespaces/%s/pods?limit=1", opt.url, opt.ns);
	must(&m, "GET", url, NULL, 0, 200);
	const char *rvp = strstr(m.body.p, "\"resourceVersion\":\"");
	if (!rvp)
		die("GET %s: no resourceVersion in %.500s", url, m.body.p);
	long long rv = strtoll(rvp + 19, NULL, 10);
	snprintf(w_url, sizeof w_url,
	         "%s/api/v1/namespaces/%s/pods?watch=1&resourceVersion=%lld&timeoutSeconds=900",
	         opt.url, opt.ns, rv);
	progress("%ld watchers on %s", opt.watchers, w_url);
	watcher *w = calloc((size_t)opt.watchers, sizeof *w);
	if (!w)
		die("out of memory");
	for (long i = 0; i < opt.watchers; i++) {
		w[i].id = (int)i;
		w[i].lat = xmalloc((size_t)opt.changes * sizeof *w[i].lat);
		if (pthread_create(&w[i].t, NULL, watcher_main, &w[i]))
			die("pthread_create failed");
	}
	/* A first object every watcher must see: then all streams are open. */
	snprintf(url, sizeof url, "%s/api/v1/namespaces/%s/pods", opt.url, opt.ns);
	snprintf(name, sizeof name, "%s-sync", opt.prefix);
	size_t len = make_pod(body, opt.ns, name, 0);
	must(&m, "POST", url, body, len, 201);
	long s = wait_for(&w_synced, opt.watchers, 60);
	if (s < opt.watchers)
		die("only %ld of %ld watchers saw the first event within 60 s", s, opt.watchers);
	progress("all %ld streams open; %ld changes, one at a time", opt.watchers, opt.changes);
	long ncreate = opt.changes / 2 + opt.changes % 2;
	uint64_t *wl = xmalloc((size_t)opt.changes * sizeof *wl);
	uint64_t t0 = now_ns();
	for (long i = 0; i < opt.changes; i++) {
		uint64_t sent = now_ns();
		if (i < ncreate) {
			snprintf(name, sizeof name, "%s-%07ld", opt.prefix, i);
			len = make_pod(body, opt.ns, name, sent);
			snprintf(url, sizeof url, "%s/api/v1/namespaces/%s/pods", opt.url, opt.ns);
			must(&m, "POST", url, body, len, 201);
		} else {
			snprintf(url, sizeof url, "%s/api/v1/namespaces/%s/pods/%s-%07ld", opt.url,
			         opt.ns, opt.prefix, i - ncreate);
			int n = snprintf(body, sizeof body,
			                 "{\"metadata\":{\"annotations\":{\"" SENT_KEY
			                 "\":\"%020" PRIu64 "\"}}}",
			                 sent);
			must(&m, "PATCH", url, body, (size_t)n, 200);
		}
		wl[i] = now_ns() - sent;
	}
	double secs = (double)(now_ns() - t0) / 1e9;
	long want = opt.watchers * opt.changes;
	long got = wait_for(&w_delivered, want, 60);
	atomic_store(&w_stop, true);
	for (long i = 0; i < opt.watchers; i++)
		pthread_join(w[i].t, NULL);
	progress("%ld changes in %.2f s (%.0f/s); %ld of %ld deliveries", opt.changes, secs,
	         (double)opt.changes / secs, got, want);
	size_t n = 0;
	for (long i = 0; i < opt.watchers; i++)
		n += w[i].nlat;
	uint64_t *all = xmalloc(n * sizeof *all);
	n = 0;
	for (long i = 0; i < opt.watchers; i++) {
		memcpy(all + n, w[i].lat, w[i].nlat * sizeof *all);
		n += w[i].nlat;
		free(w[i].lat);
		free(w[i].line.p);
		client_free(&w[i].c);
	}
	result("watchers", "%ld", opt.watchers);
	result("changes", "%ld", opt.changes);
	result("write_rate", "%.0f", (double)opt.changes / secs);
	result("delivered", "%ld", got);
	result("expected", "%ld", want);
	result("errors", "%ld", atomic_load(&w_errors));
	report_latency("delivery", all, n);
	qsort(wl, (size_t)opt.changes, sizeof *wl, cmp_u64);
	result("write_p50_ms", "%.2f", pct_ms(wl, (size_t)opt.changes, 0.50));
	result("write_p99_ms", "%.2f", pct_ms(wl, (size_t)opt.changes, 0.99));
	free(wl);
	free(all);
	free(w);
	client_free(&m);
	if (got != want || atomic_load(&w_errors))
		fprintf(stderr, "api_bench: WARNING: %ld of %ld deliveries, %ld stream errors\n",
		        got, want, atomic_load(&w_errors));
	return 0;
}

static void usage(FILE *f)
{
	fputs("usage: api_bench create|get|list|watch|count|etcd-put --url URL [options]\n"
	      "  --url URL        https://127.0.0.1:PORT (kube9) or http://127.0.0.1:PORT (etcd)\n"
	      "  --token TOKEN    bearer token (kube9)\n"
	      "  --cacert FILE    CA certificate of the server (kube9)\n"
	      "  --ns NS          namespace (default default)\n"
	      "  --prefix P       pod names P-NNNNNNN (default bench)\n"
	      "  --count N        requests for create/get/etcd-put (default 10000)\n"
	      "  --pool N         get: pods P-0 .. P-(N-1) exist\n"
	      "  --clients N      client threads (default 8)\n"
	      "  --runs N         list: repetitions (default 5)\n"
	      "  --expect N       list: the list must hold N pods\n"
	      "  --watchers N     watch: streams (default 100)\n"
	      "  --changes N      watch: writes (default 1000)\n"
	      "  --tag T          prefix of the result lines (default MODE)\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *mode = argv[1];
	opt.tag = mode;
	for (int i = 2; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			die("%s needs a value", k);
		char *end = NULL;
		long n = strtol(v, &end, 10);
		bool num = *v && !*end;
		long *slot = !strcmp(k, "--count")      ? &opt.count
		             : !strcmp(k, "--pool")     ? &opt.pool
		             : !strcmp(k, "--clients")  ? &opt.clients
		             : !strcmp(k, "--runs")     ? &opt.runs
		             : !strcmp(k, "--expect")   ? &opt.expect
		             : !strcmp(k, "--watchers") ? &opt.watchers
		             : !strcmp(k, "--changes")  ? &opt.changes
		                                        : NULL;
		if (slot) {
			if (!num)
				die("%s %s: not a number", k, v);
			*slot = n;
		} else if (!strcmp(k, "--url")) {
			opt.url = v;
		} else if (!strcmp(k, "--token")) {
			opt.token = v;
		} else if (!strcmp(k, "--cacert")) {
			opt.cacert = v;
		} else if (!strcmp(k, "--ns")) {
			opt.ns = v;
		} else if (!strcmp(k, "--prefix")) {
			opt.prefix = v;
		} else if (!strcmp(k, "--tag")) {
			opt.tag = v;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!opt.url)
		die("--url is required");
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		die("curl_global_init failed");
	int rc;
	if (!strcmp(mode, "create"))
		rc = run_workers(W_CREATE);
	else if (!strcmp(mode, "get"))
		rc = run_workers(W_GET);
	else if (!strcmp(mode, "etcd-put"))
		rc = run_workers(W_ETCD_PUT);
	else if (!strcmp(mode, "list"))
		rc = run_list();
	else if (!strcmp(mode, "watch"))
		rc = run_watch();
	else if (!strcmp(mode, "count"))
		rc = run_count();
	else
		die("unknown mode %s", mode);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	result("client_cpu_s", "%.2f",
	       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	curl_global_cleanup();
	return rc;
}
