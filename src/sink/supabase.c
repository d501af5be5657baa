#include "sink/supabase.h"

#include "core/alloc.h"
#include "sink/sigv4.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DELETE_BATCH 1000 /* REQUEST_HARD_LIMITS_ENABLED: 1000 names a request */

struct supabase_store {
    struct es_store base;
    char *api; /* https://xxx.supabase.co/storage/v1 */
    char *key;
    char *bucket;
    char *auth_header;   /* "Authorization: Bearer <key>" */
    char *apikey_header; /* "apikey: <key>" */
};

/* ---- A small JSON reader --------------------------------------------------
 * Enough for the error envelope (a flat object) and list answers (an array of
 * flat-ish objects): it walks any JSON and reports every scalar with its key and
 * depth. Strings are decoded; \u escapes outside ASCII become '?'. */

struct json_walk {
    const char *p, *end;
    void (*scalar)(void *opaque, int depth, const char *key, const char *value, bool is_string);
    void (*object_end)(void *opaque, int depth);
    void *opaque;
};

static void skip_ws(struct json_walk *w)
{
    while (w->p < w->end && (*w->p == ' ' || *w->p == '\t' || *w->p == '\n' || *w->p == '\r'))
        w->p++;
}

/* Reads a string at w->p (at the opening quote) into out (cut to out_size). */
static bool read_string(struct json_walk *w, char *out, size_t out_size)
{
    size_t used = 0;
    if (w->p >= w->end || *w->p != '"')
        return false;
    w->p++;
    while (w->p < w->end && *w->p != '"') {
        char c = *w->p++;
        if (c == '\\') {
            if (w->p >= w->end)
                return false;
            char e = *w->p++;
            switch (e) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'u': {
                if (w->end - w->p < 4)
                    return false;
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    char h = w->p[i];
                    if (!isxdigit((unsigned char)h))
                        return false;
                    v = v * 16 +
                        (unsigned)(isdigit((unsigned char)h) ? h - '0' : (tolower(h) - 'a' + 10));
                }
                w->p += 4;
                c = (v >= 0x20 && v < 0x7f) ? (char)v : '?';
                break;
            }
            default:
                c = e;
                break; /* \" \\ \/ */
            }
        }
        if (used + 1 < out_size)
            out[used++] = c;
    }
    if (w->p >= w->end)
        return false;
    w->p++;
    if (out_size)
        out[used] = '\0';
    return true;
}

static bool walk_value(struct json_walk *w, int depth, const char *key);

static bool walk_object(struct json_walk *w, int depth)
{
    w->p++; /* { */
    skip_ws(w);
    if (w->p < w->end && *w->p == '}') {
        w->p++;
        if (w->object_end)
            w->object_end(w->opaque, depth);
        return true;
    }
    for (;;) {
        char key[128];
        skip_ws(w);
        if (!read_string(w, key, sizeof(key)))
            return false;
        skip_ws(w);
        if (w->p >= w->end || *w->p != ':')
            return false;
        w->p++;
        if (!walk_value(w, depth, key))
            return false;
        skip_ws(w);
        if (w->p < w->end && *w->p == ',') {
            w->p++;
            continue;
        }
        if (w->p < w->end && *w->p == '}') {
            w->p++;
            if (w->object_end)
                w->object_end(w->opaque, depth);
            return true;
        }
        return false;
    }
}

static bool walk_array(struct json_walk *w, int depth)
{
    w->p++; /* [ */
    skip_ws(w);
    if (w->p < w->end && *w->p == ']') {
        w->p++;
        return true;
    }
    for (;;) {
        if (!walk_value(w, depth, NULL))
            return false;
        skip_ws(w);
        if (w->p < w->end && *w->p == ',') {
            w->p++;
            continue;
        }
        if (w->p < w->end && *w->p == ']') {
            w->p++;
            return true;
        }
        return false;
    }
}

static bool walk_value(struct json_walk *w, int depth, const char *key)
{
    skip_ws(w);
    if (w->p >= w->end || depth > 32)
        return false;
    char c = *w->p;
    if (c == '{')
        return walk_object(w, depth + 1);
    if (c == '[')
        return walk_array(w, depth + 1);
    char value[1024];
    if (c == '"') {
        if (!read_string(w, value, sizeof(value)))
            return false;
        if (w->scalar)
            w->scalar(w->opaque, depth, key, value, true);
        return true;
    }
    size_t n = 0;
    while (w->p < w->end && !strchr(",]} \t\r\n", *w->p)) {
        if (n + 1 < sizeof(value))
            value[n++] = *w->p;
        w->p++;
    }
    value[n] = '\0';
    if (n == 0)
        return false;
    if (w->scalar)
        w->scalar(w->opaque, depth, key, value, false);
    return true;
}

static bool json_walk(const char *text, size_t len, struct json_walk *w)
{
    w->p = text;
    w->end = text + len;
    if (!walk_value(w, 0, NULL))
        return false;
    skip_ws(w);
    return w->p == w->end;
}

/* ---- The error envelope ---------------------------------------------------- */

struct envelope {
    char status[16], code[64], error[64], message[256];
    bool is_object;
};

static void envelope_scalar(void *opaque, int depth, const char *key, const char *value,
                            bool is_string)
{
    struct envelope *e = opaque;
    (void)is_string;
    if (depth != 1 || !key)
        return;
    e->is_object = true;
    if (strcmp(key, "statusCode") == 0)
        snprintf(e->status, sizeof(e->status), "%s", value);
    else if (strcmp(key, "code") == 0)
        snprintf(e->code, sizeof(e->code), "%s", value);
    else if (strcmp(key, "error") == 0)
        snprintf(e->error, sizeof(e->error), "%s", value);
    else if (strcmp(key, "message") == 0)
        snprintf(e->message, sizeof(e->message), "%s", value);
}

static bool parse_envelope(const struct es_store_response *r, struct envelope *e)
{
    memset(e, 0, sizeof(*e));
    if (!r->body || !r->body_size)
        return false;
    struct json_walk w = {.scalar = envelope_scalar, .opaque = e};
    return json_walk(r->body, r->body_size, &w) && e->is_object;
}

static bool is_html(const struct es_store_response *r)
{
    if (r->content_type && strncasecmp(r->content_type, "text/html", 9) == 0)
        return true;
    if (!r->body)
        return false;
    const char *p = r->body;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    return strncasecmp(p, "<!doctype html", 14) == 0 || strncasecmp(p, "<html", 5) == 0;
}

static bool is_json(const struct es_store_response *r)
{
    return r->content_type && strncasecmp(r->content_type, "application/json", 16) == 0;
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
}

/* Message texts from the server are quoted in reasons: keep them printable. */
static void clean(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\')
            *s = ' ';
}

static void supabase_classify(struct es_store *store, enum es_store_op op,
                              const struct es_store_response *r, bool retried,
                              struct es_store_result *out)
{
    struct supabase_store *s = (struct supabase_store *)store;
    memset(out, 0, sizeof(*out));
    long http = r->status;
    struct envelope e;
    bool parsed = is_json(r) && parse_envelope(r, &e);
    if (!parsed)
        memset(&e, 0, sizeof(e));
    clean(e.message);
    clean(e.code);
    clean(e.error);
    /* Only the storage server's envelope carries statusCode; the gateway's own
     * answers ({"message":"no Route matched ..."}) do not. */
    bool envelope = parsed && e.status[0];

    if (http >= 200 && http < 300) {
        /* A captive portal or a misrouted proxy also says 200: the API always
         * answers writes and deletes with JSON. */
        if ((op == ES_STORE_PUT_SEGMENT || op == ES_STORE_PUT_PLAYLIST || op == ES_STORE_DELETE ||
             op == ES_STORE_LIST) &&
            !is_json(r)) {
            verdict(out, ES_STORE_TRANSIENT, "not_json",
                    "HTTP %ld without a JSON body (%s): not the Storage API answering", http,
                    r->content_type ? r->content_type : "no Content-Type");
            return;
        }
        verdict(out, ES_STORE_OK, "ok", "HTTP %ld", http);
        return;
    }
    if (is_html(r)) {
        /* Cloudflare's own pages: a 403 block during bulk uploads (slow down a
         * lot), 502/504/52x when the origin is unhappy (retry normally). */
        if (http == 403)
            verdict(out, ES_STORE_TRANSIENT_SLOW, "cdn_block",
                    "HTTP 403 HTML page from the CDN (Cloudflare block): backing off");
        else
            verdict(out, ES_STORE_TRANSIENT, "cdn_html",
                    "HTTP %ld HTML error page from the CDN or a proxy", http);
        return;
    }
    if (http == 401) {
        verdict(out, ES_STORE_PERMANENT_STORE, "Unauthorized",
                "HTTP 401%s%s: the API gateway refused the key (check SUPABASE_KEY: the "
                "service-role or secret key of this project)",
                e.message[0] ? ": " : "", e.message);
        return;
    }
    if (http == 429 || http == 544 || http >= 500 || http == 408 || http == 499) {
        verdict(out, ES_STORE_TRANSIENT, e.code[0] ? e.code : "http_error", "HTTP %ld%s%s", http,
                e.message[0] ? ": " : "", e.message);
        if (!e.code[0])
            snprintf(out->code, sizeof(out->code), "http_%ld", http);
        return;
    }
    if (!envelope) {
        if (http == 404)
            verdict(out, ES_STORE_PERMANENT_STORE, "http_404",
                    "HTTP 404 without the Storage API's envelope: is the project URL right "
                    "(%s)?",
                    s->base.host);
        else
            verdict(out, op == ES_STORE_DELETE ? ES_STORE_TRANSIENT : ES_STORE_PERMANENT_OBJECT,
                    "http_error", "HTTP %ld with an unexpected body", http);
        return;
    }

    /* The envelope: the real class is the body's statusCode (a string). */
    long cls = strtol(e.status, NULL, 10);
    const char *code = e.code[0] ? e.code : e.error;
    if (cls == 404 && strcmp(code, "NoSuchKey") == 0 &&
        (op == ES_STORE_GET || op == ES_STORE_DELETE)) {
        verdict(out, op == ES_STORE_GET ? ES_STORE_ABSENT : ES_STORE_OK, code, "no such object");
        return;
    }
    if (cls == 404 && strcmp(code, "NoSuchBucket") == 0) {
        verdict(out, ES_STORE_PERMANENT_STORE, code,
                "bucket '%s' does not exist (or is not visible to this key): create it, or set "
                "bucket: in the storage item",
                s->bucket);
        return;
    }
    if (cls == 403 || cls == 401 || strcmp(code, "AccessDenied") == 0 ||
        strcmp(code, "InvalidJWT") == 0) {
        verdict(out, ES_STORE_PERMANENT_STORE, code[0] ? code : "AccessDenied",
                "access denied (%s): the key is wrong, expired or lacks write access; use the "
                "project's service-role or secret key (SUPABASE_KEY)",
                e.message[0] ? e.message : "no message");
        return;
    }
    if (cls == 409 && strcmp(code, "KeyAlreadyExists") == 0) {
        if (retried) {
            /* Our earlier attempt landed and its answer was lost. */
            verdict(out, ES_STORE_OK, code, "already stored by an earlier attempt");
        } else {
            verdict(out, ES_STORE_PERMANENT_OBJECT, code,
                    "the object name already exists: another writer, or a restart that could "
                    "not read the store; the segment is skipped, never overwritten");
        }
        return;
    }
    if (cls == 413 || strcmp(code, "EntityTooLarge") == 0) {
        verdict(out, ES_STORE_PERMANENT_OBJECT, code,
                "object too large for the bucket's file_size_limit (%s)", e.message);
        return;
    }
    if (cls == 415 || strcmp(code, "InvalidMimeType") == 0) {
        verdict(out, ES_STORE_PERMANENT_OBJECT, code,
                "the bucket's allowed_mime_types refuses this type (%s): allow video/mp2t and "
                "application/vnd.apple.mpegurl (and video/mp4 to share clips)",
                e.message);
        return;
    }
    if (cls == 429 || cls == 423 || cls == 503 || cls == 544 || cls >= 500 || cls == 499 ||
        cls == 408) {
        verdict(out, ES_STORE_TRANSIENT, code[0] ? code : "transient", "%s (statusCode %s)",
                e.message[0] ? e.message : "temporary error", e.status);
        return;
    }
    verdict(out, ES_STORE_PERMANENT_OBJECT, code[0] ? code : "rejected",
            "rejected (statusCode %s): %s", e.status[0] ? e.status : "?", e.message);
}

/* ---- Requests ---------------------------------------------------------------- */

static char *object_url(const struct supabase_store *s, const char *route, const char *name)
{
    char encoded[2048];
    if (!es_sigv4_uri_encode(name, true, encoded, sizeof(encoded)))
        encoded[0] = '\0';
    size_t len = strlen(s->api) + strlen(route) + strlen(s->bucket) + strlen(encoded) + 4;
    char *url = es_malloc(len);
    snprintf(url, len, "%s%s%s/%s", s->api, route, s->bucket, encoded);
    return url;
}

static struct curl_slist *add(struct curl_slist *list, const char *header)
{
    struct curl_slist *l = curl_slist_append(list, header);
    if (!l)
        abort();
    return l;
}

static struct curl_slist *auth_headers(const struct supabase_store *s)
{
    struct curl_slist *h = add(NULL, s->auth_header);
    h = add(h, s->apikey_header);
    /* No "100 Continue" round trip: bodies are small and the answer to a
     * refused upload comes back anyway (the server drains it). */
    return add(h, "Expect:");
}

static void supabase_put(struct es_store *store, const char *name, const uint8_t *data, size_t size,
                         const char *content_type, const char *cache_control, bool overwrite,
                         struct es_store_request *out)
{
    struct supabase_store *s = (struct supabase_store *)store;
    memset(out, 0, sizeof(*out));
    snprintf(out->method, sizeof(out->method), "POST");
    out->url = object_url(s, "/object/", name);
    char line[512];
    struct curl_slist *h = auth_headers(s);
    snprintf(line, sizeof(line), "Content-Type: %s", content_type);
    h = add(h, line);
    snprintf(line, sizeof(line), "Cache-Control: %s", cache_control);
    h = add(h, line);
    if (overwrite)
        h = add(h, "x-upsert: true"); /* the server checks for exactly 'true' */
    out->headers = h;
    out->body = data;
    out->body_size = size;
}

static void supabase_delete(struct es_store *store, const char *const *names, size_t count,
                            struct es_store_request *out)
{
    struct supabase_store *s = (struct supabase_store *)store;
    memset(out, 0, sizeof(*out));
    snprintf(out->method, sizeof(out->method), "DELETE");
    size_t len = strlen(s->api) + strlen(s->bucket) + 16;
    out->url = es_malloc(len);
    snprintf(out->url, len, "%s/object/%s", s->api, s->bucket);
    size_t cap = 32;
    for (size_t i = 0; i < count; i++)
        cap += 2 * strlen(names[i]) + 4;
    char *body = es_malloc(cap);
    size_t used = (size_t)snprintf(body, cap, "{\"prefixes\":[");
    for (size_t i = 0; i < count; i++) {
        if (i)
            body[used++] = ',';
        body[used++] = '"';
        for (const char *c = names[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                body[used++] = '\\';
            body[used++] = *c;
        }
        body[used++] = '"';
    }
    used += (size_t)snprintf(body + used, cap - used, "]}");
    out->owned_body = (uint8_t *)body;
    out->body = out->owned_body;
    out->body_size = used;
    out->headers = add(auth_headers(s), "Content-Type: application/json");
}

static void supabase_get(struct es_store *store, const char *name, struct es_store_request *out)
{
    struct supabase_store *s = (struct supabase_store *)store;
    memset(out, 0, sizeof(*out));
    snprintf(out->method, sizeof(out->method), "GET");
    /* The authenticated route reads the origin: a CDN copy of the public URL
     * may be a minute old, and a restart must see the newest playlist. */
    out->url = object_url(s, "/object/authenticated/", name);
    out->headers = auth_headers(s);
}

static void supabase_list(struct es_store *store, const char *prefix, const char *cursor,
                          struct es_store_request *out)
{
    struct supabase_store *s = (struct supabase_store *)store;
    memset(out, 0, sizeof(*out));
    snprintf(out->method, sizeof(out->method), "POST");
    size_t len = strlen(s->api) + strlen(s->bucket) + 20;
    out->url = es_malloc(len);
    snprintf(out->url, len, "%s/object/list/%s", s->api, s->bucket);
    long offset = cursor && *cursor ? strtol(cursor, NULL, 10) : 0;
    size_t cap = strlen(prefix) * 2 + 160;
    char *body = es_malloc(cap);
    int n = snprintf(body, cap,
                     "{\"prefix\":\"%s\",\"limit\":1000,\"offset\":%ld,"
                     "\"sortBy\":{\"column\":\"name\",\"order\":\"asc\"}}",
                     prefix, offset);
    out->owned_body = (uint8_t *)body;
    out->body = out->owned_body;
    out->body_size = (size_t)n;
    out->headers = add(auth_headers(s), "Content-Type: application/json");
}

struct list_state {
    void (*each)(void *opaque, const char *name);
    void *opaque;
    char name[512];
    bool has_name, has_id;
    size_t rows;
};

static void list_scalar(void *opaque, int depth, const char *key, const char *value, bool is_string)
{
    struct list_state *l = opaque;
    if (depth != 2 || !key)
        return;
    if (strcmp(key, "name") == 0 && is_string) {
        snprintf(l->name, sizeof(l->name), "%s", value);
        l->has_name = true;
    } else if (strcmp(key, "id") == 0 && is_string) {
        l->has_id = true; /* folders have id: null */
    }
}

static void list_object_end(void *opaque, int depth)
{
    struct list_state *l = opaque;
    if (depth != 2)
        return;
    l->rows++;
    if (l->has_name && l->has_id)
        l->each(l->opaque, l->name);
    l->has_name = l->has_id = false;
}

static bool supabase_parse_list(struct es_store *store, const struct es_store_response *r,
                                const char *prefix, void (*each)(void *opaque, const char *name),
                                void *opaque, char *cursor, size_t cursor_size)
{
    (void)store;
    (void)prefix;
    struct list_state l = {.each = each, .opaque = opaque};
    struct json_walk w = {.scalar = list_scalar, .object_end = list_object_end, .opaque = &l};
    if (!r->body || r->body[0] != '[' || !json_walk(r->body, r->body_size, &w))
        return false;
    long offset = cursor[0] ? strtol(cursor, NULL, 10) : 0;
    if (l.rows >= 1000)
        snprintf(cursor, cursor_size, "%ld", offset + (long)l.rows);
    else
        snprintf(cursor, cursor_size, "%s", "");
    return true;
}

static void supabase_destroy(struct es_store *store)
{
    struct supabase_store *s = (struct supabase_store *)store;
    if (!s)
        return;
    /* Keys do not linger in freed memory. */
    if (s->key)
        memset(s->key, 0, strlen(s->key));
    if (s->auth_header)
        memset(s->auth_header, 0, strlen(s->auth_header));
    if (s->apikey_header)
        memset(s->apikey_header, 0, strlen(s->apikey_header));
    free(s->key);
    free(s->auth_header);
    free(s->apikey_header);
    free(s->api);
    free(s->bucket);
    free(s);
}

static const struct es_store_ops supabase_ops = {
    .put = supabase_put,
    .delete_objects = supabase_delete,
    .get = supabase_get,
    .list = supabase_list,
    .parse_list = supabase_parse_list,
    .classify = supabase_classify,
    .destroy = supabase_destroy,
};

enum es_err es_supabase_store_create(const struct es_supabase_storage *config,
                                     struct es_store **out)
{
    *out = NULL;
    if (!config->url || !config->key || !config->bucket)
        return ES_ERR_INVALID;
    struct supabase_store *s = es_calloc(1, sizeof(*s));
    s->base.ops = &supabase_ops;
    s->base.kind = "supabase";
    s->base.max_delete_batch = MAX_DELETE_BATCH;

    /* $SUPABASE_URL is the project URL; accept it with the API path too. */
    size_t len = strlen(config->url);
    while (len && config->url[len - 1] == '/')
        len--;
    const char *suffix = "/storage/v1";
    bool has_suffix = len >= strlen(suffix) &&
                      strncmp(config->url + len - strlen(suffix), suffix, strlen(suffix)) == 0;
    s->api = es_malloc(len + strlen(suffix) + 1);
    memcpy(s->api, config->url, len);
    s->api[len] = '\0';
    if (!has_suffix)
        strcat(s->api, suffix);
    s->key = es_strdup(config->key);
    s->bucket = es_strdup(config->bucket);
    size_t hl = strlen(s->key) + 32;
    s->auth_header = es_malloc(hl);
    snprintf(s->auth_header, hl, "Authorization: Bearer %s", s->key);
    s->apikey_header = es_malloc(hl);
    snprintf(s->apikey_header, hl, "apikey: %s", s->key);
    s->base.secrets[0] = s->key;

    snprintf(s->base.public_base, sizeof(s->base.public_base), "%s/object/public/%s/", s->api,
             s->bucket);
    const char *host = strstr(s->api, "://");
    host = host ? host + 3 : s->api;
    snprintf(s->base.host, sizeof(s->base.host), "%.*s", (int)strcspn(host, "/"), host);
    *out = &s->base;
    return ES_OK;
}
