/*
 * map.h - a string-keyed hash map; keys are copied, values are the caller's.
 */
#ifndef KUBE9_MAP_H
#define KUBE9_MAP_H

#include <stddef.h>

/* String-keyed hash map (chained, grows). */
typedef struct k9_map_ent k9_map_ent;
typedef struct k9_map {
	k9_map_ent **b;
	size_t nb, n;
} k9_map;
void *k9_map_get(const k9_map *m, const char *key);
void k9_map_put(k9_map *m, const char *key, void *val); /* replaces */
void *k9_map_del(k9_map *m, const char *key);
/* Calls fn for every value; order unspecified. */
void k9_map_each(const k9_map *m, void (*fn)(void *val, void *arg), void *arg);
/* The same with each key (fn may delete the entry it is given, but no other). */
void k9_map_each_kv(const k9_map *m, void (*fn)(const char *key, void *val, void *arg), void *arg);
void k9_map_free(k9_map *m);

#endif
