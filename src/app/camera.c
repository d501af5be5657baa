#include "app/camera.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/url.h"
#include "segment/cmaf.h"
#include "segment/segmenter.h"
#include "snapshot/snapshot.h"
#include "source/source.h"
#include "transcode/transcode.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Timestamps start here rather than at 0 so that audio that began a little
 * before the first video frame never goes negative in the muxer. */
#define TIMELINE_START_TICKS (10 * ES_TICKS_PER_SECOND)
/* Arrival-time anchoring is re-done when the mapping drifts further than this. */
#define MAX_CLOCK_DRIFT_US 1000000

struct es_camera {
    const struct es_camera_config *config;
    char safe_url[512];
    struct es_sink **sinks;
    size_t sink_count;

    pthread_t thread;
    bool thread_started;
    atomic_bool stop;

    /* Pipeline-thread state. */
    struct es_segmenter *segmenter;
    struct es_cmaf_segmenter *cmaf; /* LL-HLS parts when part_target > 0, else NULL */
    struct es_transcoder *transcoder;
    bool streams_set; /* segmenter has this connection's codec parameters */
    /* This connection's G.711 audio (NULL for other codecs): the WebRTC audio
     * tap gets the camera's own packets, so Opus is made from them directly
     * and not through the AAC encoder (128 ms frames at 8 kHz, plus priming). */
    const AVCodecParameters *g711_par;
    bool numbered; /* next_msn chosen (number_from_sinks), cmaf made */
    uint64_t next_msn;
    int64_t conn_origin_ticks;            /* first input timestamp of this connection */
    int64_t run_base_ticks;               /* where this connection's timeline starts */
    int64_t last_out_ticks;               /* latest output dts, across connections */
    int64_t anchor_ticks, anchor_wall_us; /* wall clock = anchor_wall + (ts - anchor_ts) */
    bool anchored, anchored_to_camera;
    int64_t next_pdt_us; /* previous segment's date + duration; 0 after a discontinuity */

    /* WebRTC tap (es_camera_set_video_tap), called from on_transcoded. */
    es_camera_video_tap_fn video_tap;
    void *video_tap_opaque;
    es_camera_audio_tap_fn audio_tap;
    void *audio_tap_opaque;
    atomic_bool keyframe_wanted; /* es_camera_request_keyframe, any thread */
    /* Snapshots: the newest decoded frame (transcode) or keyframe
     * (passthrough), handed over by reference. */
    struct es_snapshot_source *snapshot;

    /* Read by the status thread. */
    atomic_int state;
    atomic_uint_fast64_t frames_in, frames_out, bytes_out, segments, reconnects, last_msn;
    atomic_int_fast64_t last_segment_wall_us;
    atomic_int_fast64_t progress_due_us; /* es_camera_progress_due_us() */
};

const char *es_camera_state_name(enum es_camera_state state)
{
    switch (state) {
    case ES_CAMERA_CONNECTING:
        return "connecting";
    case ES_CAMERA_LIVE:
        return "live";
    case ES_CAMERA_OFFLINE:
        return "offline";
    case ES_CAMERA_STOPPED:
        return "stopped";
    }
    return "unknown";
}

static int64_t ticks_to_us(int64_t ticks)
{
    return ticks * 1000000 / ES_TICKS_PER_SECOND;
}

static int64_t wall_of(const struct es_camera *c, int64_t ticks)
{
    return c->anchor_wall_us + ticks_to_us(ticks - c->anchor_ticks);
}

/* Keeps the mapping from media time to wall clock that PROGRAM-DATE-TIME uses.
 * The camera's own clock (RTCP sender reports) wins when present; arrival
 * time otherwise, re-anchored if it drifts (a camera clock running fast or
 * slow against ours). */
static void update_clock(struct es_camera *c, int64_t ticks, int64_t capture_us, bool from_camera)
{
    if (c->anchored && (c->anchored_to_camera || !from_camera)) {
        int64_t drift = capture_us - wall_of(c, ticks);
        if (c->anchored_to_camera || (drift < MAX_CLOCK_DRIFT_US && drift > -MAX_CLOCK_DRIFT_US))
            return;
    }
    if (from_camera && !c->anchored_to_camera)
        es_log(ES_LOG_INFO, "source", "camera=%s event=clock source=rtcp", c->config->id);
    c->anchored = true;
    c->anchored_to_camera = from_camera;
    c->anchor_ticks = ticks;
    c->anchor_wall_us = capture_us;
}

/* EXT-X-PROGRAM-DATE-TIME of a segment: its first frame's wall clock, taken
 * when the segment closes so that a camera clock learnt meanwhile (the first
 * RTCP sender report comes a second or two into a session) already counts.
 * Within a run of segments dates advance exactly by EXTINF, as players expect;
 * only a drift beyond MAX_CLOCK_DRIFT_US moves them back to the clock. */
static int64_t program_date_time(struct es_camera *c, const struct es_segment *segment)
{
    int64_t pdt = wall_of(c, segment->start_ts);
    if (!segment->discontinuity && c->next_pdt_us) {
        int64_t drift = pdt - c->next_pdt_us;
        if (drift < MAX_CLOCK_DRIFT_US && drift > -MAX_CLOCK_DRIFT_US)
            pdt = c->next_pdt_us;
    }
    c->next_pdt_us = pdt + ticks_to_us(segment->duration_ts);
    return pdt;
}

static void publish_segment(void *opaque, const struct es_segment *segment)
{
    struct es_camera *c = opaque;
    struct es_published_segment published = {
        .msn = c->next_msn++,
        .data = segment->data,
        .duration = (double)segment->duration_ts / ES_TICKS_PER_SECOND,
        .program_date_time_us = program_date_time(c, segment),
        .discontinuity = segment->discontinuity,
    };
    for (size_t i = 0; i < c->sink_count; i++)
        c->sinks[i]->publish(c->sinks[i], &published);
    atomic_fetch_add(&c->segments, 1);
    atomic_fetch_add(&c->bytes_out, es_blob_size(segment->data));
    atomic_store(&c->last_msn, published.msn);
    atomic_store(&c->last_segment_wall_us, es_clock_wall_us());
}

/* fMP4 parts and segment ends go to the sinks that take them (the origin). */
static void publish_cmaf(void *opaque, const struct es_cmaf_event *event)
{
    struct es_camera *c = opaque;
    for (size_t i = 0; i < c->sink_count; i++)
        if (c->sinks[i]->publish_cmaf)
            c->sinks[i]->publish_cmaf(c->sinks[i], event);
}

/* Continues the media sequence after whatever any sink already holds, and
 * marks the join: names are never reused (DESIGN invariant 2). Asked when the
 * first packet is ready, not when the camera is made, and without waiting: a
 * store that has not answered by then (the box booted while the internet is
 * down) must not hold the local sink or the origin (issue 13); its stream
 * numbers after what it holds once it answers (sink/uploader.h). */
static void number_from_sinks(struct es_camera *c)
{
    const struct es_camera_config *config = c->config;
    bool have_previous = false;
    uint64_t last = 0;
    for (size_t i = 0; i < c->sink_count; i++) {
        uint64_t msn;
        if (c->sinks[i]->last_msn(c->sinks[i], &msn) && (!have_previous || msn > last)) {
            last = msn;
            have_previous = true;
        }
    }
    c->next_msn = have_previous ? last + 1 : 0;
    if (have_previous) {
        es_segmenter_mark_discontinuity(c->segmenter);
        es_log(ES_LOG_INFO, "stream", "camera=%s event=resume next_msn=%" PRIu64, config->id,
               c->next_msn);
    }
    if (config->part_target > 0) {
        unsigned fps = config->transcode == ES_TRANSCODE_X264 ? config->target_fps : 0;
        struct es_cmaf_config cc = {
            .camera_id = config->id,
            .segment_target = config->segment_duration,
            .part_target = es_cmaf_part_target(config->part_target, fps),
            .fps = fps,
            .first_msn = c->next_msn,
        };
        if (es_cmaf_create(&cc, publish_cmaf, c, &c->cmaf) == ES_OK && have_previous)
            es_cmaf_mark_discontinuity(c->cmaf);
    }
    c->numbered = true;
}

/* Output of the transcoder, in this connection's timeline. */
static void on_transcoded(void *opaque, AVPacket *pkt)
{
    struct es_camera *c = opaque;
    if (!c->numbered)
        number_from_sinks(c);
    if (!c->streams_set) {
        const AVCodecParameters *video = es_transcoder_video_params(c->transcoder);
        if (!video)
            return;
        es_segmenter_set_streams(c->segmenter, video, es_transcoder_audio_params(c->transcoder));
        if (c->cmaf)
            es_cmaf_set_streams(c->cmaf, video, es_transcoder_audio_params(c->transcoder));
        c->streams_set = true;
    }
    if (pkt->dts > c->last_out_ticks)
        c->last_out_ticks = pkt->dts;
    if (pkt->stream_index == ES_MEDIA_VIDEO)
        atomic_fetch_add(&c->frames_out, 1);
    /* WebRTC tap: the encoded frame as is, before segmenting (DESIGN: it
     * must not wait for a part or a segment). Non-blocking by contract. */
    if (c->video_tap && pkt->stream_index == ES_MEDIA_VIDEO)
        c->video_tap(c->video_tap_opaque, pkt->data, (size_t)pkt->size, pkt->pts,
                     wall_of(c, pkt->pts));
    if (c->audio_tap && pkt->stream_index == ES_MEDIA_AUDIO && !c->g711_par)
        c->audio_tap(c->audio_tap_opaque, pkt, es_transcoder_audio_params(c->transcoder),
                     wall_of(c, pkt->pts));
    if (c->config->transcode == ES_TRANSCODE_COPY && pkt->stream_index == ES_MEDIA_VIDEO &&
        (pkt->flags & AV_PKT_FLAG_KEY))
        es_snapshot_source_put_keyframe(c->snapshot, pkt, es_transcoder_video_params(c->transcoder),
                                        wall_of(c, pkt->pts));
    es_segmenter_write(c->segmenter, pkt);
    if (c->cmaf)
        es_cmaf_write(c->cmaf, pkt, wall_of(c, pkt->dts));
}

/* Transcode mode: each decoded frame the encoder will take. */
static void on_decoded(void *opaque, const AVFrame *frame, int64_t ticks)
{
    struct es_camera *c = opaque;
    es_snapshot_source_put_frame(c->snapshot, frame, wall_of(c, ticks));
}

/* Moves a packet from its stream's time base into the camera's continuous
 * 90 kHz timeline. */
static void rebase(struct es_camera *c, AVPacket *pkt, AVRational tb)
{
    av_packet_rescale_ts(pkt, tb, (AVRational){1, ES_TICKS_PER_SECOND});
    if (c->conn_origin_ticks == AV_NOPTS_VALUE)
        c->conn_origin_ticks = pkt->dts;
    int64_t shift = c->run_base_ticks - c->conn_origin_ticks;
    pkt->dts += shift;
    pkt->pts += shift;
}

static bool stopping(const struct es_camera *c)
{
    return atomic_load(&c->stop);
}

/* A wait whose end is known gets this much more before the service watchdog
 * (app/service.c) calls the thread stalled. */
#define PROGRESS_SLACK_US 1000000

bool (*es_camera_test_stall)(const char *camera_id);

/* The thread shows progress now, and next within `wait_us` (a bounded wait
 * it is about to enter; 0 when it goes on working). */
static void show_progress(struct es_camera *c, int64_t wait_us)
{
    atomic_store(&c->progress_due_us,
                 es_clock_mono_us() + (wait_us ? wait_us + PROGRESS_SLACK_US : 0));
}

/* The test-only fault (camera.h): hang as a deadlocked thread would, showing
 * no progress, but still end when asked to stop. */
static void stall_for_test(struct es_camera *c)
{
    es_log(ES_LOG_WARN, "camera", "camera=%s event=test_stall", c->config->id);
    while (!stopping(c))
        es_clock_sleep_us(100000);
}

static void tick_sinks(struct es_camera *c)
{
    for (size_t i = 0; i < c->sink_count; i++)
        if (c->sinks[i]->tick)
            c->sinks[i]->tick(c->sinks[i]);
}

/* Streams one connection until it fails or we stop. */
static void run_connection(struct es_camera *c, struct es_source *source, bool quiet)
{
    const struct es_camera_config *cfg = c->config;
    struct es_transcode_config tc = {
        .camera_id = cfg->id,
        .mode = cfg->transcode,
        .target_width = cfg->target_width,
        .target_fps = cfg->target_fps,
        .segment_duration = cfg->segment_duration,
        .audio_bitrate = cfg->audio_bitrate,
        .on_frame = on_decoded,
        .on_frame_opaque = c,
    };
    const AVStream *video = es_source_video(source);
    const AVStream *audio = es_source_audio(source);
    if (es_transcoder_create(&tc, video, audio, on_transcoded, c, &c->transcoder) != ES_OK) {
        /* Unusable stream (e.g. passthrough of a non-H.264 camera): back off as
         * for any other failure; the camera may be reconfigured meanwhile. */
        return;
    }
    c->streams_set = false;
    c->g711_par = audio && (audio->codecpar->codec_id == AV_CODEC_ID_PCM_MULAW ||
                            audio->codecpar->codec_id == AV_CODEC_ID_PCM_ALAW)
                      ? audio->codecpar
                      : NULL;
    c->conn_origin_ticks = AV_NOPTS_VALUE;
    c->run_base_ticks =
        c->last_out_ticks ? c->last_out_ticks + ES_TICKS_PER_SECOND : TIMELINE_START_TICKS;
    c->anchored = false;
    c->anchored_to_camera = false;

    AVPacket *pkt = av_packet_alloc();
    int64_t last_tick = es_clock_mono_us();
    enum es_err err;
    for (;;) {
        int64_t capture_us;
        bool from_camera;
        show_progress(c, (int64_t)cfg->read_timeout_ms * 1000);
        err = es_source_read(source, pkt, &capture_us, &from_camera);
        show_progress(c, 0);
        if (err != ES_OK)
            break;
        if (es_camera_test_stall && es_camera_test_stall(cfg->id))
            stall_for_test(c);
        const AVStream *st = pkt->stream_index == ES_MEDIA_VIDEO ? video : audio;
        if (pkt->dts == AV_NOPTS_VALUE || !st) {
            av_packet_unref(pkt);
            continue;
        }
        rebase(c, pkt, st->time_base);
        if (c->g711_par && c->audio_tap && pkt->stream_index == ES_MEDIA_AUDIO)
            c->audio_tap(c->audio_tap_opaque, pkt, c->g711_par, wall_of(c, pkt->pts));
        if (atomic_load(&c->state) != ES_CAMERA_LIVE)
            atomic_store(&c->state, ES_CAMERA_LIVE);
        if (pkt->stream_index == ES_MEDIA_VIDEO) {
            atomic_fetch_add(&c->frames_in, 1);
            update_clock(c, pkt->dts, capture_us, from_camera);
        }
        if (atomic_exchange(&c->keyframe_wanted, false))
            es_transcoder_request_keyframe(c->transcoder); /* WebRTC PLI/FIR */
        es_transcoder_send(c->transcoder, pkt);
        av_packet_unref(pkt);

        int64_t now = es_clock_mono_us();
        if (now - last_tick > 1000000) {
            tick_sinks(c);
            last_tick = now;
        }
    }
    av_packet_free(&pkt);
    if (err != ES_ERR_STOPPED)
        es_log(quiet ? ES_LOG_DEBUG : ES_LOG_WARN, "source",
               "camera=%s event=disconnected reason=\"%s\" url=%s", cfg->id, es_strerror(err),
               c->safe_url);
    es_transcoder_flush(c->transcoder);
    es_segmenter_flush(c->segmenter);
    es_segmenter_mark_discontinuity(c->segmenter);
    if (c->cmaf) {
        es_cmaf_flush(c->cmaf);
        es_cmaf_mark_discontinuity(c->cmaf);
    }
    es_transcoder_destroy(c->transcoder);
    c->transcoder = NULL;
    c->g711_par = NULL; /* the source and its parameters go now */
}

/* Sleeps for the backoff delay in small steps, ticking sinks (delayed deletes)
 * and waking at once on stop. */
static void backoff_sleep(struct es_camera *c, unsigned delay_ms)
{
    int64_t until = es_clock_mono_us() + (int64_t)delay_ms * 1000;
    while (!stopping(c)) {
        show_progress(c, 0);
        int64_t left = until - es_clock_mono_us();
        if (left <= 0)
            break;
        es_clock_sleep_us(left < 100000 ? left : 100000);
    }
    tick_sinks(c);
}

static void *camera_main(void *arg)
{
    struct es_camera *c = arg;
    const struct es_camera_config *cfg = c->config;
    struct es_source_config sc = {
        .camera_id = cfg->id,
        .url = cfg->rtsp_url,
        .connect_timeout_ms = cfg->connect_timeout_ms,
        .read_timeout_ms = cfg->read_timeout_ms,
        .want_audio = cfg->audio != ES_AUDIO_OFF,
        .stop = &c->stop,
        .rtsp_allow_basic = cfg->rtsp_allow_basic,
    };
    struct es_source_backoff backoff;
    es_source_backoff_init(&backoff, cfg->reconnect_min_ms, cfg->reconnect_max_ms);
    bool first_attempt = true;
    /* The last connection delivered no frame (a server that plays and then
     * sends nothing usable): the next one's connected/disconnected lines
     * are DEBUG, so such a camera is named once (by the RTSP client's WARN,
     * de-duplicated), not every few seconds. */
    bool quiet = false;
    while (!stopping(c)) {
        atomic_store(&c->state, ES_CAMERA_CONNECTING);
        struct es_source *source = NULL;
        show_progress(c, (int64_t)(cfg->connect_timeout_ms + cfg->read_timeout_ms) * 1000);
        enum es_err err = es_source_open(&sc, &source);
        if (err == ES_OK) {
            es_log(quiet ? ES_LOG_DEBUG : ES_LOG_INFO, "source", "camera=%s event=connected url=%s",
                   cfg->id, c->safe_url);
            if (!first_attempt)
                atomic_fetch_add(&c->reconnects, 1);
            int64_t connected_at = es_clock_mono_us();
            uint64_t frames_before = atomic_load(&c->frames_in);
            run_connection(c, source, quiet);
            quiet = atomic_load(&c->frames_in) == frames_before;
            es_source_close(source);
            /* A connection that streamed for a while resets the backoff; one
             * that fails at once (bad stream) keeps backing off. */
            if (es_clock_mono_us() - connected_at > 5000000)
                es_source_backoff_reset(&backoff);
            err = ES_ERR_SOURCE; /* the connection ended */
        }
        first_attempt = false;
        if (stopping(c))
            break;
        atomic_store(&c->state, ES_CAMERA_OFFLINE);
        bool changed;
        unsigned delay_ms = es_source_backoff_failed(&backoff, err, &changed);
        /* Wrong credentials are retried every few minutes, not every second
         * (that floods the log and can lock the camera's account), and said
         * once, not at every attempt. */
        if (err == ES_ERR_AUTH && changed)
            es_log(ES_LOG_WARN, "source",
                   "camera=%s event=auth_refused url=%s retry_in_s=%u hint=\"check the user and "
                   "password in rtsp_url; a camera that offers only Basic authentication over "
                   "rtsp:// needs settings.rtsp_allow_basic: true\"",
                   cfg->id, c->safe_url, delay_ms / 1000);
        else if (err == ES_ERR_AUTH)
            es_log(ES_LOG_DEBUG, "source", "camera=%s event=auth_refused retry_in_s=%u", cfg->id,
                   delay_ms / 1000);
        backoff_sleep(c, delay_ms);
    }
    atomic_store(&c->state, ES_CAMERA_STOPPED);
    return NULL;
}

enum es_err es_camera_create(const struct es_camera_config *config, struct es_sink **sinks_take,
                             size_t sink_count, struct es_camera **out)
{
    struct es_camera *c = es_calloc(1, sizeof(*c));
    c->config = config;
    es_url_redact(config->rtsp_url, c->safe_url, sizeof(c->safe_url));
    c->sinks = es_calloc(sink_count, sizeof(*c->sinks));
    memcpy(c->sinks, sinks_take, sink_count * sizeof(*c->sinks));
    c->sink_count = sink_count;
    atomic_init(&c->stop, false);
    atomic_init(&c->state, ES_CAMERA_CONNECTING);
    c->snapshot = es_snapshot_source_create(config->id);

    struct es_segmenter_config sc = {
        .camera_id = config->id,
        .target_duration = config->segment_duration,
    };
    es_segmenter_create(&sc, publish_segment, c, &c->segmenter);

    *out = c;
    return ES_OK;
}

enum es_err es_camera_start(struct es_camera *c)
{
    show_progress(c, 0);
    if (pthread_create(&c->thread, NULL, camera_main, c) != 0)
        return ES_ERR_IO;
    c->thread_started = true;
    return ES_OK;
}

void es_camera_request_stop(struct es_camera *c)
{
    atomic_store(&c->stop, true);
}

void es_camera_destroy(struct es_camera *c)
{
    if (!c)
        return;
    es_camera_request_stop(c);
    if (c->thread_started)
        pthread_join(c->thread, NULL);
    es_segmenter_destroy(c->segmenter);
    es_cmaf_destroy(c->cmaf);
    for (size_t i = 0; i < c->sink_count; i++)
        c->sinks[i]->destroy(c->sinks[i]);
    /* After the origin's sink: until then the origin may still reach it
     * (es_origin_camera_stats.snapshot); its queued jobs hold references. */
    es_snapshot_source_unref(c->snapshot);
    free(c->sinks);
    free(c);
}

void es_camera_set_video_tap(struct es_camera *c, es_camera_video_tap_fn fn, void *opaque)
{
    c->video_tap = fn;
    c->video_tap_opaque = opaque;
}

void es_camera_set_audio_tap(struct es_camera *c, es_camera_audio_tap_fn fn, void *opaque)
{
    c->audio_tap = fn;
    c->audio_tap_opaque = opaque;
}

void es_camera_request_keyframe(struct es_camera *c)
{
    atomic_store(&c->keyframe_wanted, true);
}

const struct es_camera_config *es_camera_config(const struct es_camera *c)
{
    return c->config;
}

void es_camera_stats(const struct es_camera *c, struct es_camera_stats *out)
{
    out->state = (enum es_camera_state)atomic_load(&c->state);
    out->frames_in = atomic_load(&c->frames_in);
    out->frames_out = atomic_load(&c->frames_out);
    out->bytes_out = atomic_load(&c->bytes_out);
    out->segments = atomic_load(&c->segments);
    out->reconnects = atomic_load(&c->reconnects);
    out->last_msn = atomic_load(&c->last_msn);
    out->last_segment_wall_us = atomic_load(&c->last_segment_wall_us);
}

struct es_snapshot_source *es_camera_snapshot(const struct es_camera *c)
{
    return c->snapshot;
}

int64_t es_camera_progress_due_us(const struct es_camera *c)
{
    return atomic_load(&c->progress_due_us);
}
