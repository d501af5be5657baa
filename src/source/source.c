#include "source/source.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/ffmpeg_compat.h"
#include "core/log.h"
#include "core/url.h"
#include "source/rtsp_client.h"

#include <dlfcn.h>
#include <libavdevice/version.h>
#include <libavutil/opt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct es_source {
    enum es_source_kind kind;
    const char *camera_id;
    /* RTSP cameras go through our own client (few syscalls, the camera's RTCP
     * clock); whatever it does not handle, and every other kind, through
     * libavformat. Exactly one of the two is set. */
    struct es_rtsp_client *rtsp;
    AVFormatContext *input;
    int video_index, audio_index; /* input stream indices; audio -1 when none */

    /* Interrupt callback state: FFmpeg polls this during every blocking call. */
    const atomic_bool *stop;
    int64_t deadline_us; /* monotonic */
    unsigned read_timeout_ms;

    /* Pacing and looping for file and test-pattern sources, which libavformat
     * would otherwise deliver as fast as it can decode. */
    bool paced;
    int64_t pace_origin_mono_us;
    int64_t pace_origin_media_us;
    int64_t loop_offset_us; /* added to every timestamp after a loop */
    int64_t last_end_us;    /* end of the latest packet, media time */

    /* Timestamp repair, per es_media, in the stream's time base. */
    int64_t last_dts[2], last_interval[2], ts_offset[2];
    bool rebased[2];
    AVPacket *held;    /* a stream's first packet, which came without a timestamp */
    AVPacket *pending; /* read while stamping the held one; returned next */
};

static void init_network_once(void)
{
    avformat_network_init();
}

/* libavdevice (V4L2, and lavfi for the test pattern) drags in libavfilter and
 * some eighty further libraries (SDL, PulseAudio, JACK, flite, ...). Linked,
 * they cost every process ~10 MiB of resident memory and start-up time, though
 * RTSP cameras never use them, so they are loaded only when a device or test
 * source is opened. */
static bool devices_loaded;

static void load_devices_once(void)
{
    void *lib =
        dlopen("libavdevice.so." AV_STRINGIFY(LIBAVDEVICE_VERSION_MAJOR), RTLD_NOW | RTLD_GLOBAL);
    void (*register_all)(void) = lib ? (void (*)(void))dlsym(lib, "avdevice_register_all") : NULL;
    if (!register_all) {
        es_log(ES_LOG_ERROR, "source", "event=avdevice_unavailable error=\"%s\"", dlerror());
        return;
    }
    register_all();
    devices_loaded = true;
}

static int interrupt_cb(void *opaque)
{
    struct es_source *s = opaque;
    if (s->stop && atomic_load(s->stop))
        return 1;
    return es_clock_mono_us() > s->deadline_us;
}

int es_source_kind_of(const char *url)
{
    if (strncmp(url, "rtsp://", 7) == 0 || strncmp(url, "rtsps://", 8) == 0)
        return ES_SOURCE_RTSP;
    if (strncmp(url, "v4l2://", 7) == 0)
        return ES_SOURCE_V4L2;
    if (strncmp(url, "file:", 5) == 0)
        return ES_SOURCE_FILE;
    if (strncmp(url, "test:", 5) == 0)
        return ES_SOURCE_TEST_PATTERN;
    return -1;
}

/* Reads an integer query parameter of a test:// URL, e.g. test://?width=640. */
static int query_int(const char *url, const char *name, int fallback)
{
    const char *q = strchr(url, '?');
    size_t n = strlen(name);
    while (q) {
        q++;
        if (strncmp(q, name, n) == 0 && q[n] == '=')
            return atoi(q + n + 1);
        q = strchr(q, '&');
    }
    return fallback;
}

/* Builds what avformat_open_input needs for each kind: the input format, the
 * "file name" it expects and its options. */
static const AVInputFormat *prepare_input(const struct es_source_config *c, int kind, char *name,
                                          size_t name_size, AVDictionary **opts)
{
    char timeout_us[32];
    switch (kind) {
    case ES_SOURCE_RTSP:
        snprintf(name, name_size, "%s", c->url);
        snprintf(timeout_us, sizeof(timeout_us), "%u", c->read_timeout_ms * 1000u);
        av_dict_set(opts, "rtsp_transport", "tcp", 0);
        av_dict_set(opts, "timeout", timeout_us, 0);
        /* Over TCP nothing is reordered; the default 100 ms reorder delay would
         * only add latency. */
        av_dict_set(opts, "reorder_queue_size", "0", 0);
        if (!c->want_audio)
            av_dict_set(opts, "allowed_media_types", "video", 0);
        return NULL;
    case ES_SOURCE_V4L2:
        snprintf(name, name_size, "%s", c->url + strlen("v4l2://"));
        return av_find_input_format("video4linux2");
    case ES_SOURCE_FILE: {
        const char *path = c->url + strlen("file:");
        if (strncmp(path, "//", 2) == 0)
            path += 2;
        snprintf(name, name_size, "%s", path);
        return NULL;
    }
    case ES_SOURCE_TEST_PATTERN: {
        int width = query_int(c->url, "width", 1280);
        int height = query_int(c->url, "height", 720);
        int fps = query_int(c->url, "fps", 25);
        int audio = query_int(c->url, "audio", 1) && c->want_audio;
        snprintf(name, name_size, "testsrc2=size=%dx%d:rate=%d[out0]%s", width, height, fps,
                 audio ? ";sine=frequency=440:sample_rate=48000[out1]" : "");
        return av_find_input_format("lavfi");
    }
    }
    return NULL;
}

/* Batching reads: the camera writes each audio and video frame apart, and
 * each wake-up costs a context switch; waiting up to one frame (40 ms at
 * 25 fps) halves the reader's CPU for at most that much latency. */
#define RTSP_READ_BATCH_MS 40

static enum es_err open_rtsp_client(const struct es_source_config *config, struct es_source *s)
{
    struct es_rtsp_client_config rc = {
        .camera_id = config->camera_id,
        .url = config->url,
        .connect_timeout_ms = config->connect_timeout_ms,
        .read_timeout_ms = config->read_timeout_ms,
        .want_audio = config->want_audio,
        .stop = config->stop,
        .batch_ms = RTSP_READ_BATCH_MS,
        .allow_basic = config->rtsp_allow_basic,
    };
    return es_rtsp_client_open(&rc, &s->rtsp);
}

enum es_err es_source_open(const struct es_source_config *config, struct es_source **out)
{
    static pthread_once_t network_once = PTHREAD_ONCE_INIT;
    static pthread_once_t devices_once = PTHREAD_ONCE_INIT;
    pthread_once(&network_once, init_network_once);

    *out = NULL;
    int kind = es_source_kind_of(config->url);
    if (kind == ES_SOURCE_V4L2 || kind == ES_SOURCE_TEST_PATTERN) {
        pthread_once(&devices_once, load_devices_once);
        if (!devices_loaded)
            return ES_ERR_UNSUPPORTED;
    }
    char safe_url[512];
    es_url_redact(config->url, safe_url, sizeof(safe_url));
    if (kind < 0) {
        es_log(ES_LOG_ERROR, "source", "camera=%s event=unsupported_url url=%s", config->camera_id,
               safe_url);
        return ES_ERR_UNSUPPORTED;
    }

    struct es_source *s = es_calloc(1, sizeof(*s));
    s->kind = (enum es_source_kind)kind;
    s->camera_id = config->camera_id;
    s->stop = config->stop;
    s->read_timeout_ms = config->read_timeout_ms;
    s->audio_index = -1;
    s->paced = kind == ES_SOURCE_FILE || kind == ES_SOURCE_TEST_PATTERN;
    s->last_dts[ES_MEDIA_VIDEO] = s->last_dts[ES_MEDIA_AUDIO] = AV_NOPTS_VALUE;
    s->held = av_packet_alloc();
    s->pending = av_packet_alloc();

    if (kind == ES_SOURCE_RTSP) {
        enum es_err err = open_rtsp_client(config, s);
        if (err != ES_ERR_UNSUPPORTED) {
            if (err != ES_OK) {
                es_source_close(s);
                return err;
            }
            *out = s;
            return ES_OK;
        }
        es_log(ES_LOG_INFO, "source", "camera=%s event=fallback reader=libavformat url=%s",
               config->camera_id, safe_url);
    }

    s->input = avformat_alloc_context();
    s->input->interrupt_callback.callback = interrupt_cb;
    s->input->interrupt_callback.opaque = s;
    s->deadline_us = es_clock_mono_us() + (int64_t)config->connect_timeout_ms * 1000;

    char name[1024];
    AVDictionary *opts = NULL;
    const AVInputFormat *format = prepare_input(config, kind, name, sizeof(name), &opts);
    int ret = avformat_open_input(&s->input, name, format, &opts);
    av_dict_free(&opts);
    char errbuf[AV_ERROR_MAX_STRING_SIZE];
    if (ret < 0) {
        es_log(ES_LOG_WARN, "source", "camera=%s event=open_failed url=%s error=\"%s\"",
               config->camera_id, safe_url, es_av_err(ret, errbuf, sizeof(errbuf)));
        s->input = NULL; /* freed by avformat_open_input on failure */
        es_source_close(s);
        if (config->stop && atomic_load(config->stop))
            return ES_ERR_STOPPED;
        return ret == AVERROR_HTTP_UNAUTHORIZED ? ES_ERR_AUTH : ES_ERR_SOURCE;
    }

    /* RTSP gives complete codec parameters in its SDP; probing would read
     * seconds of video before the first packet reaches us, which is exactly the
     * delay a reconnect must not have. Files and devices need the probe. */
    if (kind != ES_SOURCE_RTSP) {
        ret = avformat_find_stream_info(s->input, NULL);
        if (ret < 0) {
            es_log(ES_LOG_WARN, "source", "camera=%s event=probe_failed url=%s error=\"%s\"",
                   config->camera_id, safe_url, es_av_err(ret, errbuf, sizeof(errbuf)));
            es_source_close(s);
            return ES_ERR_SOURCE;
        }
    }

    s->video_index = -1;
    for (unsigned i = 0; i < s->input->nb_streams; i++) {
        enum AVMediaType type = s->input->streams[i]->codecpar->codec_type;
        if (type == AVMEDIA_TYPE_VIDEO && s->video_index < 0)
            s->video_index = (int)i;
        else if (type == AVMEDIA_TYPE_AUDIO && s->audio_index < 0 && config->want_audio)
            s->audio_index = (int)i;
    }
    for (unsigned i = 0; i < s->input->nb_streams; i++)
        if ((int)i != s->video_index && (int)i != s->audio_index)
            s->input->streams[i]->discard = AVDISCARD_ALL;
    if (s->video_index < 0) {
        es_log(ES_LOG_WARN, "source", "camera=%s event=no_video url=%s", config->camera_id,
               safe_url);
        es_source_close(s);
        return ES_ERR_SOURCE;
    }
    s->pace_origin_mono_us = AV_NOPTS_VALUE;
    *out = s;
    return ES_OK;
}

void es_source_close(struct es_source *source)
{
    if (!source)
        return;
    es_rtsp_client_close(source->rtsp);
    if (source->input)
        avformat_close_input(&source->input);
    av_packet_free(&source->held);
    av_packet_free(&source->pending);
    free(source);
}

const AVStream *es_source_video(const struct es_source *source)
{
    if (source->rtsp)
        return es_rtsp_client_video(source->rtsp);
    return source->input->streams[source->video_index];
}

const AVStream *es_source_audio(const struct es_source *source)
{
    if (source->rtsp)
        return es_rtsp_client_audio(source->rtsp);
    return source->audio_index >= 0 ? source->input->streams[source->audio_index] : NULL;
}

enum es_source_kind es_source_kind(const struct es_source *source)
{
    return source->kind;
}

/* Files end; a looping file continues with timestamps shifted past the end of
 * the previous pass, so downstream sees one continuous stream. */
static int rewind_file(struct es_source *s)
{
    int ret = av_seek_frame(s->input, -1, 0, AVSEEK_FLAG_BACKWARD);
    if (ret >= 0)
        s->loop_offset_us = s->last_end_us;
    return ret;
}

static void shift_packet(AVPacket *pkt, AVRational tb, int64_t offset_us)
{
    int64_t shift = av_rescale_q(offset_us, AV_TIME_BASE_Q, tb);
    if (pkt->pts != AV_NOPTS_VALUE)
        pkt->pts += shift;
    if (pkt->dts != AV_NOPTS_VALUE)
        pkt->dts += shift;
}

/* One frame (or audio packet) of the stream, in its time base: what a packet
 * without a timestamp is assumed to precede the next one by. */
static int64_t frame_interval(const AVStream *st, const AVPacket *pkt)
{
    if (pkt->duration > 0)
        return pkt->duration;
    AVRational rate = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && rate.num > 0 && rate.den > 0)
        return av_rescale_q(1, av_inv_q(rate), st->time_base);
    if (st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO && st->codecpar->sample_rate > 0) {
        int samples = st->codecpar->frame_size > 0 ? st->codecpar->frame_size : 1024;
        return av_rescale_q(samples, (AVRational){1, st->codecpar->sample_rate}, st->time_base);
    }
    return av_rescale_q(40000, AV_TIME_BASE_Q, st->time_base);
}

/* libavformat's RTSP reader re-bases a stream's timestamps onto the camera's
 * NTP clock when the stream's first RTCP sender report arrives (from then on
 * its packets carry producer reference time): a step of tens of milliseconds,
 * forward or back, in the middle of a segment. The step is absorbed into a
 * per-stream offset so media time stays smooth; it happens once per session,
 * so real gaps (lost frames) are never hidden. */
static bool first_rtcp_rebase(struct es_source *s, const AVPacket *pkt)
{
    int i = pkt->stream_index;
    if (s->rebased[i] || !av_packet_get_side_data(pkt, AV_PKT_DATA_PRFT, NULL))
        return false;
    s->rebased[i] = true;
    return s->last_dts[i] != AV_NOPTS_VALUE;
}

/* Keeps each stream's timestamps smooth and strictly increasing, as muxers
 * need them. */
static void smooth_timestamps(struct es_source *s, const AVStream *st, AVPacket *pkt)
{
    int i = pkt->stream_index;
    if (first_rtcp_rebase(s, pkt)) {
        int64_t step = pkt->dts + s->ts_offset[i] - (s->last_dts[i] + s->last_interval[i]);
        if (llabs(step) < av_rescale_q(1, (AVRational){1, 1}, st->time_base))
            s->ts_offset[i] -= step;
    }
    pkt->dts += s->ts_offset[i];
    pkt->pts += s->ts_offset[i];
    if (s->last_dts[i] != AV_NOPTS_VALUE) {
        if (pkt->dts <= s->last_dts[i]) {
            pkt->dts = s->last_dts[i] + 1;
            if (pkt->pts < pkt->dts)
                pkt->pts = pkt->dts;
        } else {
            s->last_interval[i] = pkt->dts - s->last_dts[i];
        }
    } else {
        s->last_interval[i] = frame_interval(st, pkt);
    }
    s->last_dts[i] = pkt->dts;
}

/* Sleeps until the packet's media time is due on the monotonic clock. */
static void pace(struct es_source *s, int64_t media_us)
{
    int64_t now = es_clock_mono_us();
    if (s->pace_origin_mono_us == AV_NOPTS_VALUE) {
        s->pace_origin_mono_us = now;
        s->pace_origin_media_us = media_us;
        return;
    }
    int64_t due = s->pace_origin_mono_us + (media_us - s->pace_origin_media_us);
    while (due > now && !(s->stop && atomic_load(s->stop))) {
        es_clock_sleep_us(due - now > 50000 ? 50000 : due - now);
        now = es_clock_mono_us();
    }
}

/* Reads the next packet of a selected stream, remapped to an es_media, with
 * dts and pts filled from each other (RTP carries only presentation times).
 * Looping files rewind here. */
static enum es_err read_packet(struct es_source *s, AVPacket *pkt)
{
    char errbuf[AV_ERROR_MAX_STRING_SIZE];
    for (;;) {
        s->deadline_us = es_clock_mono_us() + (int64_t)s->read_timeout_ms * 1000;
        int ret = av_read_frame(s->input, pkt);
        if (ret == AVERROR_EOF && s->kind == ES_SOURCE_FILE && s->last_end_us > s->loop_offset_us) {
            if (rewind_file(s) >= 0)
                continue;
        }
        if (ret < 0) {
            if (s->stop && atomic_load(s->stop))
                return ES_ERR_STOPPED;
            es_log(ES_LOG_WARN, "source", "camera=%s event=read_failed error=\"%s\"", s->camera_id,
                   es_av_err(ret, errbuf, sizeof(errbuf)));
            return ret == AVERROR_EXIT ? ES_ERR_TIMEOUT : ES_ERR_SOURCE;
        }
        if (pkt->stream_index != s->video_index && pkt->stream_index != s->audio_index) {
            av_packet_unref(pkt);
            continue;
        }
        pkt->stream_index = pkt->stream_index == s->video_index ? ES_MEDIA_VIDEO : ES_MEDIA_AUDIO;
        if (pkt->dts == AV_NOPTS_VALUE)
            pkt->dts = pkt->pts;
        if (pkt->pts == AV_NOPTS_VALUE)
            pkt->pts = pkt->dts;
        return ES_OK;
    }
}

static const AVStream *stream_of(const struct es_source *s, const AVPacket *pkt)
{
    return pkt->stream_index == ES_MEDIA_VIDEO ? es_source_video(s) : es_source_audio(s);
}

/* Reads the next packet with a timestamp. libavformat's RTSP reader hands out
 * the first access unit of a session (the keyframe the server starts with)
 * without one; dropping it would cost a whole GOP of waiting for the next
 * keyframe, so it is held until the stream's next packet and stamped one frame
 * before it. */
static enum es_err read_stamped(struct es_source *s, AVPacket *pkt)
{
    if (s->pending->data) {
        av_packet_move_ref(pkt, s->pending);
        return ES_OK;
    }
    for (;;) {
        enum es_err err = read_packet(s, pkt);
        if (err != ES_OK) {
            av_packet_unref(s->held);
            return err;
        }
        int i = pkt->stream_index;
        if (pkt->dts == AV_NOPTS_VALUE) {
            if (s->last_dts[i] != AV_NOPTS_VALUE) {
                pkt->dts = pkt->pts = s->last_dts[i] + s->last_interval[i];
                return ES_OK;
            }
            if (!s->held->data) {
                av_packet_move_ref(s->held, pkt);
                continue;
            }
            av_packet_unref(pkt); /* a second untimed packet before any timed one */
            continue;
        }
        if (s->held->data && s->held->stream_index == i) {
            s->held->dts = s->held->pts = pkt->dts - frame_interval(stream_of(s, pkt), s->held);
            av_packet_move_ref(s->pending, pkt);
            av_packet_move_ref(pkt, s->held);
        }
        return ES_OK;
    }
}

enum es_err es_source_read(struct es_source *source, AVPacket *pkt, int64_t *capture_us,
                           bool *capture_from_camera_clock)
{
    struct es_source *s = source;
    /* A looping file never fails a read: the stop flag must end it here. */
    if (s->stop && atomic_load(s->stop))
        return ES_ERR_STOPPED;
    if (s->rtsp) {
        /* Our client stamps every unit and knows the camera's clock itself. */
        enum es_err err = es_rtsp_client_read(s->rtsp, pkt, capture_us, capture_from_camera_clock);
        if (err == ES_OK)
            smooth_timestamps(s, stream_of(s, pkt), pkt);
        else if (err != ES_ERR_STOPPED) /* the client has named the cause at WARN, once */
            es_log(ES_LOG_DEBUG, "source", "camera=%s event=read_failed error=\"%s\"", s->camera_id,
                   es_strerror(err));
        return err;
    }
    enum es_err err = read_stamped(s, pkt);
    if (err != ES_OK)
        return err;
    const AVStream *st = stream_of(s, pkt);
    if (s->paced)
        shift_packet(pkt, st->time_base, s->loop_offset_us);
    smooth_timestamps(s, st, pkt);

    *capture_us = es_clock_wall_us();
    *capture_from_camera_clock = false;

    if (s->paced) {
        int64_t media_us = av_rescale_q(pkt->dts, st->time_base, AV_TIME_BASE_Q);
        int64_t duration_us = av_rescale_q(pkt->duration, st->time_base, AV_TIME_BASE_Q);
        if (media_us + duration_us > s->last_end_us)
            s->last_end_us = media_us + duration_us;
        pace(s, media_us);
        *capture_us = es_clock_wall_us();
    }

    /* RTCP sender reports: libavformat attaches the sender's wall clock for the
     * packet as producer reference time once the first report has arrived. */
    size_t prft_size = 0;
    const AVProducerReferenceTime *prft =
        (const AVProducerReferenceTime *)av_packet_get_side_data(pkt, AV_PKT_DATA_PRFT, &prft_size);
    if (prft && prft_size >= sizeof(*prft) && prft->wallclock > 0) {
        *capture_us = prft->wallclock;
        *capture_from_camera_clock = true;
    }
    return ES_OK;
}

/* ---- Reconnect backoff ---- */

void es_source_backoff_init(struct es_source_backoff *b, unsigned min_ms, unsigned max_ms)
{
    b->min_ms = min_ms;
    b->max_ms = max_ms < min_ms ? min_ms : max_ms;
    es_source_backoff_reset(b);
}

void es_source_backoff_reset(struct es_source_backoff *b)
{
    b->delay_ms = b->min_ms;
    b->auth_delay_ms = ES_SOURCE_AUTH_BACKOFF_MIN_MS;
    b->last = ES_OK;
}

static unsigned doubled(unsigned ms, unsigned cap)
{
    return ms > cap / 2 ? cap : ms * 2;
}

unsigned es_source_backoff_failed(struct es_source_backoff *b, enum es_err err, bool *changed)
{
    bool auth = err == ES_ERR_AUTH;
    *changed = err != b->last;
    /* A change of state starts that state's pace from its beginning. */
    if (*changed && auth)
        b->auth_delay_ms = ES_SOURCE_AUTH_BACKOFF_MIN_MS;
    else if (*changed && b->last == ES_ERR_AUTH)
        b->delay_ms = b->min_ms;
    b->last = err;
    unsigned delay;
    if (auth) {
        delay = b->auth_delay_ms;
        b->auth_delay_ms = doubled(delay, ES_SOURCE_AUTH_BACKOFF_MAX_MS);
    } else {
        delay = b->delay_ms;
        b->delay_ms = doubled(delay, b->max_ms);
    }
    return delay;
}
