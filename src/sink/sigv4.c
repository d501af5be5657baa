#include "sink/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_HEADERS 16
#define ALGORITHM "AWS4-HMAC-SHA256"

static void to_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void es_sigv4_sha256_hex(const void *data, size_t size, char out[ES_SIGV4_HASH_HEX])
{
    uint8_t digest[32];
    unsigned int len = 0;
    EVP_Digest(data, size, digest, &len, EVP_sha256(), NULL);
    to_hex(digest, 32, out);
}

static void hmac_sha256(const void *key, size_t key_len, const char *data, uint8_t out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data, strlen(data), out, &len);
}

void es_sigv4_signing_key(const char *secret_access_key, const char *date8, const char *region,
                          const char *service, uint8_t out[32])
{
    size_t secret_len = strlen(secret_access_key);
    char *k = malloc(secret_len + 5);
    if (!k)
        abort();
    memcpy(k, "AWS4", 4);
    memcpy(k + 4, secret_access_key, secret_len + 1);
    uint8_t k_date[32], k_region[32], k_service[32];
    hmac_sha256(k, secret_len + 4, date8, k_date);
    hmac_sha256(k_date, 32, region, k_region);
    hmac_sha256(k_region, 32, service, k_service);
    hmac_sha256(k_service, 32, "aws4_request", out);
    OPENSSL_cleanse(k, secret_len + 4);
    OPENSSL_cleanse(k_date, sizeof(k_date));
    free(k);
}

bool es_sigv4_uri_encode(const char *in, bool keep_slash, char *out, size_t out_size)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t used = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
                     (*p == '/' && keep_slash);
        size_t need = plain ? 1 : 3;
        if (used + need >= out_size)
            return false;
        if (plain) {
            out[used++] = (char)*p;
        } else {
            out[used++] = '%';
            out[used++] = digits[*p >> 4];
            out[used++] = digits[*p & 15];
        }
    }
    if (used >= out_size)
        return false;
    out[used] = '\0';
    return true;
}

void es_sigv4_amz_date(int64_t wall_us, char out[ES_SIGV4_DATE])
{
    time_t t = (time_t)(wall_us / 1000000);
    struct tm utc;
    gmtime_r(&t, &utc);
    strftime(out, ES_SIGV4_DATE, "%Y%m%dT%H%M%SZ", &utc);
}

/* An output buffer that remembers overflow, so the builders stay linear. */
struct text {
    char *buf;
    size_t size, len;
    bool overflow;
};

static void put(struct text *t, const char *s, size_t n)
{
    if (t->len + n >= t->size) {
        t->overflow = true;
        return;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void puts_(struct text *t, const char *s)
{
    put(t, s, strlen(s));
}

static int compare_headers(const void *a, const void *b)
{
    const struct es_sigv4_header *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* SigV4: "Trimall": leading and trailing spaces removed, runs of spaces folded. */
static void put_trimmed(struct text *t, const char *value)
{
    while (*value == ' ' || *value == '\t')
        value++;
    bool space = false;
    for (; *value; value++) {
        if (*value == ' ' || *value == '\t') {
            space = true;
            continue;
        }
        if (space)
            put(t, " ", 1);
        space = false;
        put(t, value, 1);
    }
}

static bool sorted_headers(const struct es_sigv4_request *r, const struct es_sigv4_header **sorted)
{
    if (r->header_count > MAX_HEADERS)
        return false;
    for (size_t i = 0; i < r->header_count; i++)
        sorted[i] = &r->headers[i];
    qsort(sorted, r->header_count, sizeof(*sorted), compare_headers);
    return true;
}

static void put_signed_headers(struct text *t, const struct es_sigv4_header **sorted, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(t, ";", 1);
        puts_(t, sorted[i]->name);
    }
}

bool es_sigv4_canonical_request(const struct es_sigv4_request *r, char *out, size_t out_size)
{
    const struct es_sigv4_header *sorted[MAX_HEADERS];
    if (!out_size || !sorted_headers(r, sorted))
        return false;
    struct text t = {out, out_size, 0, false};
    out[0] = '\0';
    puts_(&t, r->method);
    put(&t, "\n", 1);
    puts_(&t, r->canonical_uri[0] ? r->canonical_uri : "/");
    put(&t, "\n", 1);
    puts_(&t, r->canonical_query ? r->canonical_query : "");
    put(&t, "\n", 1);
    for (size_t i = 0; i < r->header_count; i++) {
        puts_(&t, sorted[i]->name);
        put(&t, ":", 1);
        put_trimmed(&t, sorted[i]->value);
        put(&t, "\n", 1);
    }
    put(&t, "\n", 1);
    put_signed_headers(&t, sorted, r->header_count);
    put(&t, "\n", 1);
    puts_(&t, r->payload_hash);
    return !t.overflow;
}

static void scope(const struct es_sigv4_request *r, char *out, size_t out_size)
{
    snprintf(out, out_size, "%.8s/%s/%s/aws4_request", r->amz_date, r->region, r->service);
}

bool es_sigv4_string_to_sign(const struct es_sigv4_request *r, char *out, size_t out_size)
{
    size_t cap = 8192;
    char *canonical = malloc(cap);
    if (!canonical)
        abort();
    bool ok;
    while (!(ok = es_sigv4_canonical_request(r, canonical, cap)) && cap < (1u << 20)) {
        cap *= 4;
        canonical = realloc(canonical, cap);
        if (!canonical)
            abort();
    }
    char hash[ES_SIGV4_HASH_HEX], sc[256];
    if (ok)
        es_sigv4_sha256_hex(canonical, strlen(canonical), hash);
    free(canonical);
    if (!ok)
        return false;
    scope(r, sc, sizeof(sc));
    int n = snprintf(out, out_size, ALGORITHM "\n%s\n%s\n%s", r->amz_date, sc, hash);
    return n >= 0 && (size_t)n < out_size;
}

bool es_sigv4_authorization(const struct es_sigv4_request *r, char *out, size_t out_size)
{
    char to_sign[512];
    const struct es_sigv4_header *sorted[MAX_HEADERS];
    if (!sorted_headers(r, sorted) || strlen(r->amz_date) < 8 ||
        !es_sigv4_string_to_sign(r, to_sign, sizeof(to_sign)))
        return false;
    char date8[9];
    memcpy(date8, r->amz_date, 8);
    date8[8] = '\0';
    uint8_t key[32], signature[32];
    es_sigv4_signing_key(r->secret_access_key, date8, r->region, r->service, key);
    hmac_sha256(key, sizeof(key), to_sign, signature);
    OPENSSL_cleanse(key, sizeof(key));
    char hex[65], sc[256];
    to_hex(signature, 32, hex);
    scope(r, sc, sizeof(sc));

    struct text t = {out, out_size, 0, false};
    if (!out_size)
        return false;
    out[0] = '\0';
    puts_(&t, ALGORITHM " Credential=");
    puts_(&t, r->access_key_id);
    put(&t, "/", 1);
    puts_(&t, sc);
    puts_(&t, ", SignedHeaders=");
    put_signed_headers(&t, sorted, r->header_count);
    puts_(&t, ", Signature=");
    puts_(&t, hex);
    return !t.overflow;
}
