/* The HTTP origin: edgestream's own server for players on the LAN (or behind a
 * reverse proxy). It serves each camera's classic playlist and MPEG-TS
 * segments, Low-Latency HLS (fMP4 parts, blocking playlist reload, preload
 * hints, delta updates) for cameras whose profile has parts, the web player's
 * static files, /api/cameras, /metrics and /healthz.
 *
 * It is a sink (DESIGN: "our muxer never owns the HTTP server"): each camera's
 * pipeline thread hands it immutable blobs through the sink returned by
 * es_origin_add_camera(); those calls only queue a message. One event-loop
 * thread (libh2o) owns every stream window and every connection, so nothing in
 * the serving path takes a lock or touches the disk (static files aside).
 *
 * Lifecycle: create → add_camera (each) → start → ... → stop → (cameras and
 * their sinks destroyed) → destroy. Between stop and destroy the sinks may
 * still publish: messages are queued and freed by destroy. */
#ifndef ES_ORIGIN_ORIGIN_H
#define ES_ORIGIN_ORIGIN_H

#include "core/error.h"
#include "sink/sink.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sharing a clip (POST /vod/<camera>/clip.mp4, docs/recording.md): put()
 * stores the MP4 as `name` in the remote store and writes the URL a reader
 * fetches it from; it runs on the clip worker, never on the loop. False with
 * `why` (for the person who asked; no secrets) when it was not stored.
 * A clip job holds `opaque` (hold/release) from its request until it is
 * freed, which may be after the origin has stopped. */
struct es_clip_share {
    bool (*put)(void *opaque, const char *name, const uint8_t *data, size_t size, char *url,
                size_t url_size, char *why, size_t why_size);
    void (*hold)(void *opaque);
    void (*release)(void *opaque);
    void *opaque;
};

struct es_origin_config {
    const char *listen;   /* "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8080" */
    const char *token;    /* bearer token (or ?token=); NULL or "" = no auth */
    const char *tls_cert; /* PEM paths, both or neither: HTTPS + HTTP/2 */
    const char *tls_key;
    bool http1_only;  /* with TLS, offer only HTTP/1.1 by ALPN (no HTTP/2) */
    const char *cors; /* Access-Control-Allow-Origin; NULL, "" or "off" = none (same-origin) */
    const char *web_root;     /* the player's static files (web/dist); NULL = none */
    unsigned max_connections; /* accepted at once; further ones are closed at once */
    unsigned idle_timeout_ms; /* idle keep-alive, slow request headers, send progress */
    /* Requests held until their part exists (blocking reloads, hinted parts):
     * at most this many in all, per client address and per connection; over
     * a cap the request is answered 503 with Retry-After. 0 = the default. */
    unsigned max_parked, max_parked_per_client, max_parked_per_connection;
    /* put NULL: no remote store is configured; a POST is answered 409. */
    struct es_clip_share clip_share;
};

/* Live figures of a camera for /api/cameras and /metrics. */
struct es_origin_camera_stats {
    const char *status; /* "live", "connecting", "offline" (docs/web.md) */
    uint64_t frames_in, frames_out, bytes_out, segments, reconnects;
    /* Remote storage (Supabase, S3), summed over the camera's stores; all zero
     * and has_uploads false when it uploads nowhere. */
    bool has_uploads;
    uint64_t uploads, upload_retries, uploads_dropped, upload_backlog;
    double upload_seconds; /* the newest confirmed segment's upload time */
    /* Recording (docs/recording.md), all zero and record_dir NULL when the
     * camera does not record. record_dir (<record_root>/<camera>: its index
     * and segments) is what /vod/ serves from; it stays valid while the
     * origin lists the camera. */
    const char *record_dir;
    const char *record_state; /* "recording", "disk_full", "failing" */
    uint64_t record_ok;       /* 1 while record_state is "recording" */
    uint64_t record_segments, record_bytes; /* kept now */
    double record_oldest_s, record_newest_s; /* epoch seconds; 0 when nothing is kept */
    uint64_t record_deleted, record_dropped, record_failures; /* since start */
    /* Live snapshots (docs/recording.md, "Snapshots"): the camera's newest
     * picture; NULL before the camera exists. Borrowed: valid while the
     * origin lists the camera (take a reference to keep it longer). */
    struct es_snapshot_source *snapshot;
};

struct es_origin_camera {
    const char *id; /* [A-Za-z0-9_-]{1,64}: /live/<id>/ */
    const char *name;
    const char *profile;       /* NULL when none was named */
    const char *location;      /* storage path component: shared clips go to
                                  <location>/<id>/clips/ */
    unsigned target_duration;  /* EXT-X-TARGETDURATION, seconds, fixed */
    double segment_duration;   /* seconds */
    double part_target;        /* PART-TARGET in seconds; 0 = classic HLS only */
    unsigned segments_to_keep; /* the playlist window */
    /* Called on the origin's thread (until es_origin_stop returns). */
    void (*stats)(void *opaque, struct es_origin_camera_stats *out);
    void *stats_opaque;
};

struct es_origin;
struct es_snapshot_source;

/* Validates the config (listen address, TLS files readable) without binding. */
enum es_err es_origin_create(const struct es_origin_config *config, struct es_origin **out);

/* Before start, or while the origin runs (a reload's new camera). The sink
 * feeds this camera's stream; the caller (the camera) owns it and destroys
 * it, before es_origin_destroy(). While the origin runs, destroying the sink
 * also removes the stream (requests for it are answered 404 from then on)
 * and waits for the origin's thread to have done so. Strings are copied. */
enum es_err es_origin_add_camera(struct es_origin *origin, const struct es_origin_camera *camera,
                                 struct es_sink **sink_out);

/* Binds and starts the event-loop thread. ES_ERR_IO when the address cannot be
 * bound (in use, not local). */
enum es_err es_origin_start(struct es_origin *origin);

/* Where a browser can watch, e.g. "http://127.0.0.1:8080/" (no secrets);
 * valid after a successful start. */
const char *es_origin_url(const struct es_origin *origin);

/* This run's id, the directory every media URI sits in
 * (/live/<camera>/<run>/<name>), so that no two runs ever name different
 * bytes alike (DESIGN invariant 2), even with no storage to continue the
 * media sequence from. Valid after create. */
const char *es_origin_run(const struct es_origin *origin);

/* The run id for a process started at `wall_us` (µs since the epoch) with
 * `pid`: [0-9a-f]+, at most 24 characters. Pure (unit-tested). */
void es_origin_run_id(int64_t wall_us, uint32_t pid, char *out, size_t size);

/* Raises RLIMIT_NOFILE to fit `want` connections plus a reserve; returns
 * `want`, or fewer when the hard limit does not allow them (logged). */
unsigned es_origin_fit_fd_limit(unsigned want);

/* Answers parked requests (503), closes connections and joins the thread.
 * Stats callbacks are never called after it returns. Idempotent. */
void es_origin_stop(struct es_origin *origin);

void es_origin_destroy(struct es_origin *origin); /* NULL is fine; stops first */

/* For the service watchdog (app/service.h), any thread, after a successful
 * start: the monotonic time (es_clock_mono_us) the event loop last ran its
 * once-a-second tick (a loop that stops ticking is stalled), and the
 * connections open at that tick. */
void es_origin_progress(const struct es_origin *origin, int64_t *tick_us, size_t *connections);

#endif
