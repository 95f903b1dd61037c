/* test_patch.c - merge patch, JSON patch and strategic merge patch. */
#include "kube9/patch.h"
#include "tap.h"

static json_t *J(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);
	if (!j)
		printf("# bad test JSON: %s: %s\n", s, e.text);
	return j;
}

static void check(json_t *got, const char *want, const char *what)
{
	json_t *w = J(want);
	char *g = got ? json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	ok(got && json_equal(got, w), "%s", what);
	if (!(got && json_equal(got, w)))
		printf("#   got:  %s\n#   want: %s\n", g ? g : "(null)", want);
	free(g);
	json_decref(w);
	json_decref(got);
}

int main(void)
{
	json_t *t = J("{\"a\":1,\"b\":{\"c\":2,\"d\":3},\"l\":[1,2]}");
	json_t *p;
	k9_err e = {0};

	p = J("{\"b\":{\"c\":null,\"e\":4},\"l\":[3],\"z\":\"x\"}");
	check(patch_merge(t, p), "{\"a\":1,\"b\":{\"d\":3,\"e\":4},\"l\":[3],\"z\":\"x\"}",
	      "merge patch: null deletes, objects merge, arrays replace");
	json_decref(p);

	p = J("[{\"op\":\"add\",\"path\":\"/l/-\",\"value\":9},"
	      "{\"op\":\"replace\",\"path\":\"/a\",\"value\":5},"
	      "{\"op\":\"remove\",\"path\":\"/b/c\"},"
	      "{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/b/x~1y\"},"
	      "{\"op\":\"move\",\"from\":\"/b/d\",\"path\":\"/m\"},"
	      "{\"op\":\"test\",\"path\":\"/a\",\"value\":5}]");
	check(patch_json(t, p, &e), "{\"a\":5,\"b\":{\"x/y\":5},\"l\":[1,2,9],\"m\":3}",
	      "JSON patch: add, replace, remove, copy, move, test, ~1 escape");
	json_decref(p);

	p = J("[{\"op\":\"test\",\"path\":\"/a\",\"value\":2}]");
	ok(patch_json(t, p, &e) == NULL && e.code == 422, "JSON patch: failed test is 422");
	json_decref(p);
	p = J("[{\"op\":\"remove\",\"path\":\"/nope/x\"}]");
	ok(patch_json(t, p, &e) == NULL && e.code == 422, "JSON patch: missing path is refused");
	json_decref(p);
	p = J("[{\"op\":\"replace\",\"path\":\"/l/5\",\"value\":1}]");
	ok(patch_json(t, p, &e) == NULL, "JSON patch: index out of range is refused");
	json_decref(p);
	p = J("{\"op\":\"add\"}");
	ok(patch_json(t, p, &e) == NULL && e.code == 400, "JSON patch: not an array is 400");
	json_decref(p);
	p = J("[{\"op\":\"frobnicate\",\"path\":\"/a\"}]");
	ok(patch_json(t, p, &e) == NULL && e.code == 400, "JSON patch: unknown op is 400");
	json_decref(p);
	json_decref(t);

	t = J("{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x:1\"},"
	      "{\"name\":\"b\",\"image\":\"y:1\",\"ports\":[{\"containerPort\":80}]}]},"
	      "\"metadata\":{\"finalizers\":[\"f1\"]}}");
	p = J("{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"y:2\"},"
	      "{\"name\":\"c\",\"image\":\"z\"}]},\"metadata\":{\"finalizers\":[\"f2\"]}}");
	check(patch_strategic(t, p, &e),
	      "{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x:1\"},"
	      "{\"name\":\"b\",\"image\":\"y:2\",\"ports\":[{\"containerPort\":80}]},"
	      "{\"name\":\"c\",\"image\":\"z\"}]},\"metadata\":{\"finalizers\":[\"f1\",\"f2\"]}}",
	      "strategic: containers merged by name, finalizers as a set");
	json_decref(p);

	p = J("{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"b\"},{\"name\":\"a\"}],"
	      "\"containers\":[{\"name\":\"a\",\"$patch\":\"delete\"}]}}");
	check(patch_strategic(t, p, &e),
	      "{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"y:1\",\"ports\":"
	      "[{\"containerPort\":80}]}]},\"metadata\":{\"finalizers\":[\"f1\"]}}",
	      "strategic: $patch delete and $setElementOrder");
	json_decref(p);

	p = J("{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"f1\"]},"
	      "\"spec\":{\"$patch\":\"replace\",\"x\":1}}");
	check(patch_strategic(t, p, &e), "{\"spec\":{\"x\":1},\"metadata\":{\"finalizers\":[]}}",
	      "strategic: $deleteFromPrimitiveList and $patch replace");
	json_decref(p);

	p = J("{\"spec\":{\"$retainKeys\":[\"y\"],\"y\":2}}");
	check(patch_strategic(t, p, &e),
	      "{\"spec\":{\"y\":2},\"metadata\":{\"finalizers\":[\"f1\"]}}",
	      "strategic: $retainKeys drops the other keys");
	json_decref(p);
	json_decref(t);
	return tap_done();
}
