/*
 * sel.c - label and field selectors: parsing (the Kubernetes grammar),
 * building from API LabelSelectors, matching.
 *
 * A selector is a list of requirements ANDed together; each has a key (a
 * label key or a dotted field path), an operator and a value set. Label
 * selectors are tokenised like Kubernetes' lexer: identifiers run until
 * whitespace or one of "=!(),"; "in" and "notin" are keywords after a key.
 * Field selectors split on unescaped ',' and '=' / '==' / '!=' with '\'
 * escaping ',', '=' and '\' in values.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "kube9/obj.h"
#include "kube9/sel.h"
#include "kube9/util.h"

enum op { OP_EQ, OP_NE, OP_IN, OP_NOTIN, OP_EXISTS, OP_NOTEXISTS };

struct req {
	char *key;
	enum op op;
	char **vals;
	size_t nvals;
};

struct sel {
	struct req *r;
	size_t n;
};

void sel_free(sel *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->r[i].key);
		for (size_t j = 0; j < s->r[i].nvals; j++)
			free(s->r[i].vals[j]);
		free(s->r[i].vals);
	}
	free(s->r);
	free(s);
}

static struct req *add_req(sel *s, const char *key, size_t keylen, enum op op)
{
	s->r = xrealloc(s->r, (s->n + 1) * sizeof *s->r);
	struct req *r = &s->r[s->n++];
	*r = (struct req){.key = xstrndup(key, keylen), .op = op};
	return r;
}

static void add_val(struct req *r, const char *v, size_t n)
{
	r->vals = xrealloc(r->vals, (r->nvals + 1) * sizeof *r->vals);
	r->vals[r->nvals++] = xstrndup(v, n);
}

bool sel_empty(const sel *s)
{
	return !s || s->n == 0;
}

/* --- label selector lexer --- */

enum tok { T_END, T_ID, T_NOT, T_NE, T_EQ, T_DEQ, T_LP, T_RP, T_COMMA };

struct lex {
	const char *p;
	const char *tok; /* start of the last token */
	size_t len;
};

static bool special(int c)
{
	return c && strchr("=!(),", c);
}

static enum tok next(struct lex *l)
{
	while (isspace((unsigned char)*l->p))
		l->p++;
	l->tok = l->p;
	if (!*l->p) {
		l->len = 0;
		return T_END;
	}
	static const struct {
		const char *s;
		enum tok t;
	} ops[] = {{"!=", T_NE}, {"==", T_DEQ}, {"!", T_NOT},  {"=", T_EQ},
	           {"(", T_LP},  {")", T_RP},   {",", T_COMMA}};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		size_t n = strlen(ops[i].s);
		if (!strncmp(l->p, ops[i].s, n)) {
			l->p += n;
			l->len = n;
			return ops[i].t;
		}
	}
	while (*l->p && !isspace((unsigned char)*l->p) && !special(*l->p))
		l->p++;
	l->len = (size_t)(l->p - l->tok);
	return T_ID;
}

static enum tok peek(struct lex *l)
{
	struct lex c = *l;
	return next(&c);
}

static bool is_kw(const struct lex *l, const char *kw)
{
	return l->len == strlen(kw) && !strncmp(l->tok, kw, l->len);
}

static int found(struct lex *l, enum tok t, const char *expected, k9_err *e)
{
	return k9_errf(e, 400, "BadRequest",
	               "unable to parse requirement: found '%.*s', expected: %s",
	               t == T_END ? 3 : (int)l->len, t == T_END ? "EOS" : l->tok, expected);
}

static int check_key(const char *key, k9_err *e)
{
	const char *why = obj_check_label_key(key);
	if (why)
		return k9_errf(e, 400, "BadRequest",
		               "unable to parse requirement: key: Invalid value: \"%s\": %s", key,
		               why);
	return 0;
}

static int check_values(const struct req *r, k9_err *e)
{
	for (size_t i = 0; i < r->nvals; i++) {
		const char *why = obj_check_label_value(r->vals[i]);
		if (why)
			return k9_errf(
			    e, 400, "BadRequest",
			    "unable to parse requirement: values[%zu][%s]: Invalid value: "
			    "\"%s\": %s",
			    i, r->key, r->vals[i], why);
	}
	if ((r->op == OP_IN || r->op == OP_NOTIN) && r->nvals == 0)
		return k9_errf(e, 400, "BadRequest",
		               "unable to parse requirement: values: Invalid value: []: for 'in', "
		               "'notin' operators, values set can't be empty");
	return 0;
}

/* One requirement; the lexer stands before it. */
static int parse_req(sel *s, struct lex *l, k9_err *e)
{
	enum tok t = next(l);
	bool negate = false;
	if (t == T_NOT) {
		negate = true;
		t = next(l);
	}
	if (t != T_ID)
		return found(l, t, negate ? "identifier after '!'" : "!, identifier", e);
	struct req *r = add_req(s, l->tok, l->len, negate ? OP_NOTEXISTS : OP_EXISTS);
	if (check_key(r->key, e) < 0)
		return -1;
	t = peek(l);
	if (negate || t == T_END || t == T_COMMA)
		return 0;
	t = next(l);
	if (t == T_EQ || t == T_DEQ || t == T_NE) {
		r->op = t == T_NE ? OP_NE : OP_EQ;
		enum tok v = peek(l);
		if (v == T_END || v == T_COMMA) {
			add_val(r, "", 0);
		} else if (next(l) == T_ID) {
			add_val(r, l->tok, l->len);
		} else {
			return found(l, v, "identifier", e);
		}
		return check_values(r, e);
	}
	if (t == T_ID && (is_kw(l, "in") || is_kw(l, "notin"))) {
		r->op = is_kw(l, "in") ? OP_IN : OP_NOTIN;
		if ((t = next(l)) != T_LP)
			return found(l, t, "'('", e);
		for (;;) {
			t = next(l);
			if (t == T_RP && r->nvals == 0)
				break;
			if (t == T_ID) {
				add_val(r, l->tok, l->len);
				t = next(l);
			} else if (t == T_COMMA || t == T_RP) {
				add_val(r, "", 0);
			} else {
				return found(l, t, "',', ')' or identifier", e);
			}
			if (t == T_RP)
				break;
			if (t != T_COMMA)
				return found(l, t, "',' or ')'", e);
		}
		return check_values(r, e);
	}
	return found(l, t, "in, notin, =, ==, !=", e);
}

sel *sel_parse_labels(const char *str, k9_err *e)
{
	sel *s = xcalloc(1, sizeof *s);
	struct lex l = {.p = str ? str : ""};
	if (peek(&l) == T_END)
		return s;
	for (;;) {
		if (parse_req(s, &l, e) < 0)
			goto fail;
		enum tok t = next(&l);
		if (t == T_END)
			return s;
		if (t != T_COMMA) {
			found(&l, t, "','", e);
			goto fail;
		}
	}
fail:
	sel_free(s);
	return NULL;
}

sel *sel_from_api(const json_t *ls, k9_err *e)
{
	sel *s = xcalloc(1, sizeof *s);
	const char *key;
	json_t *val;
	size_t i;
	if (!ls || json_is_null(ls))
		return s;
	if (!json_is_object(ls)) {
		k9_errf(e, 400, "BadRequest", "a label selector must be an object");
		goto fail;
	}
	json_object_foreach((json_t *)json_object_get(ls, "matchLabels"), key, val)
	{
		const char *v = json_string_value(val);
		if (!v) {
			k9_errf(e, 400, "BadRequest", "matchLabels.%s: must be a string", key);
			goto fail;
		}
		struct req *r = add_req(s, key, strlen(key), OP_EQ);
		add_val(r, v, strlen(v));
		if (check_key(key, e) < 0 || check_values(r, e) < 0)
			goto fail;
	}
	json_array_foreach(json_object_get(ls, "matchExpressions"), i, val)
	{
		static const char *const names[] = {"In", "NotIn", "Exists", "DoesNotExist"};
		static const enum op ops[] = {OP_IN, OP_NOTIN, OP_EXISTS, OP_NOTEXISTS};
		const char *k = json_string_value(json_object_get(val, "key"));
		const char *op = json_string_value(json_object_get(val, "operator"));
		const json_t *vals = json_object_get(val, "values");
		int o = 0;
		while (o < 4 && (!op || strcmp(op, names[o])))
			o++;
		if (!k || o == 4) {
			k9_errf(e, 400, "BadRequest", "matchExpressions[%zu]: %s", i,
			        !k ? "key: Required value"
			           : "operator: Unsupported value: supported values: \"In\", "
			             "\"NotIn\", \"Exists\", \"DoesNotExist\"");
			goto fail;
		}
		struct req *r = add_req(s, k, strlen(k), ops[o]);
		size_t j;
		json_t *v;
		json_array_foreach(vals, j, v) if (json_is_string(v))
		    add_val(r, json_string_value(v), json_string_length(v));
		if (check_key(k, e) < 0 || check_values(r, e) < 0)
			goto fail;
		if (o >= 2 && r->nvals) {
			k9_errf(
			    e, 400, "BadRequest",
			    "matchExpressions[%zu].values: Forbidden: may not be specified when "
			    "`operator` is '%s'",
			    i, op);
			goto fail;
		}
	}
	return s;
fail:
	sel_free(s);
	return NULL;
}

static bool in_set(const struct req *r, const char *v)
{
	for (size_t i = 0; i < r->nvals; i++)
		if (!strcmp(r->vals[i], v))
			return true;
	return false;
}

static bool match_one(const struct req *r, const char *v)
{
	switch (r->op) {
	case OP_EQ:
	case OP_IN:
		return v && in_set(r, v);
	case OP_NE:
	case OP_NOTIN:
		return !v || !in_set(r, v);
	case OP_EXISTS:
		return v != NULL;
	case OP_NOTEXISTS:
		return v == NULL;
	}
	return false;
}

bool sel_match_labels(const sel *s, const json_t *labels)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (!match_one(&s->r[i], json_string_value(json_object_get(labels, s->r[i].key))))
			return false;
	return true;
}

/* --- field selectors --- */

/* Copy s[0..n) without its escapes into a new string; NULL on a bad escape. */
static char *unescape(const char *s, size_t n)
{
	char *out = xmalloc(n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\') {
			if (i + 1 >= n || !strchr("\\,=", s[i + 1])) {
				free(out);
				return NULL;
			}
			i++;
		}
		*o++ = s[i];
	}
	*o = 0;
	return out;
}

static int field_term(sel *s, const char *t, size_t n, k9_err *e)
{
	size_t i = 0, opn = 0;
	enum op op = OP_EQ;
	for (; i < n; i++) {
		if (t[i] == '\\') {
			i++;
			continue;
		}
		if (t[i] == '!' && i + 1 < n && t[i + 1] == '=') {
			op = OP_NE, opn = 2;
			break;
		}
		if (t[i] == '=') {
			opn = i + 1 < n && t[i + 1] == '=' ? 2 : 1;
			break;
		}
	}
	size_t ks = 0, ke = i;
	while (ks < ke && isspace((unsigned char)t[ks]))
		ks++;
	while (ke > ks && isspace((unsigned char)t[ke - 1]))
		ke--;
	if (!opn || ke == ks)
		return k9_errf(e, 400, "BadRequest",
		               "invalid selector: '%.*s'; can't understand '%.*s'", (int)n, t,
		               (int)n, t);
	for (size_t k = ks; k < ke; k++)
		if (!isalnum((unsigned char)t[k]) && !strchr("._-", t[k]))
			return k9_errf(e, 400, "BadRequest",
			               "invalid field selector: field \"%.*s\": must be a dotted "
			               "path such as metadata.name",
			               (int)(ke - ks), t + ks);
	char *val = unescape(t + i + opn, n - i - opn);
	if (!val)
		return k9_errf(e, 400, "BadRequest",
		               "invalid field selector: '%.*s': invalid escape sequence", (int)n,
		               t);
	struct req *r = add_req(s, t + ks, ke - ks, op);
	r->vals = xmalloc(sizeof *r->vals);
	r->vals[0] = val;
	r->nvals = 1;
	return 0;
}

sel *sel_parse_fields(const char *str, k9_err *e)
{
	sel *s = xcalloc(1, sizeof *s);
	const char *p = str ? str : "";
	while (*p) {
		size_t n = 0;
		while (p[n] && p[n] != ',')
			n += p[n] == '\\' && p[n + 1] ? 2 : 1;
		bool blank = true;
		for (size_t k = 0; k < n; k++)
			blank &= isspace((unsigned char)p[k]) != 0;
		if (!blank && field_term(s, p, n, e) < 0) {
			sel_free(s);
			return NULL;
		}
		p += n + (p[n] == ',');
	}
	return s;
}

/* The value of a dotted field path as text ("" when missing); into buf. */
static const char *field_value(const json_t *obj, const char *path, char *buf, size_t n)
{
	const json_t *v = obj_get_path(obj, path);
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	return "";
}

bool sel_match_fields(const sel *s, const json_t *obj)
{
	char buf[32];
	for (size_t i = 0; s && i < s->n; i++) {
		const char *v = field_value(obj, s->r[i].key, buf, sizeof buf);
		if (!match_one(&s->r[i], v))
			return false;
	}
	return true;
}

const char *sel_field_equals(const sel *s, const char *field)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (s->r[i].op == OP_EQ && !strcmp(s->r[i].key, field))
			return s->r[i].vals[0];
	return NULL;
}
