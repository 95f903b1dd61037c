/*
 * obj_quantity.c - exact parsing of Kubernetes resource quantities.
 *
 * <sign><digits>[.<digits>]<suffix>, suffix one of n u m k M G T P E, Ki Mi
 * Gi Ti Pi Ei or an exponent e<int>/E<int>. The number is kept as a decimal
 * digit string, multiplied by the binary suffix's power of two digit by
 * digit, then shifted by the decimal exponent (+3 for milli): no floating
 * point, so nothing is rounded except a fraction below 1m, which rounds up
 * (away from zero), as Kubernetes does.
 */
#include <stdlib.h>
#include <string.h>

#include "kube9/obj.h"
#include "kube9/util.h"

#define MAX_DIGITS 400

struct suffix {
	const char *s;
	int e10, e2;
};

static const struct suffix suffixes[] = {
    {"Ki", 0, 10}, {"Mi", 0, 20}, {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
    {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"", 0, 0},    {"k", 3, 0},   {"M", 6, 0},
    {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},  {NULL, 0, 0},
};

static int bad(k9_err *e, const char *s, const char *why)
{
	return k9_errf(e, 400, "BadRequest", "quantity \"%.100s\": %s", s, why);
}

/* d (most significant first, nd digits) *= 2 */
static void twice(char *d, size_t *nd)
{
	int carry = 0;
	for (size_t i = *nd; i-- > 0;) {
		int v = (d[i] - '0') * 2 + carry;
		d[i] = (char)('0' + v % 10);
		carry = v / 10;
	}
	if (carry) {
		memmove(d + 1, d, *nd);
		d[0] = (char)('0' + carry);
		(*nd)++;
	}
}

int obj_quantity_parse(const char *s, int64_t *milli, k9_err *e)
{
	const char *p = s;
	char d[MAX_DIGITS + 80];
	size_t nd = 0;
	long e10 = 3;
	int e2 = 0;
	bool neg = false, any = false;
	if (!s || !*s)
		return bad(e, s ? s : "", "must not be empty");
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	for (; *p >= '0' && *p <= '9'; p++, any = true)
		if (nd || *p != '0') {
			if (nd >= MAX_DIGITS)
				return bad(e, s, "too many digits");
			d[nd++] = *p;
		}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, any = true) {
			if (nd >= MAX_DIGITS)
				return bad(e, s, "too many digits");
			if (nd || *p != '0')
				d[nd++] = *p;
			e10--;
		}
	}
	if (!any)
		return bad(e, s,
		           "quantities must match the regular expression "
		           "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
	if ((*p == 'e' || *p == 'E') && p[1] && strchr("+-0123456789", p[1])) {
		char *end;
		long x = strtol(p + 1, &end, 10);
		if (end == p + 1 || *end)
			return bad(e, s, "invalid exponent");
		if (x > 1000 || x < -1000)
			return bad(e, s, "exponent out of range");
		e10 += x;
	} else {
		const struct suffix *sf = suffixes;
		while (sf->s && strcmp(sf->s, p) != 0)
			sf++;
		if (!sf->s)
			return bad(e, s, "unable to parse quantity's suffix");
		e10 += sf->e10;
		e2 = sf->e2;
	}
	if (nd == 0) {
		*milli = 0;
		return 0;
	}
	for (int i = 0; i < e2; i++)
		twice(d, &nd);
	/* integer part of d * 10^e10, remembering whether anything was cut off */
	bool frac = false;
	if (e10 < 0) {
		size_t cut = (size_t)-e10 < nd ? (size_t)-e10 : nd;
		for (size_t i = nd - cut; i < nd; i++)
			frac |= d[i] != '0';
		nd -= cut;
	} else {
		if (nd + (size_t)e10 > 19)
			return bad(e, s, "value is too large");
		memset(d + nd, '0', (size_t)e10);
		nd += (size_t)e10;
	}
	if (nd > 19)
		return bad(e, s, "value is too large");
	uint64_t v = 0;
	for (size_t i = 0; i < nd; i++)
		v = v * 10 + (uint64_t)(d[i] - '0');
	if (frac)
		v++;
	if (v > (uint64_t)INT64_MAX)
		return bad(e, s, "value is too large");
	*milli = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}
