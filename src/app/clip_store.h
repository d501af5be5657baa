/* Where shared clips go (POST /vod/<camera>/clip.mp4, docs/recording.md,
 * "Sharing a clip"): the configured remote store, Supabase first, else S3.
 * It has a store of its own, not the uploader's: a clip is stored on the
 * origin's clip worker, in one blocking request, while the uploader's thread
 * goes on with the live segments. */
#ifndef ES_APP_CLIP_STORE_H
#define ES_APP_CLIP_STORE_H

#include "config/config.h"
#include "core/error.h"
#include "origin/origin.h"

struct es_clip_store;

/* *out NULL (and ES_OK) when no remote store is configured. */
enum es_err es_clip_store_open(const struct es_config *config, struct es_clip_store **out);

/* For es_origin_config.clip_share; {NULL, NULL} for a NULL store. */
struct es_clip_share es_clip_store_share(struct es_clip_store *store);

/* Drops the app's reference; a clip still being stored keeps the store until
 * it is done. */
void es_clip_store_close(struct es_clip_store *store);

#endif
