/*
 * srv_main.c - `kube9 server`: the API server command.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kube9/util.h"
#include "srv.h"

static void usage(FILE *f)
{
	fputs("usage: kube9 server [options]\n"
	      "\n"
	      "Run the API server: the Kubernetes REST API over HTTPS, backed by an embedded\n"
	      "SQLite store. On first start it creates DATA_DIR/pki (a CA and serving\n"
	      "certificate), DATA_DIR/tokens.csv and DATA_DIR/admin.kubeconfig.\n"
	      "\n"
	      "  -d, --data-dir DIR       state directory (default /var/lib/kube9)\n"
	      "  -l, --listen ADDR:PORT   address to serve on (default 127.0.0.1:6443)\n"
	      "      --token-file FILE    more bearer tokens: token,user,uid,\"group1,group2\"\n"
	      "      --history REVS       revisions of watch history kept (default 100000)\n"
	      "      --sync-full          fsync every commit (survive power loss, slower)\n"
	      "      --request-timeout S  idle timeout of a connection (default 60)\n"
	      "      --min-watch-timeout S  watches end after S..2S seconds (default 1800)\n"
	      "  -v, --verbose            log every request (debug level)\n"
	      "  -h, --help               this text\n",
	      f);
}

int cmd_server(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data-dir", required_argument, 0, 'd'},
	    {"listen", required_argument, 0, 'l'},
	    {"token-file", required_argument, 0, 't'},
	    {"history", required_argument, 0, 'H'},
	    {"sync-full", no_argument, 0, 'S'},
	    {"request-timeout", required_argument, 0, 'T'},
	    {"min-watch-timeout", required_argument, 0, 'W'},
	    {"verbose", no_argument, 0, 'v'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	srv s = {.request_timeout_s = 60, .min_watch_timeout_s = 1800};
	const char *data_dir = "/var/lib/kube9", *token_file = NULL;
	store_sqlite_opts so = {.history_revs = 100000};
	long num;
	int c;
	s.listen = "127.0.0.1:6443";
	while ((c = getopt_long(argc, argv, "d:l:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			data_dir = optarg;
			break;
		case 'l':
			s.listen = optarg;
			break;
		case 't':
			token_file = optarg;
			break;
		case 'H':
			if (!k9_flag_int("kube9 server", "history", optarg, 1, LONG_MAX, &num))
				return 2;
			so.history_revs = num;
			break;
		case 'S':
			so.sync_full = true;
			break;
		case 'T':
			if (!k9_flag_int("kube9 server", "request-timeout", optarg, 0, INT_MAX,
			                 &num))
				return 2;
			s.request_timeout_s = (int)num;
			break;
		case 'W':
			if (!k9_flag_int("kube9 server", "min-watch-timeout", optarg, 1, INT_MAX,
			                 &num))
				return 2;
			s.min_watch_timeout_s = (int)num;
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
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	k9_err e = {0};
	char *cert = NULL, *key = NULL;
	if (k9_mkdir_p(data_dir, 0700) < 0) {
		log_err("creating %s: %s", data_dir, strerror(errno));
		return 1;
	}
	s.data_dir = realpath(data_dir, NULL);
	char *db = xasprintf("%s/state.db", s.data_dir);
	so.path = db;
	int rc = 1;
	s.st = store_sqlite_open(&so, &e);
	if (!s.st)
		goto fail;
	if (srv_bootstrap(&s, &cert, &key, &e) < 0)
		goto fail;
	if (token_file && srv_tokens_load(&s, token_file, &e) < 0)
		goto fail;
	if (srv_ensure_namespaces(&s, &e) < 0 || srv_nscache_start(&s, &e) < 0)
		goto fail;
	fprintf(stderr, "kubeconfig: %s/admin.kubeconfig\n", s.data_dir);
	if (srv_run(&s, cert, key, &e) < 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	log_err("%s", e.msg);
out:
	if (s.st)
		s.st->ops->close(s.st);
	srv_tokens_free(&s);
	free(cert);
	free(key);
	free(db);
	free(s.data_dir);
	return rc;
}
