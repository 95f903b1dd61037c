/*
 * srv_tls.c - first-start bootstrap of the API server's identity: a CA
 * (kept in DATA_DIR/pki), a serving certificate for the listen address
 * (re-issued on every start so a changed address is always covered), the
 * admin and node bearer tokens (DATA_DIR/tokens.csv, mode 0600) and the
 * kubeconfigs that carry them (DATA_DIR/admin.kubeconfig,
 * DATA_DIR/node.kubeconfig). Keys are ECDSA P-256, signatures SHA-256.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kube9/util.h"
#include "srv.h"

#define CA_DAYS   3650
#define CERT_DAYS 365

static int gnutls_fail(k9_err *e, const char *what, int rc)
{
	return k9_errf(e, 500, "InternalError", "%s: %s", what, gnutls_strerror(rc));
}

static int new_key(gnutls_x509_privkey_t *key, k9_err *e)
{
	int rc = gnutls_x509_privkey_init(key);
	if (rc >= 0)
		rc = gnutls_x509_privkey_generate(
		    *key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	return rc < 0 ? gnutls_fail(e, "generating a key", rc) : 0;
}

/* The common part of every certificate: validity, serial, subject, key. */
static int cert_base(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *cn, int days)
{
	unsigned char serial[16];
	time_t now = time(NULL);
	int rc;
	k9_random(serial, sizeof serial);
	serial[0] &= 0x7f;
	if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (rc = gnutls_x509_crt_set_serial(crt, serial, sizeof serial)) < 0 ||
	    (rc = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
	    (rc = gnutls_x509_crt_set_expiration_time(crt, now + (time_t)days * 86400)) < 0 ||
	    (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
	                                        (unsigned)strlen(cn))) < 0 ||
	    (rc = gnutls_x509_crt_set_key(crt, key)) < 0)
		return rc;
	unsigned char id[64];
	size_t idlen = sizeof id;
	if ((rc = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, id, &idlen)) < 0)
		return rc;
	return gnutls_x509_crt_set_subject_key_id(crt, id, idlen);
}

/*
 * The PEM text of an export2 result (rc, *d) as a malloc'd string, freeing
 * d's data; NULL if rc failed. d is a pointer so it is read after the export.
 */
static char *pem_string(int rc, gnutls_datum_t *d)
{
	if (rc < 0)
		return NULL;
	char *s = xstrndup((const char *)d->data, d->size);
	gnutls_free(d->data);
	return s;
}

static char *export_crt(gnutls_x509_crt_t crt)
{
	gnutls_datum_t d = {0};
	return pem_string(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d), &d);
}

static char *export_key(gnutls_x509_privkey_t key)
{
	gnutls_datum_t d = {0};
	return pem_string(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d), &d);
}

static int save(const char *dir, const char *name, const char *text, int mode, k9_err *e)
{
	char *p = xasprintf("%s/%s", dir, name);
	int rc = k9_write_file_atomic(p, text, strlen(text), mode);
	if (rc < 0)
		k9_errf(e, 500, "InternalError", "writing %s: %s", p, strerror(errno));
	free(p);
	return rc;
}

/* Load the CA from pki/, or create it. */
static int load_or_create_ca(const char *pki, gnutls_x509_crt_t *crt, gnutls_x509_privkey_t *key,
                             char **ca_pem, k9_err *e)
{
	char *cp = xasprintf("%s/ca.crt", pki), *kp = xasprintf("%s/ca.key", pki);
	size_t cl, kl;
	char *ct = k9_read_file(cp, &cl), *kt = k9_read_file(kp, &kl);
	int rc = 0;
	gnutls_x509_crt_init(crt);
	if (ct && kt) {
		gnutls_datum_t cd = {(unsigned char *)ct, (unsigned)cl};
		gnutls_datum_t kd = {(unsigned char *)kt, (unsigned)kl};
		gnutls_x509_privkey_init(key);
		if ((rc = gnutls_x509_crt_import(*crt, &cd, GNUTLS_X509_FMT_PEM)) < 0 ||
		    (rc = gnutls_x509_privkey_import(*key, &kd, GNUTLS_X509_FMT_PEM)) < 0) {
			rc = k9_errf(e, 500, "InternalError", "loading %s: %s", cp,
			             gnutls_strerror(rc));
			goto out;
		}
		*ca_pem = ct;
		ct = NULL;
		goto out;
	}
	log_info("creating certificate authority in %s", pki);
	if (new_key(key, e) < 0) {
		rc = -1;
		goto out;
	}
	if ((rc = cert_base(*crt, *key, "kube9-ca", CA_DAYS)) < 0 ||
	    (rc = gnutls_x509_crt_set_basic_constraints(*crt, 1, -1)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_usage(*crt, GNUTLS_KEY_KEY_CERT_SIGN |
	                                                  GNUTLS_KEY_CRL_SIGN |
	                                                  GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (rc = gnutls_x509_crt_sign2(*crt, *crt, *key, GNUTLS_DIG_SHA256, 0)) < 0) {
		rc = gnutls_fail(e, "creating the CA certificate", rc);
		goto out;
	}
	char *kpem = export_key(*key);
	*ca_pem = export_crt(*crt);
	rc = save(pki, "ca.key", kpem, 0600, e) < 0 || save(pki, "ca.crt", *ca_pem, 0644, e) < 0
	         ? -1
	         : 0;
	free(kpem);
out:
	free(cp);
	free(kp);
	free(ct);
	free(kt);
	return rc < 0 ? -1 : 0;
}

static void add_san_ip(gnutls_x509_crt_t crt, const char *ip)
{
	unsigned char raw[16];
	if (inet_pton(AF_INET, ip, raw) == 1)
		gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, raw, 4,
		                                     GNUTLS_FSAN_APPEND);
	else if (inet_pton(AF_INET6, ip, raw) == 1)
		gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, raw, 16,
		                                     GNUTLS_FSAN_APPEND);
}

static void add_san_dns(gnutls_x509_crt_t crt, const char *name)
{
	gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, name, (unsigned)strlen(name),
	                                     GNUTLS_FSAN_APPEND);
}

/* The host part of ADDR:PORT or [ADDR]:PORT into out. */
static void listen_host(const char *listen, char *out, size_t n)
{
	const char *p = listen;
	size_t len;
	if (*p == '[') {
		p++;
		len = strcspn(p, "]");
	} else {
		const char *c = strrchr(p, ':');
		len = c ? (size_t)(c - p) : strlen(p);
	}
	if (len >= n)
		len = n - 1;
	memcpy(out, p, len);
	out[len] = 0;
}

static int issue_serving_cert(srv *s, gnutls_x509_crt_t ca, gnutls_x509_privkey_t cakey,
                              char **cert_pem, char **key_pem, k9_err *e)
{
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;
	char host[256], hostname[256] = "";
	int rc;
	if (new_key(&key, e) < 0)
		return -1;
	gnutls_x509_crt_init(&crt);
	listen_host(s->listen, host, sizeof host);
	gethostname(hostname, sizeof hostname - 1);
	unsigned char akid[64];
	size_t akidlen = sizeof akid;
	if ((rc = cert_base(crt, key, "kube9-apiserver", CERT_DAYS)) < 0 ||
	    (rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
	                                                 GNUTLS_KEY_KEY_ENCIPHERMENT)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
	    (rc = gnutls_x509_crt_get_subject_key_id(ca, akid, &akidlen, NULL)) < 0 ||
	    (rc = gnutls_x509_crt_set_authority_key_id(crt, akid, akidlen)) < 0) {
		gnutls_x509_crt_deinit(crt);
		gnutls_x509_privkey_deinit(key);
		return gnutls_fail(e, "creating the serving certificate", rc);
	}
	static const char *const names[] = {"localhost", "kubernetes", "kubernetes.default",
	                                    "kubernetes.default.svc",
	                                    "kubernetes.default.svc.cluster.local"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		add_san_dns(crt, names[i]);
	if (hostname[0])
		add_san_dns(crt, hostname);
	add_san_ip(crt, "127.0.0.1");
	add_san_ip(crt, "::1");
	if (strcmp(host, "0.0.0.0") && strcmp(host, "::") && strcmp(host, "127.0.0.1"))
		add_san_ip(crt, host);
	if (!strcmp(host, "") || (host[0] && !strchr(host, ':') && !strchr(host, '.')))
		add_san_dns(crt, host);
	rc = gnutls_x509_crt_sign2(crt, ca, cakey, GNUTLS_DIG_SHA256, 0);
	if (rc >= 0) {
		*cert_pem = export_crt(crt);
		*key_pem = export_key(key);
	}
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	if (rc < 0)
		return gnutls_fail(e, "signing the serving certificate", rc);
	return 0;
}

static char *random_token(void)
{
	unsigned char b[24];
	char *t = xmalloc(sizeof b * 2 + 1);
	k9_random(b, sizeof b);
	for (size_t i = 0; i < sizeof b; i++)
		sprintf(t + 2 * i, "%02x", b[i]);
	return t;
}

static int write_kubeconfig(srv *s, const char *file, const char *user, const char *token,
                            const char *ca_pem, k9_err *e)
{
	char host[256];
	const char *port = strrchr(s->listen, ':');
	listen_host(s->listen, host, sizeof host);
	if (!strcmp(host, "0.0.0.0") || !host[0])
		strcpy(host, "127.0.0.1");
	else if (!strcmp(host, "::"))
		strcpy(host, "::1");
	char *ca64 = k9_b64_encode(ca_pem, strlen(ca_pem));
	char *text = xasprintf("apiVersion: v1\n"
	                       "kind: Config\n"
	                       "clusters:\n"
	                       "- name: kube9\n"
	                       "  cluster:\n"
	                       "    server: https://%s%s%s%s\n"
	                       "    certificate-authority-data: %s\n"
	                       "users:\n"
	                       "- name: %s\n"
	                       "  user:\n"
	                       "    token: %s\n"
	                       "contexts:\n"
	                       "- name: %s@kube9\n"
	                       "  context:\n"
	                       "    cluster: kube9\n"
	                       "    user: %s\n"
	                       "    namespace: default\n"
	                       "current-context: %s@kube9\n",
	                       strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
	                       port ? port : ":6443", ca64, user, token, user, user, user);
	int rc = save(s->data_dir, file, text, 0600, e);
	free(ca64);
	free(text);
	return rc;
}

/*
 * Make sure DATA_DIR holds the CA, tokens and kubeconfigs; return a fresh
 * serving certificate and key (PEM, malloc'd) for the listen address.
 */
int srv_bootstrap(srv *s, char **cert_pem, char **key_pem, k9_err *e)
{
	char *pki = xasprintf("%s/pki", s->data_dir);
	char *tokpath = xasprintf("%s/tokens.csv", s->data_dir);
	char *ca_pem = NULL;
	gnutls_x509_crt_t ca = NULL;
	gnutls_x509_privkey_t cakey = NULL;
	int rc = -1;
	if (k9_mkdir_p(pki, 0700) < 0) {
		k9_errf(e, 500, "InternalError", "creating %s: %s", pki, strerror(errno));
		goto out;
	}
	if (load_or_create_ca(pki, &ca, &cakey, &ca_pem, e) < 0)
		goto out;
	if (issue_serving_cert(s, ca, cakey, cert_pem, key_pem, e) < 0)
		goto out;
	if (access(tokpath, F_OK) < 0) {
		char hostname[200] = "node";
		gethostname(hostname, sizeof hostname - 1);
		char *admin = random_token(), *node = random_token();
		char *csv = xasprintf("%s,admin,admin,\"system:masters\"\n"
		                      "%s,system:node:%s,node-%s,\"system:nodes\"\n",
		                      admin, node, hostname, hostname);
		rc = save(s->data_dir, "tokens.csv", csv, 0600, e);
		free(admin);
		free(node);
		free(csv);
		if (rc < 0)
			goto out;
	}
	if ((rc = srv_tokens_load(s, tokpath, e)) < 0)
		goto out;
	/* Rewritten on every start: the listen address may have changed. */
	for (size_t i = 0; i < s->ntokens && rc == 0; i++) {
		const srv_token *t = &s->tokens[i];
		if (!strcmp(t->user, "admin"))
			rc = write_kubeconfig(s, "admin.kubeconfig", t->user, t->token, ca_pem, e);
		else if (!strncmp(t->user, "system:node:", 12))
			rc = write_kubeconfig(s, "node.kubeconfig", t->user, t->token, ca_pem, e);
	}
out:
	if (ca)
		gnutls_x509_crt_deinit(ca);
	if (cakey)
		gnutls_x509_privkey_deinit(cakey);
	free(ca_pem);
	free(pki);
	free(tokpath);
	return rc;
}
