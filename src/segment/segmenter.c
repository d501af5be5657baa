#include "segment/segmenter.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/ffmpeg_compat.h"
#include "core/log.h"
#include "source/source.h"

#include <libavformat/avformat.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

/* A keyframe this close before the target still counts as "at" the target:
 * frame timestamps are rounded to 90 kHz ticks. */
#define CUT_TOLERANCE_TICKS (ES_TICKS_PER_SECOND / 100)

struct es_segmenter {
    const char *camera_id;
    int64_t target_ticks;
    int64_t max_ticks; /* no keyframe within this: the segment is dropped */
    es_segment_emit_fn emit;
    void *opaque;

    AVCodecParameters *video_params, *audio_params;

    AVFormatContext *muxer;    /* the open segment, NULL between segments */
    AVPacket *scratch;
    int64_t start_ts;
    int64_t last_video_ts;
    int64_t video_frame_ticks; /* latest frame interval, for the last segment's end */
    bool discontinuity_pending; /* for the next segment to open */
    bool discontinuity;         /* of the open segment */
    bool long_gop_warned;
    uint64_t capped;            /* segments dropped at the cap, this episode */
    struct {
        uint16_t pid;
        uint8_t last_cc;
    } cc[16]; /* continuity counters carried across segments */
    size_t cc_count;
};

enum es_err es_segmenter_create(const struct es_segmenter_config *config, es_segment_emit_fn emit,
                                void *opaque, struct es_segmenter **out)
{
    struct es_segmenter *s = es_calloc(1, sizeof(*s));
    s->camera_id = config->camera_id;
    s->target_ticks = llround(config->target_duration * ES_TICKS_PER_SECOND);
    s->max_ticks = s->target_ticks * ES_SEGMENT_MAX_TARGETS;
    if (s->max_ticks < (int64_t)ES_SEGMENT_MAX_MIN_SECONDS * ES_TICKS_PER_SECOND)
        s->max_ticks = (int64_t)ES_SEGMENT_MAX_MIN_SECONDS * ES_TICKS_PER_SECOND;
    s->emit = emit;
    s->opaque = opaque;
    s->scratch = av_packet_alloc();
    *out = s;
    return ES_OK;
}

static void discard_muxer(struct es_segmenter *s)
{
    if (!s->muxer)
        return;
    if (s->muxer->pb) {
        uint8_t *buf = NULL;
        avio_close_dyn_buf(s->muxer->pb, &buf);
        av_free(buf);
    }
    avformat_free_context(s->muxer);
    s->muxer = NULL;
}

void es_segmenter_destroy(struct es_segmenter *s)
{
    if (!s)
        return;
    discard_muxer(s);
    avcodec_parameters_free(&s->video_params);
    avcodec_parameters_free(&s->audio_params);
    av_packet_free(&s->scratch);
    free(s);
}

void es_segmenter_set_streams(struct es_segmenter *s, const AVCodecParameters *video,
                              const AVCodecParameters *audio)
{
    es_segmenter_flush(s);
    avcodec_parameters_free(&s->video_params);
    avcodec_parameters_free(&s->audio_params);
    s->video_params = avcodec_parameters_alloc();
    avcodec_parameters_copy(s->video_params, video);
    if (audio) {
        s->audio_params = avcodec_parameters_alloc();
        avcodec_parameters_copy(s->audio_params, audio);
    }
}

static void add_stream(AVFormatContext *muxer, const AVCodecParameters *params)
{
    AVStream *st = avformat_new_stream(muxer, NULL);
    avcodec_parameters_copy(st->codecpar, params);
    st->codecpar->codec_tag = 0;
    st->time_base = (AVRational){1, ES_TICKS_PER_SECOND};
}

static enum es_err open_segment(struct es_segmenter *s, int64_t start_ts)
{
    AVFormatContext *muxer = NULL;
    int ret = avformat_alloc_output_context2(&muxer, NULL, "mpegts", NULL);
    if (ret < 0)
        return ES_ERR_CODEC;
    add_stream(muxer, s->video_params);
    if (s->audio_params)
        add_stream(muxer, s->audio_params);
    if (avio_open_dyn_buf(&muxer->pb) < 0)
        abort();
    ret = avformat_write_header(muxer, NULL);
    if (ret < 0) {
        char errbuf[AV_ERROR_MAX_STRING_SIZE];
        es_log(ES_LOG_ERROR, "segment", "camera=%s event=muxer_failed error=\"%s\"", s->camera_id,
               es_av_err(ret, errbuf, sizeof(errbuf)));
        s->muxer = muxer;
        discard_muxer(s);
        return ES_ERR_CODEC;
    }
    s->muxer = muxer;
    s->start_ts = start_ts;
    if (s->capped) {
        es_log(ES_LOG_INFO, "segment", "camera=%s event=keyframes_back dropped_segments=%" PRIu64,
               s->camera_id, s->capped);
        s->capped = 0;
    }
    s->discontinuity = s->discontinuity_pending;
    s->discontinuity_pending = false;
    return ES_OK;
}

/* Each segment has its own muxer, whose continuity counters start at 0. A
 * reader that reads segments as one stream (ffmpeg's HLS demuxer, hardware
 * players) then sees a jump at every boundary and drops the packet it was
 * assembling as corrupt. Shifts each PID's counters to continue from the
 * previous segment (ISO/IEC 13818-1 2.4.3.3: +1 per packet with payload, the
 * same value for adaptation-only packets), which keeps every segment valid on
 * its own too. */
static void continue_counters(struct es_segmenter *s, uint8_t *buf, size_t size)
{
    uint8_t delta[16] = {0};
    bool seen[16] = {false};
    for (size_t off = 0; off + 188 <= size; off += 188) {
        uint8_t *p = buf + off;
        if (p[0] != 0x47)
            return;
        uint16_t pid = (uint16_t)(((p[1] & 0x1f) << 8) | p[2]);
        if (pid == 0x1fff)
            continue;
        bool payload = p[3] & 0x10;
        size_t i = 0;
        while (i < s->cc_count && s->cc[i].pid != pid)
            i++;
        if (i == s->cc_count) {
            if (s->cc_count == sizeof(s->cc) / sizeof(s->cc[0]))
                continue;
            s->cc[s->cc_count].pid = pid;
            s->cc[s->cc_count].last_cc = 0x0f; /* a first segment keeps its counters */
            s->cc_count++;
        }
        if (!seen[i]) {
            uint8_t want = payload ? (uint8_t)((s->cc[i].last_cc + 1) & 0x0f) : s->cc[i].last_cc;
            delta[i] = (uint8_t)((want - (p[3] & 0x0f)) & 0x0f);
            seen[i] = true;
        }
        p[3] = (uint8_t)((p[3] & 0xf0) | ((p[3] + delta[i]) & 0x0f));
        s->cc[i].last_cc = p[3] & 0x0f;
    }
}

static void close_segment(struct es_segmenter *s, int64_t end_ts)
{
    if (!s->muxer)
        return;
    av_write_trailer(s->muxer);
    uint8_t *buf = NULL;
    int size = avio_close_dyn_buf(s->muxer->pb, &buf);
    s->muxer->pb = NULL;
    bool has_audio = s->muxer->nb_streams > 1;
    avformat_free_context(s->muxer);
    s->muxer = NULL;
    if (size > 0)
        continue_counters(s, buf, (size_t)size);

    struct es_segment segment = {
        .data = es_blob_take(buf, (size_t)size, av_free),
        .start_ts = s->start_ts,
        .duration_ts = end_ts - s->start_ts,
        .discontinuity = s->discontinuity,
        .has_audio = has_audio,
    };
    s->emit(s->opaque, &segment);
    es_blob_unref(segment.data);
}

/* No keyframe to cut at for too long (or too many bytes): the open segment
 * cannot be cut (the next must start with a keyframe) and cannot grow without
 * bound, so it is dropped, as nginx-rtmp forces a split past its maximum. */
static bool over_cap(struct es_segmenter *s, const AVPacket *pkt)
{
    int64_t bytes = s->muxer->pb ? avio_tell(s->muxer->pb) : 0;
    bool too_long = pkt->dts - s->start_ts > s->max_ticks;
    if (!too_long && bytes + pkt->size <= (int64_t)ES_SEGMENT_MAX_BYTES)
        return false;
    if (!s->capped)
        es_log(ES_LOG_WARN, "segment",
               "camera=%s event=segment_dropped reason=%s seconds=%.1f bytes=%" PRId64
               " max_seconds=%.0f max_bytes=%u hint=\"no keyframe from the camera; check its "
               "GOP/I-frame interval (passthrough), or transcode it\"",
               s->camera_id, too_long ? "no_keyframe_in_time" : "no_keyframe_in_size",
               (double)(pkt->dts - s->start_ts) / ES_TICKS_PER_SECOND, bytes,
               (double)s->max_ticks / ES_TICKS_PER_SECOND, ES_SEGMENT_MAX_BYTES);
    s->capped++;
    discard_muxer(s);
    s->discontinuity_pending = true;
    return true;
}

enum es_err es_segmenter_write(struct es_segmenter *s, const AVPacket *pkt)
{
    if (!s->video_params)
        return ES_ERR_INVALID;
    bool video = pkt->stream_index == ES_MEDIA_VIDEO;
    bool keyframe = video && (pkt->flags & AV_PKT_FLAG_KEY);

    if (keyframe && s->muxer && pkt->dts - s->start_ts >= s->target_ticks - CUT_TOLERANCE_TICKS)
        close_segment(s, pkt->dts);
    if (s->muxer && over_cap(s, pkt) && !keyframe)
        return ES_OK; /* a keyframe opens the next segment below */
    if (!s->muxer) {
        if (!keyframe)
            return ES_OK; /* a segment must start with a keyframe */
        enum es_err err = open_segment(s, pkt->dts);
        if (err != ES_OK)
            return err;
    }
    if (video) {
        if (pkt->dts > s->last_video_ts && s->last_video_ts >= s->start_ts)
            s->video_frame_ticks = pkt->dts - s->last_video_ts;
        s->last_video_ts = pkt->dts;
        if (!s->long_gop_warned && pkt->dts - s->start_ts > s->target_ticks * 3 / 2) {
            /* Only passthrough can get here: the camera decides keyframes. */
            s->long_gop_warned = true;
            es_log(ES_LOG_WARN, "segment",
                   "camera=%s event=long_gop target=%.3f hint=\"the camera's keyframe interval is "
                   "longer than segment_duration; set its GOP/I-frame interval to at most the "
                   "segment duration, or raise segment_duration\"",
                   s->camera_id, (double)s->target_ticks / ES_TICKS_PER_SECOND);
        }
    } else if (s->muxer->nb_streams < 2) {
        return ES_OK; /* audio appeared after this segment began */
    }

    av_packet_ref(s->scratch, pkt);
    s->scratch->stream_index = video ? 0 : 1;
    int ret = av_write_frame(s->muxer, s->scratch);
    av_packet_unref(s->scratch);
    if (ret < 0) {
        char errbuf[AV_ERROR_MAX_STRING_SIZE];
        es_log(ES_LOG_WARN, "segment", "camera=%s event=write_failed error=\"%s\"", s->camera_id,
               es_av_err(ret, errbuf, sizeof(errbuf)));
    }
    return ES_OK;
}

void es_segmenter_flush(struct es_segmenter *s)
{
    if (s->muxer)
        close_segment(s, s->last_video_ts + s->video_frame_ticks);
}

void es_segmenter_mark_discontinuity(struct es_segmenter *s)
{
    s->discontinuity_pending = true;
}
