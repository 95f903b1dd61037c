/*
 * img_auth.c - registry authentication helpers, pure functions: parsing a
 * WWW-Authenticate challenge (Bearer token realm or Basic), and finding the
 * credentials for a registry in the "auths" object of a
 * kubernetes.io/dockerconfigjson secret, matched the way the kubelet does.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "img_int.h"
#include "kube9/util.h"

/* Copy a token or quoted-string value at *s into out; advance *s. */
static void auth_value(const char **s, char *out, size_t len)
{
	const char *p = *s;
	size_t n = 0;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			if (n + 1 < len)
				out[n++] = *p;
		}
		if (*p == '"')
			p++;
	} else {
		for (; *p && *p != ',' && !isspace((unsigned char)*p); p++)
			if (n + 1 < len)
				out[n++] = *p;
	}
	out[n] = 0;
	*s = p;
}

int img_auth_parse(const char *h, img_challenge *c)
{
	memset(c, 0, sizeof *c);
	while (isspace((unsigned char)*h))
		h++;
	size_t sn = strcspn(h, " \t");
	if (sn == 6 && !strncasecmp(h, "Bearer", 6))
		strcpy(c->scheme, "Bearer");
	else if (sn == 5 && !strncasecmp(h, "Basic", 5))
		strcpy(c->scheme, "Basic");
	else
		return -1;
	const char *p = h + sn;
	for (;;) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		const char *key = p;
		while (*p && *p != '=' && *p != ',' && !isspace((unsigned char)*p))
			p++;
		size_t kn = (size_t)(p - key);
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=')
			continue; /* a bare token: nothing we use */
		p++;
		while (isspace((unsigned char)*p))
			p++;
		char other[64];
		if (kn == 5 && !strncasecmp(key, "realm", 5))
			auth_value(&p, c->realm, sizeof c->realm);
		else if (kn == 7 && !strncasecmp(key, "service", 7))
			auth_value(&p, c->service, sizeof c->service);
		else if (kn == 5 && !strncasecmp(key, "scope", 5))
			auth_value(&p, c->scope, sizeof c->scope);
		else
			auth_value(&p, other, sizeof other);
	}
	return 0;
}

static bool hub(const char *h, size_t n)
{
	static const char *names[] = {"docker.io", "index.docker.io", "registry-1.docker.io"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strlen(names[i]) == n && !strncasecmp(h, names[i], n))
			return true;
	return false;
}

/* Does the key's host pattern (with "*" per dot-separated part) match host? */
static bool host_glob(const char *pat, const char *host)
{
	char *p = xstrdup(pat), *h = xstrdup(host), *sp = NULL, *sh = NULL;
	char *pc = strrchr(p, ':'), *hc = strrchr(h, ':');
	bool ok = (!pc && !hc) || (pc && hc && !strcmp(pc, hc));
	if (pc)
		*pc = 0;
	if (hc)
		*hc = 0;
	char *a = strtok_r(p, ".", &sp), *b = strtok_r(h, ".", &sh);
	for (; ok && a && b; a = strtok_r(NULL, ".", &sp), b = strtok_r(NULL, ".", &sh))
		ok = fnmatch(a, b, FNM_CASEFOLD) == 0;
	ok = ok && !a && !b;
	free(p);
	free(h);
	return ok;
}

/* How well key matches host and path: 0 not at all, more is better. */
static size_t auth_score(const char *key, const char *host, const char *path)
{
	if (!strncasecmp(key, "https://", 8))
		key += 8;
	else if (!strncasecmp(key, "http://", 7))
		key += 7;
	size_t hn = strcspn(key, "/");
	const char *kpath = key[hn] ? key + hn + 1 : "";
	size_t pn = strlen(kpath);
	while (pn && kpath[pn - 1] == '/')
		pn--;
	bool is_hub = hub(key, hn);
	if (is_hub) {
		if (!hub(host, strlen(host)))
			return 0;
		if (pn == 2 && !strncmp(kpath, "v1", 2))
			pn = 0; /* "https://index.docker.io/v1/" is Docker Hub itself */
	} else {
		char *kh = xstrndup(key, hn);
		bool m = !strcasecmp(kh, host) ? true : strchr(kh, '*') && host_glob(kh, host);
		bool exact = !strcasecmp(kh, host);
		free(kh);
		if (!m)
			return 0;
		if (!exact)
			return pn ? 1 + pn : 1; /* wildcards lose to exact hosts */
	}
	if (pn && !(strlen(path) >= pn && !strncmp(path, kpath, pn) &&
	            (path[pn] == 0 || path[pn] == '/')))
		return 0;
	return 1000 + pn;
}

static int auth_creds(const json_t *v, char **user, char **pass)
{
	const char *a = json_string_value(json_object_get(v, "auth"));
	if (a && *a) {
		unsigned char *raw;
		size_t n;
		if (k9_b64_decode(a, strlen(a), &raw, &n) < 0)
			return -1;
		char *colon = memchr(raw, ':', n);
		if (!colon) {
			free(raw);
			return -1;
		}
		*user = xstrndup((char *)raw, (size_t)(colon - (char *)raw));
		*pass = xstrndup(colon + 1, n - (size_t)(colon + 1 - (char *)raw));
		free(raw);
		return 0;
	}
	const char *u = json_string_value(json_object_get(v, "username"));
	const char *p = json_string_value(json_object_get(v, "password"));
	if (!u || !p)
		return -1;
	*user = xstrdup(u);
	*pass = xstrdup(p);
	return 0;
}

int img_auth_lookup(const json_t *auths, const char *host, const char *path, char **user,
                    char **pass)
{
	const char *key, *best_key = NULL;
	const json_t *v, *best = NULL;
	size_t best_score = 0;
	*user = *pass = NULL;
	if (!json_is_object(auths))
		return -1;
	json_object_foreach((json_t *)auths, key, v)
	{
		size_t sc = auth_score(key, host, path);
		if (sc > best_score && json_is_object(v)) {
			char *u, *p;
			if (auth_creds(v, &u, &p) < 0)
				continue;
			free(u);
			free(p);
			best_score = sc, best = v, best_key = key;
		}
	}
	if (!best)
		return -1;
	log_debug("image: credentials for %s/%s from auths entry \"%s\"", host, path, best_key);
	return auth_creds(best, user, pass);
}
