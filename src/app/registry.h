/* Camera registration (issue 13, docs/storage.md): with Supabase configured,
 * each camera's row in the `cameras` table (supabase/migrations/) is kept
 * current through Supabase's REST API (PostgREST), so the cloud dashboard
 * knows which cameras are alive, even when the box itself dies:
 *
 *   POST $SUPABASE_URL/rest/v1/cameras?on_conflict=camera_key
 *   Prefer: resolution=merge-duplicates,return=minimal
 *   apikey: <service key>, Authorization: Bearer <service key>
 *   {"camera_key":..., "name":..., "stream_url":..., "profile":..., "status":"active",
 *    "last_seen_at":..., "upload_ms":..., "latency_ms":..., "location_id":...}
 *
 * An upsert on camera_key: the first report creates the row, later ones
 * update only the columns they carry; nothing is ever deleted.
 *   - status `active` while the camera streams; `offline` once it has not
 *     for OFFLINE_AFTER (a reconnect that takes a moment does not flap it),
 *     and for every camera when the daemon stops;
 *   - last_seen_at: when the daemon last saw the camera streaming, sent on
 *     each status change and every heartbeat_s while active (an offline
 *     report leaves it alone: it says since when the camera is gone);
 *   - upload_ms, latency_ms: see es_upload_camera_totals (sink/uploader.h).
 * One thread of its own with its own connection: the cameras, the origin and
 * the uploader never wait for it. Failures retry with capped exponential
 * backoff and jitter (one request per slot, newest state only); refusals (bad
 * key, missing table or column) are logged once and asked again every
 * recheck_s. The key is never logged. */
#ifndef ES_APP_REGISTRY_H
#define ES_APP_REGISTRY_H

#include "app/camera.h"
#include "config/config.h"
#include "core/error.h"
#include "sink/uploader.h"

#include <stddef.h>

struct es_registry;

/* NULL (and ES_OK) when Supabase is not configured or registration is off.
 * `uploader` gives each camera's public playlist URL and upload figures; it
 * must outlive the registry. */
enum es_err es_registry_create(const struct es_supabase_storage *supabase,
                               struct es_uploader *uploader, struct es_registry **out);

/* The cameras running now (all of them, each call): called from the main loop,
 * often; samples at most once a second and returns at once. A camera missing
 * from later calls (removed by a reload) is reported offline. NULL is fine. */
void es_registry_observe(struct es_registry *registry, struct es_camera *const *cameras,
                         size_t count);

/* Stops the thread; then, if the API answered lately, reports every camera
 * offline (at most ~2 s). NULL is fine. */
void es_registry_destroy(struct es_registry *registry);

#endif
