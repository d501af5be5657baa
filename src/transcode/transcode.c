#include "transcode/transcode.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/ffmpeg_compat.h"
#include "core/log.h"
#include "source/source.h"

#include <libavcodec/bsf.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const AVRational ticks_tb = {1, ES_TICKS_PER_SECOND};

struct video_path {
    AVCodecContext *decoder;
    AVCodecContext *encoder;     /* opened on the first kept frame */
    struct SwsContext *scaler;
    AVFrame *decoded, *scaled;
    AVCodecParameters *out_params;
    struct es_fps_reducer reducer;
    int64_t gop;                 /* frames between keyframes */
    int64_t next_key_slot;
    AVBSFContext *repeat_headers; /* passthrough: SPS/PPS before each keyframe */
    uint64_t decode_failures;     /* in a row: logged once per episode */
    bool keyframe_requested;      /* es_transcoder_request_keyframe (WebRTC) */
};

struct audio_path {
    AVCodecContext *decoder;     /* NULL when the camera's AAC is copied */
    AVCodecContext *encoder;
    SwrContext *resampler;
    AVAudioFifo *fifo;
    AVFrame *decoded, *chunk;
    AVCodecParameters *out_params;
    int64_t start_ts;            /* 90 kHz time of the first sample */
    int64_t samples_sent;
    bool copy;
};

struct es_transcoder {
    struct es_transcode_config config;
    es_transcode_emit_fn emit;
    void *opaque;
    struct video_path video;
    struct audio_path audio;
    bool has_audio;
    AVPacket *out;
    struct es_transcode_stats stats;
};

void es_fps_reducer_init(struct es_fps_reducer *r, unsigned fps)
{
    r->fps = fps;
    r->last_slot = INT64_MIN;
}

bool es_fps_reducer_keep(struct es_fps_reducer *r, int64_t ts, int64_t *slot)
{
    /* Round to the nearest slot so that, e.g., 25 → 15 fps keeps 3 of every
     * 5 frames evenly instead of in bursts. */
    int64_t s = av_rescale_rnd(ts, r->fps, ES_TICKS_PER_SECOND, AV_ROUND_NEAR_INF);
    if (r->last_slot != INT64_MIN && s <= r->last_slot)
        return false;
    r->last_slot = s;
    *slot = s;
    return true;
}

unsigned es_transcode_scaled_height(unsigned in_w, unsigned in_h, unsigned target_width)
{
    if (!in_w || !in_h)
        return 0;
    unsigned h = (unsigned)(((uint64_t)in_h * target_width + in_w / 2) / in_w);
    h += h & 1;
    return h < 2 ? 2 : h;
}

static void log_av(const struct es_transcoder *t, const char *what, int ret)
{
    char errbuf[AV_ERROR_MAX_STRING_SIZE];
    es_log(ES_LOG_ERROR, "transcode", "camera=%s event=%s error=\"%s\"", t->config.camera_id, what,
           es_av_err(ret, errbuf, sizeof(errbuf)));
}

static AVCodecContext *open_decoder(const struct es_transcoder *t, const AVStream *st)
{
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec) {
        es_log(ES_LOG_ERROR, "transcode", "camera=%s event=no_decoder codec=%s",
               t->config.camera_id, avcodec_get_name(st->codecpar->codec_id));
        return NULL;
    }
    AVCodecContext *ctx = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(ctx, st->codecpar);
    ctx->pkt_timebase = ticks_tb;
    /* One thread per camera: frame threading would add a frame of latency per
     * thread and a copy of the reference frames, and a box runs several
     * cameras on two cores anyway. */
    ctx->thread_count = 1;
    /* A picture size from the camera (SPS in band) is not trusted: libavcodec
     * refuses to allocate a frame above max_pixels (ff_get_buffer). */
    ctx->max_pixels = ES_TRANSCODE_MAX_PIXELS;
    int ret = avcodec_open2(ctx, codec, NULL);
    if (ret < 0) {
        log_av(t, "decoder_open_failed", ret);
        avcodec_free_context(&ctx);
    }
    return ctx;
}

/* ---- video: decode → drop to target fps → scale → libx264 ---- */

static enum es_err open_video_encoder(struct es_transcoder *t, const AVFrame *frame)
{
    struct video_path *v = &t->video;
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) {
        es_log(ES_LOG_ERROR, "transcode", "camera=%s event=no_encoder codec=libx264",
               t->config.camera_id);
        return ES_ERR_CODEC;
    }
    unsigned width = t->config.target_width;
    unsigned height = es_transcode_scaled_height((unsigned)frame->width, (unsigned)frame->height,
                                                 width);
    AVCodecContext *enc = avcodec_alloc_context3(codec);
    enc->width = (int)width;
    enc->height = (int)height;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){1, (int)t->config.target_fps};
    enc->framerate = (AVRational){(int)t->config.target_fps, 1};
    enc->gop_size = (int)v->gop;
    enc->keyint_min = (int)v->gop;
    enc->max_b_frames = 0;
    enc->thread_count = 1;
    enc->sample_aspect_ratio = (AVRational){1, 1};
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "preset", "ultrafast", 0);
    av_dict_set(&opts, "tune", "zerolatency", 0);
    /* Keyframes only where we force them (never on scene cuts), as IDR, and
     * SPS/PPS in front of every one so that each segment decodes alone. */
    av_dict_set(&opts, "forced-idr", "1", 0);
    char params[128];
    snprintf(params, sizeof(params), "scenecut=0:repeat-headers=1:keyint=%lld:min-keyint=%lld",
             (long long)v->gop, (long long)v->gop);
    av_dict_set(&opts, "x264-params", params, 0);
    int ret = avcodec_open2(enc, codec, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        log_av(t, "encoder_open_failed", ret);
        avcodec_free_context(&enc);
        return ES_ERR_CODEC;
    }
    v->encoder = enc;
    v->out_params = avcodec_parameters_alloc();
    avcodec_parameters_from_context(v->out_params, enc);

    v->scaled = av_frame_alloc();
    v->scaled->format = AV_PIX_FMT_YUV420P;
    v->scaled->width = (int)width;
    v->scaled->height = (int)height;
    if (av_frame_get_buffer(v->scaled, 0) < 0)
        abort();
    es_log(ES_LOG_INFO, "transcode", "camera=%s event=encoder_open in=%dx%d out=%ux%u fps=%u gop=%lld",
           t->config.camera_id, frame->width, frame->height, width, height, t->config.target_fps,
           (long long)v->gop);
    return ES_OK;
}

static void drain_encoder(struct es_transcoder *t, AVCodecContext *enc, enum es_media kind)
{
    while (avcodec_receive_packet(enc, t->out) == 0) {
        av_packet_rescale_ts(t->out, enc->time_base, ticks_tb);
        t->out->stream_index = kind;
        if (kind == ES_MEDIA_VIDEO)
            t->stats.frames_out++;
        t->emit(t->opaque, t->out);
        av_packet_unref(t->out);
    }
}

static enum es_err encode_video_frame(struct es_transcoder *t, AVFrame *frame, int64_t slot)
{
    struct video_path *v = &t->video;
    if (!v->encoder && open_video_encoder(t, frame) != ES_OK)
        return ES_ERR_CODEC;
    /* A camera may change resolution mid-stream; the scaler follows it, the
     * output size stays (the playlist promises one rendition). */
    v->scaler = sws_getCachedContext(v->scaler, frame->width, frame->height, frame->format,
                                     v->scaled->width, v->scaled->height, AV_PIX_FMT_YUV420P,
                                     SWS_BILINEAR, NULL, NULL, NULL);
    if (!v->scaler)
        return ES_ERR_CODEC;
    if (av_frame_make_writable(v->scaled) < 0)
        abort();
    sws_scale(v->scaler, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height,
              v->scaled->data, v->scaled->linesize);
    v->scaled->pts = slot;
    /* Force the keyframe grid: exactly every gop output slots from the first
     * frame of the connection, so every segment is exactly segment_duration
     * long (a frame lost upstream moves no boundary). */
    if (v->next_key_slot == INT64_MIN || slot >= v->next_key_slot) {
        int64_t origin = v->next_key_slot == INT64_MIN ? slot : v->next_key_slot;
        v->scaled->pict_type = AV_PICTURE_TYPE_I;
        v->next_key_slot = origin + ((slot - origin) / v->gop + 1) * v->gop;
        v->keyframe_requested = false;
    } else if (v->keyframe_requested) {
        /* WebRTC asked (transcode.h): one extra IDR; forced-idr=1 makes the
         * I frame an IDR, and the grid above keeps the segment boundaries. */
        v->scaled->pict_type = AV_PICTURE_TYPE_I;
        v->keyframe_requested = false;
    } else {
        v->scaled->pict_type = AV_PICTURE_TYPE_NONE;
    }
    int ret = avcodec_send_frame(v->encoder, v->scaled);
    if (ret < 0) {
        log_av(t, "encode_failed", ret);
        return ES_ERR_CODEC;
    }
    drain_encoder(t, v->encoder, ES_MEDIA_VIDEO);
    return ES_OK;
}

void es_transcoder_request_keyframe(struct es_transcoder *t)
{
    if (t)
        t->video.keyframe_requested = true;
}

static enum es_err send_video(struct es_transcoder *t, AVPacket *pkt)
{
    struct video_path *v = &t->video;
    int ret = avcodec_send_packet(v->decoder, pkt);
    if (ret < 0 && ret != AVERROR(EAGAIN)) {
        /* A corrupt packet from the camera is not fatal: the decoder resyncs
         * at the next keyframe. (One is also normal at shutdown, when the
         * read of the last access unit was cut short.) */
        char errbuf[AV_ERROR_MAX_STRING_SIZE];
        es_log(v->decode_failures ? ES_LOG_DEBUG : ES_LOG_WARN, "transcode",
               "camera=%s event=decode_failed error=\"%s\" max_pixels=%d", t->config.camera_id,
               es_av_err(ret, errbuf, sizeof(errbuf)), ES_TRANSCODE_MAX_PIXELS);
        v->decode_failures++;
        return ES_OK;
    }
    while (avcodec_receive_frame(v->decoder, v->decoded) == 0) {
        if (v->decode_failures) {
            es_log(ES_LOG_INFO, "transcode", "camera=%s event=decode_recovered failures=%" PRIu64,
                   t->config.camera_id, v->decode_failures);
            v->decode_failures = 0;
        }
        t->stats.frames_in++;
        int64_t ts = v->decoded->best_effort_timestamp;
        int64_t slot;
        if (ts != AV_NOPTS_VALUE && es_fps_reducer_keep(&v->reducer, ts, &slot)) {
            if (t->config.on_frame)
                t->config.on_frame(t->config.on_frame_opaque, v->decoded, ts);
            enum es_err err = encode_video_frame(t, v->decoded, slot);
            if (err != ES_OK) {
                av_frame_unref(v->decoded);
                return err;
            }
        }
        av_frame_unref(v->decoded);
    }
    return ES_OK;
}

static enum es_err send_video_copy(struct es_transcoder *t, AVPacket *pkt)
{
    struct video_path *v = &t->video;
    t->stats.frames_in++;
    int ret = av_bsf_send_packet(v->repeat_headers, pkt);
    if (ret < 0) {
        log_av(t, "bsf_failed", ret);
        return ES_OK;
    }
    while (av_bsf_receive_packet(v->repeat_headers, t->out) == 0) {
        t->out->stream_index = ES_MEDIA_VIDEO;
        t->stats.frames_out++;
        t->emit(t->opaque, t->out);
        av_packet_unref(t->out);
    }
    return ES_OK;
}

/* ---- audio: decode → resample → AAC (or copy the camera's AAC) ---- */

static int pick_sample_rate(const AVCodec *codec, int wanted)
{
    const int *rates = codec->supported_samplerates;
    if (!rates)
        return wanted;
    for (int i = 0; rates[i]; i++)
        if (rates[i] == wanted)
            return wanted;
    return 48000;
}

/* Opened when the transcoder is created, from the camera's declared sample
 * rate and channels, so that the audio parameters are known before the first
 * segment opens and every segment carries audio. */
static enum es_err open_audio_encoder(struct es_transcoder *t, int sample_rate, int in_channels)
{
    struct audio_path *a = &t->audio;
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!codec || sample_rate <= 0)
        return ES_ERR_CODEC;
    AVCodecContext *enc = avcodec_alloc_context3(codec);
    enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    enc->sample_rate = pick_sample_rate(codec, sample_rate);
    int channels = in_channels >= 2 ? 2 : 1;
    av_channel_layout_default(&enc->ch_layout, channels);
    enc->bit_rate = t->config.audio_bitrate;
    enc->time_base = (AVRational){1, enc->sample_rate};
    int ret = avcodec_open2(enc, codec, NULL);
    if (ret < 0) {
        log_av(t, "audio_encoder_open_failed", ret);
        avcodec_free_context(&enc);
        return ES_ERR_CODEC;
    }
    a->encoder = enc;
    a->fifo = av_audio_fifo_alloc(enc->sample_fmt, channels, enc->frame_size * 4);
    a->chunk = av_frame_alloc();
    a->chunk->format = enc->sample_fmt;
    a->chunk->nb_samples = enc->frame_size;
    a->chunk->sample_rate = enc->sample_rate;
    av_channel_layout_copy(&a->chunk->ch_layout, &enc->ch_layout);
    if (av_frame_get_buffer(a->chunk, 0) < 0)
        abort();
    a->out_params = avcodec_parameters_alloc();
    avcodec_parameters_from_context(a->out_params, enc);
    return ES_OK;
}

/* The resampler is made from the first decoded frame: only the decoder knows
 * the sample format it produces. Not const: FFmpeg 5.1's swr_alloc_set_opts2
 * takes a mutable channel layout. */
static enum es_err open_resampler(struct es_transcoder *t, AVFrame *frame)
{
    struct audio_path *a = &t->audio;
    AVCodecContext *enc = a->encoder;
    int ret = swr_alloc_set_opts2(&a->resampler, &enc->ch_layout, enc->sample_fmt,
                                  enc->sample_rate, &frame->ch_layout, frame->format,
                                  frame->sample_rate, 0, NULL);
    if (ret < 0 || (ret = swr_init(a->resampler)) < 0) {
        log_av(t, "resampler_failed", ret);
        swr_free(&a->resampler);
        return ES_ERR_CODEC;
    }
    return ES_OK;
}

/* Encodes whole encoder frames out of the FIFO; with `final`, the remainder too. */
static void encode_audio_fifo(struct es_transcoder *t, bool final)
{
    struct audio_path *a = &t->audio;
    int frame_size = a->encoder->frame_size;
    while (av_audio_fifo_size(a->fifo) >= frame_size ||
           (final && av_audio_fifo_size(a->fifo) > 0)) {
        int n = FFMIN(frame_size, av_audio_fifo_size(a->fifo));
        if (av_frame_make_writable(a->chunk) < 0)
            abort();
        a->chunk->nb_samples = n;
        av_audio_fifo_read(a->fifo, (void **)a->chunk->data, n);
        /* Timestamps from the sample count keep audio gapless; the start is
         * the first decoded frame's time, so A/V sync holds per connection. */
        a->chunk->pts = av_rescale_q(a->start_ts, ticks_tb, a->encoder->time_base) + a->samples_sent;
        a->samples_sent += n;
        if (avcodec_send_frame(a->encoder, a->chunk) == 0)
            drain_encoder(t, a->encoder, ES_MEDIA_AUDIO);
    }
}

static enum es_err send_audio(struct es_transcoder *t, AVPacket *pkt)
{
    struct audio_path *a = &t->audio;
    if (a->copy) {
        t->emit(t->opaque, pkt);
        return ES_OK;
    }
    if (avcodec_send_packet(a->decoder, pkt) < 0)
        return ES_OK; /* a broken audio packet costs a few ms of sound, nothing else */
    while (avcodec_receive_frame(a->decoder, a->decoded) == 0) {
        if (!a->resampler) {
            if (a->decoded->pts == AV_NOPTS_VALUE || open_resampler(t, a->decoded) != ES_OK) {
                av_frame_unref(a->decoded);
                continue;
            }
            a->start_ts = a->decoded->pts;
        }
        int max_out = swr_get_out_samples(a->resampler, a->decoded->nb_samples);
        uint8_t **converted = NULL;
        int linesize;
        if (av_samples_alloc_array_and_samples(&converted, &linesize,
                                               a->encoder->ch_layout.nb_channels, max_out,
                                               a->encoder->sample_fmt, 0) < 0)
            abort();
        int n = swr_convert(a->resampler, converted, max_out,
                            (const uint8_t **)a->decoded->extended_data, a->decoded->nb_samples);
        if (n > 0)
            av_audio_fifo_write(a->fifo, (void **)converted, n);
        av_freep(&converted[0]);
        av_freep(&converted);
        av_frame_unref(a->decoded);
        encode_audio_fifo(t, false);
    }
    return ES_OK;
}

/* ---- lifecycle ---- */

static enum es_err create_video_path(struct es_transcoder *t, const AVStream *video)
{
    struct video_path *v = &t->video;
    if (t->config.mode == ES_TRANSCODE_COPY) {
        if (video->codecpar->codec_id != AV_CODEC_ID_H264) {
            es_log(ES_LOG_ERROR, "transcode",
                   "camera=%s event=passthrough_impossible codec=%s hint=\"transcode: copy needs "
                   "an H.264 camera; use transcode: x264\"",
                   t->config.camera_id, avcodec_get_name(video->codecpar->codec_id));
            return ES_ERR_UNSUPPORTED;
        }
        const AVBitStreamFilter *filter = av_bsf_get_by_name("dump_extra");
        if (!filter || av_bsf_alloc(filter, &v->repeat_headers) < 0)
            return ES_ERR_CODEC;
        avcodec_parameters_copy(v->repeat_headers->par_in, video->codecpar);
        v->repeat_headers->time_base_in = ticks_tb;
        av_opt_set(v->repeat_headers->priv_data, "freq", "keyframe", 0);
        if (av_bsf_init(v->repeat_headers) < 0)
            return ES_ERR_CODEC;
        v->out_params = avcodec_parameters_alloc();
        avcodec_parameters_copy(v->out_params, video->codecpar);
        return ES_OK;
    }
    int64_t pixels = (int64_t)video->codecpar->width * video->codecpar->height;
    if (pixels > ES_TRANSCODE_MAX_PIXELS) {
        es_log(ES_LOG_ERROR, "transcode",
               "camera=%s event=picture_too_large size=%dx%d max_pixels=%d hint=\"lower the "
               "camera's resolution\"",
               t->config.camera_id, video->codecpar->width, video->codecpar->height,
               ES_TRANSCODE_MAX_PIXELS);
        return ES_ERR_UNSUPPORTED;
    }
    v->decoder = open_decoder(t, video);
    if (!v->decoder)
        return ES_ERR_CODEC;
    v->decoded = av_frame_alloc();
    es_fps_reducer_init(&v->reducer, t->config.target_fps);
    v->gop = (int64_t)llround(t->config.target_fps * t->config.segment_duration);
    if (v->gop < 1)
        v->gop = 1;
    v->next_key_slot = INT64_MIN;
    return ES_OK;
}

static enum es_err create_audio_path(struct es_transcoder *t, const AVStream *audio)
{
    struct audio_path *a = &t->audio;
    if (audio->codecpar->codec_id == AV_CODEC_ID_AAC && t->config.mode == ES_TRANSCODE_COPY) {
        /* The camera's AAC is already what HLS wants; re-encoding it would only
         * cost CPU and quality. */
        a->copy = true;
        a->out_params = avcodec_parameters_alloc();
        avcodec_parameters_copy(a->out_params, audio->codecpar);
        return ES_OK;
    }
    a->decoder = open_decoder(t, audio);
    if (!a->decoder)
        return ES_ERR_CODEC;
    a->decoded = av_frame_alloc();
    return open_audio_encoder(t, audio->codecpar->sample_rate,
                              audio->codecpar->ch_layout.nb_channels);
}

enum es_err es_transcoder_create(const struct es_transcode_config *config, const AVStream *video,
                                 const AVStream *audio, es_transcode_emit_fn emit, void *opaque,
                                 struct es_transcoder **out)
{
    struct es_transcoder *t = es_calloc(1, sizeof(*t));
    t->config = *config;
    t->emit = emit;
    t->opaque = opaque;
    t->out = av_packet_alloc();
    *out = NULL;
    enum es_err err = create_video_path(t, video);
    if (err == ES_OK && audio) {
        /* Audio problems never cost the picture: without a usable decoder the
         * camera streams video only. */
        if (create_audio_path(t, audio) == ES_OK)
            t->has_audio = true;
        else
            es_log(ES_LOG_WARN, "transcode", "camera=%s event=audio_dropped codec=%s",
                   config->camera_id, avcodec_get_name(audio->codecpar->codec_id));
    }
    if (err != ES_OK) {
        es_transcoder_destroy(t);
        return err;
    }
    *out = t;
    return ES_OK;
}

enum es_err es_transcoder_send(struct es_transcoder *t, AVPacket *pkt)
{
    if (pkt->stream_index == ES_MEDIA_VIDEO)
        return t->video.repeat_headers ? send_video_copy(t, pkt) : send_video(t, pkt);
    if (t->has_audio)
        return send_audio(t, pkt);
    return ES_OK;
}

void es_transcoder_flush(struct es_transcoder *t)
{
    /* Pictures and samples still inside the decoders go through first (a
     * camera with B-frames holds some back). */
    if (t->video.decoder)
        send_video(t, NULL);
    if (t->audio.decoder)
        send_audio(t, NULL);
    if (t->video.encoder) {
        avcodec_send_frame(t->video.encoder, NULL);
        drain_encoder(t, t->video.encoder, ES_MEDIA_VIDEO);
    }
    if (t->audio.resampler) {
        encode_audio_fifo(t, true);
        avcodec_send_frame(t->audio.encoder, NULL);
        drain_encoder(t, t->audio.encoder, ES_MEDIA_AUDIO);
    }
}

void es_transcoder_destroy(struct es_transcoder *t)
{
    if (!t)
        return;
    struct video_path *v = &t->video;
    avcodec_free_context(&v->decoder);
    avcodec_free_context(&v->encoder);
    sws_freeContext(v->scaler);
    av_frame_free(&v->decoded);
    av_frame_free(&v->scaled);
    avcodec_parameters_free(&v->out_params);
    av_bsf_free(&v->repeat_headers);
    struct audio_path *a = &t->audio;
    avcodec_free_context(&a->decoder);
    avcodec_free_context(&a->encoder);
    swr_free(&a->resampler);
    if (a->fifo)
        av_audio_fifo_free(a->fifo);
    av_frame_free(&a->decoded);
    av_frame_free(&a->chunk);
    avcodec_parameters_free(&a->out_params);
    av_packet_free(&t->out);
    free(t);
}

const AVCodecParameters *es_transcoder_video_params(const struct es_transcoder *t)
{
    return t->video.out_params;
}

const AVCodecParameters *es_transcoder_audio_params(const struct es_transcoder *t)
{
    return t->has_audio ? t->audio.out_params : NULL;
}

void es_transcoder_stats(const struct es_transcoder *t, struct es_transcode_stats *out)
{
    *out = t->stats;
}
