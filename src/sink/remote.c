#include "sink/remote.h"

#include "core/alloc.h"

#include <stdlib.h>

struct remote_sink {
    struct es_sink base;
    struct es_upload_stream *stream;
};

static bool remote_last_msn(struct es_sink *sink, uint64_t *msn)
{
    return es_upload_stream_last_msn(((struct remote_sink *)sink)->stream, msn);
}

static void remote_publish(struct es_sink *sink, const struct es_published_segment *segment)
{
    es_upload_stream_publish(((struct remote_sink *)sink)->stream, segment);
}

static void remote_destroy(struct es_sink *sink)
{
    struct remote_sink *s = (struct remote_sink *)sink;
    if (!s)
        return;
    es_upload_stream_close(s->stream); /* the uploader drains and frees it */
    free(s);
}

enum es_err es_remote_sink_create(struct es_uploader *uploader, struct es_upload_store *store,
                                  const struct es_upload_stream_config *config,
                                  struct es_sink **out)
{
    *out = NULL;
    struct remote_sink *s = es_calloc(1, sizeof(*s));
    s->base = (struct es_sink){
        .kind = es_upload_store_kind(store),
        .last_msn = remote_last_msn,
        .publish = remote_publish,
        .tick = NULL, /* the uploader keeps its own time */
        .destroy = remote_destroy,
    };
    enum es_err err = es_uploader_open(uploader, store, config, &s->stream);
    if (err != ES_OK) {
        free(s);
        return err;
    }
    *out = &s->base;
    return ES_OK;
}
