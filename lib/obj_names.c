/*
 * obj_names.c - the name syntaxes of Kubernetes: DNS-1123 labels and
 * subdomains, label keys and values, config keys. Each check returns NULL
 * when valid, else a static sentence in Kubernetes' words.
 */
#include <ctype.h>
#include <string.h>

#include "kube9/obj.h"

static bool lower_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over s[0..n) */
static bool label_ok(const char *s, size_t n)
{
	if (n == 0 || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

const char *obj_check_dns1123_label(const char *s)
{
	size_t n = strlen(s);
	if (n > 63)
		return "must be no more than 63 characters";
	if (!label_ok(s, n))
		return "a lowercase RFC 1123 label must consist of lower case alphanumeric "
		       "characters or '-', and must start and end with an alphanumeric character";
	return NULL;
}

static const char subdomain_msg[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character";

static bool subdomain_ok(const char *s, size_t n)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (!label_ok(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

const char *obj_check_dns1123_subdomain(const char *s)
{
	size_t n = strlen(s);
	if (n > 253)
		return "must be no more than 253 characters";
	return subdomain_ok(s, n) ? NULL : subdomain_msg;
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] over s[0..n) */
static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

const char *obj_check_label_key(const char *s)
{
	const char *slash = strchr(s, '/');
	const char *name = slash ? slash + 1 : s;
	if (slash) {
		size_t pn = (size_t)(slash - s);
		if (pn == 0)
			return "prefix part must be non-empty";
		if (pn > 253)
			return "prefix part must be no more than 253 characters";
		if (!subdomain_ok(s, pn))
			return "prefix part a lowercase RFC 1123 subdomain must consist of lower "
			       "case "
			       "alphanumeric characters, '-' or '.', and must start and end with "
			       "an "
			       "alphanumeric character";
	}
	size_t n = strlen(name);
	if (n == 0)
		return "name part must be non-empty";
	if (n > 63)
		return "name part must be no more than 63 characters";
	if (!name_ok(name, n))
		return "name part must consist of alphanumeric characters, '-', '_' or '.', and "
		       "must start and end with an alphanumeric character";
	return NULL;
}

const char *obj_check_label_value(const char *s)
{
	size_t n = strlen(s);
	if (n > 63)
		return "must be no more than 63 characters";
	if (n && !name_ok(s, n))
		return "a valid label must be an empty string or consist of alphanumeric "
		       "characters, '-', '_' or '.', and must start and end with an alphanumeric "
		       "character";
	return NULL;
}

const char *obj_check_config_key(const char *s)
{
	size_t n = strlen(s);
	if (n == 0)
		return "a valid config key must consist of alphanumeric characters, '-', '_' or "
		       "'.'";
	if (n > 253)
		return "must be no more than 253 characters";
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return "a valid config key must consist of alphanumeric characters, '-', "
			       "'_' or '.'";
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strncmp(s, "..", 2) == 0)
		return "must not be '.' or '..' and must not start with '..'";
	return NULL;
}
