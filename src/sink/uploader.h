/* The uploader: one thread, one libcurl multi handle, for every camera and every
 * remote store (Supabase, S3). Camera threads only hand it segments (a ref on
 * the shared blob, never a copy) and return at once; everything that touches
 * the network happens here. See docs/storage.md for the whole design.
 *
 * Per camera and store (a "stream"), in order:
 *   - a segment is uploaded, and only once it is confirmed stored does it enter
 *     that stream's playlist (so no playlist ever names an object a reader
 *     cannot fetch yet); one segment upload in flight per stream;
 *   - the playlist is coalesced: at most one upload in flight, and what is
 *     sent is always the newest version;
 *   - a segment that left the playlist is deleted once the playlist without it
 *     is stored and the grace period has passed, in batches shared by every
 *     camera of the store.
 * Errors are judged by the store (status and body): transient ones retry with
 * capped exponential backoff and jitter; permanent ones for the whole store
 * (bad key, missing bucket) are logged once and then probed with one request
 * every `recheck_s`; permanent ones for one object skip that object.
 * Unsent segments are bounded per stream (max_backlog_mb, and never more than
 * the playlist window: older ones could never be listed); the oldest go first
 * and the playlist marks the gap with EXT-X-DISCONTINUITY.
 * Connections: at most `connections` requests in flight per store, so at most
 * that many persistent connections, however many cameras. */
#ifndef ES_SINK_UPLOADER_H
#define ES_SINK_UPLOADER_H

#include "config/config.h"
#include "core/error.h"
#include "sink/sink.h"
#include "sink/store.h"

#include <stdbool.h>
#include <stdint.h>

struct es_uploader;
struct es_upload_store;  /* a store the uploader sends to */
struct es_upload_stream; /* one camera on one store */

struct es_upload_stream_config {
    const char *camera_id;
    const char *location;     /* objects go to <location>/<camera_id>/ */
    unsigned target_duration; /* EXT-X-TARGETDURATION, seconds */
    unsigned segments_to_keep;
    double delete_grace; /* seconds; < 0: playlist duration + 30 s */
};

struct es_uploader_stats {
    uint64_t requests;
    uint64_t connections_opened; /* TCP connections libcurl had to open */
    uint64_t bytes_sent;         /* request bodies */
    uint64_t retries;
};

/* Starts the thread. Calls curl_global_init(): create it before other threads
 * use libcurl. */
enum es_err es_uploader_create(struct es_uploader **out);

/* Adds a store; the uploader takes it. `settings` is copied. */
struct es_upload_store *es_uploader_add_store(struct es_uploader *up, struct es_store *store_take,
                                              const struct es_remote_storage *settings);

/* "supabase", "s3". */
const char *es_upload_store_kind(const struct es_upload_store *store);

/* Opens a stream and starts reading what an earlier run left in the store
 * (the stored playlist and the names under the prefix). */
enum es_err es_uploader_open(struct es_uploader *up, struct es_upload_store *store,
                             const struct es_upload_stream_config *config,
                             struct es_upload_stream **out);

/* The highest segment number the store holds from an earlier run, if the
 * store has answered by now; never waits. The camera asks when its first
 * packet is ready to be segmented (RTSP connect and first keyframe later than
 * the open, time a reachable store uses to answer). False when the store is
 * empty or has not answered: the camera then starts from what its other sinks
 * know, and the stream, once the store answers, numbers its segments after
 * whatever the store holds (one fixed offset: names are never reused and stay
 * continuous; usually 0, since the local sink knew). Until then segments wait
 * in the bounded backlog. */
bool es_upload_stream_last_msn(struct es_upload_stream *stream, uint64_t *msn);

/* Queues a segment (refs its blob) and returns at once. Any thread. */
void es_upload_stream_publish(struct es_upload_stream *stream,
                              const struct es_published_segment *segment);

/* The camera is done with the stream. Its queue is still drained by
 * es_uploader_destroy(); the uploader frees it. */
void es_upload_stream_close(struct es_upload_stream *stream);

/* Stops after draining what is queued (unsent segments, the newest playlist)
 * for at most `drain_seconds`, then frees everything. NULL is fine. */
void es_uploader_destroy(struct es_uploader *up, double drain_seconds);

/* One short line per store of `camera_id`, for the status line:
 * "supabase ok last=segment_042.ts 35ms retries=0 backlog=0". "" if none. */
void es_uploader_camera_status(struct es_uploader *up, const char *camera_id, char *out,
                               size_t out_size);

/* One camera's upload figures, summed over its stores (stores = 0: none). */
struct es_upload_camera_totals {
    unsigned stores;
    uint64_t uploaded, retries, dropped, backlog_segments;
    int64_t last_upload_ms; /* the slowest store's newest confirmed segment */
    /* The slowest store's capture-to-storage delay of the live edge (ms): from
     * the end of the newest listed segment's capture (its PROGRAM-DATE-TIME +
     * EXTINF) to its playlist being stored. -1: none yet. */
    int64_t edge_latency_ms;
};
void es_uploader_camera_totals(struct es_uploader *up, const char *camera_id,
                               struct es_upload_camera_totals *out);

/* The public URL of `camera_id`'s playlist in the store of `kind` ("supabase",
 * "s3"), e.g. https://x.supabase.co/storage/v1/object/public/streams/location_1/
 * cam_floor/stream.m3u8. False (and "") when there is none. */
bool es_uploader_playlist_url(struct es_uploader *up, const char *camera_id, const char *kind,
                              char *out, size_t out_size);

/* Totals over every store. */
void es_uploader_stats(struct es_uploader *up, struct es_uploader_stats *out);

#endif
