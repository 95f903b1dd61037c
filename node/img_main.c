/*
 * img_main.c - `kube9 image`: the node image store from the command line
 * (import an OCI layout, pull from a registry, list), a table of verbs.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img_int.h"
#include "kube9/util.h"

#define DEFAULT_STORE "/var/lib/kube9/images"

typedef struct img_opts {
	const char *store, *auth_file, *policy;
	bool insecure;
	char **args;
	int n_args;
} img_opts;

static int verb_import(img_store *s, const img_opts *o);
static int verb_pull(img_store *s, const img_opts *o);
static int verb_ls(img_store *s, const img_opts *o);

static const struct verb {
	const char *name;
	int (*run)(img_store *s, const img_opts *o);
	int n_args;
	const char *flags; /* the options it takes besides --store, -v, -h */
	const char *help;
} verbs[] = {
    {"import", verb_import, 2, "",
     "usage: kube9 image import [--store DIR] LAYOUT_DIR REF\n\n"
     "Import an OCI image layout directory (oci-layout, index.json, blobs/) as REF,\n"
     "with no registry. A layout with several images picks the one whose\n"
     "org.opencontainers.image.ref.name is REF's tag.\n"},
    {"pull", verb_pull, 1, "iap",
     "usage: kube9 image pull [--store DIR] [--insecure] [--auth-file F] [--policy P] REF\n\n"
     "Pull REF from its registry (OCI distribution / Docker Registry v2) and unpack it.\n\n"
     "      --insecure         plain HTTP (or unverified HTTPS) for REF's registry;\n"
     "                         loopback registries and KUBE9_INSECURE_REGISTRIES\n"
     "                         (host:port,...) always are\n"
     "      --auth-file F      credentials: a dockerconfigjson file ({\"auths\": ...})\n"
     "      --policy P         Always (default), IfNotPresent or Never\n"},
    {"ls", verb_ls, 0, "", "usage: kube9 image ls [--store DIR]\n\nList the stored images.\n"},
};

#define NVERBS (sizeof verbs / sizeof *verbs)

#define COMMON_OPTS                                                                                \
	"      --store DIR        the store (default " DEFAULT_STORE ")\n"                         \
	"  -v, --verbose          debug logging\n"                                                 \
	"  -h, --help             help\n"

static void verb_usage(const struct verb *vb, FILE *f)
{
	fprintf(f, "%s\n%s", vb->help, COMMON_OPTS);
}

static void usage(FILE *f)
{
	fputs("usage: kube9 image VERB [options] ARGS\n\n"
	      "The node's image store: content-addressed blobs and unpacked layers.\n\n"
	      "verbs:\n"
	      "  import  LAYOUT_DIR REF   import an OCI image layout as REF\n"
	      "  pull    REF              pull REF from its registry\n"
	      "  ls                       list the stored images\n\n"
	      "options of every verb:\n" COMMON_OPTS,
	      f);
}

static int verb_import(img_store *s, const img_opts *o)
{
	char err[2048];
	if (img_import(s, o->args[0], o->args[1], err, sizeof err) < 0) {
		log_err("kube9 image import: %s", err);
		return 1;
	}
	char norm[512];
	img_normalize(o->args[1], norm, sizeof norm);
	printf("%s\n", norm);
	return 0;
}

/* The "auths" of a dockerconfigjson file (or the file itself, .dockercfg style). */
static json_t *load_auths(const char *path)
{
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	if (!json_is_object(j)) {
		log_err("kube9 image pull: --auth-file %s: %s", path,
		        j ? "not a JSON object" : je.text);
		json_decref(j);
		return NULL;
	}
	json_t *a = json_object_get(j, "auths");
	if (a) {
		json_incref(a);
		json_decref(j);
		return a;
	}
	return j;
}

static int verb_pull(img_store *s, const img_opts *o)
{
	const char *ref = o->args[0], *reason;
	json_t *auths = NULL;
	img_refparts p;
	if (o->auth_file && !(auths = load_auths(o->auth_file)))
		return 1;
	if (o->insecure && img_ref_parts(ref, &p) == 0)
		img_set_insecure(s, p.domain);
	img i;
	char msg[2048];
	uint64_t t0 = k9_mono_ns();
	int rc =
	    img_get(s, ref, o->policy ? o->policy : "Always", auths, &i, &reason, msg, sizeof msg);
	json_decref(auths);
	if (rc < 0) {
		log_err("kube9 image pull: %s: %s", reason, msg);
		return 1;
	}
	log_info("kube9 image pull: %s ready in %.2fs", i.ref, (double)(k9_mono_ns() - t0) / 1e9);
	printf("%s %s\n", i.ref, i.id);
	for (int k = 0; k < i.n_layers; k++)
		log_debug("  layer %s", i.layers[k]);
	img_free(&i);
	return 0;
}

static int verb_ls(img_store *s, const img_opts *o)
{
	(void)o;
	img_info *v;
	size_t n;
	img_list(s, &v, &n);
	printf("%-60s %-12s %10s\n", "IMAGE", "IMAGE ID", "SIZE");
	for (size_t i = 0; i < n; i++)
		printf("%-60s %-12.12s %9.1fM\n", v[i].ref, v[i].id[0] ? v[i].id + 7 : "?",
		       (double)v[i].size / 1e6);
	free(v);
	return 0;
}

int cmd_image(int argc, char **argv)
{
	static const struct option opts[] = {{"store", required_argument, 0, 's'},
	                                     {"insecure", no_argument, 0, 'i'},
	                                     {"auth-file", required_argument, 0, 'a'},
	                                     {"policy", required_argument, 0, 'p'},
	                                     {"verbose", no_argument, 0, 'v'},
	                                     {"help", no_argument, 0, 'h'},
	                                     {0, 0, 0, 0}};
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const struct verb *vb = NULL;
	for (size_t i = 0; i < NVERBS; i++)
		if (!strcmp(argv[1], verbs[i].name))
			vb = &verbs[i];
	if (!vb) {
		log_err("kube9 image: unknown verb \"%s\"", argv[1]);
		usage(stderr);
		return 2;
	}
	img_opts o = {.store = DEFAULT_STORE};
	int c;
	optind = 1;
	argc--, argv++;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		if (c && strchr("iap", c) && !strchr(vb->flags, c)) {
			log_err("kube9 image %s: %s is not one of its options", vb->name,
			        argv[optind - 1]);
			c = '?';
		}
		switch (c) {
		case 's':
			o.store = optarg;
			break;
		case 'i':
			o.insecure = true;
			break;
		case 'a':
			o.auth_file = optarg;
			break;
		case 'p':
			o.policy = optarg;
			break;
		case 'v':
			k9_log_level = LOG_DEBUG;
			break;
		case 'h':
			verb_usage(vb, stdout);
			return 0;
		default:
			verb_usage(vb, stderr);
			return 2;
		}
	}
	o.args = argv + optind;
	o.n_args = argc - optind;
	if (o.n_args != vb->n_args) {
		verb_usage(vb, stderr);
		return 2;
	}
	char err[1024];
	img_store *s = img_open(o.store, err, sizeof err);
	if (!s) {
		log_err("kube9 image %s: %s", vb->name, err);
		return 1;
	}
	int rc = vb->run(s, &o);
	img_close(s);
	return rc;
}
