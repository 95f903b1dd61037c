/*
 * watch_count.c - follow a kube9 .watch file and count the distinct objects
 * that have reached a state, printing progress each second to stderr and,
 * when the count is reached, one line to stdout:
 *
 *   watch_count FILE bound|running|exists N [TIMEOUT_S [from-start]]
 *   => "N bound in 9.84 s (1016/s)"
 *
 * bound: spec.nodeName set; running: status.phase Running; exists: present.
 * The clock starts at the first object that counts, so setup time is not
 * measured (with from-start: when the program starts). Exits 1 when
 * TIMEOUT_S (default 600) passes first.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube9/map.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int counts(const char *what, json_t *o)
{
	if (!strcmp(what, "exists"))
		return 1;
	if (!strcmp(what, "bound")) {
		const char *n =
		    json_string_value(json_object_get(json_object_get(o, "spec"), "nodeName"));
		return n && n[0];
	}
	const char *p = json_string_value(json_object_get(json_object_get(o, "status"), "phase"));
	return p && !strcmp(p, "Running");
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: watch_count FILE bound|running|exists N [TIMEOUT_S "
		                "[from-start]]\n");
		return 2;
	}
	const char *what = argv[2];
	long want = strtol(argv[3], NULL, 10);
	double timeout = argc > 4 ? strtod(argv[4], NULL) : 600;
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "watch_count: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	k9_map seen = {0};
	long n = 0;
	double t0 = 0, start = now(), last = start;
	bool from_start = argc > 5 && !strcmp(argv[5], "from-start");
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap);
	while (n < want) {
		if (now() - start > timeout) {
			fprintf(stderr, "watch_count: timed out with %ld of %ld %s\n", n, want,
			        what);
			return 1;
		}
		if (cap - len < 65536)
			buf = realloc(buf, cap *= 2);
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "watch_count: %s ended\n", argv[1]);
			return 1;
		}
		len += (size_t)r;
		size_t s = 0;
		for (size_t i = 0; i < len; i++) {
			if (buf[i] != '\n')
				continue;
			json_t *ev = json_loadb(buf + s, i - s, 0, NULL);
			s = i + 1;
			json_t *o = json_object_get(ev, "object");
			const char *type = json_string_value(json_object_get(ev, "type"));
			if (o && type && strcmp(type, "BOOKMARK") && strcmp(type, "DELETED") &&
			    counts(what, o)) {
				const json_t *md = json_object_get(o, "metadata");
				char key[512];
				snprintf(key, sizeof key, "%s/%s",
				         json_string_value(json_object_get(md, "namespace")) ?: "",
				         json_string_value(json_object_get(md, "name")) ?: "");
				if (!k9_map_get(&seen, key)) {
					k9_map_put(&seen, key, (void *)1);
					if (!n++)
						t0 = from_start ? start : now();
				}
			}
			json_decref(ev);
		}
		memmove(buf, buf + s, len - s);
		len -= s;
		if (now() - last >= 1) {
			last = now();
			fprintf(stderr, "watch_count: %.0f s: %ld of %ld %s\n", last - start, n,
			        want, what);
		}
	}
	double el = now() - t0;
	printf("%ld %s in %.2f s (%.0f/s)\n", n, what, el, el > 0 ? (double)n / el : 0);
	return 0;
}
