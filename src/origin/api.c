/* /api/cameras (the contract in docs/web.md), /metrics (Prometheus text
 * exposition format 0.0.4) and /healthz. */
#include "origin/internal.h"
#include "origin/whep.h"

#include "core/clock.h"
#include "origin/snapshot.h" /* snapshot and clip figures (docs/recording.md) */
#include "origin/vod.h" /* recording fields (docs/recording.md) */

#include <inttypes.h>
#include <stddef.h>
#include <string.h>

static void send_vector(h2o_req_t *req, const char *type, enum route route, h2o_iovec_vector_t *v)
{
    struct respond r = {
        .status = 200,
        .reason = "OK",
        .content_type = type,
        .cache_control = "no-store",
        .route = route,
    };
    es_origin_respond(req, &r, v->entries, v->size, NULL, 0);
}

void es_origin_serve_api_cameras(struct es_origin *o, h2o_req_t *req)
{
    h2o_iovec_vector_t out = {NULL, 0, 0};
    es_origin_vprintf(&req->pool, &out, "{\"cameras\":[");
    for (size_t i = 0; i < o->stream_count; i++) {
        if (i)
            es_origin_vprintf(&req->pool, &out, ",");
        es_origin_stream_json(o->streams[i], &req->pool, &out);
        es_origin_vod_json(o->streams[i], &req->pool, &out);
    }
    /* Whether POST clip.mp4 can store a clip (docs/recording.md): the
     * dashboard offers "Share" only then. */
    es_origin_vprintf(&req->pool, &out, "],\"clip_share\":%s}\n",
                      o->config.clip_share.put ? "true" : "false");
    send_vector(req, "application/json", ROUTE_API, &out);
}

static void family(h2o_mem_pool_t *pool, h2o_iovec_vector_t *out, const char *name,
                   const char *type, const char *help)
{
    es_origin_vprintf(pool, out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Per-camera families. Prometheus wants each family's samples together, so
 * /metrics walks this table and, inside each row, the cameras. */
enum value_kind { U64, DBL };
static const struct camera_family {
    const char *name, *type, *help;
    enum value_kind kind;
    size_t offset; /* into struct origin_camera_metrics */
    bool upload;   /* only for cameras with remote storage */
} CAMERA_FAMILIES[] = {
#define CAM(field) offsetof(struct origin_camera_metrics, field)
    {"edgestream_camera_up", "gauge", "1 while the camera streams", U64, CAM(up), false},
    {"edgestream_camera_frames_in_total", "counter", "Video frames received from the camera", U64,
     CAM(camera.frames_in), false},
    {"edgestream_camera_frames_out_total", "counter", "Video frames encoded (or passed through)",
     U64, CAM(camera.frames_out), false},
    {"edgestream_camera_fps", "gauge", "Output frames per second, last second", DBL, CAM(fps),
     false},
    {"edgestream_camera_bitrate_bps", "gauge", "Output segment bits per second, last second", DBL,
     CAM(bitrate_bps), false},
    {"edgestream_camera_segments_total", "counter", "Segments published", U64,
     CAM(camera.segments), false},
    {"edgestream_camera_bytes_total", "counter", "Segment bytes published", U64,
     CAM(camera.bytes_out), false},
    {"edgestream_camera_reconnects_total", "counter", "Camera reconnects", U64,
     CAM(camera.reconnects), false},
    {"edgestream_upload_segments_total", "counter",
     "Segments the remote stores confirmed (summed over the camera's stores)", U64,
     CAM(camera.uploads), true},
    {"edgestream_upload_retries_total", "counter", "Upload requests retried", U64,
     CAM(camera.upload_retries), true},
    {"edgestream_upload_dropped_total", "counter",
     "Segments dropped unsent because the backlog was full", U64, CAM(camera.uploads_dropped),
     true},
    {"edgestream_upload_backlog_segments", "gauge", "Segments waiting to be uploaded", U64,
     CAM(camera.upload_backlog), true},
    {"edgestream_upload_last_seconds", "gauge", "Upload time of the newest confirmed segment",
     DBL, CAM(camera.upload_seconds), true},
    {"edgestream_origin_segments_total", "counter", "Segments the origin added to its playlist",
     U64, CAM(segments_published), false},
    {"edgestream_origin_parts_total", "counter", "LL-HLS parts published", U64,
     CAM(parts_published), false},
    {"edgestream_origin_media_bytes_total", "counter", "Media bytes handed to the origin", U64,
     CAM(bytes_published), false},
    {"edgestream_origin_publish_delay_seconds", "gauge",
     "Newest media: handed to the origin minus its capture end (PDT)", DBL, CAM(publish_delay_s),
     false},
    {"edgestream_origin_requests_total", "counter",
     "Requests for the camera's playlist, parts, segments and init sections", U64, CAM(requests),
     false},
    {"edgestream_origin_waiting_requests", "gauge",
     "Blocked playlist reloads and preload-hint part requests waiting", U64, CAM(waiting), false},
    {"edgestream_origin_fanout_seconds", "gauge",
     "Slowest of the last 16 publications: time to answer every held request", DBL, CAM(fanout_s),
     false},
    {"edgestream_origin_fanout_requests", "gauge",
     "Held requests answered by the newest publication", U64, CAM(fanout_requests), false},
#undef CAM
};

/* Recorded cameras only (docs/recording.md); `upload` is unused here. */
static const struct camera_family RECORD_FAMILIES[] = {
#define CAM(field) offsetof(struct origin_camera_metrics, field)
    {"edgestream_record_recording", "gauge",
     "1 while the camera's recording stores its segments (0: disk floor reached or writes fail)",
     U64, CAM(camera.record_ok), false},
    {"edgestream_record_bytes", "gauge", "Bytes of recordings kept", U64,
     CAM(camera.record_bytes), false},
    {"edgestream_record_segments", "gauge", "Recorded segments kept", U64,
     CAM(camera.record_segments), false},
    {"edgestream_record_oldest_timestamp_seconds", "gauge",
     "Start of the oldest recording kept (Unix time)", DBL, CAM(camera.record_oldest_s),
     false},
    {"edgestream_record_newest_timestamp_seconds", "gauge",
     "End of the newest recording kept (Unix time)", DBL, CAM(camera.record_newest_s),
     false},
    {"edgestream_record_deleted_total", "counter",
     "Recorded segments deleted by retention (age, budget, free-space floor)", U64,
     CAM(camera.record_deleted), false},
    {"edgestream_record_dropped_total", "counter",
     "Segments not recorded because the free-space floor held and nothing was left to delete",
     U64, CAM(camera.record_dropped), false},
    {"edgestream_record_write_failures_total", "counter",
     "Recorded segments that could not be written or indexed", U64,
     CAM(camera.record_failures), false},
#undef CAM
};

void es_origin_serve_metrics(struct es_origin *o, h2o_req_t *req)
{
    h2o_mem_pool_t *pool = &req->pool;
    h2o_iovec_vector_t out = {NULL, 0, 0};
    struct origin_camera_metrics *cams =
        h2o_mem_alloc_pool(pool, sizeof(*cams) * (o->stream_count ? o->stream_count : 1));
    for (size_t i = 0; i < o->stream_count; i++)
        es_origin_stream_metric_values(o->streams[i], &cams[i]);
    size_t camera_rows = sizeof(CAMERA_FAMILIES) / sizeof(CAMERA_FAMILIES[0]);
    size_t record_rows = sizeof(RECORD_FAMILIES) / sizeof(RECORD_FAMILIES[0]);
    for (size_t f = 0; f < camera_rows + record_rows; f++) {
        bool record = f >= camera_rows;
        const struct camera_family *fam =
            record ? &RECORD_FAMILIES[f - camera_rows] : &CAMERA_FAMILIES[f];
        family(pool, &out, fam->name, fam->type, fam->help);
        for (size_t i = 0; i < o->stream_count; i++) {
            if (fam->upload && !cams[i].camera.has_uploads)
                continue;
            if (record && !cams[i].camera.record_dir)
                continue;
            const char *at = (const char *)&cams[i] + fam->offset;
            const char *id = o->streams[i]->id;
            if (fam->kind == U64)
                es_origin_vprintf(pool, &out, "%s{camera=\"%s\"} %" PRIu64 "\n", fam->name, id,
                                  *(const uint64_t *)(const void *)at);
            else
                es_origin_vprintf(pool, &out, "%s{camera=\"%s\"} %.9g\n", fam->name, id,
                                  *(const double *)(const void *)at);
        }
    }
    const struct origin_metrics *m = &o->metrics;
    family(pool, &out, "edgestream_http_responses_total", "counter", "Responses by status class");
    static const char *const classes[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (size_t i = 0; i < 6; i++)
        es_origin_vprintf(pool, &out, "edgestream_http_responses_total{code=\"%s\"} %" PRIu64 "\n",
                          classes[i], m->requests[i]);
    family(pool, &out, "edgestream_http_route_responses_total", "counter", "Responses by route");
    static const char *const routes[] = {"playlist", "part",    "segment", "init",
                                         "api",      "metrics", "static",  "other"};
    for (size_t i = 0; i < 8; i++)
        es_origin_vprintf(pool, &out,
                          "edgestream_http_route_responses_total{route=\"%s\"} %" PRIu64 "\n",
                          routes[i], m->responses_by_route[i]);
    family(pool, &out, "edgestream_http_sent_bytes_total", "counter", "Response body bytes");
    es_origin_vprintf(pool, &out, "edgestream_http_sent_bytes_total %" PRIu64 "\n", m->bytes_sent);
    family(pool, &out, "edgestream_http_connections", "gauge", "Open connections");
    es_origin_vprintf(pool, &out, "edgestream_http_connections %zu\n", o->connections);
    family(pool, &out, "edgestream_http_connections_accepted_total", "counter",
           "Connections accepted");
    es_origin_vprintf(pool, &out, "edgestream_http_connections_accepted_total %" PRIu64 "\n",
                      m->connections_accepted);
    family(pool, &out, "edgestream_http_connections_rejected_total", "counter",
           "Connections closed at once (origin.max_connections)");
    es_origin_vprintf(pool, &out, "edgestream_http_connections_rejected_total %" PRIu64 "\n",
                      m->connections_rejected);
    family(pool, &out, "edgestream_http_blocking_reloads_total", "counter",
           "Playlist requests held until their part existed");
    es_origin_vprintf(pool, &out, "edgestream_http_blocking_reloads_total %" PRIu64 "\n",
                      m->blocked_total);
    family(pool, &out, "edgestream_http_preload_hint_waits_total", "counter",
           "Part requests held until the hinted part existed");
    es_origin_vprintf(pool, &out, "edgestream_http_preload_hint_waits_total %" PRIu64 "\n",
                      m->hints_total);
    family(pool, &out, "edgestream_http_blocking_timeouts_total", "counter",
           "Held requests answered 503 after three target durations");
    es_origin_vprintf(pool, &out, "edgestream_http_blocking_timeouts_total %" PRIu64 "\n",
                      m->blocked_timeouts);
    family(pool, &out, "edgestream_http_send_timeouts_total", "counter",
           "Connections cut because a response's client took no bytes for idle_timeout_ms");
    es_origin_vprintf(pool, &out, "edgestream_http_send_timeouts_total %" PRIu64 "\n",
                      m->send_timeouts);
    family(pool, &out, "edgestream_http_auth_failures_total", "counter",
           "Requests refused for a missing or wrong token");
    es_origin_vprintf(pool, &out, "edgestream_http_auth_failures_total %" PRIu64 "\n",
                      m->auth_failures);
    family(pool, &out, "edgestream_http_parked", "gauge",
           "Requests held right now (blocking reloads, hinted parts, first playlists)");
    es_origin_vprintf(pool, &out, "edgestream_http_parked %zu\n", o->parked_total);
    family(pool, &out, "edgestream_http_parked_refused_total", "counter",
           "Requests answered 503 because a max_parked cap was reached");
    es_origin_vprintf(pool, &out, "edgestream_http_parked_refused_total %" PRIu64 "\n",
                      m->parked_refused);
    family(pool, &out, "edgestream_http_heads_refused_total", "counter",
           "Connections closed because a request head outgrew the head cap");
    es_origin_vprintf(pool, &out, "edgestream_http_heads_refused_total %" PRIu64 "\n",
                      m->heads_refused);
    family(pool, &out, "edgestream_http_hosts_refused_total", "counter",
           "Requests answered 421 for a Host that is not a loopback name (loopback origin)");
    es_origin_vprintf(pool, &out, "edgestream_http_hosts_refused_total %" PRIu64 "\n",
                      m->hosts_refused);
    family(pool, &out, "edgestream_http_accept_pauses_total", "counter",
           "Times accepting paused because the process ran out of descriptors");
    es_origin_vprintf(pool, &out, "edgestream_http_accept_pauses_total %" PRIu64 "\n",
                      m->accept_pauses);
    es_origin_whep_metrics(o, pool, &out); /* WebRTC (whep.c) */
    es_origin_snapshot_metrics(o, pool, &out); /* snapshots and clips (snapshot.c) */
    send_vector(req, "text/plain; version=0.0.4; charset=utf-8", ROUTE_METRICS, &out);
}

void es_origin_serve_healthz(struct es_origin *o, h2o_req_t *req)
{
    h2o_iovec_vector_t out = {NULL, 0, 0};
    size_t live = 0;
    for (size_t i = 0; i < o->stream_count; i++) {
        struct es_origin_camera_stats st = {0};
        if (o->streams[i]->stats)
            o->streams[i]->stats(o->streams[i]->stats_opaque, &st);
        live += st.status && strcmp(st.status, "live") == 0;
    }
    es_origin_vprintf(&req->pool, &out,
                      "{\"status\":\"ok\",\"cameras\":%zu,\"live\":%zu,\"uptime_s\":%" PRId64 "}\n",
                      o->stream_count, live, (es_clock_wall_us() - o->started_wall_us) / 1000000);
    send_vector(req, "application/json", ROUTE_OTHER, &out);
}
