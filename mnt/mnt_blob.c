/*
 * mnt_blob.c - the refcounted texts open files share with the mount's cache.
 */
#include <stdlib.h>
#include <string.h>

#include "mnt.h"

mnt_blob *mnt_blob_new(const char *p, size_t n)
{
	mnt_blob *b = xmalloc(sizeof *b + n + 1);
	atomic_init(&b->refs, 1);
	b->len = n;
	memcpy(b->data, p, n);
	b->data[n] = 0;
	return b;
}

mnt_blob *mnt_blob_ref(mnt_blob *b)
{
	if (b)
		atomic_fetch_add(&b->refs, 1);
	return b;
}

void mnt_blob_unref(mnt_blob *b)
{
	if (b && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}
