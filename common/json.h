/* Small JSON DOM: an RFC 8259 parser (UTF-8 only) and a compact writer.
 *
 * Parsed documents are immutable trees owned by the root: every pointer returned by the
 * accessors is borrowed from it and lives until ms_json_destroy(root). Accessors accept NULL
 * and wrong-type nodes (they answer NULL / 0 / false), so lookups can be chained without checks:
 *     ms_json_string(ms_json_get(ms_json_get(doc, "MedSight"), "Device"))
 *
 * Thread-safety: parsing is reentrant; a finished tree may be read by many threads at once. */
#pragma once
#include "common/status.h"
#include "common/strbuf.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	MS_JSON_NULL,
	MS_JSON_BOOL,
	MS_JSON_NUMBER,
	MS_JSON_STRING,
	MS_JSON_ARRAY,
	MS_JSON_OBJECT,
} ms_json_type;

typedef struct ms_json ms_json;

/* Largest nesting of arrays/objects ms_json_parse accepts (bounds its recursion). */
#define MS_JSON_MAX_DEPTH 64

/* Parses text[0..len) (need not be NUL-terminated) into a new tree in *out, which the caller
 * frees with ms_json_destroy. A leading UTF-8 byte-order mark is skipped. Rejected: trailing
 * non-space text, control characters and invalid UTF-8 in strings, lone surrogates, \u0000
 * (names and values are C strings), leading zeros, NaN/Infinity and numbers beyond the double
 * range, nesting deeper than MS_JSON_MAX_DEPTH.
 * Returns MS_OK; MS_ERR_ARG for invalid JSON (or NULL text/out), with "line L column C: what"
 * (1-based, column in bytes) written to err when err/errlen allow; MS_ERR_NOMEM if an
 * allocation failed ("out of memory" in err). On failure *out is NULL and nothing leaks. */
ms_status ms_json_parse(const char *text, size_t len, ms_json **out, char *err, size_t errlen);

/* Frees a tree returned by ms_json_parse. NULL is a no-op. Never call it on a child node. */
void ms_json_destroy(ms_json *j);

/* Type of j; a NULL j reads as MS_JSON_NULL. */
ms_json_type ms_json_type_of(const ms_json *j);

/* Value of member key of object obj (the last one if the name is repeated); NULL if obj is not
 * an object or has no such member. Linear in the number of members. */
const ms_json *ms_json_get(const ms_json *obj, const char *key);

/* Number of elements of an array or members of an object (duplicates included); else 0. */
size_t ms_json_size(const ms_json *j);

/* i-th element of an array or i-th member value of an object, in document order; NULL if j is
 * neither or i is out of range. */
const ms_json *ms_json_at(const ms_json *j, size_t i);

/* i-th member name of an object, in document order; NULL if obj is not an object or i is out
 * of range. */
const char *ms_json_key_at(const ms_json *obj, size_t i);

/* True if j is a number. */
bool ms_json_is_number(const ms_json *j);

/* Value of a number; 0 for anything else. */
double ms_json_number(const ms_json *j);

/* Value of a boolean; false for anything else. */
bool ms_json_bool(const ms_json *j);

/* Value of a string (UTF-8, NUL-terminated); NULL if j is not a string. */
const char *ms_json_string(const ms_json *j);

/* Appends j as compact JSON text (NULL j appends null). Allocation failure is reported
 * through b->failed, as for every ms_strbuf append. */
void ms_json_write(ms_strbuf *b, const ms_json *j);

#ifdef __cplusplus
}
#endif
