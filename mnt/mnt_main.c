/*
 * mnt_main.c - `kube9 mount`: load the kubeconfig, list every resource into
 * the cache, mount, go to the background once the mount answers, then serve
 * FUSE requests while the watches keep the cache current.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube9/obj.h"
#include "mnt.h"

mnt *mnt_g;

static void usage(FILE *f)
{
	fputs("usage: kube9 mount [options] MOUNTPOINT\n"
	      "\n"
	      "Mount the cluster at MOUNTPOINT (FUSE): namespaces/NS/RESOURCE/NAME.yaml for\n"
	      "every object, labels as user.* xattrs, DIR/.events feeds, DIR/.errors. Talks to\n"
	      "the API server named in the kubeconfig over HTTPS. Returns once the mount is\n"
	      "ready; unmount with `fusermount3 -u MOUNTPOINT` or SIGTERM.\n"
	      "\n"
	      "      --kubeconfig FILE  credentials (default $KUBECONFIG, ~/.kube/config,\n"
	      "                         /var/lib/kube9/admin.kubeconfig)\n"
	      "  -f, --foreground       stay in the foreground\n"
	      "      --timeout S        connect timeout; requests get 3x (default 10)\n"
	      "      --attr-timeout S   kernel cache time of names and sizes;\n"
	      "                         changes invalidate it at once (default 10)\n"
	      "      --no-inotify       do not echo remote changes as inotify events\n"
	      "  -o OPTIONS             more FUSE mount options (comma separated)\n"
	      "  -v, --verbose          debug logging\n"
	      "  -h, --help             this text\n",
	      f);
}

static const char *default_kubeconfig(void)
{
	static char buf[4096];
	const char *env = getenv("KUBECONFIG");
	if (env && env[0]) {
		snprintf(buf, sizeof buf, "%.*s", (int)strcspn(env, ":"), env);
		return buf;
	}
	const char *home = getenv("HOME");
	if (home) {
		snprintf(buf, sizeof buf, "%s/.kube/config", home);
		if (access(buf, R_OK) == 0)
			return buf;
	}
	return "/var/lib/kube9/admin.kubeconfig";
}

/* The served resources, each in the version its group stores. */
static void load_resources(mnt *m)
{
	size_t nk;
	const obj_kind *ks = obj_kinds(&nk);
	for (size_t i = 0; i < nk && m->nres < MNT_MAXRES; i++) {
		const obj_kind *k = &ks[i];
		if (strcmp(k->version, k->storage_version) || mnt_res_index(m, k->plural) >= 0)
			continue;
		mnt_res *r = &m->res[m->nres++];
		char av[128];
		obj_kind_api_version(k, av, sizeof av);
		r->plural = k->plural;
		r->kind = k->kind;
		r->api_version = xstrdup(av);
		r->prefix = k->group[0] ? xasprintf("/apis/%s/%s", k->group, k->version)
		                        : xstrdup("/api/v1");
		r->namespaced = k->namespaced;
		r->secret = !strcmp(k->plural, "secrets");
		r->has_status = k->has_status;
		r->has_scale = k->has_scale;
	}
	m->ns_res = mnt_res_index(m, "namespaces");
}

int cmd_mount(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"kubeconfig", required_argument, 0, 'k'},
	    {"foreground", no_argument, 0, 'f'},
	    {"timeout", required_argument, 0, 'T'},
	    {"attr-timeout", required_argument, 0, 'A'},
	    {"no-inotify", no_argument, 0, 'N'},
	    {"verbose", no_argument, 0, 'v'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	static mnt m;
	const char *kubeconfig = NULL, *extra = NULL;
	bool fg = false;
	double secs;
	int c;
	m.cl.timeout_ms = 10000;
	m.attr_timeout = 10.0;
	while ((c = getopt_long(argc, argv, "fo:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			kubeconfig = optarg;
			break;
		case 'f':
			fg = true;
			break;
		case 'T':
			if (!k9_flag_num("kube9 mount", "timeout", optarg, 0, 86400, &secs))
				return 2;
			m.cl.timeout_ms = (long)(secs * 1000);
			break;
		case 'A':
			if (!k9_flag_num("kube9 mount", "attr-timeout", optarg, 0, 86400,
			                 &m.attr_timeout))
				return 2;
			break;
		case 'N':
			m.no_inotify = true;
			break;
		case 'o':
			extra = optarg;
			break;
		case 'v':
			k9_log_level = LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	char *mp = realpath(argv[optind], NULL);
	struct stat st;
	if (!mp || stat(mp, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "kube9 mount: %s is not a directory\n", argv[optind]);
		return 1;
	}
	m.mountpoint = mp;
	if (!kubeconfig)
		kubeconfig = default_kubeconfig();
	k9_err e;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (mnt_kcfg_load(&m.cl, kubeconfig, &e) < 0) {
		fprintf(stderr, "kube9 mount: %s\n", e.msg);
		return 1;
	}
	pthread_rwlock_init(&m.lock, NULL);
	m.uid = getuid();
	m.gid = getgid();
	clock_gettime(CLOCK_REALTIME, &m.start);
	atomic_init(&m.next_id, 1);
	load_resources(&m);
	m.cluster = xcalloc(1, sizeof *m.cluster);
	m.cluster->h.etype = MNT_ENT_NS;
	m.cluster->name = xstrdup("");
	mnt_g = &m;

	uint64_t t0 = k9_mono_ns();
	if (mnt_sync_all(&m, &e) < 0) {
		if (e.code == 401)
			fprintf(
			    stderr,
			    "kube9 mount: %s refused the credentials in %s (401 Unauthorized)\n",
			    m.cl.server, kubeconfig);
		else if (e.code == 403)
			fprintf(stderr, "kube9 mount: %s: the kubeconfig's user may not list: %s\n",
			        m.cl.server, e.msg);
		else
			fprintf(stderr, "kube9 mount: %s\n", e.msg);
		return 1;
	}
	log_info("mount: %zu objects cached in %.0f ms", m.ids.n,
	         (double)(k9_mono_ns() - t0) / 1e6);

	char *o =
	    xasprintf("-ofsname=kube9,subtype=kube9,default_permissions%s%s%s",
	              getuid() == 0 ? ",allow_other" : "", extra ? "," : "", extra ? extra : "");
	char *fargv[] = {argv[0], o, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(2, fargv);
	struct fuse_session *se = fuse_session_new(&args, &mnt_ops, sizeof mnt_ops, &m);
	if (!se) {
		fprintf(stderr, "kube9 mount: cannot create the FUSE session (options %s)\n", o);
		return 1;
	}
	if (fuse_set_signal_handlers(se) < 0 || fuse_session_mount(se, mp) < 0) {
		fprintf(stderr,
		        "kube9 mount: cannot mount on %s (is /dev/fuse there, is it "
		        "already mounted?)\n",
		        mp);
		return 1;
	}
	/* in the background, logs keep going where stderr went unless that is a terminal */
	int logfd = !fg && !isatty(2) ? dup(2) : -1;
	if (fuse_daemonize(fg) < 0)
		return 1;
	if (logfd >= 0) {
		dup2(logfd, 2);
		close(logfd);
	}
	m.se = se;
	mnt_watch_start(&m);
	mnt_notify_start(&m);
	log_info("mount: %s mounted at %s", m.cl.server, mp);
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	/*
	 * Writes wait for the server in their worker, and the programs driven by
	 * the tree keep dozens in flight; workers are kept once made, because
	 * making and ending threads under load (stacks, buffers, arenas) costs
	 * more CPU than the requests themselves.
	 */
	fuse_loop_cfg_set_max_threads(cfg, 128);
	fuse_loop_cfg_set_idle_threads(cfg, 128);
	int rc = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	log_info("mount: unmounting %s", mp);
	atomic_store(&m.stopping, true);
	mnt_events_shutdown(&m);
	mnt_notify_stop(&m);
	mnt_watch_stop(&m);
	fuse_remove_signal_handlers(se);
	fuse_session_unmount(se);
	free(o);
	return rc < 0 ? 1 : 0;
}
