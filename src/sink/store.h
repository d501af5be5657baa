/* An object store as the uploader sees it: something that turns "put this
 * object", "delete these", "get that", "list under this prefix" into HTTP
 * requests, and an HTTP answer into a verdict. Two exist: Supabase Storage
 * (supabase.c) and S3 with SigV4 (s3.c). A store never does I/O itself; the
 * uploader (uploader.c) sends what it builds, on its one thread.
 *
 * Object names are relative to the bucket: "location_1/cam_floor/segment_042.ts". */
#ifndef ES_SINK_STORE_H
#define ES_SINK_STORE_H

#include <curl/curl.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum es_store_op {
    ES_STORE_PUT_SEGMENT = 0, /* never overwrites where the store can refuse it */
    ES_STORE_PUT_PLAYLIST,    /* always overwrites */
    ES_STORE_DELETE,          /* a batch of exact names */
    ES_STORE_GET,             /* restart recovery: the stored playlist */
    ES_STORE_LIST,            /* restart recovery: the names under a prefix */
};

/* A request to send. Everything is owned by it: es_store_request_clear(). */
struct es_store_request {
    char method[8];
    char *url;
    struct curl_slist *headers;
    const uint8_t *body; /* NULL: no body. Points into owned_body or the caller's bytes */
    size_t body_size;
    uint8_t *owned_body;
};

void es_store_request_clear(struct es_store_request *request);

/* What came back. `curl_code` != CURLE_OK means no HTTP answer (the uploader
 * judges those itself); then only `curl_error` is set. */
struct es_store_response {
    long status;
    const char *content_type; /* may be NULL */
    const char *body;         /* NUL-terminated, possibly cut short */
    size_t body_size;
};

enum es_store_verdict {
    ES_STORE_OK = 0,
    ES_STORE_ABSENT,           /* GET of a missing object: success, nothing there */
    ES_STORE_TRANSIENT,        /* retry with backoff: 429, 5xx, 544, lock timeouts */
    ES_STORE_TRANSIENT_SLOW,   /* retry, but slowly: a CDN block page */
    ES_STORE_PERMANENT_STORE,  /* nothing will work: bad key, missing bucket, wrong URL */
    ES_STORE_PERMANENT_OBJECT, /* this object will never be accepted: too large, MIME type */
};

struct es_store_result {
    enum es_store_verdict verdict;
    char code[64];    /* the store's code ("NoSuchBucket", "SlowDown") or "http_503" */
    char reason[256]; /* for an operator: what it means and what to do. No secrets. */
};

const char *es_store_verdict_name(enum es_store_verdict verdict);

struct es_store;

struct es_store_ops {
    /* `overwrite` false asks the store to refuse an existing name (Supabase
     * without x-upsert); S3 PUT always overwrites. `data` must outlive the request. */
    void (*put)(struct es_store *store, const char *name, const uint8_t *data, size_t size,
                const char *content_type, const char *cache_control, bool overwrite,
                struct es_store_request *out);
    void (*delete_objects)(struct es_store *store, const char *const *names, size_t count,
                           struct es_store_request *out);
    void (*get)(struct es_store *store, const char *name, struct es_store_request *out);
    /* `cursor` is "" for the first page, else what parse_list returned. */
    void (*list)(struct es_store *store, const char *prefix, const char *cursor,
                 struct es_store_request *out);
    /* Calls each(opaque, name) for every object name (relative to `prefix`) in
     * a list answer, and writes the next page's cursor ("" when this was the
     * last). False if the answer is not a listing. */
    bool (*parse_list)(struct es_store *store, const struct es_store_response *response,
                       const char *prefix, void (*each)(void *opaque, const char *name),
                       void *opaque, char *cursor, size_t cursor_size);
    /* Judges an HTTP answer to `op`. `retried`: an earlier attempt of the same
     * request may have landed (its answer was lost). */
    void (*classify)(struct es_store *store, enum es_store_op op,
                     const struct es_store_response *response, bool retried,
                     struct es_store_result *out);
    void (*destroy)(struct es_store *store);
};

struct es_store {
    const struct es_store_ops *ops;
    const char *kind;        /* "supabase", "s3": for logs and status */
    char public_base[512];   /* URL readers fetch objects under (+ name); "" if none */
    char host[256];          /* for logs */
    size_t max_delete_batch; /* names per delete request */
    /* Secrets the store sends, so the uploader can scrub any text it logs. */
    const char *secrets[3];
};

/* Replaces every occurrence of each non-empty secret in `text` with "***". */
void es_store_scrub(const struct es_store *store, char *text);

#endif
