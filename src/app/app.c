#include "app/app.h"

#include "app/camera.h"
#include "app/service.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "origin/origin.h"
#include "origin/whep.h"
#include "segment/cmaf.h"
#include "sink/local.h"
#include "sink/remote.h"
#include "sink/s3.h"
#include "sink/supabase.h"
#include "sink/uploader.h"
#include "webrtc/webrtc.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATUS_INTERVAL_TTY_US 1000000
#define STATUS_INTERVAL_PLAIN_US 10000000
/* On stop, unsent segments and the newest playlists get this long to reach
 * the store (sink/uploader.h). */
#define UPLOAD_DRAIN_SECONDS 5.0

/* The one uploader thread and its stores, when any remote backend is set. */
struct remote_stores {
    struct es_uploader *uploader;
    struct es_upload_store *supabase, *s3;
};

static unsigned target_duration_of(const struct es_camera_config *c)
{
    /* RFC 8216 §4.3.3.1: EXTINF rounded to the nearest integer must not exceed
     * it; segments are cut at segment_duration, so its ceiling always holds. */
    return (unsigned)ceil(c->segment_duration);
}

/* The origin reads a camera's figures on its own thread. A camera is created
 * after its sinks (the origin's among them), so the origin finds it here. */
struct camera_slot {
    struct es_camera *camera;
    struct es_uploader *uploader; /* NULL without remote storage */
};

void (*es_app_test_origin_stall)(void);

static void origin_camera_stats(void *opaque, struct es_origin_camera_stats *out)
{
    const struct camera_slot *slot = opaque;
    if (es_app_test_origin_stall)
        es_app_test_origin_stall(); /* test-only (app.h): holds the origin's thread */
    memset(out, 0, sizeof(*out));
    out->status = "connecting";
    if (!slot->camera)
        return;
    struct es_camera_stats st;
    es_camera_stats(slot->camera, &st);
    out->status = st.state == ES_CAMERA_LIVE         ? "live"
                  : st.state == ES_CAMERA_CONNECTING ? "connecting"
                                                     : "offline";
    out->frames_in = st.frames_in;
    out->frames_out = st.frames_out;
    out->bytes_out = st.bytes_out;
    out->segments = st.segments;
    out->reconnects = st.reconnects;
    struct es_upload_camera_totals up;
    es_uploader_camera_totals(slot->uploader, es_camera_config(slot->camera)->id, &up);
    out->has_uploads = up.stores > 0;
    out->uploads = up.uploaded;
    out->upload_retries = up.retries;
    out->uploads_dropped = up.dropped;
    out->upload_backlog = up.backlog_segments;
    out->upload_seconds = (double)up.last_upload_ms / 1000.0;
}

static enum es_err add_origin_sink(struct es_origin *origin, const struct es_camera_config *cam,
                                   struct camera_slot *slot, struct es_sink **out)
{
    unsigned fps = cam->transcode == ES_TRANSCODE_X264 ? cam->target_fps : 0;
    struct es_origin_camera oc = {
        .id = cam->id,
        .name = cam->name,
        .profile = cam->profile,
        .target_duration = target_duration_of(cam),
        .segment_duration = cam->segment_duration,
        /* The same PART-TARGET the camera's CMAF segmenter cuts to. */
        .part_target = cam->part_target > 0 ? es_cmaf_part_target(cam->part_target, fps) : 0,
        .segments_to_keep = cam->segments_to_keep,
        .stats = origin_camera_stats,
        .stats_opaque = slot,
    };
    return es_origin_add_camera(origin, &oc, out);
}

static enum es_err build_camera(const struct es_config *config,
                                const struct es_camera_config *cam,
                                const struct es_app_options *options,
                                const struct remote_stores *remote, struct es_origin *origin,
                                struct camera_slot *slot, struct es_camera **out)
{
    struct es_sink *sinks[4];
    size_t sink_count = 0;
    if (config->local.enabled) {
        struct es_local_sink_config lc = {
            .camera_id = cam->id,
            .root = options->root ? options->root : config->local.root,
            .location = cam->location,
            .target_duration = target_duration_of(cam),
            .segments_to_keep = cam->segments_to_keep,
            .delete_grace = cam->delete_grace,
        };
        enum es_err err = es_local_sink_create(&lc, &sinks[sink_count]);
        if (err != ES_OK)
            return err;
        sink_count++;
    }
    struct es_upload_store *stores[] = {remote->supabase, remote->s3};
    for (size_t i = 0; i < sizeof(stores) / sizeof(stores[0]); i++) {
        if (!stores[i])
            continue;
        struct es_upload_stream_config uc = {
            .camera_id = cam->id,
            .location = cam->location,
            .target_duration = target_duration_of(cam),
            .segments_to_keep = cam->segments_to_keep,
            .delete_grace = cam->delete_grace,
        };
        if (es_remote_sink_create(remote->uploader, stores[i], &uc, &sinks[sink_count]) == ES_OK)
            sink_count++;
    }
    if (origin && add_origin_sink(origin, cam, slot, &sinks[sink_count]) == ES_OK)
        sink_count++;
    enum es_err err = es_camera_create(cam, sinks, sink_count, out);
    if (err == ES_OK)
        slot->camera = *out;
    return err;
}

struct status_sample {
    uint64_t frames_in, frames_out, bytes_out;
};

static void print_status(struct es_camera **cameras, size_t count, struct status_sample *prev,
                         double seconds, bool tty, struct es_uploader *uploader)
{
    char line[4096];
    size_t len = 0;
    for (size_t i = 0; i < count; i++) {
        struct es_camera_stats st;
        es_camera_stats(cameras[i], &st);
        double fps_in = (double)(st.frames_in - prev[i].frames_in) / seconds;
        double fps_out = (double)(st.frames_out - prev[i].frames_out) / seconds;
        double kbps = (double)(st.bytes_out - prev[i].bytes_out) * 8 / 1000 / seconds;
        prev[i] = (struct status_sample){st.frames_in, st.frames_out, st.bytes_out};
        int n = snprintf(line + len, sizeof(line) - len,
                         "%s%s %s in=%.1ffps out=%.1ffps %.0fkb/s segments=%" PRIu64
                         " reconnects=%" PRIu64,
                         len ? (tty ? " | " : "\n") : "", es_camera_config(cameras[i])->id,
                         es_camera_state_name(st.state), fps_in, fps_out, kbps, st.segments,
                         st.reconnects);
        if (n < 0 || (size_t)n >= sizeof(line) - len)
            break;
        len += (size_t)n;
        char uploads[512];
        es_uploader_camera_status(uploader, es_camera_config(cameras[i])->id, uploads,
                                  sizeof(uploads));
        n = snprintf(line + len, sizeof(line) - len, "%s%s", uploads[0] ? " " : "", uploads);
        if (n < 0 || (size_t)n >= sizeof(line) - len)
            break;
        len += (size_t)n;
    }
    if (tty)
        fprintf(stdout, "\r\033[K%s", line);
    else
        fprintf(stdout, "%s\n", line);
    fflush(stdout);
}

/* One uploader thread for every remote store and camera (DESIGN.md). */
static enum es_err open_remote_stores(const struct es_config *config, struct remote_stores *out)
{
    if (!config->supabase.remote.enabled && !config->s3.remote.enabled)
        return ES_OK;
    enum es_err err = es_uploader_create(&out->uploader);
    if (err != ES_OK)
        return err;
    struct es_store *store;
    if (config->supabase.remote.enabled) {
        err = es_supabase_store_create(&config->supabase, &store);
        if (err != ES_OK)
            return err;
        out->supabase = es_uploader_add_store(out->uploader, store, &config->supabase.remote);
    }
    if (config->s3.remote.enabled) {
        err = es_s3_store_create(&config->s3, &store);
        if (err != ES_OK)
            return err;
        out->s3 = es_uploader_add_store(out->uploader, store, &config->s3.remote);
    }
    return ES_OK;
}

/* ---- WebRTC (src/webrtc/, docs/webrtc.md): WHEP on the origin ---- */

static void webrtc_video_tap(void *opaque, const uint8_t *data, size_t size, int64_t pts_ticks,
                             int64_t wall_us)
{
    es_webrtc_camera_video(opaque, data, size, pts_ticks, wall_us);
}

static void webrtc_audio_tap(void *opaque, const struct AVPacket *pkt,
                             const struct AVCodecParameters *par, int64_t wall_us)
{
    es_webrtc_camera_audio(opaque, pkt, par, wall_us);
}

static void webrtc_keyframe_request(void *opaque)
{
    es_camera_request_keyframe(opaque);
}

/* The service for `origin.webrtc`; NULL when it is off or cannot start (the
 * rest of the origin and the cameras go on without it; it has logged why). */
static struct es_webrtc *open_webrtc(const struct es_origin_settings *origin)
{
    const struct es_webrtc_settings *s = &origin->webrtc;
    if (!s->enabled)
        return NULL;
    /* By default the UDP port binds where the origin listens: loopback
     * unless the origin is opened up. */
    char bind[64];
    const char *listen = s->bind ? s->bind : origin->listen;
    const char *colon = s->bind ? NULL : strrchr(listen, ':');
    size_t len = colon ? (size_t)(colon - listen) : strlen(listen);
    if (len && listen[0] == '[' && listen[len - 1] == ']') {
        listen++;
        len -= 2;
    }
    snprintf(bind, sizeof(bind), "%.*s", (int)len, listen);
    char hosts_buf[1024] = "";
    const char *hosts[8];
    size_t host_count = 0;
    if (s->additional_hosts) {
        snprintf(hosts_buf, sizeof(hosts_buf), "%s", s->additional_hosts);
        char *save = NULL;
        for (char *h = strtok_r(hosts_buf, ", ", &save); h && host_count < 8;
             h = strtok_r(NULL, ", ", &save))
            hosts[host_count++] = h;
    }
    struct es_webrtc_config wc = {
        .bind_host = bind,
        .udp_port = (uint16_t)s->udp_port,
        .hosts = hosts,
        .host_count = host_count,
        .max_sessions = s->max_sessions,
        .max_sessions_per_camera = s->max_sessions_per_camera,
        .ice_servers = s->ice_servers,
        .turn_username = s->turn_username,
        .turn_credential = s->turn_credential,
    };
    struct es_webrtc *w = NULL;
    if (es_webrtc_create(&wc, &w) != ES_OK)
        return NULL;
    return w;
}

enum es_err es_app_run(const struct es_config *config, const struct es_app_options *options)
{
    struct es_camera **cameras = es_calloc(config->camera_count, sizeof(*cameras));
    size_t count = 0;
    struct remote_stores remote = {NULL, NULL, NULL};
    enum es_err err = open_remote_stores(config, &remote);
    struct camera_slot *slots = es_calloc(config->camera_count, sizeof(*slots));
    struct es_origin *origin = NULL;
    if (err == ES_OK && config->origin.enabled) {
        struct es_origin_config oc = {
            .listen = config->origin.listen,
            .token = config->origin.token,
            .tls_cert = config->origin.tls_cert,
            .tls_key = config->origin.tls_key,
            .http1_only = !config->origin.http2,
            .cors = config->origin.cors,
            .web_root = config->origin.web_root,
            .max_connections = config->origin.max_connections,
            .idle_timeout_ms = config->origin.idle_timeout_ms,
            .max_parked = config->origin.max_parked,
            .max_parked_per_client = config->origin.max_parked_per_client,
            .max_parked_per_connection = config->origin.max_parked_per_connection,
        };
        err = es_origin_create(&oc, &origin);
    }
    struct es_webrtc *webrtc = err == ES_OK && origin ? open_webrtc(&config->origin) : NULL;
    for (size_t i = 0; i < config->camera_count && err == ES_OK; i++) {
        const struct es_camera_config *cam = &config->cameras[i];
        bool selected = options->all_cameras ? cam->enabled
                                             : strcmp(cam->id, options->camera_id) == 0;
        if (!selected)
            continue;
        slots[count].uploader = remote.uploader;
        err = build_camera(config, cam, options, &remote, origin, &slots[count],
                           &cameras[count]);
        if (err == ES_OK && webrtc) {
            struct es_webrtc_camera *wcam = es_webrtc_add_camera(webrtc, cam->id);
            es_camera_set_video_tap(cameras[count], webrtc_video_tap, wcam);
            es_camera_set_audio_tap(cameras[count], webrtc_audio_tap, wcam);
            es_webrtc_camera_set_passthrough(wcam, cam->transcode == ES_TRANSCODE_COPY);
            es_webrtc_camera_on_keyframe_request(wcam, webrtc_keyframe_request, cameras[count]);
        }
        if (err == ES_OK)
            count++;
    }
    if (err == ES_OK && count == 0)
        err = ES_ERR_NOT_FOUND;
    if (err == ES_OK && webrtc) {
        /* A taken UDP port costs WebRTC only (logged). */
        if (es_webrtc_start(webrtc) == ES_OK)
            es_origin_whep_attach(origin, webrtc);
    }
    bool listening = false;
    if (err == ES_OK && origin) {
        /* A taken port costs the HTTP side only: the cameras still stream to
         * storage (DESIGN invariant 6); the origin has logged why. */
        listening = es_origin_start(origin) == ES_OK;
        if (listening && options->status_line)
            printf("origin: watch at %s (playlists at %slive/<camera>/stream.m3u8)\n",
                   es_origin_url(origin), es_origin_url(origin));
        fflush(stdout);
    }
    for (size_t i = 0; i < count && err == ES_OK; i++)
        err = es_camera_start(cameras[i]);

    if (err == ES_OK) {
        es_log(ES_LOG_INFO, "app", "event=started cameras=%zu", count);
        /* Config loaded, sinks made, the origin listening: systemd may start
         * what waits for us. */
        struct es_service_view view = {cameras, count, listening ? origin : NULL,
                                       remote.uploader};
        es_service_ready(options->service, &view);
        bool tty = options->status_line && isatty(STDOUT_FILENO);
        int64_t interval = tty ? STATUS_INTERVAL_TTY_US : STATUS_INTERVAL_PLAIN_US;
        struct status_sample *prev = es_calloc(count, sizeof(*prev));
        int64_t start = es_clock_mono_us();
        int64_t last_status = start;
        while (!atomic_load(options->stop)) {
            int64_t now = es_clock_mono_us();
            if (options->duration > 0 && now - start >= (int64_t)(options->duration * 1e6))
                break;
            es_service_tick(options->service, &view, now);
            if (options->status_line && now - last_status >= interval) {
                print_status(cameras, count, prev, (double)(now - last_status) / 1e6, tty,
                             remote.uploader);
                last_status = now;
            }
            es_clock_sleep_us(100000);
        }
        if (tty)
            fputc('\n', stdout);
        free(prev);
        es_log(ES_LOG_INFO, "app", "event=stopping");
        es_service_stopping(options->service);
    }
    for (size_t i = 0; i < count; i++)
        es_camera_request_stop(cameras[i]);
    es_origin_stop(origin); /* before the cameras its stats callback reads go */
    for (size_t i = 0; i < count; i++)
        es_camera_destroy(cameras[i]);
    /* After the cameras (their taps feed it) and the origin's thread (WHEP). */
    es_origin_whep_attach(origin, NULL);
    es_webrtc_destroy(webrtc);
    es_origin_destroy(origin);
    free(slots);
    es_uploader_destroy(remote.uploader, UPLOAD_DRAIN_SECONDS);
    free(cameras);
    return err;
}
