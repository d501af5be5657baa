/* One object stored now, outside the uploader: for things a person asks for
 * (a clip to share, docs/recording.md "Sharing a clip"), not the stream of
 * segments. Blocking, on the caller's thread, with its own libcurl handle; the
 * store (sink/store.h) builds the request and judges the answer exactly as it
 * does for the uploader, so keys, signatures and error texts are the same. */
#ifndef ES_SINK_PUT_ONCE_H
#define ES_SINK_PUT_ONCE_H

#include "config/config.h"
#include "sink/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Stores `data` as `name` (overwriting), trying again after a transient
 * failure (up to 3 attempts in about 4 s). `settings` gives the timeouts.
 * `result->reason` never holds a secret. True when stored. */
bool es_store_put_once(struct es_store *store, const struct es_remote_storage *settings,
                       const char *name, const uint8_t *data, size_t size,
                       const char *content_type, const char *cache_control,
                       struct es_store_result *result);

#endif
