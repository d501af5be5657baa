/* AAC or G.711 → Opus (opus.h). RFC 7587 §4.1: 48 kHz RTP clock whatever the
 * bandwidth; §7: always "opus/48000/2". */
#include "webrtc/opus.h"

#include "core/alloc.h"
#include "core/ffmpeg_compat.h"
#include "core/log.h"

#include <libavutil/audio_fifo.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#define OPUS_RATE 48000
#define OPUS_FRAME 960 /* 20 ms */
#define OPUS_BITRATE 64000

struct es_opus {
    AVCodecContext *decoder, *encoder;
    SwrContext *resampler;
    AVAudioFifo *fifo;
    AVFrame *decoded, *chunk;
    AVPacket *out;
    int64_t start_ticks; /* 90 kHz time of the fifo's first sample */
    int64_t samples_out; /* samples encoded since start */
    bool started;
};

static void log_av(const char *event, int ret)
{
    char why[128];
    es_log(ES_LOG_WARN, "webrtc", "event=%s error=\"%s\"", event, es_av_err(ret, why, sizeof(why)));
}

enum es_err es_opus_create(const AVCodecParameters *par, struct es_opus **out)
{
    const AVCodec *dec = avcodec_find_decoder(par->codec_id);
    const AVCodec *enc = avcodec_find_encoder_by_name("libopus");
    if (!dec || !enc) {
        es_log(ES_LOG_WARN, "webrtc", "event=opus_unavailable decoder=%s encoder=%s",
               dec ? "yes" : "no", enc ? "yes" : "no");
        return ES_ERR_CODEC;
    }
    struct es_opus *o = es_calloc(1, sizeof(*o));
    o->decoder = avcodec_alloc_context3(dec);
    avcodec_parameters_to_context(o->decoder, par);
    int ret = avcodec_open2(o->decoder, dec, NULL);
    if (ret >= 0) {
        o->encoder = avcodec_alloc_context3(enc);
        o->encoder->sample_rate = OPUS_RATE;
        o->encoder->sample_fmt = AV_SAMPLE_FMT_S16;
        av_channel_layout_default(&o->encoder->ch_layout, 2);
        o->encoder->bit_rate = OPUS_BITRATE;
        o->encoder->time_base = (AVRational){1, OPUS_RATE};
        AVDictionary *opts = NULL;
        av_dict_set(&opts, "frame_duration", "20", 0);
        av_dict_set(&opts, "application", "lowdelay", 0);
        ret = avcodec_open2(o->encoder, enc, &opts);
        av_dict_free(&opts);
    }
    if (ret >= 0)
        ret = swr_alloc_set_opts2(&o->resampler, &o->encoder->ch_layout, AV_SAMPLE_FMT_S16,
                                  OPUS_RATE, &o->decoder->ch_layout, o->decoder->sample_fmt,
                                  o->decoder->sample_rate, 0, NULL);
    if (ret >= 0)
        ret = swr_init(o->resampler);
    if (ret < 0) {
        log_av("opus_open_failed", ret);
        es_opus_destroy(o);
        return ES_ERR_CODEC;
    }
    o->fifo = av_audio_fifo_alloc(AV_SAMPLE_FMT_S16, 2, OPUS_FRAME * 4);
    o->decoded = av_frame_alloc();
    o->chunk = av_frame_alloc();
    o->chunk->nb_samples = OPUS_FRAME;
    o->chunk->format = AV_SAMPLE_FMT_S16;
    o->chunk->sample_rate = OPUS_RATE;
    av_channel_layout_copy(&o->chunk->ch_layout, &o->encoder->ch_layout);
    if (av_frame_get_buffer(o->chunk, 0) < 0)
        abort();
    o->out = av_packet_alloc();
    *out = o;
    return ES_OK;
}

void es_opus_destroy(struct es_opus *o)
{
    if (!o)
        return;
    avcodec_free_context(&o->decoder);
    avcodec_free_context(&o->encoder);
    swr_free(&o->resampler);
    if (o->fifo)
        av_audio_fifo_free(o->fifo);
    av_frame_free(&o->decoded);
    av_frame_free(&o->chunk);
    av_packet_free(&o->out);
    free(o);
}

static void drain(struct es_opus *o, es_opus_emit_fn emit, void *opaque)
{
    while (avcodec_receive_packet(o->encoder, o->out) == 0) {
        /* pts counts 48 kHz samples from start_ticks (with the encoder's
         * pre-skip already taken off by libavcodec). */
        int64_t pts = o->out->pts == AV_NOPTS_VALUE ? 0 : o->out->pts;
        emit(opaque, o->out->data, (size_t)o->out->size,
             o->start_ticks + av_rescale(pts, 90000, OPUS_RATE));
        av_packet_unref(o->out);
    }
}

void es_opus_push(struct es_opus *o, const AVPacket *aac, es_opus_emit_fn emit, void *opaque)
{
    if (avcodec_send_packet(o->decoder, aac) < 0)
        return; /* a broken packet costs 20 ms of sound */
    while (avcodec_receive_frame(o->decoder, o->decoded) == 0) {
        if (!o->started) {
            o->start_ticks = aac->pts;
            o->started = true;
        }
        int max_out = swr_get_out_samples(o->resampler, o->decoded->nb_samples);
        uint8_t *buf = NULL;
        int linesize;
        if (max_out <= 0 ||
            av_samples_alloc(&buf, &linesize, 2, max_out, AV_SAMPLE_FMT_S16, 0) < 0) {
            av_frame_unref(o->decoded);
            continue;
        }
        int got = swr_convert(o->resampler, &buf, max_out, (const uint8_t **)o->decoded->data,
                              o->decoded->nb_samples);
        if (got > 0)
            av_audio_fifo_write(o->fifo, (void **)&buf, got);
        av_freep(&buf);
        av_frame_unref(o->decoded);
        while (av_audio_fifo_size(o->fifo) >= OPUS_FRAME) {
            if (av_frame_make_writable(o->chunk) < 0)
                abort();
            av_audio_fifo_read(o->fifo, (void **)o->chunk->data, OPUS_FRAME);
            o->chunk->pts = o->samples_out;
            o->samples_out += OPUS_FRAME;
            if (avcodec_send_frame(o->encoder, o->chunk) == 0)
                drain(o, emit, opaque);
        }
    }
}
