/*
 * tree_watch.c - informers over the mount's .watch files.
 *
 * A thread per informer reads its .watch file line by line. The first
 * lines after every open are the objects present (ADDED), ended by a
 * BOOKMARK annotated k8s.io/initial-events-end; the informer compares them
 * with what it had, so that a reopen (after an ERROR/410 or a restarted
 * mount) turns into the ADDED, MODIFIED and DELETED events that happened
 * meanwhile, as client-go's Replace does.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube9/tree.h"
#include "kube9/util.h"

const char *tree_meta(const json_t *o, const char *field)
{
	const char *s = json_string_value(json_object_get(json_object_get(o, "metadata"), field));
	return s ? s : "";
}

void tree_key(const json_t *o, char *out, size_t n)
{
	const char *ns = tree_meta(o, "namespace");
	snprintf(out, n, "%s%s%s", ns, ns[0] ? "/" : "", tree_meta(o, "name"));
}

void tree_key_split(const char *key, char *ns, char *name, size_t n)
{
	const char *slash = strchr(key, '/');
	snprintf(ns, n, "%.*s", slash ? (int)(slash - key) : 0, key);
	snprintf(name, n, "%s", slash ? slash + 1 : key);
}

static void emit(tree_watch *w, const char *type, json_t *old, json_t *obj)
{
	w->fn(w->arg, type, old, obj);
}

static void pick(json_t *dst, const json_t *src, const char *path)
{
	size_t n = strcspn(path, ".");
	char key[128];
	if (n >= sizeof key)
		return;
	memcpy(key, path, n);
	key[n] = 0;
	bool arr = n > 2 && !strcmp(key + n - 2, "[]");
	if (arr)
		key[n - 2] = 0;
	json_t *v = json_object_get(src, key);
	if (!v)
		return;
	const char *rest = path[n] ? path + n + 1 : NULL;
	if (!rest) {
		json_object_set(dst, key, v); /* shared, not copied: objects are read only */
		return;
	}
	json_t *d = json_object_get(dst, key);
	if (arr) {
		if (!json_is_array(v))
			return;
		if (!d) {
			d = json_array();
			json_object_set_new(dst, key, d);
		}
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
		{
			if (i >= json_array_size(d))
				json_array_append_new(d, json_object());
			pick(json_array_get(d, i), e, rest);
		}
	} else if (json_is_object(v)) {
		if (!d) {
			d = json_object();
			json_object_set_new(dst, key, d);
		}
		pick(d, v, rest);
	}
}

json_t *tree_pick(const json_t *o, const char *const *paths)
{
	json_t *out = json_object();
	for (; *paths; paths++)
		pick(out, o, *paths);
	return out;
}

/* An object as the stream says it is now. */
static void upsert(tree_watch *w, json_t *obj)
{
	if (w->pick) {
		json_t *small = tree_pick(obj, w->pick);
		json_decref(obj);
		obj = small;
	}
	char key[512];
	tree_key(obj, key, sizeof key);
	json_t *old = k9_map_get(&w->objs, key);
	if (old && !strcmp(tree_meta(old, "resourceVersion"), tree_meta(obj, "resourceVersion"))) {
		json_decref(obj);
		return;
	}
	pthread_mutex_lock(&w->lock);
	k9_map_put(&w->objs, key, obj);
	pthread_mutex_unlock(&w->lock);
	emit(w, old ? "MODIFIED" : "ADDED", old, obj);
	json_decref(old);
}

static void removed(tree_watch *w, const char *key, json_t *last)
{
	pthread_mutex_lock(&w->lock);
	json_t *old = k9_map_del(&w->objs, key);
	pthread_mutex_unlock(&w->lock);
	if (old || last)
		emit(w, "DELETED", old ? old : last, NULL);
	json_decref(old);
}

struct gone {
	k9_map *seen;
	char **keys;
	size_t n, cap;
};

static void find_gone(void *val, void *arg)
{
	struct gone *g = arg;
	char key[512];
	tree_key(val, key, sizeof key);
	if (k9_map_get(g->seen, key))
		return;
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 64;
		g->keys = xrealloc(g->keys, g->cap * sizeof *g->keys);
	}
	g->keys[g->n++] = xstrdup(key);
}

/* The initial objects are all in: what was not among them is gone. */
static void initial_end(tree_watch *w, k9_map *seen)
{
	struct gone g = {.seen = seen};
	k9_map_each(&w->objs, find_gone, &g);
	for (size_t i = 0; i < g.n; i++) {
		removed(w, g.keys[i], NULL);
		free(g.keys[i]);
	}
	free(g.keys);
	k9_map_free(seen);
	w->synced = true;
	emit(w, "SYNCED", NULL, NULL);
}

/* One line; false when the stream is over (an ERROR). */
static bool on_line(tree_watch *w, char *line, size_t n, bool *initial, k9_map *seen)
{
	json_error_t je;
	json_t *ev = json_loadb(line, n, 0, &je);
	if (!ev) {
		log_warn("%s: a line that is not JSON: %s", w->path, je.text);
		return true;
	}
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *obj = json_object_get(ev, "object");
	bool go_on = true;
	if (!type || !json_is_object(obj)) {
		log_warn("%s: a line without type or object", w->path);
	} else if (!strcmp(type, "BOOKMARK")) {
		json_t *ann = json_object_get(json_object_get(obj, "metadata"), "annotations");
		if (*initial && json_object_get(ann, "k8s.io/initial-events-end")) {
			*initial = false;
			initial_end(w, seen);
		}
	} else if (!strcmp(type, "ERROR")) {
		log_info("%s: %s; opening it again", w->path,
		         json_string_value(json_object_get(obj, "message")) ?: "error");
		go_on = false;
	} else if (!strcmp(type, "DELETED")) {
		char key[512];
		tree_key(obj, key, sizeof key);
		removed(w, key, obj);
	} else {
		if (*initial) {
			char key[512];
			tree_key(obj, key, sizeof key);
			k9_map_put(seen, key, (void *)1);
		}
		upsert(w, json_incref(obj));
	}
	json_decref(ev);
	return go_on;
}

static void nothing(int sig)
{
	(void)sig;
}

static void *watch_main(void *arg)
{
	tree_watch *w = arg;
	k9_buf b = {0};
	char full[4096];
	snprintf(full, sizeof full, "%s/%s", tree_root(), w->path);
	int backoff = 100;
	while (!w->stop) {
		int fd = open(full, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			log_warn("%s: %s", full, strerror(errno));
			usleep((useconds_t)backoff * 1000);
			backoff = backoff < 5000 ? backoff * 2 : 5000;
			continue;
		}
		w->fd = fd;
		bool initial = true, go_on = true;
		k9_map seen = {0};
		b.len = 0;
		while (go_on && !w->stop) {
			if (b.cap - b.len < 65536) {
				b.cap = b.len + 131072;
				b.data = xrealloc(b.data, b.cap);
			}
			ssize_t r = read(fd, b.data + b.len, b.cap - b.len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				if (r < 0)
					log_warn("%s: %s", full, strerror(errno));
				break;
			}
			backoff = 100;
			b.len += (size_t)r;
			size_t start = 0;
			for (size_t i = 0; i < b.len && go_on; i++)
				if (b.data[i] == '\n') {
					go_on =
					    on_line(w, b.data + start, i - start, &initial, &seen);
					start = i + 1;
				}
			memmove(b.data, b.data + start, b.len - start);
			b.len -= start;
		}
		if (initial)
			k9_map_free(&seen);
		w->fd = -1;
		close(fd);
		if (!w->stop)
			usleep(100 * 1000);
	}
	buf_free(&b);
	return NULL;
}

json_t *tree_watch_get(tree_watch *w, const char *key)
{
	pthread_mutex_lock(&w->lock);
	json_t *o = json_incref(k9_map_get(&w->objs, key));
	pthread_mutex_unlock(&w->lock);
	return o;
}

struct each {
	void (*fn)(void *arg, json_t *obj);
	void *arg;
};

static void each_one(void *val, void *arg)
{
	struct each *e = arg;
	e->fn(e->arg, val);
}

void tree_watch_each(tree_watch *w, void (*fn)(void *arg, json_t *obj), void *arg)
{
	struct each e = {fn, arg};
	pthread_mutex_lock(&w->lock);
	k9_map_each(&w->objs, each_one, &e);
	pthread_mutex_unlock(&w->lock);
}

int tree_watch_start(tree_watch *w, const char *rel, tree_watch_fn fn, void *arg)
{
	return tree_watch_start_pick(w, rel, fn, arg, NULL);
}

int tree_watch_start_pick(tree_watch *w, const char *rel, tree_watch_fn fn, void *arg,
                          const char *const *pick)
{
	memset(w, 0, sizeof *w);
	w->pick = pick;
	pthread_mutex_init(&w->lock, NULL);
	w->path = xstrdup(rel);
	w->fn = fn;
	w->arg = arg;
	w->fd = -1;
	struct sigaction sa = {.sa_handler = nothing};
	sigaction(SIGUSR2, &sa, NULL); /* no SA_RESTART: interrupts a blocked read */
	return pthread_create(&w->thread, NULL, watch_main, w) ? -1 : 0;
}

static void drop(void *val, void *arg)
{
	(void)arg;
	json_decref(val);
}

void tree_watch_stop(tree_watch *w)
{
	w->stop = 1;
	pthread_kill(w->thread, SIGUSR2);
	pthread_join(w->thread, NULL);
	k9_map_each(&w->objs, drop, NULL);
	k9_map_free(&w->objs);
	free(w->path);
}
