/*
 * node_logs.h - containers' logs as the kubelet serves them, read from the
 * files the runtime writes. Internal to node/.
 *
 * STATE/logs/NS_POD_UID/CONTAINER/R.log is the log of restart R (0.log
 * first); rotated files R.log.1 (newer) ... R.log.N (older) lie beside it.
 * Each line is in the CRI format: "TIME STREAM TAG MESSAGE" with TIME in
 * RFC 3339 with nanoseconds, STREAM stdout or stderr, TAG F (a full line)
 * or P (a part, joined with the next). The reader gives the messages as
 * plain text, one a line, optionally prefixed with their time.
 */
#ifndef KUBE9_NODE_LOGS_H
#define KUBE9_NODE_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "kube9/err.h"

typedef struct node_logs_opts {
	bool follow;           /* go on with what is written, across rotations and restarts */
	bool previous;         /* the restart before the current one */
	bool timestamps;       /* each line starts with its time and a space */
	long tail_lines;       /* the last N lines only; -1: all */
	long limit_bytes;      /* stop after this much text; -1: no limit */
	struct timespec since; /* lines from this time on; 0: all */
} node_logs_opts;

typedef struct node_logs node_logs;

/*
 * The log of container ctr of pod ns/pod (the newest NS_POD_* directory)
 * under state_dir. NULL with e: 404 for an unknown pod or container, 400
 * when there is no such restart (yet).
 */
node_logs *node_logs_open(const char *state_dir, const char *ns, const char *pod, const char *ctr,
                          const node_logs_opts *o, k9_err *e);
/*
 * Up to max bytes of the text into buf; 0 at the end. Following, it waits
 * for more, looking at the files every 150 ms, and ends when gone(arg)
 * says the reader went away (gone may be NULL).
 */
size_t node_logs_read(node_logs *l, char *buf, size_t max, bool (*gone)(void *arg), void *arg);
void node_logs_close(node_logs *l);

/*
 * A pod's log directory, state_dir/logs/NS_NAME_UID (the kubelet's naming:
 * no namespace, pod name or uid has an underscore); -1 if out is too small.
 * node_logs_dir_split takes such a name apart (each part < n bytes).
 */
int node_logs_dir(char *out, size_t n, const char *state_dir, const char *ns, const char *name,
                  const char *uid);
bool node_logs_dir_split(const char *d, char *ns, char *name, char *uid, size_t n);

/* "2026-11-28T03:04:05.123456789Z" (or with an offset) into *t; false if it is not one. */
bool node_logs_parse_time(const char *s, size_t n, struct timespec *t);

#endif
