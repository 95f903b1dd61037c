/*
 * tree_event.c - Events written through the tree, as client-go's event
 * recorder writes them: one new events/NAME.HEX object per report, in the
 * involved object's namespace ("default" for cluster-scoped objects), with
 * the reporter named in source.component and reportingComponent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kube9/tree.h"
#include "kube9/util.h"

json_t *tree_obj_ref(const json_t *o)
{
	json_t *ref = json_object();
	static const char *const top[] = {"kind", "apiVersion"};
	static const char *const meta[] = {"namespace", "name", "uid", "resourceVersion"};
	for (size_t i = 0; i < 2; i++) {
		const char *v = json_string_value(json_object_get(o, top[i]));
		if (v && v[0])
			json_object_set_new(ref, top[i], json_string(v));
	}
	for (size_t i = 0; i < 4; i++) {
		const char *v = tree_meta(o, meta[i]);
		if (v[0])
			json_object_set_new(ref, meta[i], json_string(v));
	}
	return ref;
}

int tree_event(const json_t *involved, const char *type, const char *reason, const char *msg,
               const char *component)
{
	const char *ns = json_string_value(json_object_get(involved, "namespace"));
	const char *name = json_string_value(json_object_get(involved, "name"));
	if (!name)
		return -EINVAL;
	if (!ns || !ns[0])
		ns = "default";
	char ev[300], now[32], path[600];
	snprintf(ev, sizeof ev, "%.240s.%08lx%04x", name, (unsigned long)time(NULL),
	         (unsigned)(rand() & 0xffff));
	k9_now_rfc3339(now, sizeof now);
	json_t *e =
	    json_pack("{s:s,s:s,s:{s:s,s:s},s:O,s:s,s:s,s:s,s:{s:s},s:s,s:s,s:i,s:s}", "apiVersion",
	              "v1", "kind", "Event", "metadata", "name", ev, "namespace", ns,
	              "involvedObject", involved, "reason", reason, "message", msg, "type", type,
	              "source", "component", component, "firstTimestamp", now, "lastTimestamp", now,
	              "count", 1, "reportingComponent", component);
	tree_path(path, sizeof path, "events", ns, ev, "json");
	int rc = tree_put_json(path, e, true);
	json_decref(e);
	return rc;
}
