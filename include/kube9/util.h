/*
 * util.h - small helpers shared by every module: allocation that aborts on
 * failure (so call sites stay clean), logging to stderr with a level, time
 * stamps in the Kubernetes formats, random identifiers, base64.
 */
#ifndef KUBE9_UTIL_H
#define KUBE9_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable byte buffer; data is always NUL-terminated. */
typedef struct k9_buf {
	char *data;
	size_t len, cap;
} k9_buf;
void buf_append(k9_buf *b, const void *p, size_t n);
void buf_puts(k9_buf *b, const char *s);
void buf_printf(k9_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Set the length to n: cut, or grow with zero bytes. */
void buf_resize(k9_buf *b, size_t n);
void buf_free(k9_buf *b);
/* Hand the data to the caller; b is empty afterwards. */
char *buf_steal(k9_buf *b, size_t *len);

enum { LOG_ERR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };
extern int k9_log_level;
void k9_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A library's message (libmicrohttpd's external logger), at debug level after prefix. */
void k9_log_lib(void *prefix, const char *fmt, va_list ap);
#define log_err(...)   k9_log(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  k9_log(LOG_WARN, __VA_ARGS__)
#define log_info(...)  k9_log(LOG_INFO, __VA_ARGS__)
#define log_debug(...) k9_log(LOG_DEBUG, __VA_ARGS__)

/* RFC 3339 UTC "2006-01-02T15:04:05Z" of now, into out (>= 21 bytes). */
void k9_now_rfc3339(char *out, size_t n);

/*
 * Option values of the commands: the value given to --FLAG of PROG, which
 * must be a number within [lo, hi] (an integer for k9_flag_int), or true or
 * false; false with a logged sentence naming the flag when it is not.
 */
bool k9_flag_num(const char *prog, const char *flag, const char *value, double lo, double hi,
                 double *out);
bool k9_flag_int(const char *prog, const char *flag, const char *value, long lo, long hi,
                 long *out);
bool k9_flag_bool(const char *prog, const char *flag, const char *value, bool *out);
/* SIGTERM and SIGINT set *flag (a long-running command's way out of its loop). */
void k9_stop_on_signals(volatile int *flag);
/* t as RFC 3339 UTC ("2026-11-28T02:00:00Z"), and the time such a text names (-1 if none). */
void k9_rfc3339(time_t t, char *out, size_t n);
time_t k9_parse_rfc3339(const char *s);
/* Monotonic clock in nanoseconds. */
uint64_t k9_mono_ns(void);
/* Fill out with n random bytes from getrandom(2). */
void k9_random(void *out, size_t n);
/* A random RFC 4122 version 4 UUID, 36 chars + NUL. */
void k9_uuid(char out[37]);
/* n random chars of [bcdfghjklmnpqrstvwxz2456789] (Kubernetes' generateName alphabet). */
void k9_rand_suffix(char *out, size_t n);

/* Standard base64. Decode returns -1 on bad input. Both return malloc'd data. */
char *k9_b64_encode(const void *p, size_t n);
int k9_b64_decode(const char *s, size_t n, unsigned char **out, size_t *outlen);

/* Read a whole file (NUL-terminated); NULL with errno on failure. */
char *k9_read_file(const char *path, size_t *len);
/* Write atomically: temp file in the same dir, fsync, rename. -1 with errno. */
/* Replaced atomically (rename), not synced: survives a crash of the process, not of the host. */
int k9_replace_file(const char *path, const void *p, size_t n, int mode);
int k9_write_file_atomic(const char *path, const void *p, size_t n, int mode);
/* mkdir -p. */
int k9_mkdir_p(const char *path, int mode);
/* rm -rf that never crosses into another filesystem (a mount left inside). */
int k9_rm_rf(const char *path);

#endif
