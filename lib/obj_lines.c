/*
 * obj_lines.c - the source position map of decoded documents (obj_lines)
 * and the field path helpers.
 *
 * One open-addressing hash table from string keys to integers:
 *   "p<pointer>"      -> line of that json_t node
 *   "r<pointer>"      -> document index of a document root
 *   "d<doc>:<path>"   -> line of the field at path in document doc
 * Paths make lookups work for the shared true/false/null singletons and
 * for copies of a decoded tree. Every setter accepts a NULL map (no-op), so
 * callers that want no positions pay nothing. The "d" keys of each document
 * are also listed per document, so moving one document's keys costs its
 * own keys, not the whole table (a stream of 10,000 documents was
 * quadratic).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube9/map.h"
#include "obj_priv.h"

struct ent {
	char *key;
	long val;
};

struct keyvec {
	char **k; /* the table's own key strings */
	size_t n, cap;
};

struct obj_lines {
	struct ent *tab;
	size_t cap, n;
	k9_map bydoc; /* "DOC" -> struct keyvec of its "dDOC:..." keys */
};

static size_t hash(const char *s)
{
	size_t h = 1469598103934665603ull;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static struct ent *find(const obj_lines *l, const char *key)
{
	if (!l || !l->cap)
		return NULL;
	for (size_t i = hash(key) & (l->cap - 1);; i = (i + 1) & (l->cap - 1)) {
		struct ent *e = &l->tab[i];
		if (!e->key || strcmp(e->key, key) == 0)
			return e;
	}
}

static void put(obj_lines *l, const char *key, long val)
{
	if ((l->n + 1) * 2 > l->cap) {
		struct ent *old = l->tab;
		size_t oldcap = l->cap;
		l->cap = oldcap ? oldcap * 2 : 64;
		l->tab = xcalloc(l->cap, sizeof *l->tab);
		l->n = 0;
		for (size_t i = 0; i < oldcap; i++) {
			if (!old[i].key)
				continue;
			struct ent *e = find(l, old[i].key);
			*e = old[i];
			l->n++;
		}
		free(old);
	}
	struct ent *e = find(l, key);
	if (!e->key) {
		e->key = xstrdup(key);
		l->n++;
		if (key[0] == 'd') {
			char doc[32];
			snprintf(doc, sizeof doc, "%.*s", (int)strcspn(key + 1, ":"), key + 1);
			struct keyvec *v = k9_map_get(&l->bydoc, doc);
			if (!v) {
				v = xcalloc(1, sizeof *v);
				k9_map_put(&l->bydoc, doc, v);
			}
			if (v->n == v->cap) {
				v->cap = v->cap ? 2 * v->cap : 16;
				v->k = xrealloc(v->k, v->cap * sizeof *v->k);
			}
			v->k[v->n++] = e->key;
		}
	}
	e->val = val;
}

static long get(const obj_lines *l, const char *key, long dflt)
{
	struct ent *e = find(l, key);
	return e && e->key ? e->val : dflt;
}

obj_lines *obj_lines_new(void)
{
	return xcalloc(1, sizeof(obj_lines));
}

static void free_vec(void *val, void *arg)
{
	(void)arg;
	struct keyvec *v = val;
	free(v->k);
	free(v);
}

void obj_lines_free(obj_lines *l)
{
	if (!l)
		return;
	k9_map_each(&l->bydoc, free_vec, NULL);
	k9_map_free(&l->bydoc);
	for (size_t i = 0; i < l->cap; i++)
		free(l->tab[i].key);
	free(l->tab);
	free(l);
}

static int singleton(const json_t *n)
{
	return !n || json_is_true(n) || json_is_false(n) || json_is_null(n);
}

void obj_lines_set_node(obj_lines *l, const json_t *node, int line)
{
	char k[40];
	if (!l || singleton(node))
		return;
	snprintf(k, sizeof k, "p%p", (const void *)node);
	put(l, k, line);
}

int obj_lines_get(const obj_lines *l, const json_t *node)
{
	char k[40];
	if (singleton(node))
		return 0;
	snprintf(k, sizeof k, "p%p", (const void *)node);
	return (int)get(l, k, 0);
}

void obj_lines_set_root(obj_lines *l, const json_t *root, size_t doc)
{
	char k[40];
	if (!l)
		return;
	snprintf(k, sizeof k, "r%p", (const void *)root);
	put(l, k, (long)doc);
}

size_t obj_lines_doc_of(const obj_lines *l, const json_t *root)
{
	char k[40];
	snprintf(k, sizeof k, "r%p", (const void *)root);
	return (size_t)get(l, k, 0);
}

void obj_lines_set_path(obj_lines *l, size_t doc, const char *path, int line)
{
	if (!l)
		return;
	char *k = xasprintf("d%zu:%s", doc, path);
	put(l, k, line);
	free(k);
}

int obj_lines_get_doc_path(const obj_lines *l, size_t doc, const char *path)
{
	if (!l || !path)
		return 0;
	char *k = xasprintf("d%zu:%s", doc, path);
	long v = get(l, k, 0);
	free(k);
	return (int)v;
}

int obj_lines_get_path(const obj_lines *l, const char *path)
{
	return obj_lines_get_doc_path(l, 0, path);
}

int obj_lines_near(const obj_lines *l, size_t doc, const char *path)
{
	if (!l)
		return 0;
	char *p = xstrdup(path);
	int line = 0;
	for (;;) {
		line = obj_lines_get_doc_path(l, doc, p);
		if (line || !*p)
			break;
		/* drop the last ".key" or "[i]" */
		size_t n = strlen(p);
		if (p[n - 1] == ']') {
			char *b = strrchr(p, '[');
			*(b ? b : p) = 0;
		} else {
			char *d = strrchr(p, '.');
			*(d ? d : p) = 0;
		}
	}
	free(p);
	return line;
}

void obj_lines_move(obj_lines *l, size_t from, const char *prefix, size_t to)
{
	if (!l)
		return;
	char *pre = xasprintf("d%zu:%s", from, prefix), doc[32];
	size_t pn = strlen(pre);
	snprintf(doc, sizeof doc, "%zu", from);
	struct keyvec *v = k9_map_get(&l->bydoc, doc);
	/* collect first: put() may rehash the table and grow the lists under us */
	size_t cnt = 0, nv = v ? v->n : 0;
	char **keys = xcalloc(nv + 1, sizeof *keys);
	long *vals = xcalloc(nv + 1, sizeof *vals);
	for (size_t i = 0; i < nv; i++) {
		const char *k = v->k[i];
		if (strncmp(k, pre, pn) != 0)
			continue;
		const char *rest = k + pn;
		if (*prefix && *rest && *rest != '.' && *rest != '[')
			continue;
		if (*prefix && *rest == '.')
			rest++;
		keys[cnt] = xasprintf("d%zu:%s", to, rest);
		vals[cnt++] = get(l, k, 0);
	}
	for (size_t i = 0; i < cnt; i++) {
		put(l, keys[i], vals[i]);
		free(keys[i]);
	}
	free(keys);
	free(vals);
	free(pre);
}

const json_t *obj_get_path(const json_t *o, const char *dotted)
{
	char key[256];
	while (o && *dotted) {
		size_t n = strcspn(dotted, ".");
		if (n >= sizeof key)
			return NULL;
		memcpy(key, dotted, n);
		key[n] = 0;
		o = json_object_get(o, key);
		dotted += n + (dotted[n] == '.');
	}
	return o;
}

void obj_path_key(k9_buf *b, const char *key)
{
	if (b->len)
		buf_puts(b, ".");
	buf_puts(b, key);
	if (!b->data)
		buf_puts(b, "");
}

void obj_path_index(k9_buf *b, size_t i)
{
	buf_printf(b, "[%zu]", i);
}

void obj_path_cut(k9_buf *b, size_t len)
{
	if (b->data && len <= b->len) {
		b->len = len;
		b->data[len] = 0;
	}
}
