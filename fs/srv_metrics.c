/*
 * srv_metrics.c - Prometheus text metrics of the API server:
 * apiserver_request_total{verb,resource,code} and the latency histogram
 * apiserver_request_duration_seconds{verb,resource}. A small fixed table
 * under one mutex: the number of (verb, resource, code) series is bounded
 * by the kinds table.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "kube9/util.h"
#include "srv.h"

#define MAX_SERIES 512
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define NB (sizeof buckets / sizeof *buckets)

typedef struct series {
	char verb[24], resource[48];
	int code;
	uint64_t count;
	uint64_t bucket[NB];
	double sum;
} series;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static series table[MAX_SERIES]; /* protected by mu */
static size_t nseries;           /* protected by mu */

void srv_metrics_observe(const char *verb, const char *resource, int code, uint64_t ns)
{
	double secs = (double)ns / 1e9;
	pthread_mutex_lock(&mu);
	series *s = NULL;
	for (size_t i = 0; i < nseries; i++)
		if (table[i].code == code && !strcmp(table[i].verb, verb) &&
		    !strcmp(table[i].resource, resource)) {
			s = &table[i];
			break;
		}
	if (!s && nseries < MAX_SERIES) {
		s = &table[nseries++];
		snprintf(s->verb, sizeof s->verb, "%s", verb);
		snprintf(s->resource, sizeof s->resource, "%s", resource);
		s->code = code;
	}
	if (s) {
		s->count++;
		s->sum += secs;
		for (size_t b = 0; b < NB; b++)
			if (secs <= buckets[b])
				s->bucket[b]++;
	}
	pthread_mutex_unlock(&mu);
}

char *srv_metrics_render(size_t *len)
{
	k9_buf b = {0};
	buf_puts(&b, "# HELP apiserver_request_total Requests by verb, resource and HTTP code.\n"
	             "# TYPE apiserver_request_total counter\n");
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < nseries; i++)
		buf_printf(
		    &b, "apiserver_request_total{verb=\"%s\",resource=\"%s\",code=\"%d\"} %lu\n",
		    table[i].verb, table[i].resource, table[i].code, (unsigned long)table[i].count);
	buf_puts(&b, "# HELP apiserver_request_duration_seconds Request latency by verb and "
	             "resource.\n# TYPE apiserver_request_duration_seconds histogram\n");
	/* Merge codes per (verb, resource). */
	for (size_t i = 0; i < nseries; i++) {
		int first = 1;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(table[j].verb, table[i].verb) &&
			    !strcmp(table[j].resource, table[i].resource))
				first = 0;
		if (!first)
			continue;
		uint64_t bk[NB] = {0}, count = 0;
		double sum = 0;
		for (size_t j = i; j < nseries; j++) {
			if (strcmp(table[j].verb, table[i].verb) ||
			    strcmp(table[j].resource, table[i].resource))
				continue;
			for (size_t k = 0; k < NB; k++)
				bk[k] += table[j].bucket[k];
			count += table[j].count;
			sum += table[j].sum;
		}
		const char *v = table[i].verb, *r = table[i].resource;
		for (size_t k = 0; k < NB; k++)
			buf_printf(&b,
			           "apiserver_request_duration_seconds_bucket{verb=\"%s\",resource="
			           "\"%s\",le=\"%g\"} %lu\n",
			           v, r, buckets[k], (unsigned long)bk[k]);
		buf_printf(&b,
		           "apiserver_request_duration_seconds_bucket{verb=\"%s\",resource=\"%s\","
		           "le=\"+Inf\"} %lu\n",
		           v, r, (unsigned long)count);
		buf_printf(&b,
		           "apiserver_request_duration_seconds_sum{verb=\"%s\",resource=\"%s\"} "
		           "%.6f\n",
		           v, r, sum);
		buf_printf(&b,
		           "apiserver_request_duration_seconds_count{verb=\"%s\",resource=\"%s\"} "
		           "%lu\n",
		           v, r, (unsigned long)count);
	}
	pthread_mutex_unlock(&mu);
	return buf_steal(&b, len);
}
