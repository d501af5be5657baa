#include "sink/s3.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "sink/sigv4.h"

#include <openssl/evp.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DELETE_BATCH 1000 /* DeleteObjects: "up to 1,000 keys" */

struct s3_store {
    struct es_store base;
    char *scheme;    /* "https" */
    char *authority; /* host[:port] of the endpoint */
    char *base_path; /* "" or e.g. "/storage/v1/s3" (Supabase) */
    bool virtual_host;
    char *bucket, *region, *access_key_id, *secret_access_key, *session_token;
    int64_t fixed_clock_us;
};

void es_s3_store_set_clock(struct es_store *store, int64_t wall_us)
{
    ((struct s3_store *)store)->fixed_clock_us = wall_us;
}

static struct curl_slist *add(struct curl_slist *list, const char *header)
{
    struct curl_slist *l = curl_slist_append(list, header);
    if (!l)
        abort();
    return l;
}

static struct curl_slist *addf(struct curl_slist *list, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Formats one header line at whatever length it needs: an STS or instance-role
 * x-amz-security-token is often longer than 1000 characters, and SigV4 signs
 * the whole token, so a line cut short is a request the store refuses. The
 * line may hold a secret: it is wiped before it is freed. */
static struct curl_slist *addf(struct curl_slist *list, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    char *line = es_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(line, (size_t)n + 1, fmt, ap);
    va_end(ap);
    struct curl_slist *l = add(list, line);
    OPENSSL_cleanse(line, (size_t)n);
    free(line);
    return l;
}

/* Builds URL, Host and signature for one request; `encoded_key` may be "" (a
 * bucket-level request). `query` is canonical (sorted, encoded) and sent as is. */
static void sign_and_build(struct s3_store *s, const char *method, const char *encoded_key,
                           const char *query, const uint8_t *body, size_t body_size,
                           const char *content_md5, struct curl_slist *extra,
                           struct es_store_request *out)
{
    char host[512], path[2600];
    if (s->virtual_host) {
        snprintf(host, sizeof(host), "%s.%s", s->bucket, s->authority);
        snprintf(path, sizeof(path), "%s/%s", s->base_path, encoded_key);
    } else {
        snprintf(host, sizeof(host), "%s", s->authority);
        snprintf(path, sizeof(path), "%s/%s%s%s", s->base_path, s->bucket,
                 encoded_key[0] || !query[0] ? "/" : "", encoded_key);
    }
    size_t url_len = strlen(s->scheme) + strlen(host) + strlen(path) + strlen(query) + 8;
    out->url = es_malloc(url_len);
    snprintf(out->url, url_len, "%s://%s%s%s%s", s->scheme, host, path, query[0] ? "?" : "", query);

    char payload_hash[ES_SIGV4_HASH_HEX], amz_date[ES_SIGV4_DATE];
    es_sigv4_sha256_hex(body ? (const void *)body : "", body ? body_size : 0, payload_hash);
    es_sigv4_amz_date(s->fixed_clock_us ? s->fixed_clock_us : es_clock_wall_us(), amz_date);

    struct es_sigv4_header headers[6];
    size_t n = 0;
    headers[n++] = (struct es_sigv4_header){"host", host};
    headers[n++] = (struct es_sigv4_header){"x-amz-content-sha256", payload_hash};
    headers[n++] = (struct es_sigv4_header){"x-amz-date", amz_date};
    if (content_md5)
        headers[n++] = (struct es_sigv4_header){"content-md5", content_md5};
    if (s->session_token)
        headers[n++] = (struct es_sigv4_header){"x-amz-security-token", s->session_token};
    struct es_sigv4_request r = {
        .method = method,
        .canonical_uri = path,
        .canonical_query = query,
        .headers = headers,
        .header_count = n,
        .payload_hash = payload_hash,
        .amz_date = amz_date,
        .region = s->region,
        .service = "s3",
        .access_key_id = s->access_key_id,
        .secret_access_key = s->secret_access_key,
    };
    char authorization[1024];
    if (!es_sigv4_authorization(&r, authorization, sizeof(authorization)))
        authorization[0] = '\0';

    snprintf(out->method, sizeof(out->method), "%s", method);
    /* The Host we signed is the Host we send: curl would drop a default port. */
    struct curl_slist *h = addf(NULL, "Host: %s", host);
    h = addf(h, "x-amz-content-sha256: %s", payload_hash);
    h = addf(h, "x-amz-date: %s", amz_date);
    if (content_md5)
        h = addf(h, "Content-MD5: %s", content_md5);
    if (s->session_token)
        h = addf(h, "x-amz-security-token: %s", s->session_token);
    h = addf(h, "Authorization: %s", authorization);
    h = add(h, "Expect:");
    for (struct curl_slist *e = extra; e; e = e->next)
        h = add(h, e->data);
    curl_slist_free_all(extra);
    out->headers = h;
    OPENSSL_cleanse(authorization, sizeof(authorization));
}

static void encode_key(const char *name, char *out, size_t out_size)
{
    if (!es_sigv4_uri_encode(name, true, out, out_size))
        out[0] = '\0';
}

static void s3_put(struct es_store *store, const char *name, const uint8_t *data, size_t size,
                   const char *content_type, const char *cache_control, bool overwrite,
                   struct es_store_request *out)
{
    (void)overwrite; /* PutObject always overwrites; names are never reused anyway */
    struct s3_store *s = (struct s3_store *)store;
    memset(out, 0, sizeof(*out));
    char key[2048];
    encode_key(name, key, sizeof(key));
    struct curl_slist *extra = addf(NULL, "Content-Type: %s", content_type);
    extra = addf(extra, "Cache-Control: %s", cache_control);
    sign_and_build(s, "PUT", key, "", data, size, NULL, extra, out);
    out->body = data;
    out->body_size = size;
}

static void xml_escaped(char *out, size_t *used, const char *in)
{
    for (; *in; in++) {
        const char *rep = NULL;
        switch (*in) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&apos;";
            break;
        default:
            break;
        }
        if (rep) {
            memcpy(out + *used, rep, strlen(rep));
            *used += strlen(rep);
        } else {
            out[(*used)++] = *in;
        }
    }
}

static void s3_delete(struct es_store *store, const char *const *names, size_t count,
                      struct es_store_request *out)
{
    struct s3_store *s = (struct s3_store *)store;
    memset(out, 0, sizeof(*out));
    static const char head[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                               "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                               "<Quiet>true</Quiet>";
    size_t cap = sizeof(head) + 32;
    for (size_t i = 0; i < count; i++)
        cap += 6 * strlen(names[i]) + 32;
    char *body = es_malloc(cap);
    size_t used = 0;
    memcpy(body, head, sizeof(head) - 1);
    used = sizeof(head) - 1;
    for (size_t i = 0; i < count; i++) {
        memcpy(body + used, "<Object><Key>", 13);
        used += 13;
        xml_escaped(body, &used, names[i]);
        memcpy(body + used, "</Key></Object>", 15);
        used += 15;
    }
    memcpy(body + used, "</Delete>", 10);
    used += 9;

    /* DeleteObjects requires Content-MD5 (or a checksum header). */
    uint8_t md5[16];
    unsigned int md5_len = 0;
    EVP_Digest(body, used, md5, &md5_len, EVP_md5(), NULL);
    char content_md5[32];
    EVP_EncodeBlock((unsigned char *)content_md5, md5, 16);

    out->owned_body = (uint8_t *)body;
    out->body = out->owned_body;
    out->body_size = used;
    struct curl_slist *extra = add(NULL, "Content-Type: application/xml");
    sign_and_build(s, "POST", "", "delete=", out->body, used, content_md5, extra, out);
}

static void s3_get(struct es_store *store, const char *name, struct es_store_request *out)
{
    struct s3_store *s = (struct s3_store *)store;
    memset(out, 0, sizeof(*out));
    char key[2048];
    encode_key(name, key, sizeof(key));
    sign_and_build(s, "GET", key, "", NULL, 0, NULL, NULL, out);
}

static void s3_list(struct es_store *store, const char *prefix, const char *cursor,
                    struct es_store_request *out)
{
    struct s3_store *s = (struct s3_store *)store;
    memset(out, 0, sizeof(*out));
    char enc_prefix[1024], enc_cursor[2048], query[3200];
    if (!es_sigv4_uri_encode(prefix, false, enc_prefix, sizeof(enc_prefix)))
        enc_prefix[0] = '\0';
    if (!cursor || !es_sigv4_uri_encode(cursor, false, enc_cursor, sizeof(enc_cursor)))
        enc_cursor[0] = '\0';
    /* Canonical order: parameter names sorted. */
    if (enc_cursor[0])
        snprintf(query, sizeof(query), "continuation-token=%s&list-type=2&max-keys=1000&prefix=%s",
                 enc_cursor, enc_prefix);
    else
        snprintf(query, sizeof(query), "list-type=2&max-keys=1000&prefix=%s", enc_prefix);
    sign_and_build(s, "GET", "", query, NULL, 0, NULL, NULL, out);
}

/* ---- XML answers ------------------------------------------------------------ */

/* The text of the first <tag>...</tag> at or after `from`, entity-decoded.
 * Returns a pointer past the closing tag, or NULL. */
static const char *xml_text(const char *from, const char *tag, char *out, size_t out_size)
{
    char open[64], close[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *a = strstr(from, open);
    if (!a)
        return NULL;
    a += strlen(open);
    const char *b = strstr(a, close);
    if (!b)
        return NULL;
    size_t used = 0;
    for (const char *p = a; p < b && used + 1 < out_size; p++) {
        static const struct {
            const char *ent;
            char c;
        } ents[] = {
            {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
        bool matched = false;
        for (size_t i = 0; i < 5 && *p == '&'; i++) {
            size_t l = strlen(ents[i].ent);
            if ((size_t)(b - p) >= l && strncmp(p, ents[i].ent, l) == 0) {
                out[used++] = ents[i].c;
                p += l - 1;
                matched = true;
                break;
            }
        }
        if (!matched)
            out[used++] = *p;
    }
    if (out_size)
        out[used] = '\0';
    return b + strlen(close);
}

static bool s3_parse_list(struct es_store *store, const struct es_store_response *r,
                          const char *prefix, void (*each)(void *opaque, const char *name),
                          void *opaque, char *cursor, size_t cursor_size)
{
    (void)store;
    if (!r->body || !strstr(r->body, "<ListBucketResult"))
        return false;
    size_t prefix_len = strlen(prefix);
    const char *p = r->body;
    char key[1024];
    while ((p = strstr(p, "<Contents>")) != NULL) {
        const char *end = strstr(p, "</Contents>");
        if (!end)
            break;
        if (xml_text(p, "Key", key, sizeof(key)) && strncmp(key, prefix, prefix_len) == 0 &&
            !strchr(key + prefix_len, '/'))
            each(opaque, key + prefix_len);
        p = end;
    }
    char truncated[16] = "";
    xml_text(r->body, "IsTruncated", truncated, sizeof(truncated));
    cursor[0] = '\0';
    if (strcmp(truncated, "true") == 0)
        xml_text(r->body, "NextContinuationToken", cursor, cursor_size);
    return true;
}

static void verdict(struct es_store_result *out, enum es_store_verdict v, const char *code,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void verdict(struct es_store_result *out, enum es_store_verdict v, const char *code,
                    const char *fmt, ...)
{
    out->verdict = v;
    snprintf(out->code, sizeof(out->code), "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
    va_end(ap);
    for (char *c = out->reason; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == '"' || *c == '\\')
            *c = ' ';
}

static bool is_html(const struct es_store_response *r)
{
    if (r->content_type && strncasecmp(r->content_type, "text/html", 9) == 0)
        return true;
    return r->body && (strncasecmp(r->body, "<!doctype html", 14) == 0 ||
                       strncasecmp(r->body, "<html", 5) == 0);
}

static void s3_classify(struct es_store *store, enum es_store_op op,
                        const struct es_store_response *r, bool retried,
                        struct es_store_result *out)
{
    struct s3_store *s = (struct s3_store *)store;
    (void)retried; /* PUT overwrites: a retry of a landed upload simply succeeds */
    memset(out, 0, sizeof(*out));
    char code[64] = "", message[200] = "";
    if (r->body && strstr(r->body, "<Error>")) {
        const char *e = strstr(r->body, "<Error>");
        xml_text(e, "Code", code, sizeof(code));
        xml_text(e, "Message", message, sizeof(message));
    }
    long http = r->status;
    if (http >= 200 && http < 300) {
        if (op == ES_STORE_DELETE && code[0]) {
            verdict(out, ES_STORE_TRANSIENT, code, "some keys were not deleted: %s", message);
            return;
        }
        verdict(out, ES_STORE_OK, "ok", "HTTP %ld", http);
        return;
    }
    if (is_html(r) && !code[0]) {
        if (http == 403)
            verdict(out, ES_STORE_TRANSIENT_SLOW, "cdn_block", "HTTP 403 HTML page from a CDN");
        else
            verdict(out, ES_STORE_TRANSIENT, "cdn_html", "HTTP %ld HTML error page", http);
        return;
    }
    if (!code[0])
        snprintf(code, sizeof(code), "http_%ld", http);
    if (http == 429 || http >= 500 || strcmp(code, "RequestTimeout") == 0 ||
        strcmp(code, "SlowDown") == 0 || strcmp(code, "OperationAborted") == 0) {
        verdict(out, ES_STORE_TRANSIENT, code, "HTTP %ld %s", http, message);
        return;
    }
    if (strcmp(code, "NoSuchKey") == 0 && (op == ES_STORE_GET || op == ES_STORE_DELETE)) {
        verdict(out, op == ES_STORE_GET ? ES_STORE_ABSENT : ES_STORE_OK, code, "no such key");
        return;
    }
    if (http == 404 && op == ES_STORE_GET && strcmp(code, "NoSuchBucket") != 0 &&
        strncmp(code, "http_", 5) != 0) {
        verdict(out, ES_STORE_ABSENT, code, "not found");
        return;
    }
    if (strcmp(code, "NoSuchBucket") == 0) {
        verdict(out, ES_STORE_PERMANENT_STORE, code, "bucket '%s' does not exist at %s", s->bucket,
                s->base.host);
        return;
    }
    if (http == 403 || http == 401 || http == 301 || http == 307 || http == 404 ||
        strcmp(code, "AuthorizationHeaderMalformed") == 0 || strcmp(code, "ExpiredToken") == 0 ||
        strcmp(code, "InvalidToken") == 0 || strcmp(code, "PermanentRedirect") == 0) {
        const char *hint = "check the access key, secret key and bucket permissions";
        if (strcmp(code, "SignatureDoesNotMatch") == 0)
            hint = "the secret access key is wrong (or a proxy rewrote the request)";
        else if (strcmp(code, "InvalidAccessKeyId") == 0)
            hint = "the access key id is unknown to this store";
        else if (strcmp(code, "RequestTimeTooSkewed") == 0)
            hint = "this machine's clock is off: fix NTP";
        else if (http == 301 || http == 307 || strcmp(code, "PermanentRedirect") == 0 ||
                 strcmp(code, "AuthorizationHeaderMalformed") == 0)
            hint = "the bucket is in another region, or the endpoint is wrong: set region:";
        else if (http == 404)
            hint = "is the endpoint right?";
        verdict(out, ES_STORE_PERMANENT_STORE, code, "HTTP %ld %s: %s", http, code, hint);
        return;
    }
    verdict(out, op == ES_STORE_DELETE ? ES_STORE_TRANSIENT : ES_STORE_PERMANENT_OBJECT, code,
            "HTTP %ld %s", http, message);
}

static void wipe_free(char *s)
{
    if (s)
        OPENSSL_cleanse(s, strlen(s));
    free(s);
}

static void s3_destroy(struct es_store *store)
{
    struct s3_store *s = (struct s3_store *)store;
    if (!s)
        return;
    free(s->scheme);
    free(s->authority);
    free(s->base_path);
    free(s->bucket);
    free(s->region);
    free(s->access_key_id);
    wipe_free(s->secret_access_key);
    wipe_free(s->session_token);
    free(s);
}

static const struct es_store_ops s3_ops = {
    .put = s3_put,
    .delete_objects = s3_delete,
    .get = s3_get,
    .list = s3_list,
    .parse_list = s3_parse_list,
    .classify = s3_classify,
    .destroy = s3_destroy,
};

enum es_err es_s3_store_create(const struct es_s3_storage *config, struct es_store **out)
{
    *out = NULL;
    if (!config->bucket || !config->access_key_id || !config->secret_access_key)
        return ES_ERR_INVALID;
    struct s3_store *s = es_calloc(1, sizeof(*s));
    s->base.ops = &s3_ops;
    s->base.kind = "s3";
    s->base.max_delete_batch = MAX_DELETE_BATCH;
    s->region = es_strdup(config->region ? config->region : "us-east-1");
    s->bucket = es_strdup(config->bucket);
    s->access_key_id = es_strdup(config->access_key_id);
    s->secret_access_key = es_strdup(config->secret_access_key);
    s->session_token = config->session_token ? es_strdup(config->session_token) : NULL;
    s->base.secrets[0] = s->secret_access_key;
    s->base.secrets[1] = s->session_token;

    char endpoint[2048];
    if (config->endpoint)
        snprintf(endpoint, sizeof(endpoint), "%s", config->endpoint);
    else
        snprintf(endpoint, sizeof(endpoint), "https://s3.%s.amazonaws.com", s->region);
    size_t len = strlen(endpoint);
    while (len && endpoint[len - 1] == '/')
        endpoint[--len] = '\0';
    char *sep = strstr(endpoint, "://");
    if (!sep) {
        s3_destroy(&s->base);
        return ES_ERR_INVALID;
    }
    *sep = '\0';
    s->scheme = es_strdup(endpoint);
    char *authority = sep + 3;
    size_t auth_len = strcspn(authority, "/");
    s->authority = es_strndup(authority, auth_len);
    s->base_path = es_strdup(authority + auth_len);
    switch (config->url_style) {
    case ES_S3_URL_PATH:
        s->virtual_host = false;
        break;
    case ES_S3_URL_VIRTUAL:
        s->virtual_host = true;
        break;
    case ES_S3_URL_AUTO:
        s->virtual_host = config->endpoint == NULL;
        break;
    }
    snprintf(s->base.host, sizeof(s->base.host), "%s", s->authority);
    if (s->virtual_host)
        snprintf(s->base.public_base, sizeof(s->base.public_base), "%s://%s.%s%s/", s->scheme,
                 s->bucket, s->authority, s->base_path);
    else
        snprintf(s->base.public_base, sizeof(s->base.public_base), "%s://%s%s/%s/", s->scheme,
                 s->authority, s->base_path, s->bucket);
    *out = &s->base;
    return ES_OK;
}
