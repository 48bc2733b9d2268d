#include "common/strbuf.h"

#include "common/alloc.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ms_strbuf_init(ms_strbuf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->failed = false;
}

void ms_strbuf_free(ms_strbuf *b)
{
	if (!b)
		return;
	ms_free(b->data);
	ms_strbuf_init(b);
}

/* Makes room for extra more bytes plus the NUL; false (and b->failed) if impossible. */
static bool reserve(ms_strbuf *b, size_t extra)
{
	if (b->failed)
		return false;
	if (extra > SIZE_MAX - b->len - 1)
		goto fail;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = ms_realloc(b->data, cap);
	if (!p)
		goto fail;
	b->data = p;
	b->cap = cap;
	return true;
fail:
	/* Keep the text that is there (still NUL-terminated) so callers may inspect it. */
	b->failed = true;
	return false;
}

void ms_strbuf_appendn(ms_strbuf *b, const char *s, size_t n)
{
	if (!s || !reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void ms_strbuf_append(ms_strbuf *b, const char *s)
{
	if (s)
		ms_strbuf_appendn(b, s, strlen(s));
}

void ms_strbuf_appendf(ms_strbuf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;

	if (b->failed)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		ms_strbuf_appendn(b, small, (size_t)n);
		return;
	}
	if (!reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there are not one
 * (overlong forms, surrogates and code points above U+10FFFF are invalid, as in RFC 3629). */
static size_t utf8_valid_len(const unsigned char *s)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
		if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
			return 0;
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
		if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

void ms_strbuf_append_json_string(ms_strbuf *b, const char *s)
{
	if (!s) {
		ms_strbuf_append(b, "null");
		return;
	}
	ms_strbuf_append(b, "\"");
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		/* Copy runs of plain characters at once; the NUL terminator stops every lookahead in
		 * utf8_valid_len because it is never a continuation byte. */
		const unsigned char *run = p;
		size_t n;
		while (*p >= 0x20 && *p != '"' && *p != '\\' && (n = utf8_valid_len(p)) != 0)
			p += n;
		ms_strbuf_appendn(b, (const char *)run, (size_t)(p - run));
		if (!*p)
			break;
		switch (*p) {
		case '"': ms_strbuf_append(b, "\\\""); break;
		case '\\': ms_strbuf_append(b, "\\\\"); break;
		case '\b': ms_strbuf_append(b, "\\b"); break;
		case '\f': ms_strbuf_append(b, "\\f"); break;
		case '\n': ms_strbuf_append(b, "\\n"); break;
		case '\r': ms_strbuf_append(b, "\\r"); break;
		case '\t': ms_strbuf_append(b, "\\t"); break;
		default:
			if (*p < 0x20)
				ms_strbuf_appendf(b, "\\u%04x", *p);
			else /* invalid UTF-8 (e.g. Latin-1 text): keep the output valid JSON */
				ms_strbuf_append(b, "\\ufffd");
			break;
		}
		p++;
	}
	ms_strbuf_append(b, "\"");
}

/* snprintf honours LC_NUMERIC; JSON wants '.' whatever the process locale is. */
static void fix_decimal_point(char *s)
{
	for (; *s; s++)
		if (*s != '-' && *s != '+' && *s != 'e' && *s != 'E' && (*s < '0' || *s > '9'))
			*s = '.';
}

void ms_strbuf_append_json_number(ms_strbuf *b, double v)
{
	char text[40];

	if (!isfinite(v)) {
		ms_strbuf_append(b, "null");
		return;
	}
	if (v == floor(v) && fabs(v) <= 9007199254740992.0) {
		ms_strbuf_appendf(b, "%lld", (long long)v);
		return;
	}
	/* The shortest precision that reads back exactly: 0.1 stays "0.1", not
	 * "0.10000000000000001", and no value loses bits (which %.10g would). */
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(text, sizeof(text), "%.*g", prec, v);
		if (strtod(text, NULL) == v)
			break;
	}
	fix_decimal_point(text);
	ms_strbuf_append(b, text);
}

char *ms_strbuf_take(ms_strbuf *b)
{
	char *s = NULL;

	if (b->failed) {
		ms_strbuf_free(b);
		return NULL;
	}
	s = b->data ? b->data : ms_strdup("");
	ms_strbuf_init(b);
	return s;
}
