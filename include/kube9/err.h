/*
 * err.h - the one error convention of kube9.
 *
 * A function that can fail returns a negative number (-1) and fills a k9_err
 * owned by the caller: an HTTP-style status code, a Kubernetes Status reason
 * ("NotFound", "Invalid", "Conflict" ...) and one human sentence naming the
 * problem (file, field path, line where there is one). Each layer may prefix
 * context with k9_err_prefix(); only the top (the HTTP handler, the FUSE edge,
 * a command's main) reports it, once.
 */
#ifndef KUBE9_ERR_H
#define KUBE9_ERR_H

#include <stddef.h>

typedef struct k9_err {
	int code;        /* HTTP status: 400, 404, 409, 410, 422, 500 ... */
	char reason[40]; /* Kubernetes StatusReason */
	char msg[2048];  /* the sentence for the user */
} k9_err;

/* Fill e (if not NULL) and return -1. */
int k9_errf(k9_err *e, int code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prepend "prefix: " to e->msg; returns -1 for tail calls. */
int k9_err_prefix(k9_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void k9_err_clear(k9_err *e);

#endif
