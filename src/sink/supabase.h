/* Supabase Storage (REST, `$SUPABASE_URL/storage/v1`) as an es_store, following
 * ../shared/reference/supabase-storage-api.md:
 *   segment   POST /object/{bucket}/{name}, raw body, no x-upsert (a name that
 *             exists is refused, so bytes under a name never change)
 *   playlist  POST /object/{bucket}/{name} with x-upsert: true
 *   delete    DELETE /object/{bucket} {"prefixes":[exact names]}, <= 1000 a request
 *   recovery  GET /object/authenticated/{bucket}/{name} (the origin, not a CDN copy),
 *             POST /object/list/{bucket} {"prefix": ...}
 * Every request carries the key in `Authorization: Bearer` and `apikey`, a
 * parameter-free Content-Type and an empty `Expect:`. Errors are judged from the
 * HTTP status and the JSON envelope's `statusCode`/`code` (REST answers most
 * errors with HTTP 400 and the real class in the body). */
#ifndef ES_SINK_SUPABASE_H
#define ES_SINK_SUPABASE_H

#include "config/config.h"
#include "core/error.h"
#include "sink/store.h"

/* `config` is copied (url, key, bucket); it need not outlive the store. */
enum es_err es_supabase_store_create(const struct es_supabase_storage *config,
                                     struct es_store **out);

#endif
