/* Deterministic DICOM UIDs: "2.25.<decimal of a 128-bit name-based UUID>" derived from a list of
 * strings, so a re-run of the same analysis on the same source series writes the same
 * SeriesInstanceUID/SOPInstanceUID and replaces the old objects instead of duplicating them. */
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes into out a UID (at most 44 characters + NUL, always valid UID syntax) derived from the
 * n_parts strings in parts (NULL entries count as empty strings). The derivation is an RFC 4122
 * version 5 UUID (SHA-1 of a fixed MedSight namespace and the length-prefixed parts), so
 * ("ab","c") and ("a","bc") differ. Never fails; thread-safe. */
void ms_uid_derive(char out[65], const char *const *parts, size_t n_parts);

#ifdef __cplusplus
}
#endif
