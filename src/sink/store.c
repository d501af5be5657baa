#include "sink/store.h"

#include <stdlib.h>
#include <string.h>

void es_store_request_clear(struct es_store_request *request)
{
    if (!request)
        return;
    free(request->url);
    curl_slist_free_all(request->headers);
    free(request->owned_body);
    memset(request, 0, sizeof(*request));
}

const char *es_store_verdict_name(enum es_store_verdict verdict)
{
    switch (verdict) {
    case ES_STORE_OK:
        return "ok";
    case ES_STORE_ABSENT:
        return "absent";
    case ES_STORE_TRANSIENT:
        return "transient";
    case ES_STORE_TRANSIENT_SLOW:
        return "transient_slow";
    case ES_STORE_PERMANENT_STORE:
        return "permanent_store";
    case ES_STORE_PERMANENT_OBJECT:
        return "permanent_object";
    }
    return "unknown";
}

void es_store_scrub(const struct es_store *store, char *text)
{
    for (size_t i = 0; i < sizeof(store->secrets) / sizeof(store->secrets[0]); i++) {
        const char *secret = store->secrets[i];
        size_t len = secret ? strlen(secret) : 0;
        if (len == 0)
            continue;
        char *hit;
        while ((hit = strstr(text, secret)) != NULL) {
            /* "***" is never longer than a secret worth hiding (keys are long). */
            size_t tail = strlen(hit + len);
            size_t stars = len < 3 ? len : 3;
            memset(hit, '*', stars);
            memmove(hit + stars, hit + len, tail + 1);
        }
    }
}
