/* The sink a camera sees for a remote store (Supabase, S3): a thin es_sink over
 * one uploader stream. publish() queues and returns; the uploader thread does
 * the rest (sink/uploader.h). */
#ifndef ES_SINK_REMOTE_H
#define ES_SINK_REMOTE_H

#include "core/error.h"
#include "sink/sink.h"
#include "sink/uploader.h"

/* Opens a stream on `store` and starts reading what an earlier run left there
 * in the background; last_msn() never waits for that: see
 * es_upload_stream_last_msn. */
enum es_err es_remote_sink_create(struct es_uploader *uploader, struct es_upload_store *store,
                                  const struct es_upload_stream_config *config,
                                  struct es_sink **out);

#endif
