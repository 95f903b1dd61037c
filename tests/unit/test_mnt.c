/*
 * test_mnt.c - the mount's pieces that need no kernel: its hash map, the
 * kubeconfig reader, and the mapping of API refusals to errno.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mnt.h"
#include "tap.h"

static void count(void *val, void *arg)
{
	(void)val;
	(*(int *)arg)++;
}

static void test_map(void)
{
	k9_map m = {0};
	char k[32];
	for (long i = 0; i < 5000; i++) {
		snprintf(k, sizeof k, "key-%ld", i);
		k9_map_put(&m, k, (void *)(i + 1));
	}
	ok(m.n == 5000, "5000 keys stored");
	ok(k9_map_get(&m, "key-4321") == (void *)4322, "a key is found after the table grew");
	ok(k9_map_get(&m, "key-5000") == NULL, "a missing key is not found");
	k9_map_put(&m, "key-7", (void *)99);
	ok(m.n == 5000 && k9_map_get(&m, "key-7") == (void *)99, "put replaces");
	ok(k9_map_del(&m, "key-7") == (void *)99 && !k9_map_get(&m, "key-7") && m.n == 4999,
	   "del removes and returns the value");
	ok(k9_map_del(&m, "key-7") == NULL, "del of a missing key is NULL");
	int n = 0;
	k9_map_each(&m, count, &n);
	ok(n == 4999, "each visits every value");
	k9_map_free(&m);
	ok(m.n == 0 && k9_map_get(&m, "key-1") == NULL, "a freed map is empty");
}

static void test_buf_resize(void)
{
	k9_buf b = {0};
	buf_puts(&b, "hello");
	buf_resize(&b, 8);
	ok(b.len == 8 && !memcmp(b.data, "hello\0\0\0", 9), "buf_resize grows with zeros");
	buf_resize(&b, 2);
	ok(b.len == 2 && !strcmp(b.data, "he"), "buf_resize cuts and keeps the NUL");
	buf_free(&b);
	buf_resize(&b, 0);
	ok(b.data && b.len == 0 && b.data[0] == 0, "buf_resize of an empty buffer gives a string");
	buf_free(&b);
}

static char *write_tmp(const char *dir, const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
	return p;
}

static void test_kcfg(void)
{
	char dir[] = "/tmp/kube9-test-mnt.XXXXXX";
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	/* "hello" as certificate-authority-data; a token file relative to the config */
	free(write_tmp(dir, "tok", "s3cret\n"));
	char *p =
	    write_tmp(dir, "config",
	              "apiVersion: v1\nkind: Config\ncurrent-context: b\n"
	              "clusters:\n- name: ca\n  cluster:\n    server: https://10.0.0.1:6443/\n"
	              "    certificate-authority-data: aGVsbG8=\n"
	              "- name: cb\n  cluster:\n    server: https://10.0.0.2:6443\n"
	              "    certificate-authority: pki/ca.crt\n"
	              "users:\n- name: ua\n  user:\n    token: abc\n"
	              "- name: ub\n  user:\n    tokenFile: tok\n"
	              "contexts:\n- name: a\n  context: {cluster: ca, user: ua}\n"
	              "- name: b\n  context: {cluster: cb, user: ub}\n");
	mnt_client c = {0};
	k9_err e;
	ok(mnt_kcfg_load(&c, p, &e) == 0, "a kubeconfig loads");
	is_str(c.server, "https://10.0.0.2:6443", "the current context's server");
	char *want_ca = xasprintf("%s/pki/ca.crt", dir);
	is_str(c.ca_path, want_ca, "a relative CA path is relative to the kubeconfig");
	is_str(c.token, "s3cret", "tokenFile is read, without its newline");
	free(want_ca);
	free(c.server), free(c.ca_path), free(c.token);
	free(p);

	p = write_tmp(
	    dir, "config2",
	    "current-context: a\nclusters:\n- name: ca\n  cluster:\n"
	    "    server: https://10.0.0.1:6443/\n    certificate-authority-data: aGVsbG8=\n"
	    "users:\n- name: ua\n  user:\n    token: abc\n"
	    "contexts:\n- name: a\n  context: {cluster: ca, user: ua}\n");
	memset(&c, 0, sizeof c);
	ok(mnt_kcfg_load(&c, p, &e) == 0, "a second kubeconfig loads");
	is_str(c.server, "https://10.0.0.1:6443", "a trailing slash of the server is dropped");
	size_t n = 0;
	char *ca = c.ca_path ? k9_read_file(c.ca_path, &n) : NULL;
	ok(ca && n == 5 && !memcmp(ca, "hello", 5), "inline CA data is readable at its path");
	free(ca);
	free(c.server), free(c.ca_path), free(c.token);
	free(p);

	p = write_tmp(dir, "config3", "current-context: nope\ncontexts: []\n");
	memset(&c, 0, sizeof c);
	ok(mnt_kcfg_load(&c, p, &e) < 0 && strstr(e.msg, "no current-context named nope"),
	   "a missing context is named: %s", e.msg);
	free(p);
	p = xasprintf("%s/absent", dir);
	ok(mnt_kcfg_load(&c, p, &e) < 0 && strstr(e.msg, "cannot read kubeconfig"),
	   "a missing file is named");
	free(p);
	p = write_tmp(dir, "config4", "a: [\n");
	ok(mnt_kcfg_load(&c, p, &e) < 0 && strstr(e.msg, "line"), "a YAML error has its line");
	free(p);
	char *cmd = xasprintf("rm -rf %s", dir);
	if (system(cmd) != 0)
		ok(0, "cleanup");
	free(cmd);
}

static void test_errno(void)
{
	k9_err e;
	struct {
		int code;
		const char *reason;
		int want;
	} cases[] = {
	    {422, "Invalid", EINVAL},         {400, "BadRequest", EINVAL},
	    {403, "Forbidden", EACCES},       {401, "Unauthorized", EACCES},
	    {409, "AlreadyExists", EEXIST},   {409, "Conflict", EBUSY},
	    {404, "NotFound", ENOENT},        {413, "RequestEntityTooLarge", EFBIG},
	    {503, "ServiceUnavailable", EIO}, {500, "InternalError", EIO},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		k9_errf(&e, cases[i].code, cases[i].reason, "x");
		ok(mnt_errno_of(&e) == cases[i].want, "%d %s -> %s", cases[i].code, cases[i].reason,
		   strerror(cases[i].want));
	}
	k9_buf b = {0};
	buf_puts(&b, "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"message\":\"the object has "
	             "been modified\",\"code\":409}");
	mnt_http_status(409, &b, &e);
	ok(e.code == 409 && !strcmp(e.reason, "Conflict") &&
	       !strcmp(e.msg, "the object has been modified"),
	   "a Status body becomes the error");
	buf_free(&b);
	mnt_http_status(401, NULL, &e);
	ok(strstr(e.msg, "401 Unauthorized") != NULL, "a 401 without a body still says why");
}

int main(void)
{
	test_map();
	test_buf_resize();
	test_kcfg();
	test_errno();
	return tap_done();
}
