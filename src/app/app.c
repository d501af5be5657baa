#include "app/app.h"

#include "app/camera.h"
#include "app/clip_store.h"
#include "app/registry.h"
#include "app/service.h"
#include "config/diff.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "origin/origin.h"
#include "origin/whep.h"
#include "record/recorder.h"
#include "segment/cmaf.h"
#include "sink/local.h"
#include "sink/remote.h"
#include "sink/s3.h"
#include "sink/supabase.h"
#include "sink/uploader.h"
#include "webrtc/webrtc.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h> /* malloc_trim */
#endif

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
    /* Atomic: a camera a reload adds is listed by the origin's thread
     * while this thread still makes it (NULL until then). */
    _Atomic(struct es_camera *) camera;
    struct es_uploader *uploader; /* NULL without remote storage */
    /* Recording (docs/recording.md): the camera's recorder sink (the camera
     * owns it) and its directory; NULL and "" when it is not recorded. */
    struct es_sink *recorder;
    char record_dir[1024];
};

void (*es_app_test_origin_stall)(void);

static void origin_camera_stats(void *opaque, struct es_origin_camera_stats *out)
{
    const struct camera_slot *slot = opaque;
    if (es_app_test_origin_stall)
        es_app_test_origin_stall(); /* test-only (app.h): holds the origin's thread */
    memset(out, 0, sizeof(*out));
    out->status = "connecting";
    struct es_camera *camera = atomic_load(&slot->camera);
    if (!camera)
        return;
    struct es_camera_stats st;
    es_camera_stats(camera, &st);
    out->status = st.state == ES_CAMERA_LIVE         ? "live"
                  : st.state == ES_CAMERA_CONNECTING ? "connecting"
                                                     : "offline";
    out->frames_in = st.frames_in;
    out->frames_out = st.frames_out;
    out->bytes_out = st.bytes_out;
    out->segments = st.segments;
    out->reconnects = st.reconnects;
    out->snapshot = es_camera_snapshot(camera);
    struct es_upload_camera_totals up;
    es_uploader_camera_totals(slot->uploader, es_camera_config(camera)->id, &up);
    out->has_uploads = up.stores > 0;
    out->uploads = up.uploaded;
    out->upload_retries = up.retries;
    out->uploads_dropped = up.dropped;
    out->upload_backlog = up.backlog_segments;
    out->upload_seconds = (double)up.last_upload_ms / 1000.0;
    if (slot->recorder) {
        struct es_recorder_stats rec;
        es_recorder_stats(slot->recorder, &rec);
        out->record_dir = slot->record_dir;
        out->record_state = es_recorder_state_name(rec.state);
        out->record_ok = rec.state == ES_RECORDER_RECORDING;
        out->record_segments = rec.segments;
        out->record_bytes = rec.bytes;
        out->record_oldest_s = (double)rec.oldest_ms / 1000.0;
        out->record_newest_s = (double)rec.newest_end_ms / 1000.0;
        out->record_deleted = rec.deleted;
        out->record_dropped = rec.dropped;
        out->record_failures = rec.write_failures;
    }
}

static enum es_err add_origin_sink(struct es_origin *origin, const struct es_camera_config *cam,
                                   struct camera_slot *slot, struct es_sink **out)
{
    unsigned fps = cam->transcode == ES_TRANSCODE_X264 ? cam->target_fps : 0;
    struct es_origin_camera oc = {
        .id = cam->id,
        .name = cam->name,
        .profile = cam->profile,
        .location = cam->location,
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

void es_app_record_root(const struct es_config *config, char *out, size_t size)
{
    const char *root = config->record_root ? config->record_root : "recordings";
    const char *state = getenv("STATE_DIRECTORY");
    if (root[0] != '/' && state && state[0] == '/') {
        size_t len = strcspn(state, ":"); /* several directories are ':'-separated */
        snprintf(out, size, "%.*s/%s", (int)len, state, root);
    } else {
        snprintf(out, size, "%s", root);
    }
}

/* <record_root>/<camera> (es_app_record_root). */
static enum es_err add_recorder(const struct es_config *config, const struct es_camera_config *cam,
                                struct camera_slot *slot, struct es_sink **out)
{
    char root[1024];
    es_app_record_root(config, root, sizeof(root));
    struct es_recorder_config rc = {
        .camera_id = cam->id,
        .root = root,
        .policy = {
            .max_age_ms = (int64_t)cam->record_days * 86400 * 1000,
            .max_bytes = (uint64_t)(cam->record_max_gb * 1e9),
            .min_free_bytes = (uint64_t)(cam->record_min_free_gb * 1e9),
        },
    };
    int n = snprintf(slot->record_dir, sizeof(slot->record_dir), "%s/%s", root, cam->id);
    enum es_err err = n > 0 && (size_t)n < sizeof(slot->record_dir) ? es_recorder_create(&rc, out)
                                                                    : ES_ERR_INVALID;
    if (err != ES_OK) {
        es_log(ES_LOG_ERROR, "record", "camera=%s event=not_recording root=%s reason=\"%s\"",
               cam->id, root, es_strerror(err));
        return err;
    }
    slot->recorder = *out;
    return ES_OK;
}

static enum es_err build_camera(const struct es_config *config,
                                const struct es_camera_config *cam,
                                const struct es_app_options *options,
                                const struct remote_stores *remote, struct es_origin *origin,
                                struct camera_slot *slot, struct es_camera **out)
{
    struct es_sink *sinks[5];
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
    /* Last: the origin and the stores get each segment before the
     * recorder's fsync. A recorder that cannot start costs recording only. */
    if (cam->record && add_recorder(config, cam, slot, &sinks[sink_count]) == ES_OK)
        sink_count++;
    enum es_err err = es_camera_create(cam, sinks, sink_count, out);
    if (err == ES_OK)
        atomic_store(&slot->camera, *out);
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

/* One WebRTC camera per id: WebRTC cannot remove one, so a camera that a
 * reload stops and starts again (changed, or removed and added back) finds
 * its own, with its viewers. `camera` is the pipeline that feeds it now
 * (NULL while none does); the lock keeps a viewer's keyframe request (on
 * WebRTC's thread) off a camera that is being destroyed. */
struct webrtc_link {
    char *id;
    struct es_webrtc_camera *wcam;
    pthread_mutex_t lock;
    struct es_camera *camera;
};

static void webrtc_keyframe_request(void *opaque)
{
    struct webrtc_link *link = opaque;
    pthread_mutex_lock(&link->lock);
    if (link->camera)
        es_camera_request_keyframe(link->camera);
    pthread_mutex_unlock(&link->lock);
}

static void webrtc_link_set_camera(struct webrtc_link *link, struct es_camera *camera)
{
    pthread_mutex_lock(&link->lock);
    link->camera = camera;
    pthread_mutex_unlock(&link->lock);
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
        .ice_tcp = s->tcp_port != 0,
        .tcp_port = (uint16_t)s->tcp_port,
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

/* Freed memory goes back to the system once a minute. A storage outage
 * builds an upload backlog that is freed when it drains, but glibc keeps
 * freed pages in the arena of the thread that freed them: the soak
 * (bench/RESULTS.md) saw the heap in use flat while RSS kept each outage's
 * peak, about 1 MiB more per outage. malloc_trim(0) returns every arena's
 * free pages (madvise), a few milliseconds on this thread. */
#define MEMORY_TRIM_INTERVAL_US (60 * 1000000LL)

static void give_back_free_memory(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

/* ---- the running cameras, and reloads ---- */

/* A config a reload loaded, kept while a camera it describes streams
 * (es_camera_create: the config outlives the camera). */
struct loaded_config {
    struct es_config config;
    size_t users;
};

struct running_camera {
    struct es_camera *camera;
    struct camera_slot slot;           /* the origin reads the camera's figures through it */
    const struct es_camera_config *config;
    struct loaded_config *from;        /* NULL: the config es_app_run was given */
    struct webrtc_link *webrtc;        /* NULL without WebRTC */
};

struct app {
    /* Storage and origin settings come from the first config for the whole
     * run: a reload that changes them is told they need a restart. */
    const struct es_config *base;
    const struct es_app_options *options;
    struct remote_stores remote;
    struct es_origin *origin;
    struct es_webrtc *webrtc;
    struct running_camera **running; /* in config order */
    struct es_camera **cameras;      /* the same, for the status line and the service */
    struct status_sample *prev;
    size_t count;
    struct webrtc_link **links;
    size_t link_count;
};

static bool is_selected(const struct es_app_options *options, const struct es_camera_config *cam)
{
    return options->all_cameras ? cam->enabled : strcmp(cam->id, options->camera_id) == 0;
}

static struct webrtc_link *webrtc_link_for(struct app *app, const char *id)
{
    for (size_t i = 0; i < app->link_count; i++)
        if (strcmp(app->links[i]->id, id) == 0)
            return app->links[i];
    struct webrtc_link *link = es_calloc(1, sizeof(*link));
    link->id = es_strdup(id);
    link->wcam = es_webrtc_add_camera(app->webrtc, id);
    pthread_mutex_init(&link->lock, NULL);
    app->links = es_realloc(app->links, (app->link_count + 1) * sizeof(*app->links));
    app->links[app->link_count++] = link;
    return link;
}

/* Makes a camera's sinks and pipeline (not started yet). */
static enum es_err add_camera(struct app *app, const struct es_camera_config *cam,
                              struct loaded_config *from, struct running_camera **out)
{
    struct running_camera *rc = es_calloc(1, sizeof(*rc));
    rc->config = cam;
    rc->from = from;
    rc->slot.uploader = app->remote.uploader;
    atomic_init(&rc->slot.camera, NULL);
    enum es_err err = build_camera(app->base, cam, app->options, &app->remote, app->origin,
                                   &rc->slot, &rc->camera);
    if (err != ES_OK) {
        free(rc);
        return err;
    }
    if (from)
        from->users++;
    if (app->webrtc) {
        rc->webrtc = webrtc_link_for(app, cam->id);
        struct es_webrtc_camera *wcam = rc->webrtc->wcam;
        es_camera_set_video_tap(rc->camera, webrtc_video_tap, wcam);
        es_camera_set_audio_tap(rc->camera, webrtc_audio_tap, wcam);
        es_webrtc_camera_set_passthrough(wcam, cam->transcode == ES_TRANSCODE_COPY);
        es_webrtc_camera_on_keyframe_request(wcam, webrtc_keyframe_request, rc->webrtc);
        webrtc_link_set_camera(rc->webrtc, rc->camera);
    }
    *out = rc;
    return ES_OK;
}

static void release_config(struct loaded_config *from)
{
    if (from && --from->users == 0) {
        es_config_free(&from->config);
        free(from);
    }
}

/* Joins the camera's thread and frees it with its sinks (the origin's
 * stream leaves with it while the origin runs). */
static void remove_camera(struct running_camera *rc)
{
    if (rc->webrtc)
        webrtc_link_set_camera(rc->webrtc, NULL);
    es_camera_destroy(rc->camera);
    release_config(rc->from);
    free(rc);
}

/* After the running set changed: the arrays the status line and the
 * service read, and fresh samples (rates restart from here). */
static void refresh_views(struct app *app)
{
    app->cameras = es_realloc(app->cameras, (app->count ? app->count : 1) * sizeof(*app->cameras));
    app->prev = es_realloc(app->prev, (app->count ? app->count : 1) * sizeof(*app->prev));
    for (size_t i = 0; i < app->count; i++) {
        app->cameras[i] = app->running[i]->camera;
        struct es_camera_stats st;
        es_camera_stats(app->cameras[i], &st);
        app->prev[i] = (struct status_sample){st.frames_in, st.frames_out, st.bytes_out};
    }
}

static void log_needs_restart(void *opaque, const char *key)
{
    (void)opaque;
    es_log(ES_LOG_WARN, "app",
           "event=reload_needs_restart key=%s action=\"the running value stays until a restart\"",
           key);
}

/* SIGHUP: read the config again and apply what changed. A camera whose
 * settings are the same keeps streaming, untouched (no reconnect, no
 * discontinuity); a changed one restarts and continues its media sequence
 * after a discontinuity (es_camera_create reads where its sinks stopped); a
 * removed one stops as at a clean stop; an added one starts. */
static void reload(struct app *app)
{
    const struct es_app_options *options = app->options;
    es_log(ES_LOG_INFO, "app", "event=reload");
    es_service_reloading(options->service);
    struct loaded_config *next = es_calloc(1, sizeof(*next));
    if (options->load_config(options->load_config_opaque, &next->config) != ES_OK) {
        es_log(ES_LOG_WARN, "app",
               "event=reload_failed action=\"the running config stays; nothing changed\"");
        es_config_free(&next->config);
        free(next);
        return;
    }
    size_t needs_restart = es_config_restart_keys(app->base, &next->config, log_needs_restart,
                                                  NULL);

    /* Stop what goes first, all at once, then join each: a changed camera's
     * new sinks read what the old ones left on disk. */
    size_t kept = 0, restarted = 0, removed = 0, added = 0;
    bool *keep = es_calloc(app->count ? app->count : 1, sizeof(*keep));
    for (size_t i = 0; i < app->count; i++) {
        const struct running_camera *rc = app->running[i];
        const struct es_camera_config *now = es_config_find_camera(&next->config, rc->config->id);
        if (now && !is_selected(options, now))
            now = NULL;
        const char *difference = now ? es_config_camera_difference(rc->config, now) : NULL;
        keep[i] = now && !difference;
        if (keep[i]) {
            kept++;
            continue;
        }
        if (now) {
            es_log(ES_LOG_INFO, "app", "camera=%s event=reload_restart key=%s", rc->config->id,
                   difference);
            restarted++;
        } else {
            es_log(ES_LOG_INFO, "app", "camera=%s event=reload_remove", rc->config->id);
            removed++;
        }
        es_camera_request_stop(rc->camera);
    }
    struct running_camera **old = app->running;
    size_t old_count = app->count;
    for (size_t i = 0; i < old_count; i++)
        if (!keep[i])
            remove_camera(old[i]);

    /* The new running set, in the new file's order. */
    app->running = es_calloc(next->config.camera_count ? next->config.camera_count : 1,
                             sizeof(*app->running));
    app->count = 0;
    for (size_t j = 0; j < next->config.camera_count; j++) {
        const struct es_camera_config *cam = &next->config.cameras[j];
        if (!is_selected(options, cam))
            continue;
        struct running_camera *rc = NULL;
        for (size_t i = 0; i < old_count && !rc; i++)
            if (keep[i] && strcmp(old[i]->config->id, cam->id) == 0)
                rc = old[i];
        if (!rc) {
            enum es_err err = add_camera(app, cam, next, &rc);
            if (err == ES_OK && es_camera_start(rc->camera) != ES_OK) {
                remove_camera(rc);
                err = ES_ERR_IO;
            }
            if (err != ES_OK) {
                es_log(ES_LOG_ERROR, "app", "camera=%s event=reload_start_failed error=\"%s\"",
                       cam->id, es_strerror(err));
                continue;
            }
            es_log(ES_LOG_INFO, "app", "camera=%s event=reload_start", cam->id);
        }
        app->running[app->count++] = rc;
    }
    free(keep);
    free(old);
    added = app->count - kept - restarted;
    if (next->users == 0) {
        es_config_free(&next->config);
        free(next);
    }
    refresh_views(app);
    es_log(ES_LOG_INFO, "app",
           "event=reloaded cameras=%zu kept=%zu restarted=%zu added=%zu removed=%zu "
           "needs_restart=%zu",
           app->count, kept, restarted, added, removed, needs_restart);
}

enum es_err es_app_run(const struct es_config *config, const struct es_app_options *options)
{
    struct app app = {.base = config, .options = options};
    app.running = es_calloc(config->camera_count ? config->camera_count : 1, sizeof(*app.running));
    enum es_err err = open_remote_stores(config, &app.remote);
    struct es_clip_store *clip_store = NULL;
    if (err == ES_OK && config->origin.enabled)
        err = es_clip_store_open(config, &clip_store);
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
            .clip_share = es_clip_store_share(clip_store),
        };
        err = es_origin_create(&oc, &app.origin);
    }
    app.webrtc = err == ES_OK && app.origin ? open_webrtc(&config->origin) : NULL;
    for (size_t i = 0; i < config->camera_count && err == ES_OK; i++) {
        const struct es_camera_config *cam = &config->cameras[i];
        if (!is_selected(options, cam))
            continue;
        err = add_camera(&app, cam, NULL, &app.running[app.count]);
        if (err == ES_OK)
            app.count++;
    }
    if (err == ES_OK && app.count == 0)
        err = ES_ERR_NOT_FOUND;
    if (err == ES_OK && app.webrtc) {
        /* A taken UDP port costs WebRTC only (logged): /whep/ then answers
         * 503 saying so (the service is attached either way). */
        es_webrtc_start(app.webrtc);
        es_origin_whep_attach(app.origin, app.webrtc);
    }
    bool listening = false;
    if (err == ES_OK && app.origin) {
        /* A taken port costs the HTTP side only: the cameras still stream to
         * storage (DESIGN invariant 6); the origin has logged why. */
        listening = es_origin_start(app.origin) == ES_OK;
        if (listening && options->status_line)
            printf("origin: watch at %s (playlists at %slive/<camera>/stream.m3u8)\n",
                   es_origin_url(app.origin), es_origin_url(app.origin));
        fflush(stdout);
    }
    for (size_t i = 0; i < app.count && err == ES_OK; i++)
        err = es_camera_start(app.running[i]->camera);

    if (err == ES_OK) {
        es_log(ES_LOG_INFO, "app", "event=started cameras=%zu", app.count);
        refresh_views(&app);
        /* Config loaded, sinks made, the origin listening: systemd may start
         * what waits for us. */
        struct es_service_view view = {app.cameras, app.count, listening ? app.origin : NULL,
                                       app.remote.uploader};
        es_service_ready(options->service, &view);
        /* The `cameras` table (issue 13): its own thread, never in the way. */
        struct es_registry *registry = NULL;
        es_registry_create(&config->supabase, app.remote.uploader, &registry);
        bool tty = options->status_line && isatty(STDOUT_FILENO);
        int64_t interval = tty ? STATUS_INTERVAL_TTY_US : STATUS_INTERVAL_PLAIN_US;
        int64_t start = es_clock_mono_us();
        int64_t last_status = start;
        int64_t last_trim = start;
        while (!atomic_load(options->stop)) {
            int64_t now = es_clock_mono_us();
            if (options->duration > 0 && now - start >= (int64_t)(options->duration * 1e6))
                break;
            /* Here, not in the signal handler: a reload allocates, logs,
             * joins threads. */
            if (options->reload && atomic_exchange(options->reload, false) &&
                options->load_config) {
                reload(&app);
                view.cameras = app.cameras;
                view.camera_count = app.count;
                es_service_ready(options->service, &view);
                now = es_clock_mono_us();
                last_status = now;
            }
            es_service_tick(options->service, &view, now);
            es_registry_observe(registry, app.cameras, app.count);
            if (now - last_trim >= MEMORY_TRIM_INTERVAL_US) {
                give_back_free_memory();
                last_trim = now;
            }
            if (options->status_line && now - last_status >= interval) {
                print_status(app.cameras, app.count, app.prev, (double)(now - last_status) / 1e6,
                             tty, app.remote.uploader);
                last_status = now;
            }
            es_clock_sleep_us(100000);
        }
        if (tty)
            fputc('\n', stdout);
        es_log(ES_LOG_INFO, "app", "event=stopping");
        es_service_stopping(options->service);
        es_registry_destroy(registry); /* reports the cameras offline */
    }
    for (size_t i = 0; i < app.count; i++)
        es_camera_request_stop(app.running[i]->camera);
    es_origin_stop(app.origin); /* before the cameras its stats callback reads go */
    for (size_t i = 0; i < app.count; i++)
        remove_camera(app.running[i]);
    /* After the cameras (their taps feed it) and the origin's thread (WHEP). */
    es_origin_whep_attach(app.origin, NULL);
    es_webrtc_destroy(app.webrtc);
    es_origin_destroy(app.origin);
    es_clip_store_close(clip_store);
    for (size_t i = 0; i < app.link_count; i++) {
        pthread_mutex_destroy(&app.links[i]->lock);
        free(app.links[i]->id);
        free(app.links[i]);
    }
    free(app.links);
    es_uploader_destroy(app.remote.uploader, UPLOAD_DRAIN_SECONDS);
    free(app.running);
    free(app.cameras);
    free(app.prev);
    return err;
}
