/* Request targets as the origin accepts them: pure functions, no h2o.
 *
 * A path is percent-decoded exactly once and then refused, never repaired,
 * when it could mean something else to another layer: a "." or ".." segment
 * (also spelt %2e), an empty segment ("//"), a backslash, NUL or any control
 * byte, a '%' left after decoding (double encoding), bytes >= 0x80. So no
 * normalisation can ever walk out of a directory: there is nothing to walk
 * with. Query directives (_HLS_msn, _HLS_part, _HLS_skip, token) are parsed
 * strictly: decimal digits only, in range, at most once each. */
#ifndef ES_ORIGIN_PATH_H
#define ES_ORIGIN_PATH_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ES_PATH_MAX 1024
#define ES_PATH_SEGMENTS_MAX 16
#define ES_QUERY_TOKEN_MAX 256

struct es_path {
    char buf[ES_PATH_MAX];                      /* decoded segments, each NUL-terminated */
    const char *segments[ES_PATH_SEGMENTS_MAX]; /* point into buf */
    size_t count;                               /* "/" has 0 segments */
    bool trailing_slash;                        /* "/assets/" */
};

/* Parses the path part of a request target (before '?'). ES_ERR_INVALID for
 * anything refused above; ES_ERR_UNSUPPORTED when longer than ES_PATH_MAX or
 * deeper than ES_PATH_SEGMENTS_MAX (a 414). */
enum es_err es_path_parse(const char *raw, size_t len, struct es_path *out);

/* A file or directory name we could have created: [A-Za-z0-9._~-]+, not
 * starting with '.' (no dotfiles) and at most 255 bytes. */
bool es_path_is_name(const char *segment);

struct es_query {
    bool has_msn, has_part, has_skip, has_token;
    uint64_t msn;                   /* _HLS_msn */
    uint64_t part;                  /* _HLS_part */
    bool skip;                      /* _HLS_skip=YES (or v2) */
    char token[ES_QUERY_TOKEN_MAX]; /* decoded ?token= */
    size_t token_len;
};

/* Parses the query (after '?', without it). Unknown keys are ignored.
 * ES_ERR_INVALID: a directive given twice, an empty or non-decimal number,
 * one above the range the draft allows (2^64-1 for _HLS_msn, 2^32-1 for
 * _HLS_part), an _HLS_skip other than YES or v2, a malformed escape, or a
 * token longer than ES_QUERY_TOKEN_MAX - 1 bytes. */
enum es_err es_query_parse(const char *raw, size_t len, struct es_query *out);

/* One "key=value" of a query string (the recordings' start=, end=, t=),
 * percent-decoded into out ('+' stays '+': the sign of an offset such as
 * +01:00): 1 found, 0 absent, -1 repeated, malformed, too long or holding a
 * control character (why says which). */
int es_query_value(const char *raw, size_t len, const char *key, char *out, size_t size,
                   const char **why);

/* Parses "<prefix><decimal>[_<decimal>]<suffix>", e.g. "part_12_3.m4s" with
 * prefix "part_" and suffix ".m4s". `b` may be NULL for one number. Numbers
 * are plain decimals (no sign, no leading zeros beyond "0" itself unless
 * `allow_zero_pad`, which the %03d TS names need). */
bool es_path_match_numbers(const char *name, const char *prefix, const char *suffix,
                           bool allow_zero_pad, uint64_t *a, uint64_t *b);

#endif
