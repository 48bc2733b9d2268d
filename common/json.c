#include "common/json.h"

#include "common/alloc.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	char *key;      /* member name (owned); NULL for array elements */
	ms_json *value; /* owned */
} member;

struct ms_json {
	ms_json_type type;
	union {
		bool b;
		double num;
		char *str; /* owned, NUL-terminated UTF-8 */
		struct {
			member *items; /* owned; document order */
			size_t n, cap;
		} list; /* MS_JSON_ARRAY and MS_JSON_OBJECT */
	} u;
};

typedef struct {
	const char *p, *end;
	const char *line_start; /* first byte of the current line, for columns */
	unsigned long line;
	char *err;
	size_t errlen;
} parser;

/* ---- errors ---------------------------------------------------------------------------- */

static ms_status syntax_error(parser *ps, const char *at, const char *what)
{
	if (ps->err && ps->errlen)
		snprintf(ps->err, ps->errlen, "line %lu column %lu: %s", ps->line,
			 (unsigned long)(at - ps->line_start) + 1, what);
	return MS_ERR_ARG;
}

static ms_status nomem(parser *ps)
{
	if (ps->err && ps->errlen)
		snprintf(ps->err, ps->errlen, "out of memory");
	return MS_ERR_NOMEM;
}

static ms_status unexpected(parser *ps)
{
	char what[64];
	unsigned char c;

	if (ps->p >= ps->end)
		return syntax_error(ps, ps->p, "unexpected end of input");
	c = (unsigned char)*ps->p;
	if (c == ']' || c == '}' || c == ',')
		snprintf(what, sizeof(what), "expected a value before '%c'", c);
	else if (c > 0x20 && c < 0x7F)
		snprintf(what, sizeof(what), "unexpected character '%c'", c);
	else
		snprintf(what, sizeof(what), "unexpected byte 0x%02X", c);
	return syntax_error(ps, ps->p, what);
}

/* ---- tree ------------------------------------------------------------------------------ */

static ms_json *node_new(ms_json_type type)
{
	ms_json *j = ms_calloc(1, sizeof(*j));
	if (j)
		j->type = type;
	return j;
}

void ms_json_destroy(ms_json *j)
{
	if (!j)
		return;
	if (j->type == MS_JSON_STRING) {
		ms_free(j->u.str);
	} else if (j->type == MS_JSON_ARRAY || j->type == MS_JSON_OBJECT) {
		/* Recursion is bounded: trees only come from the parser (depth <= 64). */
		for (size_t i = 0; i < j->u.list.n; i++) {
			ms_free(j->u.list.items[i].key);
			ms_json_destroy(j->u.list.items[i].value);
		}
		ms_free(j->u.list.items);
	}
	ms_free(j);
}

/* Takes ownership of key and value, also on failure. */
static ms_status list_push(ms_json *list, char *key, ms_json *value)
{
	if (list->u.list.n == list->u.list.cap) {
		size_t cap = list->u.list.cap ? list->u.list.cap * 2 : 4;
		member *items = cap < SIZE_MAX / sizeof(member)
					? ms_realloc(list->u.list.items, cap * sizeof(member))
					: NULL;
		if (!items) {
			ms_free(key);
			ms_json_destroy(value);
			return MS_ERR_NOMEM;
		}
		list->u.list.items = items;
		list->u.list.cap = cap;
	}
	list->u.list.items[list->u.list.n].key = key;
	list->u.list.items[list->u.list.n].value = value;
	list->u.list.n++;
	return MS_OK;
}

/* ---- lexical helpers ------------------------------------------------------------------- */

static void skip_ws(parser *ps)
{
	while (ps->p < ps->end) {
		char c = *ps->p;
		if (c == '\n') {
			ps->line++;
			ps->line_start = ps->p + 1;
		} else if (c != ' ' && c != '\t' && c != '\r') {
			return;
		}
		ps->p++;
	}
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads the 4 hex digits after "\u" at p; -1 if they are not there. */
static long read_hex4(const char *p, const char *end)
{
	long v = 0;
	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = hex_value(p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* Length of the valid UTF-8 sequence starting at p (1..4) or 0 (RFC 3629: no overlong forms,
 * surrogates or code points above U+10FFFF). Never reads at or past end. */
static size_t utf8_len(const char *p, const char *end)
{
	unsigned char s[4] = { 0, 0, 0, 0 };
	size_t avail = (size_t)(end - p) < 4 ? (size_t)(end - p) : 4;

	/* Zero padding is never a continuation byte, so a cut sequence reads as invalid. */
	memcpy(s, p, avail);
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		return (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		unsigned lo = s[0] == 0xE0 ? 0xA0 : 0x80, hi = s[0] == 0xED ? 0x9F : 0xBF;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 ? 3 : 0;
	}
	if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		unsigned lo = s[0] == 0xF0 ? 0x90 : 0x80, hi = s[0] == 0xF4 ? 0x8F : 0xBF;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80
			       ? 4
			       : 0;
	}
	return 0;
}

static size_t utf8_encode(unsigned long cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* ---- values ---------------------------------------------------------------------------- */

/* Parses the string whose opening quote is at ps->p into a new heap string in *out. */
static ms_status parse_string(parser *ps, char **out)
{
	const char *q = ps->p + 1;
	char *s = NULL, *w;
	ms_status rc;

	*out = NULL;
	/* Size pass: decoding never makes a string longer than its source text (an escape of 6
	 * bytes yields at most 3, a surrogate pair of 12 yields 4). */
	while (q < ps->end && *q != '"')
		q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
	s = ms_malloc((size_t)(q - ps->p));
	if (!s)
		return nomem(ps);
	w = s;
	ps->p++;
	for (;;) {
		if (ps->p >= ps->end) {
			rc = syntax_error(ps, ps->p, "unexpected end of input in a string");
			goto out_free;
		}
		unsigned char c = (unsigned char)*ps->p;
		if (c == '"') {
			ps->p++;
			break;
		}
		if (c < 0x20) {
			rc = syntax_error(ps, ps->p, "control character in a string (escape it)");
			goto out_free;
		}
		if (c != '\\') {
			size_t n = utf8_len(ps->p, ps->end);
			if (!n) {
				rc = syntax_error(ps, ps->p, "invalid UTF-8 in a string");
				goto out_free;
			}
			memcpy(w, ps->p, n);
			w += n;
			ps->p += n;
			continue;
		}
		const char *esc = ps->p;
		if (ps->p + 1 >= ps->end) {
			rc = syntax_error(ps, ps->p + 1, "unexpected end of input in a string");
			goto out_free;
		}
		switch (ps->p[1]) {
		case '"': *w++ = '"'; break;
		case '\\': *w++ = '\\'; break;
		case '/': *w++ = '/'; break;
		case 'b': *w++ = '\b'; break;
		case 'f': *w++ = '\f'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 't': *w++ = '\t'; break;
		case 'u': {
			long cp = read_hex4(ps->p + 2, ps->end);
			if (cp < 0) {
				rc = syntax_error(ps, esc, "\\u must be followed by 4 hex digits");
				goto out_free;
			}
			if (cp >= 0xDC00 && cp <= 0xDFFF) {
				rc = syntax_error(ps, esc, "lone low surrogate in \\u escape");
				goto out_free;
			}
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				long lo = -1;
				if (ps->end - ps->p >= 12 && ps->p[6] == '\\' && ps->p[7] == 'u')
					lo = read_hex4(ps->p + 8, ps->end);
				if (lo < 0xDC00 || lo > 0xDFFF) {
					rc = syntax_error(ps, esc,
							  "high surrogate not followed by a low surrogate");
					goto out_free;
				}
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				ps->p += 6;
			}
			if (cp == 0) {
				/* Names and values are handed out as C strings: a NUL would silently
				 * cut them ("Enable\u0000x" reading as "Enable"). */
				rc = syntax_error(ps, esc, "\\u0000 is not supported");
				goto out_free;
			}
			w += utf8_encode((unsigned long)cp, w);
			ps->p += 4;
			break;
		}
		default:
			rc = syntax_error(ps, esc, "invalid escape sequence");
			goto out_free;
		}
		ps->p += 2;
	}
	*w = '\0';
	*out = s;
	return MS_OK;
out_free:
	ms_free(s);
	return rc;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
	c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

/* strtod that reads '.' as the decimal point whatever LC_NUMERIC says. */
static double strtod_c(const char *s)
{
	pthread_once(&c_locale_once, c_locale_init);
	if (c_locale)
		return strtod_l(s, NULL, c_locale);
	return strtod(s, NULL);
}

static bool is_digit(const parser *ps, const char *p)
{
	return p < ps->end && *p >= '0' && *p <= '9';
}

static ms_status parse_number(parser *ps, ms_json **out)
{
	const char *start = ps->p, *p = ps->p;
	char small[64], *text = small;
	ms_json *j;

	if (*p == '-')
		p++;
	if (!is_digit(ps, p))
		return syntax_error(ps, p, p < ps->end ? "expected a digit" : "unexpected end of input");
	if (*p == '0' && is_digit(ps, p + 1))
		return syntax_error(ps, p, "leading zeros are not allowed");
	while (is_digit(ps, p))
		p++;
	if (p < ps->end && *p == '.') {
		p++;
		if (!is_digit(ps, p))
			return syntax_error(ps, p, "expected a digit after '.'");
		while (is_digit(ps, p))
			p++;
	}
	if (p < ps->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < ps->end && (*p == '+' || *p == '-'))
			p++;
		if (!is_digit(ps, p))
			return syntax_error(ps, p, "expected a digit in the exponent");
		while (is_digit(ps, p))
			p++;
	}
	size_t n = (size_t)(p - start);
	if (n >= sizeof(small)) {
		text = ms_strndup(start, n);
		if (!text)
			return nomem(ps);
	} else {
		memcpy(small, start, n);
		small[n] = '\0';
	}
	double v = strtod_c(text);
	if (text != small)
		ms_free(text);
	if (!isfinite(v))
		return syntax_error(ps, start, "number out of range");
	j = node_new(MS_JSON_NUMBER);
	if (!j)
		return nomem(ps);
	j->u.num = v;
	ps->p = p;
	*out = j;
	return MS_OK;
}

static ms_status parse_value(parser *ps, int depth, ms_json **out);

/* Parses the array or object at ps->p ('[' or '{'). */
static ms_status parse_list(parser *ps, int depth, ms_json **out)
{
	bool object = *ps->p == '{';
	char close = object ? '}' : ']';
	ms_json *list = NULL;
	ms_status rc;

	if (depth >= MS_JSON_MAX_DEPTH) {
		char what[64];
		snprintf(what, sizeof(what), "nesting deeper than %d levels", MS_JSON_MAX_DEPTH);
		return syntax_error(ps, ps->p, what);
	}
	list = node_new(object ? MS_JSON_OBJECT : MS_JSON_ARRAY);
	if (!list)
		return nomem(ps);
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		*out = list;
		return MS_OK;
	}
	for (;;) {
		char *key = NULL;
		ms_json *value = NULL;

		if (object) {
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != '"') {
				rc = ps->p >= ps->end ? unexpected(ps)
						      : syntax_error(ps, ps->p, "expected a member name (string)");
				goto out_destroy_list;
			}
			rc = parse_string(ps, &key);
			if (rc != MS_OK)
				goto out_destroy_list;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				ms_free(key);
				rc = ps->p >= ps->end ? unexpected(ps)
						      : syntax_error(ps, ps->p, "expected ':' after a member name");
				goto out_destroy_list;
			}
			ps->p++;
		}
		rc = parse_value(ps, depth + 1, &value);
		if (rc != MS_OK) {
			ms_free(key);
			goto out_destroy_list;
		}
		if (list_push(list, key, value) != MS_OK) {
			rc = nomem(ps);
			goto out_destroy_list;
		}
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			break;
		}
		rc = ps->p >= ps->end ? unexpected(ps)
				      : syntax_error(ps, ps->p, object ? "expected ',' or '}'" : "expected ',' or ']'");
		goto out_destroy_list;
	}
	*out = list;
	return MS_OK;
out_destroy_list:
	ms_json_destroy(list);
	return rc;
}

static ms_status parse_literal(parser *ps, ms_json **out)
{
	static const struct {
		const char *text;
		ms_json_type type;
		bool b;
	} literals[] = {
		{ "true", MS_JSON_BOOL, true },
		{ "false", MS_JSON_BOOL, false },
		{ "null", MS_JSON_NULL, false },
	};
	for (size_t i = 0; i < sizeof(literals) / sizeof(literals[0]); i++) {
		size_t n = strlen(literals[i].text);
		if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, literals[i].text, n) != 0)
			continue;
		ms_json *j = node_new(literals[i].type);
		if (!j)
			return nomem(ps);
		j->u.b = literals[i].b;
		ps->p += n;
		*out = j;
		return MS_OK;
	}
	return unexpected(ps);
}

static ms_status parse_value(parser *ps, int depth, ms_json **out)
{
	ms_status rc;

	*out = NULL;
	skip_ws(ps);
	if (ps->p >= ps->end)
		return unexpected(ps);
	switch (*ps->p) {
	case '{':
	case '[':
		return parse_list(ps, depth, out);
	case '"': {
		char *s = NULL;
		rc = parse_string(ps, &s);
		if (rc != MS_OK)
			return rc;
		*out = node_new(MS_JSON_STRING);
		if (!*out) {
			ms_free(s);
			return nomem(ps);
		}
		(*out)->u.str = s;
		return MS_OK;
	}
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return parse_number(ps, out);
	default:
		return parse_literal(ps, out);
	}
}

ms_status ms_json_parse(const char *text, size_t len, ms_json **out, char *err, size_t errlen)
{
	parser ps = { .p = text, .end = text ? text + len : NULL, .line_start = text, .line = 1,
		      .err = err, .errlen = errlen };
	ms_json *root = NULL;
	ms_status rc;

	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return MS_ERR_ARG;
	*out = NULL;
	if (!text) {
		if (err && errlen)
			snprintf(err, errlen, "no JSON text");
		return MS_ERR_ARG;
	}
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		ps.p += 3;
	rc = parse_value(&ps, 0, &root);
	if (rc != MS_OK)
		return rc;
	skip_ws(&ps);
	if (ps.p < ps.end) {
		ms_json_destroy(root);
		return syntax_error(&ps, ps.p, "unexpected text after the JSON value");
	}
	*out = root;
	return MS_OK;
}

/* ---- accessors ------------------------------------------------------------------------- */

ms_json_type ms_json_type_of(const ms_json *j)
{
	return j ? j->type : MS_JSON_NULL;
}

const ms_json *ms_json_get(const ms_json *obj, const char *key)
{
	if (!obj || obj->type != MS_JSON_OBJECT || !key)
		return NULL;
	/* Backwards so that the last of repeated names wins, as in most JSON readers. */
	for (size_t i = obj->u.list.n; i-- > 0;)
		if (strcmp(obj->u.list.items[i].key, key) == 0)
			return obj->u.list.items[i].value;
	return NULL;
}

size_t ms_json_size(const ms_json *j)
{
	if (!j || (j->type != MS_JSON_ARRAY && j->type != MS_JSON_OBJECT))
		return 0;
	return j->u.list.n;
}

const ms_json *ms_json_at(const ms_json *j, size_t i)
{
	if (i >= ms_json_size(j))
		return NULL;
	return j->u.list.items[i].value;
}

const char *ms_json_key_at(const ms_json *obj, size_t i)
{
	if (!obj || obj->type != MS_JSON_OBJECT || i >= obj->u.list.n)
		return NULL;
	return obj->u.list.items[i].key;
}

bool ms_json_is_number(const ms_json *j)
{
	return j && j->type == MS_JSON_NUMBER;
}

double ms_json_number(const ms_json *j)
{
	return ms_json_is_number(j) ? j->u.num : 0.0;
}

bool ms_json_bool(const ms_json *j)
{
	return j && j->type == MS_JSON_BOOL && j->u.b;
}

const char *ms_json_string(const ms_json *j)
{
	return j && j->type == MS_JSON_STRING ? j->u.str : NULL;
}

/* ---- writer ---------------------------------------------------------------------------- */

void ms_json_write(ms_strbuf *b, const ms_json *j)
{
	switch (ms_json_type_of(j)) {
	case MS_JSON_NULL:
		ms_strbuf_append(b, "null");
		break;
	case MS_JSON_BOOL:
		ms_strbuf_append(b, j->u.b ? "true" : "false");
		break;
	case MS_JSON_NUMBER:
		ms_strbuf_append_json_number(b, j->u.num);
		break;
	case MS_JSON_STRING:
		ms_strbuf_append_json_string(b, j->u.str);
		break;
	case MS_JSON_ARRAY:
	case MS_JSON_OBJECT:
		ms_strbuf_append(b, j->type == MS_JSON_OBJECT ? "{" : "[");
		for (size_t i = 0; i < j->u.list.n; i++) {
			if (i)
				ms_strbuf_append(b, ",");
			if (j->type == MS_JSON_OBJECT) {
				ms_strbuf_append_json_string(b, j->u.list.items[i].key);
				ms_strbuf_append(b, ":");
			}
			ms_json_write(b, j->u.list.items[i].value);
		}
		ms_strbuf_append(b, j->type == MS_JSON_OBJECT ? "}" : "]");
		break;
	}
}
