/* Growable NUL-terminated string used to build REST answers, log lines and JSON text.
 *
 * Append functions never fail loudly: when an allocation fails they set b->failed, drop the
 * text and ignore every later append, so callers check once (b->failed or ms_strbuf_take() ==
 * NULL) at the end instead of after each append. data is NULL until the first successful
 * append and otherwise always NUL-terminated.
 *
 * Thread-safety: a buffer belongs to one thread at a time; distinct buffers are independent. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	char *data;  /* heap string (ms_malloc), NULL while empty; owned by the buffer */
	size_t len;  /* bytes used, excluding the terminating NUL */
	size_t cap;  /* bytes allocated */
	bool failed; /* an allocation failed: the content is incomplete */
} ms_strbuf; /* zero-init = empty */

/* Makes b empty (does not free: use on uninitialised memory). */
void ms_strbuf_init(ms_strbuf *b);

/* Frees the text and makes b empty again (failed cleared). NULL b is a no-op. */
void ms_strbuf_free(ms_strbuf *b);

/* Appends the NUL-terminated s (NULL appends nothing). */
void ms_strbuf_append(ms_strbuf *b, const char *s);

/* Appends n bytes of s (which may contain NUL bytes). */
void ms_strbuf_appendn(ms_strbuf *b, const char *s, size_t n);

/* Appends printf-formatted text. */
void ms_strbuf_appendf(ms_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s as a quoted JSON string: ", \ and control characters are escaped and invalid UTF-8
 * bytes become U+FFFD, so the output is always valid JSON. NULL s appends null. */
void ms_strbuf_append_json_string(ms_strbuf *b, const char *s);

/* Appends v as a JSON number: NaN and infinities become null, integral values up to 2^53 have
 * no fraction ("3", not "3.0"), other values use the shortest %.17g form that reads back as
 * exactly v. The decimal point is always '.', whatever the C locale. */
void ms_strbuf_append_json_number(ms_strbuf *b, double v);

/* Returns the heap string (free with ms_free; "" if nothing was appended) and resets b to
 * empty. Returns NULL, after freeing the partial text, if any append failed. */
char *ms_strbuf_take(ms_strbuf *b);

#ifdef __cplusplus
}
#endif
