/* Any S3-compatible store (AWS S3, Cloudflare R2, MinIO, Supabase's S3 endpoint)
 * as an es_store, every request signed with SigV4 (service "s3"):
 *   put       PUT /{bucket}/{name} (path style) or PUT /{name} on {bucket}.{host}
 *             (virtual-host style), x-amz-content-sha256 of the body
 *   delete    POST /{bucket}?delete, <Delete><Quiet>true</Quiet>...</Delete>, with
 *             Content-MD5, <= 1000 keys a request
 *   recovery  GET of the playlist, ListObjectsV2 (GET ?list-type=2&prefix=...)
 * Errors are judged from the real HTTP status and the XML <Code>. */
#ifndef ES_SINK_S3_H
#define ES_SINK_S3_H

#include "config/config.h"
#include "core/error.h"
#include "sink/store.h"

/* `config` is copied; it need not outlive the store. */
enum es_err es_s3_store_create(const struct es_s3_storage *config, struct es_store **out);

/* For tests: a fixed signing time instead of the wall clock (0 = the clock). */
void es_s3_store_set_clock(struct es_store *store, int64_t wall_us);

#endif
