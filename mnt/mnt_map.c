/*
 * mnt_map.c - the string-keyed hash map of the mount's cache, and the
 * refcounted texts open files share with it.
 */
#include <stdlib.h>
#include <string.h>

#include "mnt.h"

struct mnt_map_ent {
	mnt_map_ent *next;
	uint64_t h;
	void *val;
	char key[];
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static mnt_map_ent **slot(const mnt_map *m, const char *key, uint64_t h)
{
	mnt_map_ent **p = &m->b[h & (m->nb - 1)];
	while (*p && ((*p)->h != h || strcmp((*p)->key, key)))
		p = &(*p)->next;
	return p;
}

void *mnt_map_get(const mnt_map *m, const char *key)
{
	if (!m->nb)
		return NULL;
	mnt_map_ent *e = *slot(m, key, hash(key));
	return e ? e->val : NULL;
}

static void grow(mnt_map *m)
{
	size_t nb = m->nb ? m->nb * 2 : 16;
	mnt_map_ent **b = xcalloc(nb, sizeof *b);
	for (size_t i = 0; i < m->nb; i++) {
		for (mnt_map_ent *e = m->b[i], *next; e; e = next) {
			next = e->next;
			e->next = b[e->h & (nb - 1)];
			b[e->h & (nb - 1)] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

void mnt_map_put(mnt_map *m, const char *key, void *val)
{
	if (m->n >= m->nb)
		grow(m);
	uint64_t h = hash(key);
	mnt_map_ent **p = slot(m, key, h);
	if (*p) {
		(*p)->val = val;
		return;
	}
	size_t kl = strlen(key);
	mnt_map_ent *e = xmalloc(sizeof *e + kl + 1);
	memcpy(e->key, key, kl + 1);
	e->h = h;
	e->val = val;
	e->next = NULL;
	*p = e;
	m->n++;
}

void *mnt_map_del(mnt_map *m, const char *key)
{
	if (!m->nb)
		return NULL;
	mnt_map_ent **p = slot(m, key, hash(key)), *e = *p;
	if (!e)
		return NULL;
	void *v = e->val;
	*p = e->next;
	free(e);
	m->n--;
	return v;
}

void mnt_map_each(const mnt_map *m, void (*fn)(void *val, void *arg), void *arg)
{
	for (size_t i = 0; i < m->nb; i++)
		for (mnt_map_ent *e = m->b[i], *next; e; e = next) {
			next = e->next; /* fn may delete e */
			fn(e->val, arg);
		}
}

void mnt_map_free(mnt_map *m)
{
	for (size_t i = 0; i < m->nb; i++)
		for (mnt_map_ent *e = m->b[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	free(m->b);
	memset(m, 0, sizeof *m);
}

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
