/* test_quantity.c - obj_quantity_parse: exact milli-units, rounding, errors. */
#include <stdint.h>

#include "kube9/obj.h"
#include "tap.h"

static void good(const char *s, int64_t want)
{
	int64_t got = -12345;
	k9_err e = {0};
	int rc = obj_quantity_parse(s, &got, &e);
	ok(rc == 0 && got == want, "\"%s\" -> %lld (got %lld%s%s)", s, (long long)want,
	   (long long)got, rc ? ": " : "", rc ? e.msg : "");
}

static void bad(const char *s, const char *want)
{
	int64_t got = 0;
	k9_err e = {0};
	int rc = obj_quantity_parse(s, &got, &e);
	ok(rc < 0 && e.code == 400 && strstr(e.msg, want), "\"%s\" refused: %s", s, e.msg);
}

int main(void)
{
	good("250m", 250);
	good("1", 1000);
	good("0", 0);
	good("128Mi", 134217728000LL);
	good("1Ki", 1024000);
	good("1.5Gi", 1610612736000LL);
	good("0.1", 100);
	good(".5", 500);
	good("1.", 1000);
	good("1e3", 1000000);
	good("1E3", 1000000);
	good("1e-3", 1);
	good("2.5e-1", 250);
	good("100n", 1);
	good("1u", 1);
	good("1500u", 2);
	good("1000000n", 1);
	good("1001n", 1);
	good("-1", -1000);
	good("-100n", -1);
	good("+2", 2000);
	good("1k", 1000000);
	good("1M", 1000000000LL);
	good("1G", 1000000000000LL);
	good("2T", 2000000000000000LL);
	good("1P", 1000000000000000000LL);
	good("8Pi", 9007199254740992000LL);
	good("0.000000000000000000000000000000000001", 1);
	good("0000000000000000000000000000000000000000000000000012", 12000);
	good("1.0000000000000000000000000000000001", 1001);
	good("3.5Ki", 3584000);
	good("0.5Mi", 524288000);
	good("0Ei", 0);
	bad("1.2.3", "suffix");
	bad("Mi", "regular expression");
	bad("12Q", "suffix");
	bad("", "empty");
	bad("1E", "too large");
	bad("1Ei", "too large");
	bad("10P", "too large");
	bad("9223372036854775807", "too large");
	bad("99999999999999999999999999999", "too large");
	bad("1e1000000", "out of range");
	bad("1e", "suffix");
	bad("1e+", "invalid exponent");
	bad("1 ", "suffix");
	bad(" 1", "regular expression");
	bad("1mi", "suffix");
	bad("--1", "regular expression");
	return tap_done();
}
