/* util.c - allocation, buffers, logging, clocks, random ids, base64, files. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kube9/util.h"

static void oom(void)
{
	fputs("kube9: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		oom();
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (!p)
		oom();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		oom();
	va_end(ap);
	return p;
}

/* Room for n bytes and the NUL. */
static void reserve(k9_buf *b, size_t n)
{
	if (n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < n + 1)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
}

void buf_resize(k9_buf *b, size_t n)
{
	reserve(b, n);
	if (n > b->len)
		memset(b->data + b->len, 0, n - b->len);
	b->len = n;
	b->data[n] = 0;
}

void buf_append(k9_buf *b, const void *p, size_t n)
{
	reserve(b, b->len + n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
}

void buf_puts(k9_buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void buf_printf(k9_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *p;
	va_start(ap, fmt);
	int n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	buf_append(b, p, (size_t)n);
	free(p);
}

void buf_free(k9_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *buf_steal(k9_buf *b, size_t *len)
{
	char *p = b->data ? b->data : xstrdup("");
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

int k9_log_level = LOG_INFO;
static const char *const level_names[] = {"error", "warning", "info", "debug"};

void k9_log(int level, const char *fmt, ...)
{
	if (level > k9_log_level)
		return;
	char ts[32], line[4096];
	struct timespec t;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &t);
	gmtime_r(&t.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s.%03ldZ %s kube9[%d]: %s\n", ts, t.tv_nsec / 1000000, level_names[level],
	        (int)getpid(), line);
}

void k9_rfc3339(time_t t, char *out, size_t n)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void k9_now_rfc3339(char *out, size_t n)
{
	k9_rfc3339(time(NULL), out, n);
}

time_t k9_parse_rfc3339(const char *s)
{
	struct tm tm = {0};
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
	return end ? timegm(&tm) : (time_t)-1;
}

uint64_t k9_mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

void k9_random(void *out, size_t n)
{
	unsigned char *p = out;
	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			abort();
		}
		p += r;
		n -= (size_t)r;
	}
}

void k9_uuid(char out[37])
{
	unsigned char b[16];
	k9_random(b, sizeof b);
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
	         b[13], b[14], b[15]);
}

void k9_rand_suffix(char *out, size_t n)
{
	static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
	unsigned char b[64];
	if (n > sizeof b)
		n = sizeof b;
	k9_random(b, n);
	for (size_t i = 0; i < n; i++)
		out[i] = alpha[b[i] % (sizeof alpha - 1)];
	out[n] = 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *k9_b64_encode(const void *p, size_t n)
{
	const unsigned char *s = p;
	char *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;
	size_t i;
	for (i = 0; i + 2 < n; i += 3) {
		*o++ = b64[s[i] >> 2];
		*o++ = b64[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
		*o++ = b64[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
		*o++ = b64[s[i + 2] & 63];
	}
	if (i < n) {
		*o++ = b64[s[i] >> 2];
		if (i + 1 < n) {
			*o++ = b64[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
			*o++ = b64[(s[i + 1] & 15) << 2];
		} else {
			*o++ = b64[(s[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = 0;
	return out;
}

static int b64_val(int c)
{
	const char *p = c ? strchr(b64, c) : NULL;
	return p ? (int)(p - b64) : -1;
}

int k9_b64_decode(const char *s, size_t n, unsigned char **out, size_t *outlen)
{
	if (n % 4)
		return -1;
	unsigned char *o = xmalloc(n / 4 * 3 + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;
		for (int j = 0; j < 4; j++) {
			if (s[i + j] == '=' && i + 4 == n && j >= 2) {
				v[j] = 0;
				pad++;
			} else if (pad || (v[j] = b64_val((unsigned char)s[i + j])) < 0) {
				free(o);
				return -1;
			}
		}
		o[k++] = (unsigned char)((v[0] << 2) | (v[1] >> 4));
		if (pad < 2)
			o[k++] = (unsigned char)((v[1] << 4) | (v[2] >> 2));
		if (pad < 1)
			o[k++] = (unsigned char)((v[2] << 6) | v[3]);
	}
	o[k] = 0;
	*out = o;
	*outlen = k;
	return 0;
}

char *k9_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	k9_buf b = {0};
	char tmp[65536];
	for (;;) {
		ssize_t r = read(fd, tmp, sizeof tmp);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = errno;
			close(fd);
			buf_free(&b);
			errno = err;
			return NULL;
		}
		if (r == 0)
			break;
		buf_append(&b, tmp, (size_t)r);
	}
	close(fd);
	return buf_steal(&b, len);
}

static int write_replace(const char *path, const void *p, size_t n, int mode, bool sync)
{
	char *tmp = xasprintf("%s.tmp.%d", path, (int)gettid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		goto fail;
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail_close;
		c += w;
		n -= (size_t)w;
	}
	if ((sync && fsync(fd) < 0) || close(fd) < 0) {
		fd = -1;
		goto fail_unlink;
	}
	if (rename(tmp, path) < 0)
		goto fail_unlink;
	free(tmp);
	return 0;
fail_close:
	close(fd);
fail_unlink : {
	int err = errno;
	unlink(tmp);
	errno = err;
}
fail:
	free(tmp);
	return -1;
}

int k9_write_file_atomic(const char *path, const void *p, size_t n, int mode)
{
	return write_replace(path, p, n, mode, true);
}

int k9_replace_file(const char *path, const void *p, size_t n, int mode)
{
	return write_replace(path, p, n, mode, false);
}

void k9_log_lib(void *prefix, const char *fmt, va_list ap)
{
	char line[1024];
	vsnprintf(line, sizeof line, fmt, ap);
	line[strcspn(line, "\n")] = 0;
	log_debug("%s: %s", (const char *)prefix, line);
}

int k9_mkdir_p(const char *path, int mode)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	int r = mkdir(p, (mode_t)mode);
	free(p);
	return r < 0 && errno != EEXIST ? -1 : 0;
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	return (type == FTW_DP ? rmdir(p) : unlink(p)) < 0 && errno != ENOENT ? -1 : 0;
}

int k9_rm_rf(const char *path)
{
	if (access(path, F_OK) < 0)
		return 0;
	return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

bool k9_flag_num(const char *prog, const char *flag, const char *value, double lo, double hi,
                 double *out)
{
	char *end;
	errno = 0;
	double v = strtod(value, &end);
	if (end == value || *end || errno || !(v >= lo && v <= hi)) {
		log_err("%s: --%s %s: give a number from %g to %g", prog, flag, value, lo, hi);
		return false;
	}
	*out = v;
	return true;
}

bool k9_flag_int(const char *prog, const char *flag, const char *value, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(value, &end, 10);
	if (end == value || *end || errno || v < lo || v > hi) {
		if (hi == LONG_MAX)
			log_err("%s: --%s %s: give a whole number of at least %ld", prog, flag,
			        value, lo);
		else
			log_err("%s: --%s %s: give a whole number from %ld to %ld", prog, flag,
			        value, lo, hi);
		return false;
	}
	*out = v;
	return true;
}

bool k9_flag_bool(const char *prog, const char *flag, const char *value, bool *out)
{
	if (strcmp(value, "true") && strcmp(value, "false")) {
		log_err("%s: --%s %s: say true or false", prog, flag, value);
		return false;
	}
	*out = !strcmp(value, "true");
	return true;
}

static volatile int *stop_flag;

static void on_stop_signal(int sig)
{
	(void)sig;
	*stop_flag = 1;
}

void k9_stop_on_signals(volatile int *flag)
{
	stop_flag = flag;
	struct sigaction sa = {.sa_handler = on_stop_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}
