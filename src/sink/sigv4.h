/* AWS Signature Version 4 (OpenSSL HMAC-SHA256), as the S3 sink signs its
 * requests. Pure functions: no clock, no I/O. The caller builds the canonical
 * URI and query (es_sigv4_uri_encode) exactly as it sends them; a signature
 * covers those bytes, so the two must never be built twice.
 *
 * Reference: "Create a signed AWS API request" and "Signature Calculations for
 * the Authorization Header" in the AWS docs; tests/unit/test_sigv4.c checks the
 * published examples (the get-vanilla suite case, the S3 PUT/GET examples and
 * the signing-key derivation). */
#ifndef ES_SINK_SIGV4_H
#define ES_SINK_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ES_SIGV4_HASH_HEX 65 /* 64 hex digits + NUL */
#define ES_SIGV4_DATE 17     /* "20150830T123600Z" + NUL */

/* One header to sign. `name` in lowercase; `value` as sent (the canonical form
 * trims it and folds runs of spaces, as SigV4 asks). */
struct es_sigv4_header {
    const char *name;
    const char *value;
};

struct es_sigv4_request {
    const char *method;                    /* "PUT" */
    const char *canonical_uri;             /* path as sent, already encoded: "/bucket/a%24b.ts" */
    const char *canonical_query;           /* "a=1&b=2", keys sorted, encoded; "" for none */
    const struct es_sigv4_header *headers; /* must include host and x-amz-date; any order */
    size_t header_count;
    const char *payload_hash; /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
    const char *amz_date;     /* the x-amz-date value, "YYYYMMDDTHHMMSSZ" */
    const char *region;       /* "us-east-1" */
    const char *service;      /* "s3" */
    const char *access_key_id;
    const char *secret_access_key;
};

/* Writes the Authorization header value ("AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=..., Signature=...") into `out`. Returns false if it does not
 * fit or there are more than 16 headers. */
bool es_sigv4_authorization(const struct es_sigv4_request *request, char *out, size_t out_size);

/* The intermediate texts, for tests and for debugging a SignatureDoesNotMatch
 * (the store's error echoes its own canonical request). False if they do not fit. */
bool es_sigv4_canonical_request(const struct es_sigv4_request *request, char *out, size_t out_size);
bool es_sigv4_string_to_sign(const struct es_sigv4_request *request, char *out, size_t out_size);
/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
void es_sigv4_signing_key(const char *secret_access_key, const char *date8, const char *region,
                          const char *service, uint8_t out[32]);

/* Hex SHA-256 of `size` bytes (lowercase). */
void es_sigv4_sha256_hex(const void *data, size_t size, char out[ES_SIGV4_HASH_HEX]);

/* URI-encodes `in` as SigV4 wants: every byte but A-Z a-z 0-9 - _ . ~ as %XX
 * (uppercase hex); '/' is kept when `keep_slash` (paths) and encoded otherwise
 * (query values). Returns false if it does not fit. */
bool es_sigv4_uri_encode(const char *in, bool keep_slash, char *out, size_t out_size);

/* "YYYYMMDDTHHMMSSZ" (UTC) of a wall-clock time in microseconds. */
void es_sigv4_amz_date(int64_t wall_us, char out[ES_SIGV4_DATE]);

#endif
