/*
 * obj_encode.c - json_t to block-style YAML with libyaml's emitter.
 *
 * Keys come out in insertion order. A string that would read back as
 * another type (null, bool, number; also YAML 1.1 look-alikes such as "yes"
 * or "1_000", for other readers' sake) is double-quoted; one with line
 * breaks asks for literal style; otherwise the emitter picks plain or
 * quoted itself. Reals always carry a '.' or an exponent so they read back
 * as reals. The output decodes with obj_decode to an equal tree.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "obj_priv.h"

static int sink(void *data, unsigned char *p, size_t n)
{
	buf_append(data, p, n);
	return 1;
}

static bool looks_other(const char *s, size_t n)
{
	static const char *const yaml11[] = {"y",    "n",     "yes",   "no",   "on", "off",
	                                     ".inf", "-.inf", "+.inf", ".nan", NULL};
	if (obj_scalar_kind(s, n) != OBJ_SC_STRING)
		return true;
	for (const char *const *w = yaml11; *w; w++)
		if (strlen(*w) == n && strncasecmp(*w, s, n) == 0)
			return true;
	if (n && strchr("0123456789+-.", s[0]) && s[0]) {
		size_t i = 0;
		while (i < n && s[i] && strchr("0123456789_:.+-eExXoOabcdefABCDEF", s[i]))
			i++;
		return i == n;
	}
	return false;
}

static int scalar(yaml_emitter_t *em, const char *s, size_t n, yaml_scalar_style_t style)
{
	yaml_event_t ev;
	if (n > INT32_MAX)
		return 0;
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)n, 1, 1, style))
		return 0;
	return yaml_emitter_emit(em, &ev);
}

static int real(yaml_emitter_t *em, double d)
{
	char tmp[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	if (!strpbrk(tmp, ".eE"))
		strcat(tmp, ".0");
	return scalar(em, tmp, strlen(tmp), YAML_PLAIN_SCALAR_STYLE);
}

static int node(yaml_emitter_t *em, const json_t *v)
{
	yaml_event_t ev;
	char tmp[32];
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		const json_t *c;
		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
		if (!yaml_emitter_emit(em, &ev))
			return 0;
		json_object_foreach((json_t *)v, k,
		                    c) if (!scalar(em, k, strlen(k), YAML_ANY_SCALAR_STYLE) ||
		                           !node(em, c)) return 0;
		yaml_mapping_end_event_initialize(&ev);
		return yaml_emitter_emit(em, &ev);
	}
	case JSON_ARRAY: {
		size_t i;
		const json_t *c;
		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
		if (!yaml_emitter_emit(em, &ev))
			return 0;
		json_array_foreach(v, i, c) if (!node(em, c)) return 0;
		yaml_sequence_end_event_initialize(&ev);
		return yaml_emitter_emit(em, &ev);
	}
	case JSON_STRING: {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
		if (looks_other(s, n))
			style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
		else if (memchr(s, '\n', n))
			style = YAML_LITERAL_SCALAR_STYLE;
		return scalar(em, s, n, style);
	}
	case JSON_INTEGER:
		snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return scalar(em, tmp, strlen(tmp), YAML_PLAIN_SCALAR_STYLE);
	case JSON_REAL:
		return real(em, json_real_value(v));
	case JSON_TRUE:
		return scalar(em, "true", 4, YAML_PLAIN_SCALAR_STYLE);
	case JSON_FALSE:
		return scalar(em, "false", 5, YAML_PLAIN_SCALAR_STYLE);
	default:
		return scalar(em, "null", 4, YAML_PLAIN_SCALAR_STYLE);
	}
}

char *obj_encode_yaml(const json_t *obj, size_t *len)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	k9_buf b = {0};
	int good;
	yaml_emitter_initialize(&em);
	yaml_emitter_set_output(&em, sink, &b);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1);
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	good = yaml_emitter_emit(&em, &ev);
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	good = good && yaml_emitter_emit(&em, &ev) && node(&em, obj);
	yaml_document_end_event_initialize(&ev, 1);
	good = good && yaml_emitter_emit(&em, &ev);
	yaml_stream_end_event_initialize(&ev);
	good = good && yaml_emitter_emit(&em, &ev) && yaml_emitter_flush(&em);
	yaml_emitter_delete(&em);
	if (!good) {
		/* only invalid UTF-8 or >2 GiB strings get here; say so in-band */
		log_warn("obj_encode_yaml: the emitter refused the object");
	}
	return buf_steal(&b, len);
}
