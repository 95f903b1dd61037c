/*
 * srv_auth.c - who is asking, and may they.
 *
 * Authentication: static bearer tokens in the Kubernetes token-file format
 * (token,user,uid,"group1,group2"), loaded from DATA_DIR/tokens.csv and
 * --token-file. Authorization until RBAC exists: system:masters may do
 * everything; system:nodes may read everything but secrets and write what a
 * node agent writes (nodes, pod status, pod deletion, events); anyone else
 * nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube9/util.h"
#include "srv.h"

/* Split one CSV field (optionally double-quoted) off *p; NULL at the end. */
static char *csv_field(char **p)
{
	char *s = *p, *out;
	if (!s)
		return NULL;
	if (*s == '"') {
		out = ++s;
		char *w = s;
		for (; *s; s++) {
			if (*s == '"' && s[1] == '"') {
				*w++ = '"';
				s++;
			} else if (*s == '"') {
				s++;
				break;
			} else {
				*w++ = *s;
			}
		}
		*w = 0;
		*p = *s == ',' ? s + 1 : NULL;
		return out;
	}
	out = s;
	char *c = strchr(s, ',');
	if (c) {
		*c = 0;
		*p = c + 1;
	} else {
		*p = NULL;
	}
	return out;
}

int srv_tokens_load(srv *s, const char *path, k9_err *e)
{
	size_t len;
	char *text = k9_read_file(path, &len);
	if (!text)
		return k9_errf(e, 500, "InternalError", "reading token file %s: %s", path,
		               strerror(errno));
	int lineno = 0, rc = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		line[strcspn(line, "\r")] = 0;
		if (!line[0] || line[0] == '#')
			continue;
		char *p = line;
		char *tok = csv_field(&p), *user = csv_field(&p), *uid = csv_field(&p);
		char *groups = csv_field(&p);
		if (!tok || !user || !uid || !tok[0] || !user[0]) {
			rc =
			    k9_errf(e, 500, "InternalError",
			            "%s:%d: want token,user,uid[,\"group1,group2\"]", path, lineno);
			break;
		}
		s->tokens = xrealloc(s->tokens, (s->ntokens + 1) * sizeof *s->tokens);
		s->tokens[s->ntokens++] = (srv_token){xstrdup(tok), xstrdup(user), xstrdup(uid),
		                                      xstrdup(groups ? groups : "")};
	}
	free(text);
	return rc;
}

void srv_tokens_free(srv *s)
{
	for (size_t i = 0; i < s->ntokens; i++) {
		free(s->tokens[i].token);
		free(s->tokens[i].user);
		free(s->tokens[i].uid);
		free(s->tokens[i].groups);
	}
	free(s->tokens);
	s->tokens = NULL;
	s->ntokens = 0;
}

/* Compare without leaking the position of the first difference. */
static int token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;
	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

int srv_authenticate(srv *s, const char *authorization, srv_user *u, k9_err *e)
{
	memset(u, 0, sizeof *u);
	if (!authorization || strncasecmp(authorization, "Bearer ", 7))
		return k9_errf(e, 401, "Unauthorized", "Unauthorized");
	const char *tok = authorization + 7;
	while (*tok == ' ')
		tok++;
	for (size_t i = 0; i < s->ntokens; i++) {
		const srv_token *t = &s->tokens[i];
		if (!token_equal(t->token, tok))
			continue;
		snprintf(u->name, sizeof u->name, "%s", t->user);
		snprintf(u->uid, sizeof u->uid, "%s", t->uid);
		char *g = xstrdup(t->groups), *save = NULL;
		for (char *x = strtok_r(g, ",", &save); x && u->ngroups < 7;
		     x = strtok_r(NULL, ",", &save))
			snprintf(u->groups[u->ngroups++], sizeof u->groups[0], "%s", x);
		free(g);
		snprintf(u->groups[u->ngroups++], sizeof u->groups[0], "system:authenticated");
		return 0;
	}
	return k9_errf(e, 401, "Unauthorized", "Unauthorized");
}

static int in_group(const srv_user *u, const char *g)
{
	for (int i = 0; i < u->ngroups; i++)
		if (!strcmp(u->groups[i], g))
			return 1;
	return 0;
}

static int is_read(const char *verb)
{
	return !strcmp(verb, "get") || !strcmp(verb, "list") || !strcmp(verb, "watch");
}

/* What the node identity may do beyond reading. */
static int node_may_write(const srv_req *r)
{
	const char *res = r->kind ? r->kind->plural : "";
	if (!strcmp(res, "nodes"))
		return 1;
	if (!strcmp(res, "events"))
		return !strcmp(r->verb, "create") || !strcmp(r->verb, "patch") ||
		       !strcmp(r->verb, "update");
	if (!strcmp(res, "pods"))
		return !strcmp(r->sub, "status") || !strcmp(r->verb, "delete");
	return 0;
}

int srv_authorize(const srv_req *r, k9_err *e)
{
	const srv_user *u = &r->user;
	if (in_group(u, "system:masters"))
		return 0;
	if (in_group(u, "system:nodes") && !strncmp(u->name, "system:node:", 12)) {
		int secret = r->kind && !strcmp(r->kind->plural, "secrets");
		if ((is_read(r->verb) && !secret) || node_may_write(r))
			return 0;
	}
	const char *res = r->kind ? r->kind->plural : r->path;
	char sub[40] = "";
	if (r->sub[0])
		snprintf(sub, sizeof sub, "/%s", r->sub);
	if (r->kind && r->kind->namespaced && r->ns[0])
		return k9_errf(e, 403, "Forbidden",
		               "%s \"%s\" is forbidden: User \"%s\" cannot %s resource \"%s%s\" in "
		               "API group \"%s\" in the namespace \"%s\"",
		               res, r->name, u->name, r->verb, res, sub, r->kind->group, r->ns);
	return k9_errf(e, 403, "Forbidden",
	               "%s \"%s\" is forbidden: User \"%s\" cannot %s resource \"%s%s\" in API "
	               "group \"%s\" at the cluster scope",
	               res, r->name, u->name, r->verb, res, sub, r->kind ? r->kind->group : "");
}
