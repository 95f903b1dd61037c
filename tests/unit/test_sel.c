/* test_sel.c - label and field selectors: grammar, errors, matching. */
#include <stdlib.h>

#include "kube9/sel.h"
#include "tap.h"

static k9_err e;

/* Parse s and match it against the labels in JSON text lj. */
static int lmatch(const char *s, const char *lj)
{
	sel *sl = sel_parse_labels(s, &e);
	if (!sl)
		return -1;
	json_t *l = lj ? json_loads(lj, 0, NULL) : NULL;
	int r = sel_match_labels(sl, l);
	json_decref(l);
	sel_free(sl);
	return r;
}

static void lbad(const char *s, const char *want)
{
	sel *sl = sel_parse_labels(s, &e);
	ok(!sl && e.code == 400 && strstr(e.msg, want), "label selector \"%s\" refused: %s", s,
	   sl ? "(parsed)" : e.msg);
	sel_free(sl);
}

static int fmatch(const char *s, const char *oj)
{
	sel *sl = sel_parse_fields(s, &e);
	if (!sl)
		return -1;
	json_t *o = json_loads(oj, 0, NULL);
	int r = sel_match_fields(sl, o);
	json_decref(o);
	sel_free(sl);
	return r;
}

static int api(const char *selj, const char *lj)
{
	json_t *j = json_loads(selj, 0, NULL), *l = json_loads(lj, 0, NULL);
	sel *sl = sel_from_api(j, &e);
	int r = sl ? sel_match_labels(sl, l) : -1;
	sel_free(sl);
	json_decref(j);
	json_decref(l);
	return r;
}

int main(void)
{
	const char *web = "{\"app\": \"web\", \"tier\": \"front\", \"k8s.io/x\": \"\"}";
	ok(lmatch("", web) == 1 && lmatch("  ", NULL) == 1, "empty selects everything");
	ok(lmatch("app=web", web) == 1, "=");
	ok(lmatch("app==web", web) == 1, "==");
	ok(lmatch("app=db", web) == 0, "= mismatch");
	ok(lmatch("app!=db", web) == 1, "!=");
	ok(lmatch("app!=web", web) == 0, "!= mismatch");
	ok(lmatch("env!=prod", web) == 1, "!= matches a missing key");
	ok(lmatch("app in (web,db)", web) == 1, "in");
	ok(lmatch("app in (db)", web) == 0, "in mismatch");
	ok(lmatch("app notin (db, cache)", web) == 1, "notin");
	ok(lmatch("app notin (web)", web) == 0, "notin mismatch");
	ok(lmatch("env notin (prod)", web) == 1, "notin matches a missing key");
	ok(lmatch("env in (prod)", web) == 0, "in needs the key");
	ok(lmatch("app", web) == 1 && lmatch("env", web) == 0, "exists");
	ok(lmatch("!env", web) == 1 && lmatch("!app", web) == 0, "does not exist");
	ok(lmatch("  app = web ,  tier in ( front , back ) , !env ", web) == 1, "whitespace");
	ok(lmatch("app=web,tier=back", web) == 0, "AND");
	ok(lmatch("k8s.io/x=", web) == 1, "empty value");
	ok(lmatch("k8s.io/x in (a,)", web) == 1, "empty value in a set");
	ok(lmatch("app=web", NULL) == 0 && lmatch("!app", NULL) == 1, "no labels");
	ok(lmatch("app in (web)", "{\"app\": 1}") == 0, "non-string label value");
	lbad("app=we b", "found 'b', expected: ','");
	lbad("app in web", "expected: '('");
	lbad("app in (web", "found 'EOS'");
	lbad("app in ()", "values set can't be empty");
	lbad("=web", "found '=', expected: !, identifier");
	lbad("app=web,", "found 'EOS', expected: !, identifier");
	lbad("!app=web", "found '=', expected: ','");
	lbad("app like web", "found 'like', expected: in, notin, =, ==, !=");
	lbad("-app=x", "unable to parse requirement: key: Invalid value: \"-app\": name part");
	lbad("app=-x", "values[0][app]: Invalid value: \"-x\": a valid label must be");
	lbad("app in (a,b$)", "Invalid value: \"b$\"");
	lbad("a/b/c", "Invalid value: \"a/b/c\"");
	lbad("app=(x)", "found '(', expected: identifier");
	lbad("!", "identifier after '!'");

	ok(api("{\"matchLabels\": {\"app\": \"web\"}}", web) == 1, "api matchLabels");
	ok(api("{\"matchLabels\": {\"app\": \"db\"}}", web) == 0, "api matchLabels mismatch");
	ok(api("{\"matchExpressions\": [{\"key\": \"tier\", \"operator\": \"In\", \"values\": "
	       "[\"front\"]}, {\"key\": \"env\", \"operator\": \"DoesNotExist\"}, {\"key\": "
	       "\"app\","
	       " \"operator\": \"Exists\"}, {\"key\": \"app\", \"operator\": \"NotIn\", "
	       "\"values\": "
	       "[\"db\"]}], \"matchLabels\": {\"app\": \"web\"}}",
	       web) == 1,
	   "api matchExpressions");
	ok(api("{\"matchExpressions\": [{\"key\": \"app\", \"operator\": \"NotIn\", \"values\": "
	       "[\"web\"]}]}",
	       web) == 0,
	   "api NotIn mismatch");
	ok(api("{}", web) == 1 && api("null", web) == 1, "api empty selects everything");
	ok(api("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": \"Like\"}]}", web) < 0 &&
	       strstr(e.msg, "operator: Unsupported value"),
	   "api bad operator: %s", e.msg);
	ok(api("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": \"In\", \"values\": []}]}",
	       web) < 0 &&
	       strstr(e.msg, "values set can't be empty"),
	   "api In without values");
	ok(api("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": \"Exists\", \"values\": "
	       "[\"x\"]}]}",
	       web) < 0,
	   "api Exists with values");
	ok(api("{\"matchLabels\": {\"a\": \"b c\"}}", web) < 0, "api bad label value");
	ok(api("{\"matchLabels\": {\"a\": 1}}", web) < 0, "api non-string value");

	const char *pod =
	    "{\"metadata\": {\"name\": \"web\", \"namespace\": \"default\"}, "
	    "\"spec\": {\"nodeName\": \"n1\", \"priority\": 5, \"hostNetwork\": true}, "
	    "\"status\": {\"phase\": \"Running\"}}";
	ok(fmatch("", pod) == 1, "empty field selector");
	ok(fmatch("metadata.name=web", pod) == 1, "field =");
	ok(fmatch("metadata.name==web,metadata.namespace=default", pod) == 1, "field == and AND");
	ok(fmatch("metadata.name=db", pod) == 0, "field mismatch");
	ok(fmatch("spec.nodeName!=n2", pod) == 1 && fmatch("spec.nodeName!=n1", pod) == 0,
	   "field !=");
	ok(fmatch("status.phase=Running", pod) == 1, "status.phase");
	ok(fmatch("spec.nodeName=", "{\"spec\": {}}") == 1, "missing field is \"\"");
	ok(fmatch("spec.nodeName!=", "{\"spec\": {}}") == 0, "unscheduled: nodeName=\"\"");
	ok(fmatch("spec.nodeName!=", pod) == 1, "scheduled: nodeName!=\"\"");
	ok(fmatch("spec.priority=5,spec.hostNetwork=true", pod) == 1, "numbers and bools as text");
	ok(fmatch("metadata.name=a\\,b", "{\"metadata\": {\"name\": \"a,b\"}}") == 1,
	   "escaped comma");
	ok(fmatch(" metadata.name = web", "{\"metadata\": {\"name\": \" web\"}}") == 1,
	   "field name trimmed, value kept");
	sel *s =
	    sel_parse_fields("metadata.namespace=default,spec.nodeName=n1,status.phase!=x", &e);
	is_str(sel_field_equals(s, "spec.nodeName"), "n1", "sel_field_equals");
	is_str(sel_field_equals(s, "metadata.namespace"), "default", "sel_field_equals ns");
	ok(!sel_field_equals(s, "status.phase"), "!= is no equality");
	ok(!sel_field_equals(s, "metadata.name"), "absent field");
	ok(!sel_empty(s), "not empty");
	sel_free(s);
	s = sel_parse_fields("", &e);
	ok(sel_empty(s) && !sel_field_equals(s, "x"), "empty field selector is empty");
	sel_free(s);
	ok(sel_empty(NULL), "NULL is empty");
	s = sel_parse_fields("name", &e);
	ok(!s && strstr(e.msg, "invalid selector: 'name'"), "no operator: %s", e.msg);
	s = sel_parse_fields("=x", &e);
	ok(!s, "no field name");
	s = sel_parse_fields("metadata.name=a\\b", &e);
	ok(!s && strstr(e.msg, "invalid escape"), "bad escape");
	s = sel_parse_fields("meta data=x", &e);
	ok(!s && strstr(e.msg, "dotted path"), "bad field path");
	return tap_done();
}
