/*
 * map.c - a string-keyed hash map (chained, FNV-1a, grows by doubling).
 */
#include <stdlib.h>
#include <string.h>

#include "kube9/map.h"
#include "kube9/util.h"

struct k9_map_ent {
	k9_map_ent *next;
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

static k9_map_ent **slot(const k9_map *m, const char *key, uint64_t h)
{
	k9_map_ent **p = &m->b[h & (m->nb - 1)];
	while (*p && ((*p)->h != h || strcmp((*p)->key, key)))
		p = &(*p)->next;
	return p;
}

void *k9_map_get(const k9_map *m, const char *key)
{
	if (!m->nb)
		return NULL;
	k9_map_ent *e = *slot(m, key, hash(key));
	return e ? e->val : NULL;
}

static void grow(k9_map *m)
{
	size_t nb = m->nb ? m->nb * 2 : 16;
	k9_map_ent **b = xcalloc(nb, sizeof *b);
	for (size_t i = 0; i < m->nb; i++) {
		for (k9_map_ent *e = m->b[i], *next; e; e = next) {
			next = e->next;
			e->next = b[e->h & (nb - 1)];
			b[e->h & (nb - 1)] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

void k9_map_put(k9_map *m, const char *key, void *val)
{
	if (m->n >= m->nb)
		grow(m);
	uint64_t h = hash(key);
	k9_map_ent **p = slot(m, key, h);
	if (*p) {
		(*p)->val = val;
		return;
	}
	size_t kl = strlen(key);
	k9_map_ent *e = xmalloc(sizeof *e + kl + 1);
	memcpy(e->key, key, kl + 1);
	e->h = h;
	e->val = val;
	e->next = NULL;
	*p = e;
	m->n++;
}

void *k9_map_del(k9_map *m, const char *key)
{
	if (!m->nb)
		return NULL;
	k9_map_ent **p = slot(m, key, hash(key)), *e = *p;
	if (!e)
		return NULL;
	void *v = e->val;
	*p = e->next;
	free(e);
	m->n--;
	return v;
}

void k9_map_each(const k9_map *m, void (*fn)(void *val, void *arg), void *arg)
{
	for (size_t i = 0; i < m->nb; i++)
		for (k9_map_ent *e = m->b[i], *next; e; e = next) {
			next = e->next; /* fn may delete e */
			fn(e->val, arg);
		}
}

void k9_map_free(k9_map *m)
{
	for (size_t i = 0; i < m->nb; i++)
		for (k9_map_ent *e = m->b[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	free(m->b);
	memset(m, 0, sizeof *m);
}

void k9_map_each_kv(const k9_map *m, void (*fn)(const char *key, void *val, void *arg), void *arg)
{
	for (size_t i = 0; i < m->nb; i++)
		for (k9_map_ent *e = m->b[i], *next; e; e = next) {
			next = e->next;
			fn(e->key, e->val, arg);
		}
}
