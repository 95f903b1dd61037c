/*
 * store_key.c - key construction and key-range helpers of the store.
 *
 * Keys are opaque byte strings to SQLite: they are always bound as
 * parameters and compared with the BINARY collation (memcmp), so any bytes
 * are safe. A prefix scan is the half-open range [prefix, prefix_end) where
 * prefix_end is the prefix with its last byte incremented; that is exact
 * ("pods/" never matches "podsx/") and uses the primary-key index.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube9/util.h"
#include "store_sqlite_int.h"

void store_key(char *out, size_t n, const char *group, const char *resource, const char *ns,
               const char *name)
{
	if (!n)
		return;
	if (group && *group)
		snprintf(out, n, "%s.%s/%s/%s", group, resource ? resource : "", ns ? ns : "",
		         name ? name : "");
	else
		snprintf(out, n, "%s/%s/%s", resource ? resource : "", ns ? ns : "",
		         name ? name : "");
}

void store_obj_free(store_obj *o)
{
	if (!o)
		return;
	free(o->key);
	free(o->value);
	o->key = o->value = NULL;
	o->len = 0;
	o->rev = 0;
}

char *sq_prefix_end(const char *prefix)
{
	size_t n = prefix ? strlen(prefix) : 0;
	while (n > 0 && (unsigned char)prefix[n - 1] == 0xff)
		n--;
	if (n == 0)
		return NULL;
	char *end = xstrndup(prefix, n);
	end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
	return end;
}

int sq_bind_end(sqlite3_stmt *st, int idx, const char *end)
{
	/*
	 * SQLite orders every TEXT value before every BLOB, and a TEXT-affinity
	 * column leaves a BLOB operand as is, so "key < x''" holds for all keys.
	 */
	if (!end)
		return sqlite3_bind_zeroblob(st, idx, 0);
	return sqlite3_bind_text(st, idx, end, -1, SQLITE_TRANSIENT);
}

bool sq_has_prefix(const char *key, size_t klen, const char *prefix, size_t plen)
{
	return klen >= plen && memcmp(key, prefix, plen) == 0;
}
