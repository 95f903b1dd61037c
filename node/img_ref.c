/*
 * img_ref.c - image references as Docker and Kubernetes read them:
 * "busybox" is docker.io/library/busybox:latest, a first component with a
 * dot or a colon (or "localhost") names a registry host[:port], ":TAG" and
 * "@sha256:HEX" follow the name. Also Kubernetes' default pull policy and
 * which registries may be spoken to over plain HTTP.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "img_int.h"
#include "kube9/util.h"

static bool is_alnum_lower(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool img_digest_valid(const char *d)
{
	if (strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* [\w][\w.-]{0,127} */
static bool tag_valid(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 128 || t[0] == '.' || t[0] == '-')
		return false;
	for (; *t; t++)
		if (!isalnum((unsigned char)*t) && *t != '_' && *t != '.' && *t != '-')
			return false;
	return true;
}

/* path-component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*, joined by '/'. */
static bool path_valid(const char *p, size_t n)
{
	size_t i = 0;
	if (n == 0)
		return false;
	while (i < n) {
		if (!is_alnum_lower(p[i]))
			return false; /* a component starts with alnum */
		while (i < n && is_alnum_lower(p[i]))
			i++;
		if (i == n)
			return true;
		if (p[i] == '/') {
			i++;
			if (i == n)
				return false;
			continue;
		}
		size_t sep = i;
		while (i < n && (p[i] == '.' || p[i] == '_' || p[i] == '-'))
			i++;
		size_t sl = i - sep;
		bool dashes = true;
		for (size_t k = sep; k < i; k++)
			dashes = dashes && p[k] == '-';
		if (!(dashes || (sl == 1) || (sl == 2 && p[sep] == '_' && p[sep + 1] == '_')))
			return false;
		if (i == n || !is_alnum_lower(p[i]))
			return false;
	}
	return true;
}

/* host[:port] with host a dotted name or [IPv6]. */
static bool domain_valid(const char *d, size_t n)
{
	size_t i = 0;
	if (n == 0)
		return false;
	if (d[0] == '[') {
		while (i < n && d[i] != ']')
			i++;
		if (i == n || i < 3)
			return false;
		for (size_t k = 1; k < i; k++)
			if (!isxdigit((unsigned char)d[k]) && d[k] != ':')
				return false;
		i++;
	} else {
		for (;;) {
			size_t start = i;
			while (i < n && (isalnum((unsigned char)d[i]) || d[i] == '-'))
				i++;
			if (i == start || d[start] == '-' || d[i - 1] == '-')
				return false;
			if (i < n && d[i] == '.') {
				i++;
				continue;
			}
			break;
		}
	}
	if (i == n)
		return true;
	if (d[i] != ':' || i + 1 == n || n - i - 1 > 5)
		return false;
	for (i++; i < n; i++)
		if (!isdigit((unsigned char)d[i]))
			return false;
	return true;
}

int img_normalize(const char *ref, char *out, size_t len)
{
	size_t rl = strlen(ref);
	if (rl == 0 || rl > 1024)
		return -1;
	char *name = xstrdup(ref), *digest = NULL, *tag = NULL;
	int rc = -1;
	char *at = strchr(name, '@');
	if (at) {
		*at = 0;
		digest = at + 1;
		if (!img_digest_valid(digest))
			goto out;
	}
	char *slash = strrchr(name, '/'), *colon = strrchr(name, ':');
	if (colon && (!slash || colon > slash)) {
		*colon = 0;
		tag = colon + 1;
		if (!tag_valid(tag))
			goto out;
	}
	const char *domain = "docker.io", *path = name;
	size_t dlen = strlen(domain);
	char *first = strchr(name, '/');
	if (first && (memchr(name, '.', (size_t)(first - name)) ||
	              memchr(name, ':', (size_t)(first - name)) || name[0] == '[' ||
	              (first - name == 9 && !strncmp(name, "localhost", 9)))) {
		domain = name;
		dlen = (size_t)(first - name);
		path = first + 1;
		if (!domain_valid(domain, dlen))
			goto out;
		if (dlen == 15 && !strncmp(domain, "index.docker.io", 15))
			domain = "docker.io", dlen = 9;
	}
	if (!path_valid(path, strlen(path)))
		goto out;
	bool library = dlen == 9 && !strncmp(domain, "docker.io", 9) && !strchr(path, '/');
	if (dlen + 1 + (library ? 8 : 0) + strlen(path) > 255)
		goto out;
	int n = snprintf(out, len, "%.*s/%s%s%s%s%s%s", (int)dlen, domain,
	                 library ? "library/" : "", path, tag || !digest ? ":" : "",
	                 tag      ? tag
	                 : digest ? ""
	                          : "latest",
	                 digest ? "@" : "", digest ? digest : "");
	rc = n > 0 && (size_t)n < len ? 0 : -1;
out:
	free(name);
	return rc;
}

/* Copy src into dst[n]; -1 if it does not fit. */
static int copy(char *dst, size_t n, const char *src)
{
	size_t l = strlen(src);
	if (l >= n)
		return -1;
	memcpy(dst, src, l + 1);
	return 0;
}

int img_ref_parts(const char *ref, img_refparts *p)
{
	char norm[1024];
	if (img_normalize(ref, norm, sizeof norm) < 0)
		return -1;
	memset(p, 0, sizeof *p);
	char *at = strchr(norm, '@');
	if (at) {
		*at = 0;
		if (copy(p->digest, sizeof p->digest, at + 1) < 0)
			return -1;
	}
	char *slash = strrchr(norm, '/'), *colon = strrchr(norm, ':');
	if (colon && colon > slash) {
		*colon = 0;
		if (copy(p->tag, sizeof p->tag, colon + 1) < 0)
			return -1;
	}
	char *first = strchr(norm, '/');
	*first = 0;
	return copy(p->domain, sizeof p->domain, norm) < 0 ||
	               copy(p->path, sizeof p->path, first + 1) < 0
	           ? -1
	           : 0;
}

const char *img_ref_host(const img_refparts *p)
{
	return strcmp(p->domain, "docker.io") ? p->domain : "registry-1.docker.io";
}

const char *img_default_policy(const char *ref)
{
	img_refparts p;
	if (img_ref_parts(ref, &p) < 0 || p.digest[0] || strcmp(p.tag, "latest"))
		return "IfNotPresent";
	return "Always";
}

/* Does "host[:port]" appear in the comma-separated list (an entry without a port matches any)? */
static bool listed(const char *host, const char *list)
{
	if (!list)
		return false;
	const char *colon = host[0] == '[' ? strstr(host, "]:") : strrchr(host, ':');
	size_t hn = colon ? (size_t)(colon - host) + (host[0] == '[') : strlen(host);
	for (const char *s = list; *s;) {
		while (*s == ',' || *s == ' ')
			s++;
		size_t n = strcspn(s, ", ");
		if (n && ((n == strlen(host) && !strncmp(s, host, n)) ||
		          (n == hn && !strncmp(s, host, n))))
			return true;
		s += n;
	}
	return false;
}

bool img_insecure_host(const char *host, const char *list)
{
	if (!strncmp(host, "localhost", 9) && (host[9] == 0 || host[9] == ':'))
		return true;
	if (!strncmp(host, "[::1]", 5) && (host[5] == 0 || host[5] == ':'))
		return true;
	if (!strncmp(host, "127.", 4) && strspn(host, "0123456789.") == strcspn(host, ":"))
		return true;
	return listed(host, list) || listed(host, getenv("KUBE9_INSECURE_REGISTRIES"));
}
