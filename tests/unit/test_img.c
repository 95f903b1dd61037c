/*
 * test_img.c - the node image store: reference normalization, the default
 * pull policy, WWW-Authenticate parsing, dockerconfigjson credential
 * lookup, blob digests, layer unpacking (containment of "..", absolute
 * paths and symlink escapes; whiteouts), and import + img_get from several
 * threads at once.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "img_int.h"
#include "kube9/util.h"
#include "tap.h"

static char tmp[256];

static void test_normalize(void)
{
	static const char *const good[][2] = {
	    {"busybox", "docker.io/library/busybox:latest"},
	    {"library/busybox:1.35", "docker.io/library/busybox:1.35"},
	    {"docker.io/busybox", "docker.io/library/busybox:latest"},
	    {"index.docker.io/library/busybox:1", "docker.io/library/busybox:1"},
	    {"user/app:v1.2-rc_3", "docker.io/user/app:v1.2-rc_3"},
	    {"quay.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	     "quay.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
	    {"b:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	     "docker.io/library/b:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456"
	     "789abcdef"},
	    {"localhost:5000/x", "localhost:5000/x:latest"},
	    {"localhost/x:2", "localhost/x:2"},
	    {"127.0.0.1:5000/a/b:c", "127.0.0.1:5000/a/b:c"},
	    {"[::1]:5000/a", "[::1]:5000/a:latest"},
	    {"kube9.local/busybox:1.35", "kube9.local/busybox:1.35"},
	    {"Registry.Example.COM/a__b/c-d.e:X", "Registry.Example.COM/a__b/c-d.e:X"},
	};
	static const char *const bad[] = {"",
	                                  " x",
	                                  "x ",
	                                  "UPPER/x",
	                                  "Busybox",
	                                  "a:b:c",
	                                  "a/",
	                                  "/a",
	                                  "a//b",
	                                  "a/../b",
	                                  "-a",
	                                  "a:",
	                                  "a:-x",
	                                  "a@sha256:123",
	                                  "a@md5:0123456789abcdef0123456789abcdef",
	                                  "a___b",
	                                  "host:port/x",
	                                  "a/b:c:d",
	                                  "a..b/c/../d",
	                                  "x@",
	                                  "a\tb"};
	char out[512];
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		int r = img_normalize(good[i][0], out, sizeof out);
		ok(r == 0, "\"%s\" is a reference", good[i][0]);
		is_str(r == 0 ? out : NULL, good[i][1], "\"%s\" normalizes", good[i][0]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ok(img_normalize(bad[i], out, sizeof out) < 0, "\"%s\" is refused", bad[i]);

	img_refparts p;
	ok(img_ref_parts("127.0.0.1:5000/a/b:c", &p) == 0 && !strcmp(p.domain, "127.0.0.1:5000") &&
	       !strcmp(p.path, "a/b") && !strcmp(p.tag, "c") && !p.digest[0],
	   "parts of a host:port reference");
	ok(img_ref_parts("busybox", &p) == 0 && !strcmp(img_ref_host(&p), "registry-1.docker.io"),
	   "docker.io is pulled from registry-1.docker.io");

	is_str(img_default_policy("busybox"), "Always", "no tag: Always");
	is_str(img_default_policy("busybox:latest"), "Always", ":latest: Always");
	is_str(img_default_policy("busybox:1.35"), "IfNotPresent", "a tag: IfNotPresent");
	is_str(img_default_policy("busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0"
	                          "123456789abcdef"),
	       "IfNotPresent", "a digest: IfNotPresent");

	ok(img_insecure_host("127.0.0.1:5000", NULL), "127.0.0.1 may be plain HTTP");
	ok(img_insecure_host("localhost", NULL) && img_insecure_host("[::1]:80", NULL),
	   "localhost and [::1] may be plain HTTP");
	ok(!img_insecure_host("127.example.com", NULL), "127.example.com is not loopback");
	ok(!img_insecure_host("quay.io", NULL), "quay.io is HTTPS only");
	ok(img_insecure_host("reg.lan:5000", "a:1, reg.lan:5000") &&
	       !img_insecure_host("reg.lan:5001", "reg.lan:5000") &&
	       img_insecure_host("reg.lan:5001", "reg.lan"),
	   "listed registries (host:port, or host for any port)");
	setenv("KUBE9_INSECURE_REGISTRIES", "env.lan:9000", 1);
	ok(img_insecure_host("env.lan:9000", NULL), "KUBE9_INSECURE_REGISTRIES");
	unsetenv("KUBE9_INSECURE_REGISTRIES");
}

static void test_manifests(void)
{
	const char *d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	const char *d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
	json_t *ix =
	    json_pack("{s[{s:s,s{s:s,s:s}},{s:s,s{s:s,s:s,s:s}},{s:s,s{s:s,s:s}}]}", "manifests",
	              "digest", d1, "platform", "os", "linux", "architecture", "arm64", "digest",
	              d1, "platform", "os", "linux", "architecture", "amd64", "variant", "v3",
	              "digest", d2, "platform", "os", "linux", "architecture", "amd64");
	const json_t *e = img_index_pick(ix);
	is_str(e ? json_string_value(json_object_get(e, "digest")) : NULL, d2,
	       "an index picks linux/amd64 (no variant over v3)");
	json_array_remove(json_object_get(ix, "manifests"), 2);
	e = img_index_pick(ix);
	is_str(e ? json_string_value(json_object_get(e, "digest")) : NULL, d1,
	       "... or the amd64 variant there is");
	json_array_remove(json_object_get(ix, "manifests"), 1);
	ok(img_index_pick(ix) == NULL, "an index without linux/amd64 picks nothing");
	json_decref(ix);

	char err[256];
	const char *v1 = "{\"schemaVersion\":1,\"fsLayers\":[]}";
	ok(img_manifest_parse(v1, strlen(v1), err, sizeof err) == NULL && strstr(err, "schema 1"),
	   "schema 1 manifests are refused: %s", err);
	char *m = xasprintf("{\"schemaVersion\":2,\"config\":{\"digest\":\"%s\"},\"layers\":[{"
	                    "\"digest\":\"sha256:x\",\"mediaType\":\"a\"}]}",
	                    d1);
	ok(img_manifest_parse(m, strlen(m), err, sizeof err) == NULL,
	   "a bad layer digest is refused");
	free(m);
}

static void test_auth(void)
{
	img_challenge c;
	ok(img_auth_parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker."
	                  "io\",scope=\"repository:library/busybox:pull,push\"",
	                  &c) == 0,
	   "Bearer challenge parses");
	is_str(c.scheme, "Bearer", "scheme");
	is_str(c.realm, "https://auth.docker.io/token", "realm");
	is_str(c.service, "registry.docker.io", "service");
	is_str(c.scope, "repository:library/busybox:pull,push", "scope with a comma inside quotes");
	ok(img_auth_parse("bearer realm=http://x/t, error=\"insufficient_scope\", "
	                  "scope=\"a\\\"b\"",
	                  &c) == 0 &&
	       !strcmp(c.realm, "http://x/t") && !strcmp(c.scope, "a\"b"),
	   "case, tokens, unknown params and escapes");
	ok(img_auth_parse("Basic realm=\"Registry Realm\"", &c) == 0 &&
	       !strcmp(c.scheme, "Basic") && !strcmp(c.realm, "Registry Realm"),
	   "Basic challenge parses");
	ok(img_auth_parse("Negotiate", &c) < 0 && img_auth_parse("", &c) < 0,
	   "other schemes are refused");

	json_t *auths = json_pack(
	    "{s{s:s}s{s:s,s:s}s{s:s}s{s:s}s{s:s}s{s:s}}", "https://index.docker.io/v1/", "auth",
	    "aHViOmh1YnB3" /* hub:hubpw */, "127.0.0.1:5000", "username", "u", "password", "p:w",
	    "https://quay.io", "auth", "cXVheTpx" /* quay:q */, "quay.io/team/app", "auth",
	    "dGVhbTp0" /* team:t */, "*.example.com", "auth", "d2lsZDp3" /* wild:w */,
	    "reg.example.com", "auth", "ZXhhY3Q6ZQ==" /* exact:e */);
	char *u, *p;
	ok(img_auth_lookup(auths, "docker.io", "library/busybox", &u, &p) == 0 &&
	       !strcmp(u, "hub") && !strcmp(p, "hubpw"),
	   "index.docker.io/v1/ answers for docker.io");
	free(u), free(p);
	ok(img_auth_lookup(auths, "127.0.0.1:5000", "x", &u, &p) == 0 && !strcmp(u, "u") &&
	       !strcmp(p, "p:w"),
	   "username and password fields");
	free(u), free(p);
	ok(img_auth_lookup(auths, "quay.io", "team/app", &u, &p) == 0 && !strcmp(u, "team"),
	   "the longest path wins");
	free(u), free(p);
	ok(img_auth_lookup(auths, "quay.io", "team/other", &u, &p) == 0 && !strcmp(u, "quay") &&
	       !strcmp(p, "q"),
	   "a host key with https:// answers for its other paths");
	free(u), free(p);
	ok(img_auth_lookup(auths, "a.example.com", "x", &u, &p) == 0 && !strcmp(u, "wild"),
	   "*.example.com matches one label");
	free(u), free(p);
	ok(img_auth_lookup(auths, "reg.example.com", "x", &u, &p) == 0 && !strcmp(u, "exact"),
	   "an exact host beats a wildcard");
	free(u), free(p);
	ok(img_auth_lookup(auths, "a.b.example.com", "x", &u, &p) < 0 &&
	       img_auth_lookup(auths, "127.0.0.1:5001", "x", &u, &p) < 0 &&
	       img_auth_lookup(NULL, "quay.io", "x", &u, &p) < 0,
	   "no credentials for other hosts, ports, or without auths");
	json_decref(auths);
}

typedef struct tar_ent {
	int type; /* AE_IFREG, AE_IFDIR, AE_IFLNK, or 'h' for a hard link */
	const char *name, *data;
} tar_ent;

/* A tar (gzip'd if gz) at path with the entries. */
static void write_tar(const char *path, const tar_ent *e, size_t n, bool gz)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (gz)
		archive_write_add_filter_gzip(a);
	archive_write_open_filename(a, path);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *en = archive_entry_new();
		archive_entry_set_pathname(en, e[i].name);
		archive_entry_set_mode(en, (e[i].type == 'h' ? AE_IFREG : (mode_t)e[i].type) |
		                               (e[i].type == AE_IFDIR ? 0755 : 0644));
		if (e[i].type == AE_IFLNK)
			archive_entry_set_symlink(en, e[i].data);
		else if (e[i].type == 'h')
			archive_entry_set_hardlink(en, e[i].data);
		else if (e[i].type == AE_IFREG)
			archive_entry_set_size(en, (la_int64_t)strlen(e[i].data));
		archive_write_header(a, en);
		if (e[i].type == AE_IFREG)
			archive_write_data(a, e[i].data, strlen(e[i].data));
		archive_entry_free(en);
	}
	archive_write_close(a);
	archive_write_free(a);
}

/* Unpack the entries into a fresh TMP/NAME dir; the result of img_layer_unpack. */
static int unpack(const char *name, const tar_ent *e, size_t n, bool gz, char *err, size_t len)
{
	char *tar = xasprintf("%s/%s.tar", tmp, name), *dir = xasprintf("%s/%s", tmp, name);
	write_tar(tar, e, n, gz);
	mkdir(dir, 0755);
	int r = img_layer_unpack(tar, dir, err, len);
	free(tar);
	free(dir);
	return r;
}

static bool exists(const char *fmt, const char *a)
{
	struct stat st;
	char *p = xasprintf(fmt, a);
	bool r = lstat(p, &st) == 0;
	free(p);
	return r;
}

static void test_layers(void)
{
	char err[1024], evil[128];
	snprintf(evil, sizeof evil, "/tmp/kube9-test-img-evil-%d", (int)getpid());
	tar_ent dotdot[] = {{AE_IFREG, "ok", "x"}, {AE_IFREG, "../escape", "bad"}};
	ok(unpack("dotdot", dotdot, 2, false, err, sizeof err) < 0 && strstr(err, "\"..\""),
	   "a \"..\" entry is refused: %s", err);
	ok(!exists("%s/escape", tmp), "nothing was written beside the layer");

	tar_ent abs[] = {{AE_IFREG, evil, "bad"}, {AE_IFREG, "./a/./b", "y"}};
	ok(unpack("abs", abs, 2, true, err, sizeof err) == 0,
	   "an absolute entry is unpacked (gzip)");
	ok(!exists("%s", evil), "an absolute path stays inside the layer");
	ok(exists("%s/abs/tmp", tmp) && exists("%s/abs/a/b", tmp), "it lands in the layer dir");

	tar_ent sym[] = {{AE_IFLNK, "link", "/tmp"}, {AE_IFREG, evil + 4, "bad"}};
	sym[1].name = xasprintf("link/%s", evil + 5);
	ok(unpack("sym", sym, 2, false, err, sizeof err) < 0,
	   "writing through a symlink is refused: %s", err);
	ok(!exists("%s", evil), "nothing was written through the symlink");
	free((char *)sym[1].name);

	tar_ent hl[] = {{AE_IFLNK, "link", "/etc"}, {'h', "passwd", "link/passwd"}};
	ok(unpack("hl", hl, 2, false, err, sizeof err) < 0 && strstr(err, "symlink"),
	   "a hard link through a symlink is refused: %s", err);
	tar_ent hl2[] = {{'h', "passwd", "../../etc/passwd"}};
	ok(unpack("hl2", hl2, 1, false, err, sizeof err) < 0 && strstr(err, "\"..\""),
	   "a hard link to \"..\" is refused: %s", err);

	tar_ent wh[] = {{AE_IFDIR, "d", ""},       {AE_IFREG, "d/.wh..wh..opq", ""},
	                {AE_IFREG, "d/keep", "k"}, {AE_IFREG, ".wh.gone", ""},
	                {AE_IFREG, "e/.wh.x", ""}, {AE_IFREG, ".wh..wh.plnk", ""}};
	ok(unpack("wh", wh, 6, false, err, sizeof err) == 0, "whiteouts unpack: %s", err);
	struct stat st;
	char *p = xasprintf("%s/wh/gone", tmp), v[8] = "";
	ok(stat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0),
	   ".wh.gone is a 0/0 character device gone");
	free(p);
	p = xasprintf("%s/wh/e/x", tmp);
	ok(stat(p, &st) == 0 && S_ISCHR(st.st_mode), "a whiteout in a directory not in the tar");
	free(p);
	p = xasprintf("%s/wh/d", tmp);
	ok(getxattr(p, "trusted.overlay.opaque", v, sizeof v) == 1 && v[0] == 'y',
	   ".wh..wh..opq makes d opaque");
	free(p);
	ok(!exists("%s/wh/.wh.gone", tmp) && !exists("%s/wh/d/.wh..wh..opq", tmp) &&
	       !exists("%s/wh/.wh..wh.plnk", tmp) && exists("%s/wh/d/keep", tmp),
	   "the .wh. entries themselves are not written");

	tar_ent whsym[] = {{AE_IFLNK, "l", "/tmp"}, {AE_IFREG, "l/.wh.x", ""}};
	ok(unpack("whsym", whsym, 2, false, err, sizeof err) < 0,
	   "a whiteout through a symlink is refused: %s", err);
}

static void test_blobs(img_store *s)
{
	char err[512], d[80];
	const char *bad = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	ok(img_blob_put(s, "hello", 5, bad, d, err, sizeof err) < 0 && strstr(err, bad) &&
	       strstr(err,
	              "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
	   "a digest mismatch names both digests: %s", err);
	img_blob_w *w = img_blob_begin(s, err, sizeof err);
	img_blob_write(w, "hel", 3);
	img_blob_write(w, "lo", 2);
	ok(img_blob_commit(w, bad, NULL, err, sizeof err) < 0 && strstr(err, bad) &&
	       !img_blob_has(s,
	                     "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b"
	                     "9824"),
	   "a streamed blob with the wrong digest is not kept");
	ok(img_blob_put(s, "hello", 5, NULL, d, err, sizeof err) == 0 &&
	       !strcmp(d,
	               "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824") &&
	       img_blob_has(s, d),
	   "a blob is stored under its digest");
}

/* Write text as a layout blob; its digest into d. */
static void layout_blob(const char *layout, const char *text, size_t n, char *d)
{
	img_sha256(text, n, d);
	char *p = xasprintf("%s/blobs/sha256/%s", layout, d + 7);
	k9_write_file_atomic(p, text, n, 0644);
	free(p);
}

static struct {
	img_store *s;
	int ok;
	char layer[512];
	pthread_mutex_t mu;
} par = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *get_thread(void *arg)
{
	(void)arg;
	img i;
	const char *reason;
	char msg[1024];
	if (img_get(par.s, "kube9.local/t:1", "IfNotPresent", NULL, &i, &reason, msg, sizeof msg) ==
	        0 &&
	    i.n_layers == 1) {
		pthread_mutex_lock(&par.mu);
		par.ok += !strcmp(i.layers[0], par.layer);
		pthread_mutex_unlock(&par.mu);
	}
	img_free(&i);
	return NULL;
}

static void test_store(img_store *s)
{
	char *layout = xasprintf("%s/layout", tmp), *blobs = xasprintf("%s/blobs/sha256", layout);
	char layer[80], cfg[80], man[80], err[1024], msg[1024];
	k9_mkdir_p(blobs, 0755);
	tar_ent files[] = {{AE_IFDIR, "bin", ""}, {AE_IFREG, "bin/hello", "hi\n"}};
	char *tar = xasprintf("%s/l.tgz", tmp);
	write_tar(tar, files, 2, true);
	size_t n;
	char *data = k9_read_file(tar, &n);
	layout_blob(layout, data, n, layer);
	const char *ctext =
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"sh\"]}}";
	layout_blob(layout, ctext, strlen(ctext), cfg);
	char *mtext = xasprintf(
	    "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/"
	    "vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[{"
	    "\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\","
	    "\"size\":%zu}]}",
	    cfg, strlen(ctext), layer, n);
	layout_blob(layout, mtext, strlen(mtext), man);
	char *index = xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\","
	                        "\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"org."
	                        "opencontainers.image.ref.name\":\"1\"}}]}",
	                        IMG_MT_OCI_MANIFEST, man, strlen(mtext));
	char *ipath = xasprintf("%s/index.json", layout);
	k9_write_file_atomic(ipath, index, strlen(index), 0644);

	ok(img_import(s, layout, "kube9.local/t:1", err, sizeof err) == 0, "import a layout: %s",
	   err);
	img i;
	const char *reason;
	int r = img_get(s, "kube9.local/t:1", "Never", NULL, &i, &reason, msg, sizeof msg);
	ok(r == 0, "img_get with Never finds the imported image: %s", msg);
	is_str(i.id, cfg, "the id is the config digest");
	is_str(i.ref, "kube9.local/t:1", "the ref is normalized");
	ok(i.n_layers == 1 && i.layers[0] && !i.layers[1] && exists("%s/bin/hello", i.layers[0]),
	   "one unpacked layer, NULL-terminated");
	json_t *cmd = json_pack("[s]", "sh");
	ok(json_equal(json_object_get(i.config, "Cmd"), cmd),
	   "config is the image config's \"config\"");
	json_decref(cmd);
	snprintf(par.layer, sizeof par.layer, "%s", r == 0 ? i.layers[0] : "");
	img_free(&i);

	r = img_get(s, "kube9.local/t:2", "Never", NULL, &i, &reason, msg, sizeof msg);
	ok(r < 0 && !strcmp(reason, "ErrImageNeverPull") &&
	       !strcmp(msg,
	               "Container image \"kube9.local/t:2\" is not present with pull policy of "
	               "Never"),
	   "an absent image with Never: %s", msg);
	r = img_get(s, "Bad/Name", NULL, NULL, &i, &reason, msg, sizeof msg);
	ok(r < 0 && !strcmp(reason, "InvalidImageName"), "a bad name: InvalidImageName (%s)", msg);

	img_rm_tree(par.layer); /* eight threads race to unpack it again */
	par.s = s;
	pthread_t th[8];
	for (int k = 0; k < 8; k++)
		pthread_create(&th[k], NULL, get_thread, NULL);
	for (int k = 0; k < 8; k++)
		pthread_join(th[k], NULL);
	ok(par.ok == 8, "8 concurrent img_get calls all get the layer (%d)", par.ok);
	char *lay = xasprintf("%s/layers", s->dir);
	int entries = 0;
	DIR *d = opendir(lay);
	for (struct dirent *de; d && (de = readdir(d));)
		entries += de->d_name[0] != '.' || strncmp(de->d_name, ".tmp-", 5) == 0;
	closedir(d);
	ok(entries == 1 && exists("%s/bin/hello", par.layer), "one layer dir, no temp dirs left");

	img_info *v;
	img_list(s, &v, &n);
	ok(n == 1 && !strcmp(v[0].ref, "kube9.local/t:1") && !strcmp(v[0].id, cfg) &&
	       !strcmp(v[0].manifest, man),
	   "img_list lists the import");
	free(v);
	free(lay), free(layout), free(blobs), free(tar), free(data), free(mtext), free(index);
	free(ipath);
}

int main(void)
{
	k9_log_level = LOG_WARN;
	snprintf(tmp, sizeof tmp, "/tmp/kube9-test-img.XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	test_normalize();
	test_manifests();
	test_auth();
	if (geteuid() != 0) {
		printf("ok %d # SKIP layer and store tests need root (mknod, trusted xattrs)\n",
		       ++tap_n);
	} else {
		test_layers();
		char err[256], *dir = xasprintf("%s/store", tmp);
		img_store *s = img_open(dir, err, sizeof err);
		ok(s != NULL, "img_open: %s", s ? "" : err);
		if (s) {
			test_blobs(s);
			test_store(s);
			img_close(s);
		}
		free(dir);
	}
	img_rm_tree(tmp);
	return tap_done();
}
