/*
 * mnt_kcfg.c - read a kubeconfig: the current context's server, CA and
 * credentials (token, token file, client certificate, basic auth). Inline
 * *-data fields are handed to libcurl as memfd paths, as its GnuTLS backend
 * takes certificates only from files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kube9/obj.h"
#include "mnt.h"

/* The entry named name in list (array of {name, KEY: {...}}), its KEY member. */
static const json_t *named(const json_t *cfg, const char *list, const char *key, const char *name)
{
	size_t i;
	json_t *it;
	json_array_foreach(json_object_get(cfg, list), i, it)
	{
		const char *n = json_string_value(json_object_get(it, "name"));
		if (n && !strcmp(n, name))
			return json_object_get(it, key);
	}
	return NULL;
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s && s[0] ? s : NULL;
}

/* base64 text -> a memfd; returns "/proc/self/fd/N" (kept open for the process). */
static char *memfile(const char *what, const char *b64, k9_err *e)
{
	unsigned char *raw;
	size_t n;
	if (k9_b64_decode(b64, strlen(b64), &raw, &n) < 0) {
		k9_errf(e, 400, "BadRequest", "%s is not valid base64", what);
		return NULL;
	}
	int fd = memfd_create(what, 0);
	if (fd < 0 || write(fd, raw, n) != (ssize_t)n) {
		k9_errf(e, 500, "InternalError", "memfd for %s: %s", what, strerror(errno));
		free(raw);
		return NULL;
	}
	free(raw);
	return xasprintf("/proc/self/fd/%d", fd);
}

/* A file path of the kubeconfig, relative to the kubeconfig's directory. */
static char *relpath(const char *cfgpath, const char *p)
{
	if (p[0] == '/')
		return xstrdup(p);
	const char *slash = strrchr(cfgpath, '/');
	if (!slash)
		return xstrdup(p);
	return xasprintf("%.*s/%s", (int)(slash - cfgpath), cfgpath, p);
}

static int file_or_data(const json_t *o, const char *fkey, const char *dkey, const char *cfgpath,
                        char **out, k9_err *e)
{
	const char *d = str(o, dkey), *f = str(o, fkey);
	if (d)
		*out = memfile(dkey, d, e);
	else if (f)
		*out = relpath(cfgpath, f);
	else
		return 0;
	return *out ? 0 : -1;
}

int mnt_kcfg_load(mnt_client *c, const char *path, k9_err *e)
{
	size_t len;
	char *text = k9_read_file(path, &len);
	if (!text)
		return k9_errf(e, 400, "BadRequest", "cannot read kubeconfig %s: %s", path,
		               strerror(errno));
	json_t *cfg = obj_decode(text, len, NULL, e);
	free(text);
	if (!cfg)
		return k9_err_prefix(e, "kubeconfig %s", path);
	int rc = -1;
	const char *cur = str(cfg, "current-context");
	const json_t *ctx = cur ? named(cfg, "contexts", "context", cur) : NULL;
	if (!ctx) {
		k9_errf(e, 400, "BadRequest", "kubeconfig %s: no current-context%s%s", path,
		        cur ? " named " : "", cur ? cur : "");
		goto out;
	}
	const char *cname = str(ctx, "cluster"), *uname = str(ctx, "user");
	const json_t *cluster = cname ? named(cfg, "clusters", "cluster", cname) : NULL;
	const json_t *user = uname ? named(cfg, "users", "user", uname) : NULL;
	if (!cluster || !str(cluster, "server")) {
		k9_errf(e, 400, "BadRequest", "kubeconfig %s: context \"%s\" has no cluster server",
		        path, cur);
		goto out;
	}
	c->server = xstrdup(str(cluster, "server"));
	size_t sl = strlen(c->server);
	while (sl && c->server[sl - 1] == '/')
		c->server[--sl] = 0;
	c->insecure = json_is_true(json_object_get(cluster, "insecure-skip-tls-verify"));
	if (file_or_data(cluster, "certificate-authority", "certificate-authority-data", path,
	                 &c->ca_path, e) < 0)
		goto out;
	if (user) {
		const char *tok = str(user, "token"), *tf = str(user, "tokenFile");
		if (tok)
			c->token = xstrdup(tok);
		else if (tf) {
			char *p = relpath(path, tf);
			char *t = k9_read_file(p, &len);
			if (!t) {
				k9_errf(e, 400, "BadRequest", "kubeconfig %s: token file %s: %s",
				        path, p, strerror(errno));
				free(p);
				goto out;
			}
			free(p);
			t[strcspn(t, "\r\n")] = 0;
			c->token = t;
		}
		if (str(user, "username") && str(user, "password"))
			c->basic = xasprintf("%s:%s", str(user, "username"), str(user, "password"));
		if (file_or_data(user, "client-certificate", "client-certificate-data", path,
		                 &c->cert_path, e) < 0 ||
		    file_or_data(user, "client-key", "client-key-data", path, &c->key_path, e) < 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(cfg);
	return rc;
}
