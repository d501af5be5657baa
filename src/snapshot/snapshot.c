#include "snapshot/snapshot.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/ffmpeg_compat.h"
#include "core/log.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Recorded segments are a few seconds; a file with far more frames than that
 * is not one of ours, and stops the decode. */
#define MAX_DECODED_FRAMES 2000

struct es_snapshot_source {
    atomic_int refs;
    char *camera_id;
    pthread_mutex_t lock;
    /* The newest picture: a decoded frame (transcode) or a keyframe
     * (passthrough). generation counts pictures put. */
    AVFrame *frame;
    AVPacket *keyframe;
    AVCodecParameters *par;
    uint64_t generation;
    int64_t wall_us;
    /* The kept JPEG and the picture it shows. */
    struct es_blob *jpeg;
    uint64_t jpeg_generation;
    int64_t jpeg_wall_us;
    int64_t jpeg_made_mono_us;
    /* One encode at a time per camera: whoever comes second waits and then
     * finds the first one's JPEG. */
    pthread_mutex_t encode_lock;
    atomic_uint_fast64_t encodes, requests;
};

struct es_snapshot_source *es_snapshot_source_create(const char *camera_id)
{
    struct es_snapshot_source *s = es_calloc(1, sizeof(*s));
    atomic_init(&s->refs, 1);
    s->camera_id = es_strdup(camera_id);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->encode_lock, NULL);
    return s;
}

struct es_snapshot_source *es_snapshot_source_ref(struct es_snapshot_source *s)
{
    atomic_fetch_add(&s->refs, 1);
    return s;
}

void es_snapshot_source_unref(struct es_snapshot_source *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    av_frame_free(&s->frame);
    av_packet_free(&s->keyframe);
    avcodec_parameters_free(&s->par);
    es_blob_unref(s->jpeg);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->encode_lock);
    free(s->camera_id);
    free(s);
}

void es_snapshot_source_put_frame(struct es_snapshot_source *s, const AVFrame *frame,
                                  int64_t wall_us)
{
    if (!s || !frame || !frame->buf[0])
        return;
    pthread_mutex_lock(&s->lock);
    if (!s->frame)
        s->frame = av_frame_alloc();
    av_frame_unref(s->frame);
    /* A reference to the decoder's buffer, not a copy: the decoder takes
     * another buffer from its pool for the next picture. */
    if (av_frame_ref(s->frame, frame) == 0) {
        av_packet_free(&s->keyframe);
        s->generation++;
        s->wall_us = wall_us;
    }
    pthread_mutex_unlock(&s->lock);
}

void es_snapshot_source_put_keyframe(struct es_snapshot_source *s, const AVPacket *pkt,
                                     const AVCodecParameters *par, int64_t wall_us)
{
    if (!s || !pkt || !par || pkt->size <= 0)
        return;
    pthread_mutex_lock(&s->lock);
    if (!s->keyframe)
        s->keyframe = av_packet_alloc();
    av_packet_unref(s->keyframe);
    if (av_packet_ref(s->keyframe, pkt) == 0) {
        if (!s->par)
            s->par = avcodec_parameters_alloc();
        if (s->par->codec_id != par->codec_id || s->par->width != par->width ||
            s->par->height != par->height || s->par->extradata_size != par->extradata_size)
            avcodec_parameters_copy(s->par, par);
        av_frame_free(&s->frame);
        s->generation++;
        s->wall_us = wall_us;
    }
    pthread_mutex_unlock(&s->lock);
}

/* Under s->lock. */
static bool kept_jpeg_holds(const struct es_snapshot_source *s, int64_t now_mono_us)
{
    if (!s->jpeg)
        return false;
    if (s->jpeg_generation == s->generation)
        return true;
    /* Transcode mode makes a new picture every frame: the JPEG stands for a
     * short while (passthrough's pictures are keyframes, seconds apart). */
    return s->frame && now_mono_us - s->jpeg_made_mono_us < ES_SNAPSHOT_MIN_INTERVAL_US;
}

static void take_kept(const struct es_snapshot_source *s, struct es_snapshot_jpeg *out)
{
    out->jpeg = es_blob_ref(s->jpeg);
    out->generation = s->jpeg_generation;
    out->wall_us = s->jpeg_wall_us;
}

bool es_snapshot_source_cached(struct es_snapshot_source *s, struct es_snapshot_jpeg *out)
{
    pthread_mutex_lock(&s->lock);
    bool holds = kept_jpeg_holds(s, es_clock_mono_us());
    if (holds)
        take_kept(s, out);
    pthread_mutex_unlock(&s->lock);
    return holds;
}

bool es_snapshot_source_has_picture(struct es_snapshot_source *s)
{
    pthread_mutex_lock(&s->lock);
    bool has = s->generation > 0;
    pthread_mutex_unlock(&s->lock);
    return has;
}

uint64_t es_snapshot_source_encodes(struct es_snapshot_source *s)
{
    return atomic_load(&s->encodes);
}

void es_snapshot_source_count_request(struct es_snapshot_source *s)
{
    atomic_fetch_add(&s->requests, 1);
}

uint64_t es_snapshot_source_requests(struct es_snapshot_source *s)
{
    return atomic_load(&s->requests);
}

/* Passthrough: the keyframe alone decodes to a picture (it is an IDR with
 * its SPS/PPS in front). */
static enum es_err decode_keyframe(const char *camera_id, const AVPacket *pkt,
                                   const AVCodecParameters *par, AVFrame *out)
{
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec)
        return ES_ERR_CODEC;
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(dec, par);
    dec->thread_count = 1;
    dec->max_pixels = 4096 * 3072; /* as the transcoder (transcode.h) */
    int ret = avcodec_open2(dec, codec, NULL);
    if (ret >= 0)
        ret = avcodec_send_packet(dec, pkt);
    if (ret >= 0)
        ret = avcodec_send_packet(dec, NULL); /* flush: the picture comes out now */
    if (ret >= 0)
        ret = avcodec_receive_frame(dec, out);
    avcodec_free_context(&dec);
    if (ret < 0) {
        char errbuf[AV_ERROR_MAX_STRING_SIZE];
        es_log(ES_LOG_WARN, "snapshot", "camera=%s event=keyframe_decode_failed error=\"%s\"",
               camera_id, es_av_err(ret, errbuf, sizeof(errbuf)));
        return ES_ERR_CODEC;
    }
    return ES_OK;
}

enum es_err es_snapshot_source_jpeg(struct es_snapshot_source *s, struct es_snapshot_jpeg *out,
                                    int64_t *encode_us)
{
    *encode_us = 0;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&s->encode_lock);
    pthread_mutex_lock(&s->lock);
    if (kept_jpeg_holds(s, es_clock_mono_us())) {
        take_kept(s, out);
        pthread_mutex_unlock(&s->lock);
        pthread_mutex_unlock(&s->encode_lock);
        return ES_OK;
    }
    if (s->generation == 0) {
        pthread_mutex_unlock(&s->lock);
        pthread_mutex_unlock(&s->encode_lock);
        return ES_ERR_NOT_FOUND;
    }
    /* References out of the lock: the pipeline thread goes on putting. */
    uint64_t generation = s->generation;
    int64_t wall_us = s->wall_us;
    AVFrame *frame = av_frame_alloc();
    AVPacket *pkt = NULL;
    AVCodecParameters *par = NULL;
    if (s->frame) {
        av_frame_ref(frame, s->frame);
    } else {
        pkt = av_packet_clone(s->keyframe);
        par = avcodec_parameters_alloc();
        avcodec_parameters_copy(par, s->par);
    }
    pthread_mutex_unlock(&s->lock);

    int64_t started = es_clock_mono_us();
    enum es_err err = pkt ? decode_keyframe(s->camera_id, pkt, par, frame) : ES_OK;
    struct es_blob *jpeg = NULL;
    if (err == ES_OK)
        err = es_snapshot_encode_jpeg(frame, &jpeg);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_parameters_free(&par);
    if (err != ES_OK) {
        pthread_mutex_unlock(&s->encode_lock);
        return err;
    }
    *encode_us = es_clock_mono_us() - started;
    atomic_fetch_add(&s->encodes, 1);
    pthread_mutex_lock(&s->lock);
    es_blob_unref(s->jpeg);
    s->jpeg = jpeg;
    s->jpeg_generation = generation;
    s->jpeg_wall_us = wall_us;
    s->jpeg_made_mono_us = es_clock_mono_us();
    take_kept(s, out);
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_unlock(&s->encode_lock);
    es_log(ES_LOG_DEBUG, "snapshot", "camera=%s event=encoded generation=%llu bytes=%zu us=%lld",
           s->camera_id, (unsigned long long)generation, es_blob_size(out->jpeg),
           (long long)*encode_us);
    return ES_OK;
}

static void free_av(void *p)
{
    av_free(p);
}

enum es_err es_snapshot_encode_jpeg(const AVFrame *frame, struct es_blob **out)
{
    *out = NULL;
    if (frame->width <= 0 || frame->height <= 0)
        return ES_ERR_CODEC;
    int width = frame->width, height = frame->height;
    if (width > ES_SNAPSHOT_MAX_WIDTH) {
        height = (int)((int64_t)height * ES_SNAPSHOT_MAX_WIDTH / width);
        width = ES_SNAPSHOT_MAX_WIDTH;
    }
    width &= ~1;
    height &= ~1;
    if (width < 2 || height < 2)
        return ES_ERR_CODEC;
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    if (!codec)
        return ES_ERR_CODEC;
    /* Full-range 4:2:0, what JPEG viewers expect; swscale converts the
     * camera's limited range on the way. */
    struct SwsContext *sws =
        sws_getContext(frame->width, frame->height, frame->format, width, height,
                       AV_PIX_FMT_YUVJ420P, SWS_BILINEAR, NULL, NULL, NULL);
    AVFrame *yuv = av_frame_alloc();
    yuv->format = AV_PIX_FMT_YUVJ420P;
    yuv->width = width;
    yuv->height = height;
    AVCodecContext *enc = NULL;
    AVPacket *pkt = av_packet_alloc();
    enum es_err err = ES_ERR_CODEC;
    if (!sws || av_frame_get_buffer(yuv, 0) < 0)
        goto done;
    sws_scale(sws, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height,
              yuv->data, yuv->linesize);
    enc = avcodec_alloc_context3(codec);
    enc->width = width;
    enc->height = height;
    enc->pix_fmt = AV_PIX_FMT_YUVJ420P;
    enc->color_range = AVCOL_RANGE_JPEG;
    enc->time_base = (AVRational){1, 25};
    enc->thread_count = 1;
    /* Fixed quality (q 4 of 2..31): about 60-120 kB for 1280x720. */
    enc->flags |= AV_CODEC_FLAG_QSCALE;
    enc->global_quality = FF_QP2LAMBDA * 4;
    yuv->quality = enc->global_quality;
    yuv->pts = 0;
    if (avcodec_open2(enc, codec, NULL) < 0 || avcodec_send_frame(enc, yuv) < 0 ||
        avcodec_receive_packet(enc, pkt) < 0)
        goto done;
    uint8_t *data = av_malloc((size_t)pkt->size);
    memcpy(data, pkt->data, (size_t)pkt->size);
    *out = es_blob_take(data, (size_t)pkt->size, free_av);
    err = ES_OK;
done:
    av_packet_free(&pkt);
    avcodec_free_context(&enc);
    av_frame_free(&yuv);
    sws_freeContext(sws);
    return err;
}

enum es_err es_snapshot_from_segment(const char *path, int64_t offset_ms, struct es_blob **out)
{
    *out = NULL;
    AVFormatContext *fmt = NULL;
    if (avformat_open_input(&fmt, path, NULL, NULL) < 0)
        return ES_ERR_IO;
    enum es_err err = ES_ERR_CODEC;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc(), *shown = av_frame_alloc();
    bool have_shown = false;
    if (avformat_find_stream_info(fmt, NULL) < 0)
        goto done;
    int vi = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (vi < 0)
        goto done;
    AVStream *st = fmt->streams[vi];
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec)
        goto done;
    dec = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(dec, st->codecpar);
    dec->thread_count = 1;
    dec->max_pixels = 4096 * 3072;
    dec->pkt_timebase = st->time_base;
    if (avcodec_open2(dec, codec, NULL) < 0)
        goto done;
    int64_t first_pts = AV_NOPTS_VALUE, target = AV_NOPTS_VALUE;
    unsigned frames = 0;
    bool past = false, eof = false;
    while (!past && frames < MAX_DECODED_FRAMES) {
        if (!eof) {
            int r = av_read_frame(fmt, pkt);
            if (r < 0) {
                eof = true;
                avcodec_send_packet(dec, NULL);
            } else {
                if (pkt->stream_index == vi)
                    avcodec_send_packet(dec, pkt);
                av_packet_unref(pkt);
            }
        }
        bool got = false;
        while (!past && avcodec_receive_frame(dec, frame) == 0) {
            got = true;
            frames++;
            int64_t pts = frame->best_effort_timestamp;
            if (pts != AV_NOPTS_VALUE && first_pts == AV_NOPTS_VALUE) {
                /* The segment starts at its first (key)frame: its
                 * PROGRAM-DATE-TIME. */
                first_pts = pts;
                target = first_pts + av_rescale_q(offset_ms, (AVRational){1, 1000}, st->time_base);
            }
            if (have_shown && pts != AV_NOPTS_VALUE && pts > target) {
                past = true; /* the frame on screen at the target is the one before */
            } else {
                av_frame_unref(shown);
                av_frame_move_ref(shown, frame);
                have_shown = true;
            }
            av_frame_unref(frame);
        }
        if (eof && !got)
            break;
    }
    if (have_shown)
        err = es_snapshot_encode_jpeg(shown, out);
done:
    av_frame_free(&frame);
    av_frame_free(&shown);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return err;
}
