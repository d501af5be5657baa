#include "app/clip_store.h"

#include "core/alloc.h"
#include "sink/put_once.h"
#include "sink/s3.h"
#include "sink/supabase.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* A shared clip is fetched a few times by the people it was sent to; the same
 * range shared again overwrites it, so it is not immutable. */
#define CLIP_CACHE_CONTROL "public, max-age=300"

struct es_clip_store {
    struct es_store *store;
    struct es_remote_storage settings; /* timeouts (no pointers are used) */
    /* The app's reference and one per clip job: a job may outlive the origin
     * (es_clip_share). */
    atomic_uint refs;
};

enum es_err es_clip_store_open(const struct es_config *config, struct es_clip_store **out)
{
    *out = NULL;
    struct es_store *store = NULL;
    const struct es_remote_storage *settings = NULL;
    enum es_err err = ES_OK;
    if (config->supabase.remote.enabled) {
        err = es_supabase_store_create(&config->supabase, &store);
        settings = &config->supabase.remote;
    } else if (config->s3.remote.enabled) {
        err = es_s3_store_create(&config->s3, &store);
        settings = &config->s3.remote;
    }
    if (err != ES_OK || !store)
        return err;
    struct es_clip_store *c = es_calloc(1, sizeof(*c));
    c->store = store;
    c->settings = *settings;
    atomic_init(&c->refs, 1);
    *out = c;
    return ES_OK;
}

static bool put_clip(void *opaque, const char *name, const uint8_t *data, size_t size, char *url,
                     size_t url_size, char *why, size_t why_size)
{
    struct es_clip_store *c = opaque;
    struct es_store_result result;
    bool stored = es_store_put_once(c->store, &c->settings, name, data, size, "video/mp4",
                                    CLIP_CACHE_CONTROL, &result);
    if (stored)
        snprintf(url, url_size, "%s%s", c->store->public_base, name);
    else
        snprintf(why, why_size, "%s %s: %s (%s)", c->store->kind, c->store->host, result.reason,
                 result.code);
    return stored;
}

static void hold(void *opaque)
{
    struct es_clip_store *c = opaque;
    atomic_fetch_add(&c->refs, 1);
}

static void release(void *opaque)
{
    struct es_clip_store *c = opaque;
    if (atomic_fetch_sub(&c->refs, 1) == 1) {
        c->store->ops->destroy(c->store);
        free(c);
    }
}

struct es_clip_share es_clip_store_share(struct es_clip_store *store)
{
    struct es_clip_share share = {NULL, NULL, NULL, NULL};
    if (store)
        share = (struct es_clip_share){put_clip, hold, release, store};
    return share;
}

void es_clip_store_close(struct es_clip_store *store)
{
    if (store)
        release(store);
}
