/* err.c - the k9_err convention (see include/kube9/err.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kube9/err.h"

int k9_errf(k9_err *e, int code, const char *reason, const char *fmt, ...)
{
	if (!e)
		return -1;
	va_list ap;
	e->code = code;
	snprintf(e->reason, sizeof e->reason, "%s", reason ? reason : "");
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int k9_err_prefix(k9_err *e, const char *fmt, ...)
{
	if (!e)
		return -1;
	char pre[512], old[sizeof e->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	size_t n = strlen(pre);
	if (n > sizeof e->msg - 3)
		n = sizeof e->msg - 3;
	memcpy(e->msg, pre, n);
	memcpy(e->msg + n, ": ", 2);
	size_t rest = strnlen(old, sizeof old - 1);
	if (rest > sizeof e->msg - n - 3)
		rest = sizeof e->msg - n - 3;
	memcpy(e->msg + n + 2, old, rest);
	e->msg[n + 2 + rest] = 0;
	return -1;
}

void k9_err_clear(k9_err *e)
{
	if (e)
		memset(e, 0, sizeof *e);
}
