#include "segment/cmaf.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/ffmpeg_compat.h"
#include "core/log.h"
#include "source/source.h"

#include <libavformat/avformat.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Timestamps are rounded to 90 kHz ticks: a frame grid of 7 fps is 12857.14
 * ticks, so comparisons allow a couple of ticks. */
#define TICK_SLACK 2
/* Used until a passthrough camera has shown two frames. */
#define DEFAULT_FRAME_TICKS (ES_TICKS_PER_SECOND / 25)

struct es_cmaf_segmenter {
    char *camera_id;
    int64_t segment_target_ticks;
    int64_t part_target_ticks;
    int64_t nominal_frame_ticks; /* 0 when fps is unknown */
    es_cmaf_emit_fn emit;
    void *opaque;

    AVCodecParameters *video_params, *audio_params;
    AVFormatContext *muxer; /* open from the first keyframe after set_streams */
    bool muxer_has_video;   /* a video frame went in: audio may follow */
    int64_t muxer_base;     /* dts of the muxer's first frame: its time 0 */
    AVPacket *scratch;
    struct es_blob *init;
    unsigned init_id;

    uint64_t next_msn;
    bool segment_open;
    uint64_t msn;
    unsigned part_index;
    int64_t segment_start;
    bool segment_discontinuity;

    bool part_open;
    int64_t part_start;
    int64_t part_wall_us;
    bool part_independent;

    int64_t last_video_ts;
    int64_t measured_frame_ticks;
    bool discontinuity_pending;
    bool cap_warned;
};

double es_cmaf_part_target(double configured, unsigned fps)
{
    if (fps == 0 || configured <= 0)
        return configured;
    /* Whole frames, at least one; the epsilon keeps 0.2 s at 15 fps at three
     * frames despite binary floating point. */
    double frames = floor(configured * fps + 1e-6);
    if (frames < 1)
        frames = 1;
    return frames / fps;
}

enum es_err es_cmaf_create(const struct es_cmaf_config *config, es_cmaf_emit_fn emit, void *opaque,
                           struct es_cmaf_segmenter **out)
{
    if (config->segment_target <= 0 || config->part_target <= 0 ||
        config->part_target > config->segment_target)
        return ES_ERR_INVALID;
    struct es_cmaf_segmenter *s = es_calloc(1, sizeof(*s));
    s->camera_id = es_strdup(config->camera_id ? config->camera_id : "?");
    s->segment_target_ticks = llround(config->segment_target * ES_TICKS_PER_SECOND);
    s->part_target_ticks = llround(config->part_target * ES_TICKS_PER_SECOND);
    if (config->fps)
        s->nominal_frame_ticks = llround((double)ES_TICKS_PER_SECOND / config->fps);
    s->emit = emit;
    s->opaque = opaque;
    s->scratch = av_packet_alloc();
    s->next_msn = config->first_msn;
    *out = s;
    return ES_OK;
}

static void close_muxer(struct es_cmaf_segmenter *s)
{
    if (!s->muxer)
        return;
    if (s->muxer->pb) {
        uint8_t *buf = NULL;
        avio_close_dyn_buf(s->muxer->pb, &buf);
        av_free(buf);
        s->muxer->pb = NULL;
    }
    avformat_free_context(s->muxer); /* runs the muxer's deinit; no trailer is needed */
    s->muxer = NULL;
    s->muxer_has_video = false;
}

void es_cmaf_destroy(struct es_cmaf_segmenter *s)
{
    if (!s)
        return;
    close_muxer(s);
    es_blob_unref(s->init);
    avcodec_parameters_free(&s->video_params);
    avcodec_parameters_free(&s->audio_params);
    av_packet_free(&s->scratch);
    free(s->camera_id);
    free(s);
}

static int64_t frame_ticks(const struct es_cmaf_segmenter *s)
{
    if (s->nominal_frame_ticks)
        return s->nominal_frame_ticks;
    return s->measured_frame_ticks ? s->measured_frame_ticks : DEFAULT_FRAME_TICKS;
}

/* Takes what the muxer wrote since the last call. */
static struct es_blob *take_output(struct es_cmaf_segmenter *s)
{
    uint8_t *buf = NULL;
    int size = avio_close_dyn_buf(s->muxer->pb, &buf);
    s->muxer->pb = NULL;
    if (avio_open_dyn_buf(&s->muxer->pb) < 0)
        abort();
    if (size <= 0) {
        av_free(buf);
        return NULL;
    }
    return es_blob_take(buf, (size_t)size, av_free);
}

/* Returns whether a part was emitted. */
static bool end_part(struct es_cmaf_segmenter *s, int64_t end_ts, bool segment_end)
{
    if (!s->part_open)
        return false;
    s->part_open = false;
    /* frag_custom: a NULL packet cuts the fragment here (one moof + mdat). */
    av_write_frame(s->muxer, NULL);
    struct es_blob *data = take_output(s);
    if (!data)
        return false;
    struct es_cmaf_event ev = {
        .kind = ES_CMAF_PART,
        .msn = s->msn,
        .part_index = s->part_index,
        .data = data,
        .init = s->init,
        .init_id = s->init_id,
        .start_ts = s->part_start,
        .duration_ts = end_ts - s->part_start,
        .program_date_time_us = s->part_wall_us,
        .independent = s->part_independent,
        .discontinuity = s->part_index == 0 && s->segment_discontinuity,
        .segment_end = segment_end,
        .segment_duration_ts = segment_end ? end_ts - s->segment_start : 0,
    };
    s->part_index++;
    s->emit(s->opaque, &ev);
    es_blob_unref(data);
    return true;
}

static void end_segment(struct es_cmaf_segmenter *s, int64_t end_ts)
{
    if (!s->segment_open)
        return;
    bool with_part = end_part(s, end_ts, true);
    s->segment_open = false;
    if (s->part_index == 0)
        return; /* nothing was emitted for it: the number is simply reused */
    s->next_msn = s->msn + 1;
    if (with_part)
        return;
    struct es_cmaf_event ev = {
        .kind = ES_CMAF_SEGMENT_END,
        .msn = s->msn,
        .part_index = s->part_index,
        .start_ts = s->segment_start,
        .duration_ts = end_ts - s->segment_start,
        .segment_duration_ts = end_ts - s->segment_start,
    };
    s->emit(s->opaque, &ev);
}

void es_cmaf_flush(struct es_cmaf_segmenter *s)
{
    if (s->segment_open)
        end_segment(s, s->last_video_ts + frame_ticks(s));
}

void es_cmaf_mark_discontinuity(struct es_cmaf_segmenter *s)
{
    s->discontinuity_pending = true;
}

void es_cmaf_set_streams(struct es_cmaf_segmenter *s, const AVCodecParameters *video,
                         const AVCodecParameters *audio)
{
    es_cmaf_flush(s);
    close_muxer(s);
    es_blob_unref(s->init);
    s->init = NULL;
    avcodec_parameters_free(&s->video_params);
    avcodec_parameters_free(&s->audio_params);
    s->video_params = avcodec_parameters_alloc();
    avcodec_parameters_copy(s->video_params, video);
    if (audio) {
        s->audio_params = avcodec_parameters_alloc();
        avcodec_parameters_copy(s->audio_params, audio);
    }
    s->measured_frame_ticks = 0;
    s->last_video_ts = 0;
}

/* The avcC box of the init section needs SPS and PPS up front; libx264 with
 * repeat-headers (and the passthrough bitstream filter) put them in band
 * before every keyframe instead. Copies the Annex B SPS/PPS NAL units of
 * `pkt` (with their start codes), which movenc turns into avcC. */
static bool annexb_parameter_sets(const AVPacket *pkt, uint8_t **out, int *out_size)
{
    const uint8_t *p = pkt->data, *end = pkt->data + pkt->size;
    uint8_t *buf = av_mallocz((size_t)pkt->size + AV_INPUT_BUFFER_PADDING_SIZE);
    int used = 0;
    bool sps = false, pps = false;
    while (p + 3 < end) {
        /* Find the next start code (00 00 01). */
        const uint8_t *nal = NULL;
        for (const uint8_t *q = p; q + 3 <= end; q++) {
            if (q[0] == 0 && q[1] == 0 && q[2] == 1) {
                nal = q + 3;
                break;
            }
        }
        if (!nal)
            break;
        const uint8_t *next = end;
        for (const uint8_t *q = nal; q + 3 <= end; q++) {
            if (q[0] == 0 && q[1] == 0 && (q[2] == 1 || (q[2] == 0 && q + 3 < end && q[3] == 1))) {
                next = q;
                break;
            }
        }
        int type = nal[0] & 0x1f;
        if (type == 7 || type == 8) {
            static const uint8_t start_code[4] = {0, 0, 0, 1};
            memcpy(buf + used, start_code, 4);
            used += 4;
            memcpy(buf + used, nal, (size_t)(next - nal));
            used += (int)(next - nal);
            sps |= type == 7;
            pps |= type == 8;
        }
        p = next;
    }
    if (!sps || !pps) {
        av_free(buf);
        return false;
    }
    *out = buf;
    *out_size = used;
    return true;
}

static void add_stream(AVFormatContext *muxer, const AVCodecParameters *params)
{
    AVStream *st = avformat_new_stream(muxer, NULL);
    avcodec_parameters_copy(st->codecpar, params);
    st->codecpar->codec_tag = 0;
    st->time_base = (AVRational){1, ES_TICKS_PER_SECOND};
}

static enum es_err open_muxer(struct es_cmaf_segmenter *s, const AVPacket *keyframe)
{
    AVFormatContext *muxer = NULL;
    if (avformat_alloc_output_context2(&muxer, NULL, "mp4", NULL) < 0)
        return ES_ERR_CODEC;
    add_stream(muxer, s->video_params);
    AVCodecParameters *video = muxer->streams[0]->codecpar;
    if (video->extradata_size == 0) {
        uint8_t *extradata;
        int size;
        if (!annexb_parameter_sets(keyframe, &extradata, &size)) {
            avformat_free_context(muxer);
            es_log(ES_LOG_WARN, "segment.cmaf",
                   "camera=%s event=no_parameter_sets hint=\"keyframe without SPS/PPS; waiting "
                   "for the next\"",
                   s->camera_id);
            return ES_ERR_INVALID;
        }
        video->extradata = extradata;
        video->extradata_size = size;
    }
    if (s->audio_params)
        add_stream(muxer, s->audio_params);
    if (avio_open_dyn_buf(&muxer->pb) < 0)
        abort();
    AVDictionary *opts = NULL;
    /* empty_moov: the init section is ftyp + moov with no samples;
     * frag_custom: a fragment (part) ends only when we say so;
     * default_base_moof + omit_tfhd_offset: each moof addresses its own mdat,
     * so a part is usable on its own (CMAF); skip_sidx/skip_trailer: nothing
     * that would need the whole file. No edit list: tfdt carries the time. */
    av_dict_set(&opts, "movflags",
                "empty_moov+frag_custom+default_base_moof+omit_tfhd_offset+skip_sidx+skip_trailer",
                0);
    av_dict_set(&opts, "use_editlist", "0", 0);
    av_dict_set(&opts, "brand", "iso6", 0);
    int ret = avformat_write_header(muxer, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        char errbuf[AV_ERROR_MAX_STRING_SIZE];
        es_log(ES_LOG_ERROR, "segment.cmaf", "camera=%s event=muxer_failed error=\"%s\"",
               s->camera_id, es_av_err(ret, errbuf, sizeof(errbuf)));
        s->muxer = muxer;
        close_muxer(s);
        return ES_ERR_CODEC;
    }
    s->muxer = muxer;
    struct es_blob *init = take_output(s);
    if (!init) {
        close_muxer(s);
        return ES_ERR_CODEC;
    }
    es_blob_unref(s->init);
    s->init = init;
    s->init_id++;
    es_log(ES_LOG_DEBUG, "segment.cmaf", "camera=%s event=init id=%u bytes=%zu", s->camera_id,
           s->init_id, es_blob_size(init));
    return ES_OK;
}

/* Every track of one init section counts from the same origin, the first
 * video frame: tfdt (baseMediaDecodeTime) then places audio and video on one
 * timeline, which is what MSE buffers by. movenc would otherwise move each
 * track's first sample to 0 on its own. */
static void write_packet(struct es_cmaf_segmenter *s, const AVPacket *pkt, int stream,
                         int64_t duration)
{
    if (pkt->dts < s->muxer_base)
        return; /* audio from before the first frame */
    av_packet_ref(s->scratch, pkt);
    s->scratch->dts -= s->muxer_base;
    s->scratch->pts -= s->muxer_base;
    s->scratch->stream_index = stream;
    if (duration > 0)
        s->scratch->duration = duration;
    /* movenc picks each track's timescale (audio: its sample rate) when the
     * header is written and expects packets in it. */
    av_packet_rescale_ts(s->scratch, (AVRational){1, ES_TICKS_PER_SECOND},
                         s->muxer->streams[stream]->time_base);
    int ret = av_write_frame(s->muxer, s->scratch);
    av_packet_unref(s->scratch);
    if (ret < 0) {
        char errbuf[AV_ERROR_MAX_STRING_SIZE];
        es_log(ES_LOG_WARN, "segment.cmaf", "camera=%s event=write_failed error=\"%s\"",
               s->camera_id, es_av_err(ret, errbuf, sizeof(errbuf)));
    }
}

static enum es_err write_video(struct es_cmaf_segmenter *s, const AVPacket *pkt, int64_t wall_us)
{
    bool keyframe = pkt->flags & AV_PKT_FLAG_KEY;
    if (s->last_video_ts && pkt->dts > s->last_video_ts && !s->nominal_frame_ticks)
        s->measured_frame_ticks = pkt->dts - s->last_video_ts;
    int64_t ft = frame_ticks(s);

    if (s->segment_open) {
        int64_t so_far = pkt->dts - s->segment_start;
        if (keyframe && so_far * 2 >= s->segment_target_ticks) {
            end_segment(s, pkt->dts);
        } else if (so_far + ft > s->segment_target_ticks + TICK_SLACK) {
            /* One more frame would pass the cap. RFC 8216 §4.3.3.1: EXTINF
             * rounded MUST NOT exceed EXT-X-TARGETDURATION, and §6.2.2
             * forbids changing it, so the segment ends here, keyframe or not. */
            end_segment(s, s->last_video_ts + ft);
        }
    }
    if (!s->muxer) {
        if (!keyframe)
            return ES_OK; /* the init section and the first part need a keyframe */
        enum es_err err = open_muxer(s, pkt);
        if (err != ES_OK)
            return err == ES_ERR_INVALID ? ES_OK : err;
        s->muxer_base = pkt->dts;
    }
    if (!s->segment_open) {
        if (!keyframe && !s->cap_warned) {
            /* A passthrough camera whose GOP is longer than the segment:
             * the cut at the cap left this segment without a keyframe. */
            s->cap_warned = true;
            es_log(ES_LOG_WARN, "segment.cmaf",
                   "camera=%s event=forced_cut target=%.3f hint=\"no keyframe by the target "
                   "duration: such segments are not independent; set the camera's GOP to the "
                   "segment duration\"",
                   s->camera_id, (double)s->segment_target_ticks / ES_TICKS_PER_SECOND);
        }
        s->segment_open = true;
        s->msn = s->next_msn++;
        s->part_index = 0;
        s->segment_start = pkt->dts;
        s->segment_discontinuity = s->discontinuity_pending;
        s->discontinuity_pending = false;
    }
    if (!s->part_open) {
        s->part_open = true;
        s->part_start = pkt->dts;
        s->part_wall_us = wall_us;
        s->part_independent = keyframe;
    }
    write_packet(s, pkt, 0, ft);
    s->muxer_has_video = true;
    s->last_video_ts = pkt->dts;

    int64_t part_end = pkt->dts + ft;
    if (part_end - s->segment_start + TICK_SLACK >= s->segment_target_ticks) {
        end_segment(s, part_end);
    } else if (part_end - s->part_start + ft > s->part_target_ticks + TICK_SLACK) {
        /* draft-pantos-hls-rfc8216bis-16 §4.4.4.9: a part MUST NOT be longer
         * than PART-TARGET; one more frame would make it so. */
        end_part(s, part_end, false);
    }
    return ES_OK;
}

enum es_err es_cmaf_write(struct es_cmaf_segmenter *s, const AVPacket *pkt, int64_t wall_us)
{
    if (!s->video_params)
        return ES_ERR_INVALID;
    if (pkt->stream_index == ES_MEDIA_VIDEO)
        return write_video(s, pkt, wall_us);
    /* Audio joins the part being filled (or the next one, between parts);
     * before the first video frame of this init section it is dropped. */
    if (!s->muxer || !s->muxer_has_video || s->muxer->nb_streams < 2)
        return ES_OK;
    int64_t duration = pkt->duration;
    if (duration <= 0 && s->audio_params->sample_rate > 0 && s->audio_params->frame_size > 0)
        duration = (int64_t)s->audio_params->frame_size * ES_TICKS_PER_SECOND /
                   s->audio_params->sample_rate;
    write_packet(s, pkt, 1, duration);
    return ES_OK;
}
