/* test_route.c - API paths to requests, token files, authentication and authorization. */
#include <stdlib.h>
#include <unistd.h>

#include "srv.h"
#include "tap.h"

static srv_req route(const char *method, const char *path, int *rc, k9_err *e)
{
	srv_req r = {0};
	r.method = method;
	r.path = path;
	*rc = srv_route(&r, e);
	return r;
}

int main(void)
{
	k9_err e;
	int rc;
	srv_req r;

	r = route("GET", "/api/v1/namespaces/default/pods/web", &rc, &e);
	ok(rc == 0 && !strcmp(r.kind->plural, "pods") && !strcmp(r.ns, "default") &&
	       !strcmp(r.name, "web") && r.target == R_OBJECT && !strcmp(r.verb, "get"),
	   "namespaced object path");
	r = route("GET", "/api/v1/pods", &rc, &e);
	ok(rc == 0 && r.target == R_COLLECTION && !r.ns[0] && !strcmp(r.verb, "list"),
	   "list across namespaces");
	r = route("PATCH", "/apis/apps/v1/namespaces/x/deployments/d/scale", &rc, &e);
	ok(rc == 0 && !strcmp(r.sub, "scale") && !strcmp(r.verb, "patch") &&
	       !strcmp(r.kind->group, "apps"),
	   "scale subresource of a deployment");
	r = route("GET", "/apis/apps/v1beta2/namespaces/x/replicasets", &rc, &e);
	ok(rc == 0 && !strcmp(r.kind->version, "v1beta2"), "apps/v1beta2 is routed");
	r = route("GET", "/api/v1/namespaces/x", &rc, &e);
	ok(rc == 0 && !strcmp(r.kind->plural, "namespaces") && !strcmp(r.name, "x"),
	   "a namespace itself");
	r = route("PUT", "/api/v1/namespaces/x/finalize", &rc, &e);
	ok(rc == 0 && !strcmp(r.sub, "finalize") && !strcmp(r.name, "x"), "namespace finalize");
	r = route("PUT", "/api/v1/namespaces/x/status", &rc, &e);
	ok(rc == 0 && !strcmp(r.sub, "status") && !strcmp(r.name, "x"), "namespace status");
	r = route("GET", "/api/v1/nodes/n1", &rc, &e);
	ok(rc == 0 && !strcmp(r.kind->plural, "nodes") && !strcmp(r.name, "n1") && !r.ns[0],
	   "cluster-scoped object");
	r = route("GET", "/api/v1/namespaces/default/pods/web/log", &rc, &e);
	ok(rc == 0 && !strcmp(r.sub, "log") && !strcmp(r.verb, "get") && !strcmp(r.name, "web"),
	   "pods/NAME/log");
	r = route("GET", "/api/v1/namespaces/default/services/web/log", &rc, &e);
	ok(rc < 0 && e.code == 404, "only pods have a log");
	r = route("GET", "/api/v1/nodes/n1/proxy/metrics/resource", &rc, &e);
	ok(rc == 0 && !strcmp(r.sub, "proxy") && !strcmp(r.name, "n1") && r.proxy_path &&
	       !strcmp(r.proxy_path, "/metrics/resource") && !strcmp(r.verb, "get"),
	   "nodes/NAME/proxy/PATH keeps the rest of the path");
	r = route("GET", "/api/v1/nodes/n1/proxy", &rc, &e);
	ok(rc == 0 && !strcmp(r.sub, "proxy") && r.proxy_path && !r.proxy_path[0],
	   "nodes/NAME/proxy");
	r = route("GET", "/api/v1/nodes/n1/status/x", &rc, &e);
	ok(rc < 0 && e.code == 404, "only proxy takes a longer path");
	r = route("POST", "/api/v1/nodes/n1/proxy/x", &rc, &e);
	ok(rc < 0 && e.code == 405, "proxy: GET only");
	r = route("GET", "/api/v1/watch/namespaces/default/pods", &rc, &e);
	ok(rc == 0 && r.watch && !strcmp(r.verb, "watch"), "legacy /watch/ prefix");
	r = route("GET", "/api/v1/watch/namespaces/default/pods/web", &rc, &e);
	ok(rc == 0 && r.watch && !strcmp(r.name, "web") && r.target == R_COLLECTION,
	   "watching one object");
	r = route("DELETE", "/api/v1/namespaces/default/pods", &rc, &e);
	ok(rc == 0 && !strcmp(r.verb, "deletecollection"), "DELETE on a collection");

	static const char *const bad[] = {
	    "/api/v1/namespaces/default/nodes/n1",
	    "/api/v1/pods/web",
	    "/api/v1/namespaces/../pods",
	    "/api/v1/namespaces/default/pods/web/exec",
	    "/api/v2/pods",
	    "/apis/apps/v1/pods",
	    "/api/v1/namespaces/default/pods/a/b/c",
	    "/nope",
	    "/api/v1/configmaps/x/status",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		route("GET", bad[i], &rc, &e);
		ok(rc < 0 && e.code == 404, "404 for %s", bad[i]);
	}
	route("POST", "/api/v1/namespaces/default/pods/web", &rc, &e);
	ok(rc < 0 && e.code == 405, "POST to an object is 405");

	/* token file and authentication */
	char path[] = "/tmp/kube9-tokens.XXXXXX";
	int fd = mkstemp(path);
	const char *csv = "# comment\n"
	                  "t-admin,admin,1,\"system:masters\"\n"
	                  "t-node,system:node:n1,2,\"system:nodes,extra\"\n"
	                  "t-bob,bob,3\n";
	ok(write(fd, csv, strlen(csv)) == (ssize_t)strlen(csv), "wrote a token file");
	close(fd);
	srv s = {0};
	ok(srv_tokens_load(&s, path, &e) == 0 && s.ntokens == 3, "three tokens loaded");
	srv_user u;
	ok(srv_authenticate(&s, "Bearer t-node", &u, &e) == 0 &&
	       !strcmp(u.name, "system:node:n1") && u.ngroups == 3 && !strcmp(u.groups[1], "extra"),
	   "quoted group list is split");
	ok(srv_authenticate(&s, "Bearer t-nod", &u, &e) < 0 && e.code == 401,
	   "a prefix is not a token");
	ok(srv_authenticate(&s, NULL, &u, &e) < 0 && e.code == 401, "no header is 401");
	ok(srv_authenticate(&s, "Basic dDp0", &u, &e) < 0 && e.code == 401, "basic auth is 401");

	r = route("GET", "/api/v1/secrets", &rc, &e);
	srv_authenticate(&s, "Bearer t-admin", &r.user, &e);
	ok(srv_authorize(&r, &e) == 0, "masters may list secrets");
	srv_authenticate(&s, "Bearer t-node", &r.user, &e);
	ok(srv_authorize(&r, &e) < 0 && e.code == 403, "nodes may not list secrets");
	r = route("PUT", "/api/v1/namespaces/d/pods/p/status", &rc, &e);
	srv_authenticate(&s, "Bearer t-node", &r.user, &e);
	ok(srv_authorize(&r, &e) == 0, "nodes may update pod status");
	r = route("PUT", "/api/v1/namespaces/d/pods/p", &rc, &e);
	srv_authenticate(&s, "Bearer t-node", &r.user, &e);
	ok(srv_authorize(&r, &e) < 0, "nodes may not update pod specs");
	r = route("GET", "/api/v1/namespaces/d/pods", &rc, &e);
	srv_authenticate(&s, "Bearer t-bob", &r.user, &e);
	ok(srv_authorize(&r, &e) < 0 && strstr(e.msg, "User \"bob\" cannot list"),
	   "others are refused with a sentence");
	srv_tokens_free(&s);
	unlink(path);
	return tap_done();
}
