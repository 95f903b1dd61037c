/*
 * mnt_watch.c - one reflector per resource: list (in pages), then watch from
 * the list's revision; a dropped watch resumes from the last revision seen, a
 * 410 Expired relists and turns the difference into events; an unreachable
 * server is retried with back-off while the cache keeps answering.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mnt.h"

typedef struct refl {
	mnt *m;
	int res;
	uint64_t rv;
	bool expired;
} refl;

static refl refls[MNT_MAXRES];

static uint64_t rv_of(const json_t *o)
{
	const char *s =
	    json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
	return s ? strtoull(s, NULL, 10) : 0;
}

/* List res into the cache; seen (may be NULL) collects "ns/name" keys. */
static int list_res(mnt *m, int res, uint64_t *rv, k9_map *seen, mnt_origin origin, k9_err *e)
{
	const mnt_res *r = &m->res[res];
	char *cont = NULL;
	size_t total = 0;
	*rv = 0;
	do {
		char *path = xasprintf("%s/%s?limit=1000%s%s", r->prefix, r->plural,
		                       cont ? "&continue=" : "", cont ? cont : "");
		k9_buf out = {0};
		long code = mnt_http(m, "GET", path, NULL, NULL, 0, &out, e);
		free(path);
		free(cont);
		cont = NULL;
		if (code < 0 || code != 200) {
			if (code >= 0)
				mnt_http_status(code, &out, e);
			buf_free(&out);
			return -1;
		}
		json_error_t je;
		json_t *list = json_loadb(out.data, out.len, 0, &je);
		buf_free(&out);
		if (!list) {
			return k9_errf(e, 500, "InternalError", "listing %s: bad JSON: %s",
			               r->plural, je.text);
		}
		if (!*rv)
			*rv = rv_of(list);
		size_t i;
		json_t *it;
		json_array_foreach(json_object_get(list, "items"), i, it)
		{
			/* list items carry no kind; the cache's YAML should */
			json_object_set_new(it, "apiVersion", json_string(r->api_version));
			json_object_set_new(it, "kind", json_string(r->kind));
			if (seen) {
				const json_t *md = json_object_get(it, "metadata");
				const char *ns =
				    json_string_value(json_object_get(md, "namespace"));
				const char *nm = json_string_value(json_object_get(md, "name"));
				char *k = xasprintf("%s/%s", ns ? ns : "", nm ? nm : "");
				k9_map_put(seen, k, (void *)1);
				free(k);
			}
			mnt_cache_apply(m, res, "MODIFIED", it, origin);
			total++;
		}
		const char *c = json_string_value(
		    json_object_get(json_object_get(list, "metadata"), "continue"));
		if (c && c[0]) {
			char *esc = curl_easy_escape(NULL, c, 0);
			cont = xstrdup(esc);
			curl_free(esc);
		}
		json_decref(list);
		if (total >= 50000 && total % 50000 < 1000)
			log_info("mount: %zu %s so far", total, r->plural);
	} while (cont);
	log_debug("mount: listed %zu %s at revision %" PRIu64, total, r->plural, *rv);
	return 0;
}

static int on_event(void *arg, char *line, size_t n)
{
	refl *f = arg;
	json_t *ev = json_loadb(line, n, 0, NULL);
	if (!ev)
		return 0;
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *o = json_object_get(ev, "object");
	int rc = 0;
	if (!type || !o) {
		/* a Status body: the watch itself failed */
		if (json_integer_value(json_object_get(ev, "code")) == 410)
			f->expired = true;
		rc = -1;
	} else if (!strcmp(type, "ERROR")) {
		if (json_integer_value(json_object_get(o, "code")) == 410)
			f->expired = true;
		else
			log_warn("mount: watch of %s: %s", f->m->res[f->res].plural,
			         json_string_value(json_object_get(o, "message")));
		rc = -1;
	} else {
		uint64_t rv = rv_of(o);
		if (strcmp(type, "BOOKMARK"))
			mnt_cache_apply(f->m, f->res, type, o, MNT_ORIGIN_WATCH);
		if (rv > f->rv)
			f->rv = rv;
	}
	json_decref(ev);
	return rc;
}

static void nap(mnt *m, int ms)
{
	for (int i = 0; i < ms / 50 && !atomic_load(&m->stopping); i++)
		usleep(50000);
}

static void relist(refl *f)
{
	k9_map seen = {0};
	k9_err e;
	uint64_t rv;
	if (list_res(f->m, f->res, &rv, &seen, MNT_ORIGIN_WATCH, &e) == 0) {
		mnt_cache_sweep(f->m, f->res, &seen, MNT_ORIGIN_WATCH);
		f->rv = rv;
		f->expired = false;
		log_info("mount: relisted %s at revision %" PRIu64, f->m->res[f->res].plural, rv);
	} else {
		log_warn("mount: relisting %s: %s", f->m->res[f->res].plural, e.msg);
		nap(f->m, 1000);
	}
	k9_map_free(&seen);
}

static void *watcher(void *arg)
{
	refl *f = arg;
	mnt *m = f->m;
	int backoff = 100;
	bool was_down = false;
	while (!atomic_load(&m->stopping)) {
		if (f->expired) {
			relist(f);
			continue;
		}
		char *path = xasprintf("%s/%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=300"
		                       "&resourceVersion=%" PRIu64,
		                       m->res[f->res].prefix, m->res[f->res].plural, f->rv);
		k9_err e;
		long code = mnt_http_stream(m, path, on_event, f, &e);
		free(path);
		if (atomic_load(&m->stopping))
			break;
		if (code == 410)
			f->expired = true;
		if (code < 0 || (code >= 500 && code != 410)) {
			if (!was_down)
				log_warn(
				    "mount: watch of %s: %s; answering from the cache, retrying",
				    m->res[f->res].plural, code < 0 ? e.msg : "server error");
			was_down = true;
			nap(m, backoff);
			backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
			continue;
		}
		if (was_down)
			log_info("mount: watch of %s resumed at revision %" PRIu64,
			         m->res[f->res].plural, f->rv);
		was_down = false;
		backoff = 100;
		if (code != 200 && code != 410 && !f->expired)
			nap(m, 1000); /* 401, 403 ...: keep trying, slowly */
	}
	return NULL;
}

int mnt_sync_all(mnt *m, k9_err *e)
{
	for (int i = 0; i < m->nres; i++) {
		refls[i] = (refl){.m = m, .res = i};
		if (list_res(m, i, &refls[i].rv, NULL, MNT_ORIGIN_LIST, e) < 0)
			return -1;
	}
	return 0;
}

void mnt_watch_start(mnt *m)
{
	for (int i = 0; i < m->nres; i++)
		pthread_create(&m->watchers[i], NULL, watcher, &refls[i]);
}

void mnt_watch_stop(mnt *m)
{
	atomic_store(&m->stopping, true);
	for (int i = 0; i < m->nres; i++)
		pthread_join(m->watchers[i], NULL);
}
