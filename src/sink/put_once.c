#include "sink/put_once.h"

#include "core/alloc.h"

#include <curl/curl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ATTEMPTS 3
/* The store's error envelope is short; classification reads only its start. */
#define ANSWER_CAP 8192

struct answer {
    char text[ANSWER_CAP];
    size_t len;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct answer *a = opaque;
    size_t n = size * nmemb;
    size_t room = sizeof(a->text) - 1 - a->len;
    size_t keep = n < room ? n : room;
    memcpy(a->text + a->len, data, keep);
    a->len += keep;
    a->text[a->len] = '\0';
    return n;
}

static void send_once(struct es_store *store, const struct es_remote_storage *settings,
                      const struct es_store_request *req, struct es_store_result *out)
{
    CURL *e = curl_easy_init();
    if (!e) {
        out->verdict = ES_STORE_TRANSIENT;
        snprintf(out->code, sizeof(out->code), "curl_init");
        snprintf(out->reason, sizeof(out->reason), "libcurl could not start a request");
        return;
    }
    struct answer *a = es_calloc(1, sizeof(*a));
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "edgestream/" ES_VERSION);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)settings->connect_timeout_ms);
    /* As the uploader: a stall fails, a slow but moving upload goes on. */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)((settings->stall_timeout_ms + 999) / 1000));
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_size);
    if (strcmp(req->method, "POST") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    CURLcode code = curl_easy_perform(e);
    if (code != CURLE_OK) {
        out->verdict = ES_STORE_TRANSIENT;
        snprintf(out->code, sizeof(out->code), "curl_%d", (int)code);
        snprintf(out->reason, sizeof(out->reason), "no answer from the store: %.200s",
                 errbuf[0] ? errbuf : curl_easy_strerror(code));
    } else {
        long status = 0;
        char *content_type = NULL;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &content_type);
        struct es_store_response resp = {
            .status = status,
            .content_type = content_type,
            .body = a->text,
            .body_size = a->len,
        };
        /* Overwriting, as a playlist: a retry that finds its own object is fine. */
        store->ops->classify(store, ES_STORE_PUT_PLAYLIST, &resp, false, out);
    }
    es_store_scrub(store, out->reason);
    free(a);
    curl_easy_cleanup(e);
}

bool es_store_put_once(struct es_store *store, const struct es_remote_storage *settings,
                       const char *name, const uint8_t *data, size_t size,
                       const char *content_type, const char *cache_control,
                       struct es_store_result *result)
{
    unsigned backoff_ms = 500;
    for (int attempt = 1;; attempt++) {
        struct es_store_request req;
        memset(&req, 0, sizeof(req));
        store->ops->put(store, name, data, size, content_type, cache_control, true, &req);
        memset(result, 0, sizeof(*result));
        send_once(store, settings, &req, result);
        es_store_request_clear(&req);
        bool transient = result->verdict == ES_STORE_TRANSIENT ||
                         result->verdict == ES_STORE_TRANSIENT_SLOW;
        if (!transient || attempt == ATTEMPTS)
            return result->verdict == ES_STORE_OK;
        usleep(backoff_ms * 1000);
        backoff_ms *= 2;
    }
}
