/* Unit tests for src/transcode: the frame-rate reducer, the output size, and
 * the transcoder itself on media generated here (libx264 and PCM), checking
 * the keyframe grid, in-band SPS/PPS, passthrough and gapless AAC. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/clock.h"
#include "core/log.h"
#include "fixture/media.h"
#include "source/source.h"
#include "transcode/transcode.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICKS ES_TICKS_PER_SECOND

/* ---- es_fps_reducer ---- */

/* Feeds `count` frames at `in_fps` (timestamps start + n * 90000 / in_fps) and
 * records which were kept. Returns how many. */
static int reduce(unsigned out_fps, double in_fps, int count, int64_t start, bool *kept,
                  int64_t *slots)
{
    struct es_fps_reducer r;
    es_fps_reducer_init(&r, out_fps);
    int n_kept = 0;
    for (int n = 0; n < count; n++) {
        int64_t ts = start + (int64_t)llround(n * TICKS / in_fps);
        int64_t slot = -1;
        kept[n] = es_fps_reducer_keep(&r, ts, &slot);
        if (kept[n])
            slots[n_kept++] = slot;
    }
    return n_kept;
}

static void assert_slots_increase(const int64_t *slots, int n)
{
    for (int i = 1; i < n; i++)
        assert_true(slots[i] > slots[i - 1]);
}

static void test_reducer_keeps_3_of_every_5_frames_from_25_to_15_fps(void **state)
{
    (void)state;
    bool kept[250];
    int64_t slots[250];
    int n = reduce(15, 25, 250, 0, kept, slots);
    assert_int_equal(n, 150); /* 10 s at 15 fps */
    /* Evenly: every group of five input frames keeps exactly three, and never
     * two frames in a row are dropped (that would be a visible stutter). */
    for (int g = 0; g < 250; g += 5) {
        int in_group = 0;
        for (int i = g; i < g + 5; i++)
            in_group += kept[i];
        assert_int_equal(in_group, 3);
    }
    for (int i = 1; i < 250; i++)
        assert_true(kept[i] || kept[i - 1]);
    /* The kept frames land on consecutive output slots: no hole, no burst. */
    for (int i = 0; i < n; i++)
        assert_int_equal(slots[i], i);
}

static void test_reducer_keeps_every_other_frame_from_30_to_15_fps(void **state)
{
    (void)state;
    bool kept[300];
    int64_t slots[300];
    int n = reduce(15, 30, 300, 0, kept, slots);
    /* Slots 0..150 (the last frame, at 9.967 s, rounds to slot 150). */
    assert_in_range(n, 150, 151);
    assert_slots_increase(slots, n);
    /* Steady state: kept, dropped, kept, dropped (the first pair straddles
     * slot 0's rounding and both stay). */
    for (int i = 2; i < 300; i++)
        assert_int_not_equal(kept[i], kept[i - 1]);
}

static void test_reducer_keeps_every_frame_at_the_target_rate(void **state)
{
    (void)state;
    bool kept[150];
    int64_t slots[150];
    assert_int_equal(reduce(15, 15, 150, 0, kept, slots), 150);
    for (int i = 0; i < 150; i++)
        assert_int_equal(slots[i], i);
}

static void test_reducer_passes_lower_input_rates_through(void **state)
{
    (void)state;
    bool kept[100];
    int64_t slots[100];
    static const double rates[] = {1, 5, 7.5, 10, 12.5, 14.985};
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
        assert_int_equal(reduce(15, rates[r], 100, 0, kept, slots), 100);
        assert_slots_increase(slots, 100);
    }
}

static void test_reducer_starts_at_any_timestamp(void **state)
{
    (void)state;
    bool kept[50];
    int64_t slots[50];
    /* The first frame is always kept, whatever its timestamp. */
    int64_t start = INT64_C(123456789);
    int n = reduce(15, 25, 50, start, kept, slots);
    assert_true(kept[0]);
    assert_in_range(n, 29, 31);
    assert_int_equal(slots[0], llround(start * 15.0 / TICKS));
    assert_slots_increase(slots, n);
}

static void test_reducer_tolerates_jittered_timestamps(void **state)
{
    (void)state;
    /* 25 fps with up to ±5 ms of arrival jitter keeps the very same frames as
     * a clean clock: 3 of 5, 150 in 10 s. */
    struct es_fps_reducer clean, jittered;
    es_fps_reducer_init(&clean, 15);
    es_fps_reducer_init(&jittered, 15);
    uint32_t seed = 12345;
    for (int n = 0; n < 250; n++) {
        seed = seed * 1103515245u + 12345u;
        int64_t jitter = (int64_t)((seed >> 16) % 901) - 450;
        int64_t a, b;
        bool k1 = es_fps_reducer_keep(&clean, n * 3600, &a);
        bool k2 = es_fps_reducer_keep(&jittered, n * 3600 + jitter, &b);
        assert_int_equal(k1, k2);
        if (k1)
            assert_int_equal(a, b);
    }

    /* Heavy jitter (±20 ms) still gives about 15 fps and never repeats or
     * reorders a slot. */
    struct es_fps_reducer r;
    es_fps_reducer_init(&r, 15);
    int kept = 0;
    int64_t last = INT64_MIN, slot;
    for (int n = 0; n < 250; n++) {
        seed = seed * 1103515245u + 12345u;
        int64_t jitter = (int64_t)((seed >> 16) % 3601) - 1800;
        if (es_fps_reducer_keep(&r, n * 3600 + jitter, &slot)) {
            assert_true(slot > last);
            last = slot;
            kept++;
        }
    }
    assert_in_range(kept, 140, 151);
}

/* ---- es_transcode_scaled_height ---- */

static void test_scaled_height_keeps_the_aspect_ratio(void **state)
{
    (void)state;
    assert_int_equal(es_transcode_scaled_height(1280, 720, 854), 480);
    assert_int_equal(es_transcode_scaled_height(1920, 1080, 1280), 720);
    assert_int_equal(es_transcode_scaled_height(1920, 1080, 640), 360);
    assert_int_equal(es_transcode_scaled_height(320, 240, 160), 120);
    assert_int_equal(es_transcode_scaled_height(1280, 720, 1280), 720);
}

static void test_scaled_height_rounds_odd_results_up_to_even(void **state)
{
    (void)state;
    /* 480 * 150 / 640 = 112.5 → 113 → 114. */
    assert_int_equal(es_transcode_scaled_height(640, 480, 150), 114);
    /* 720 * 426 / 1280 = 239.6 → 240 (already even). */
    assert_int_equal(es_transcode_scaled_height(1280, 720, 426), 240);
    /* 1080 * 350 / 1920 = 196.9 → 197 → 198. */
    assert_int_equal(es_transcode_scaled_height(1920, 1080, 350), 198);
    for (unsigned w = 2; w <= 1920; w += 2) {
        unsigned h = es_transcode_scaled_height(1920, 1080, w);
        assert_int_equal(h % 2, 0);
        /* Never more than one pixel plus rounding away from the exact value. */
        double exact = 1080.0 * w / 1920.0;
        assert_true(fabs(h - exact) <= 1.5);
    }
}

static void test_scaled_height_handles_4_by_3_input(void **state)
{
    (void)state;
    /* 480 * 854 / 640 = 640.5 → 641 → 642. */
    assert_int_equal(es_transcode_scaled_height(640, 480, 854), 642);
    assert_int_equal(es_transcode_scaled_height(1024, 768, 640), 480);
    assert_int_equal(es_transcode_scaled_height(704, 576, 640), 524); /* D1 PAL: 523.6 */
}

static void test_scaled_height_of_tiny_inputs_is_at_least_two(void **state)
{
    (void)state;
    assert_int_equal(es_transcode_scaled_height(16, 9, 2), 2);
    assert_int_equal(es_transcode_scaled_height(1000, 1, 640), 2);
    assert_int_equal(es_transcode_scaled_height(2, 2, 2), 2);
    assert_int_equal(es_transcode_scaled_height(2, 1000, 4), 2000);
    assert_int_equal(es_transcode_scaled_height(0, 720, 640), 0);
    assert_int_equal(es_transcode_scaled_height(1280, 0, 640), 0);
}

/* ---- generated media ---- */

/* An input the transcoder reads: a stream (codecpar, time base 1/90000) and its
 * packets with 90 kHz timestamps, as the source hands them over. */
struct input {
    AVFormatContext *fmt;
    AVStream *stream;
    struct test_media packets;
};

static void input_init(struct input *in, const AVCodecParameters *par)
{
    memset(in, 0, sizeof(*in));
    in->fmt = avformat_alloc_context();
    assert_non_null(in->fmt);
    in->stream = avformat_new_stream(in->fmt, NULL);
    assert_non_null(in->stream);
    assert_true(avcodec_parameters_copy(in->stream->codecpar, par) >= 0);
    in->stream->time_base = (AVRational){1, TICKS};
}

static void input_free(struct input *in)
{
    test_media_free(&in->packets);
    avformat_free_context(in->fmt);
}

/* A camera: `frames` frames of a moving gradient at w×h, `fps`, a keyframe
 * every `gop` frames and `b_frames` B-frames between references, encoded by
 * libx264. With `global_header`, SPS/PPS travel in extradata (Annex B) only,
 * as an RTSP camera announces them in SDP. */
static void make_h264_input_b(struct input *in, int w, int h, int fps, int frames, int gop,
                              bool global_header, int b_frames)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    assert_non_null(codec);
    AVCodecContext *enc = avcodec_alloc_context3(codec);
    enc->width = w;
    enc->height = h;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){1, fps};
    enc->framerate = (AVRational){fps, 1};
    enc->gop_size = gop;
    enc->keyint_min = gop;
    enc->max_b_frames = b_frames;
    enc->thread_count = 1;
    if (global_header)
        enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary *opts = NULL;
    if (b_frames) {
        /* ultrafast and zerolatency both turn B-frames off. */
        av_dict_set(&opts, "preset", "veryfast", 0);
        av_dict_set(&opts, "x264-params", "scenecut=0:b-adapt=0", 0);
    } else {
        av_dict_set(&opts, "preset", "ultrafast", 0);
        av_dict_set(&opts, "tune", "zerolatency", 0);
        av_dict_set(&opts, "x264-params", "scenecut=0", 0);
    }
    assert_int_equal(avcodec_open2(enc, codec, &opts), 0);
    av_dict_free(&opts);

    AVCodecParameters *par = avcodec_parameters_alloc();
    avcodec_parameters_from_context(par, enc);
    input_init(in, par);
    avcodec_parameters_free(&par);

    AVFrame *frame = av_frame_alloc();
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = w;
    frame->height = h;
    assert_int_equal(av_frame_get_buffer(frame, 0), 0);
    AVPacket *pkt = av_packet_alloc();
    for (int n = 0; n < frames; n++) {
        assert_int_equal(av_frame_make_writable(frame), 0);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                frame->data[0][y * frame->linesize[0] + x] = (uint8_t)(x + y + n * 4);
        for (int y = 0; y < h / 2; y++)
            for (int x = 0; x < w / 2; x++) {
                frame->data[1][y * frame->linesize[1] + x] = (uint8_t)(128 + x - n);
                frame->data[2][y * frame->linesize[2] + x] = (uint8_t)(64 + y + n);
            }
        frame->pts = n;
        assert_int_equal(avcodec_send_frame(enc, frame), 0);
        test_media_drain(enc, pkt, &in->packets, ES_MEDIA_VIDEO);
    }
    avcodec_send_frame(enc, NULL);
    test_media_drain(enc, pkt, &in->packets, ES_MEDIA_VIDEO);
    assert_int_equal(in->packets.count, frames);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&enc);
}

static void make_h264_input(struct input *in, int w, int h, int fps, int frames, int gop,
                            bool global_header)
{
    make_h264_input_b(in, w, h, fps, frames, gop, global_header, 0);
}

/* A microphone: `seconds` of a 440 Hz tone as 16-bit PCM in packets of
 * `samples_per_packet`, timestamps from `start_ts` (90 kHz). */
static void make_pcm_input(struct input *in, int sample_rate, int channels, double seconds,
                           int samples_per_packet, int64_t start_ts)
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    par->codec_type = AVMEDIA_TYPE_AUDIO;
    par->codec_id = AV_CODEC_ID_PCM_S16LE;
    par->format = AV_SAMPLE_FMT_S16;
    par->sample_rate = sample_rate;
    av_channel_layout_default(&par->ch_layout, channels);
    par->bits_per_coded_sample = 16;
    par->block_align = 2 * channels;
    input_init(in, par);
    avcodec_parameters_free(&par);

    int total = (int)llround(seconds * sample_rate);
    AVPacket *pkt = av_packet_alloc();
    for (int first = 0; first < total; first += samples_per_packet) {
        int n = FFMIN(samples_per_packet, total - first);
        assert_int_equal(av_new_packet(pkt, n * 2 * channels), 0);
        int16_t *s = (int16_t *)pkt->data;
        for (int i = 0; i < n; i++)
            for (int c = 0; c < channels; c++)
                s[i * channels + c] =
                    (int16_t)(8000 * sin(2 * M_PI * 440 * (first + i) / (double)sample_rate));
        pkt->pts = pkt->dts = start_ts + av_rescale(first, TICKS, sample_rate);
        pkt->duration = av_rescale(n, TICKS, sample_rate);
        pkt->stream_index = ES_MEDIA_AUDIO;
        pkt->flags = AV_PKT_FLAG_KEY;
        test_media_push(&in->packets, pkt);
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
}

/* ---- what the transcoder emits ---- */

struct emitted {
    struct test_media video, audio;
    int bad_stream_index;
};

static void collect(void *opaque, AVPacket *pkt)
{
    struct emitted *e = opaque;
    if (pkt->stream_index == ES_MEDIA_VIDEO)
        test_media_push(&e->video, pkt);
    else if (pkt->stream_index == ES_MEDIA_AUDIO)
        test_media_push(&e->audio, pkt);
    else
        e->bad_stream_index++;
}

static void emitted_free(struct emitted *e)
{
    test_media_free(&e->video);
    test_media_free(&e->audio);
}

/* NAL unit types of an Annex B packet, in order. Returns how many. */
static int nal_types(const AVPacket *pkt, int *types, int max)
{
    int n = 0;
    const uint8_t *d = pkt->data;
    for (int i = 0; i + 3 < pkt->size && n < max; i++) {
        if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1) {
            types[n++] = d[i + 3] & 0x1f;
            i += 3;
        }
    }
    return n;
}

static int index_of(const int *types, int n, int type)
{
    for (int i = 0; i < n; i++)
        if (types[i] == type)
            return i;
    return -1;
}

static bool has_idr(const AVPacket *pkt)
{
    int types[64];
    return index_of(types, nal_types(pkt, types, 64), 5) >= 0;
}

/* Every keyframe carries SPS (7) and PPS (8) before its IDR slice (5). */
static void assert_headers_precede_idr(const AVPacket *pkt)
{
    int types[64];
    int n = nal_types(pkt, types, 64);
    int idr = index_of(types, n, 5);
    assert_true(idr >= 0);
    int sps = index_of(types, n, 7);
    int pps = index_of(types, n, 8);
    assert_true(sps >= 0 && sps < idr);
    assert_true(pps >= 0 && pps < idr);
}

static struct es_transcode_config x264_config(void)
{
    return (struct es_transcode_config){
        .camera_id = "cam_test",
        .mode = ES_TRANSCODE_X264,
        .target_width = 160,
        .target_fps = 15,
        .segment_duration = 1,
        .audio_bitrate = 64000,
    };
}

static void send_all(struct es_transcoder *t, const struct test_media *list)
{
    AVPacket *pkt = av_packet_alloc();
    for (int i = 0; i < list->count; i++) {
        /* A copy per call: passthrough hands the packet to a bitstream
         * filter, which takes its reference. */
        assert_int_equal(av_packet_ref(pkt, list->items[i]), 0);
        assert_int_equal(es_transcoder_send(t, pkt), ES_OK);
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
}

/* Decodes `list` and checks each picture is w×h; returns the frame count. */
static int decode_count(const struct test_media *list, const AVCodecParameters *par, int w, int h)
{
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    if (par)
        avcodec_parameters_to_context(dec, par);
    dec->thread_count = 1;
    assert_int_equal(avcodec_open2(dec, codec, NULL), 0);
    AVFrame *frame = av_frame_alloc();
    int frames = 0;
    for (int i = 0; i <= list->count; i++) {
        avcodec_send_packet(dec, i < list->count ? list->items[i] : NULL);
        while (avcodec_receive_frame(dec, frame) == 0) {
            assert_int_equal(frame->width, w);
            assert_int_equal(frame->height, h);
            assert_int_equal(frame->decode_error_flags, 0);
            frames++;
            av_frame_unref(frame);
        }
    }
    av_frame_free(&frame);
    avcodec_free_context(&dec);
    return frames;
}

/* ---- x264 mode ---- */

static void test_transcoder_reduces_25_to_15_fps_and_scales_to_160x120(void **state)
{
    (void)state;
    struct input in;
    make_h264_input(&in, 320, 240, 25, 100, 25, false); /* 4 s */
    struct emitted out = {0};
    struct es_transcode_config cfg = x264_config();
    struct es_transcoder *t = NULL;
    assert_int_equal(es_transcoder_create(&cfg, in.stream, NULL, collect, &out, &t), ES_OK);
    assert_null(es_transcoder_video_params(t)); /* the encoder opens on the first frame */
    assert_null(es_transcoder_audio_params(t));
    send_all(t, &in.packets);
    es_transcoder_flush(t);

    /* 100 frames at 25 fps become 60 at 15 fps (slots 0..59). */
    assert_int_equal(out.video.count, 60);
    assert_int_equal(out.audio.count, 0);
    assert_int_equal(out.bad_stream_index, 0);
    struct es_transcode_stats stats;
    es_transcoder_stats(t, &stats);
    assert_int_equal(stats.frames_in, 100);
    assert_int_equal(stats.frames_out, 60);

    const AVCodecParameters *par = es_transcoder_video_params(t);
    assert_non_null(par);
    assert_int_equal(par->codec_id, AV_CODEC_ID_H264);
    assert_int_equal(par->width, 160);
    assert_int_equal(par->height, 120);
    /* Output timestamps are 90 kHz ticks on the 15 fps grid, in order. */
    for (int i = 0; i < out.video.count; i++) {
        assert_int_equal(out.video.items[i]->pts, (int64_t)i * TICKS / 15);
        assert_int_equal(out.video.items[i]->dts, out.video.items[i]->pts);
    }
    /* The pictures really are 160x120 and decode cleanly, with no extradata. */
    assert_int_equal(decode_count(&out.video, NULL, 160, 120), 60);

    es_transcoder_destroy(t);
    emitted_free(&out);
    input_free(&in);
}

static void test_transcoder_puts_a_keyframe_exactly_every_segment_duration(void **state)
{
    (void)state;
    struct input in;
    make_h264_input(&in, 320, 240, 25, 100, 25, false);
    struct emitted out = {0};
    struct es_transcode_config cfg = x264_config();
    struct es_transcoder *t = NULL;
    assert_int_equal(es_transcoder_create(&cfg, in.stream, NULL, collect, &out, &t), ES_OK);
    send_all(t, &in.packets);
    es_transcoder_flush(t);
    assert_int_equal(out.video.count, 60);

    assert_true(out.video.items[0]->flags & AV_PKT_FLAG_KEY);
    for (int i = 0; i < out.video.count; i++) {
        const AVPacket *pkt = out.video.items[i];
        bool on_grid = pkt->pts % TICKS == 0;
        bool key = pkt->flags & AV_PKT_FLAG_KEY;
        /* Keyframes every 15 output frames = every 90000 ticks, and nowhere
         * else (no scene-cut keyframes, no x264 keyint drift). */
        assert_int_equal(key, i % 15 == 0);
        assert_int_equal(key, on_grid);
        assert_int_equal(has_idr(pkt), key);
        if (key)
            assert_headers_precede_idr(pkt);
    }
    es_transcoder_destroy(t);
    emitted_free(&out);
    input_free(&in);
}

static void test_transcoder_keeps_the_keyframe_grid_when_a_frame_is_lost(void **state)
{
    (void)state;
    /* All-intra input, so dropping a packet costs only that picture. */
    struct input in;
    make_h264_input(&in, 320, 240, 25, 100, 1, false);
    /* Input frame 50 (2.0 s) would become output slot 30, a keyframe slot. */
    av_packet_free(&in.packets.items[50]);
    memmove(&in.packets.items[50], &in.packets.items[51],
            (size_t)(in.packets.count - 51) * sizeof(AVPacket *));
    in.packets.count--;

    struct emitted out = {0};
    struct es_transcode_config cfg = x264_config();
    struct es_transcoder *t = NULL;
    assert_int_equal(es_transcoder_create(&cfg, in.stream, NULL, collect, &out, &t), ES_OK);
    send_all(t, &in.packets);
    es_transcoder_flush(t);
    assert_int_equal(out.video.count, 59);

    /* The frame after the lost one takes the keyframe (slot 31), and the grid
     * goes on from slot 45 as if nothing happened. */
    static const int64_t want[] = {0, 15, 31, 45};
    size_t keys = 0;
    for (int i = 0; i < out.video.count; i++) {
        const AVPacket *pkt = out.video.items[i];
        if (!(pkt->flags & AV_PKT_FLAG_KEY))
            continue;
        assert_true(keys < 4);
        assert_int_equal(pkt->pts, want[keys] * TICKS / 15);
        assert_headers_precede_idr(pkt);
        keys++;
    }
    assert_int_equal(keys, 4);
    es_transcoder_destroy(t);
    emitted_free(&out);
    input_free(&in);
}

static void test_transcoder_gop_follows_fps_times_segment_duration(void **state)
{
    (void)state;
    struct input in;
    make_h264_input(&in, 320, 240, 25, 100, 25, false);
    struct emitted out = {0};
    struct es_transcode_config cfg = x264_config();
    cfg.target_fps = 10;
    cfg.segment_duration = 2; /* a keyframe every 20 frames = 2 s */
    struct es_transcoder *t = NULL;
    assert_int_equal(es_transcoder_create(&cfg, in.stream, NULL, collect, &out, &t), ES_OK);
    send_all(t, &in.packets);
    es_transcoder_flush(t);
    /* 100 frames over 3.96 s: slots 0..40 (the last one, 39.6, rounds up). */
    assert_int_equal(out.video.count, 41);
    for (int i = 0; i < out.video.count; i++) {
        const AVPacket *pkt = out.video.items[i];
        assert_int_equal(pkt->pts, (int64_t)i * TICKS / 10);
        assert_int_equal(!!(pkt->flags & AV_PKT_FLAG_KEY), i % 20 == 0);
    }
    es_transcoder_destroy(t);
    emitted_free(&out);
    input_free(&in);
}

static void test_transcoder_puts_camera_b_frames_in_order_on_the_grid(void **state)
{
    (void)state;
    struct input in;
    make_h264_input_b(&in, 320, 240, 25, 100, 25, false, 2);
    /* The camera really sends B-frames: decode order differs from display order. */
    bool reordered = false;
    for (int i = 0; i < in.packets.count; i++)
        reordered |= in.packets.items[i]->pts != in.packets.items[i]->dts;
    assert_true(reordered);

    struct emitted out = {0};
    struct es_transcode_config cfg = x264_config();
    struct es_transcoder *t = NULL;
    assert_int_equal(es_transcoder_create(&cfg, in.stream, NULL, collect, &out, &t), ES_OK);
    send_all(t, &in.packets);
    es_transcoder_flush(t);
    assert_in_range(out.video.count, 57, 60);
    for (int i = 0; i < out.video.count; i++) {
        const AVPacket *pkt = out.video.items[i];
        /* Output has no B-frames: pts == dts, one slot (6000 ticks) apart. */
        assert_int_equal(pkt->pts, (int64_t)i * TICKS / 15);
        assert_int_equal(pkt->dts, pkt->pts);
        assert_int_equal(!!(pkt->flags & AV_PKT_FLAG_KEY), i % 15 == 0);
    }
    es_transcoder_destroy(t);
    emitted_free(&out);
    input_free(&in);
}

/* EXPECTED TO FAIL until es_transcoder_flush() drains the video decoder: a
 * camera with B-frames leaves has_b_frames pictures inside the decoder, which
 * are lost at every disconnect and at shutdown. */
static void test_transcoder_flush_drains_pictures_held_by_the_decoder(void **state)
{
    (void)state;
    struct input in;
    make_h264_input_b(&in, 320, 240, 25, 100, 25, false, 2);
    struct emitted out = {0};
    struct es_transcode_config cfg = x264_config();
    struct es_transcoder *t = NULL;
    assert_int_equal(es_transcoder_create(&cfg, in.stream, NULL, collect, &out, &t), ES_OK);
    send_all(t, &in.packets);
    es_transcoder_flush(t);
    struct es_transcode_stats stats;
    es_transcoder_stats(t, &stats);
    int frames_in = (int)stats.frames_in, frames_out = out.video.count;
    es_transcoder_destroy(t);
    emitted_free(&out);
    input_free(&in);
    /* All 100 camera pictures decoded, all 60 slots of 4 s at 15 fps encoded. */
    assert_int_equal(frames_in, 100);
    assert_int_equal(frames_out, 60);
}

/* ---- passthrough ---- */

static void test_passthrough_prepends_sps_pps_to_every_keyframe(void **state)
{
    (void)state;
    struct input in;
    make_h264_input(&in, 320, 240, 25, 60, 25, true);
    const AVCodecParameters *in_par = in.stream->codecpar;
    assert_true(in_par->extradata_size > 0);
    /* The camera's own keyframes carry no SPS/PPS: they are in extradata. */
    int types[64];
    int n = nal_types(in.packets.items[0], types, 64);
    assert_int_equal(index_of(types, n, 7), -1);

    struct emitted out = {0};
    struct es_transcode_config cfg = x264_config();
    cfg.mode = ES_TRANSCODE_COPY;
    struct es_transcoder *t = NULL;
    assert_int_equal(es_transcoder_create(&cfg, in.stream, NULL, collect, &out, &t), ES_OK);
    /* Passthrough knows its output at once: the camera's own parameters. */
    const AVCodecParameters *par = es_transcoder_video_params(t);
    assert_non_null(par);
    assert_int_equal(par->codec_id, AV_CODEC_ID_H264);
    assert_int_equal(par->width, 320);
    assert_int_equal(par->height, 240);
    send_all(t, &in.packets);
    es_transcoder_flush(t);

    assert_int_equal(out.video.count, in.packets.count);
    int keys = 0;
    for (int i = 0; i < out.video.count; i++) {
        const AVPacket *src = in.packets.items[i];
        const AVPacket *pkt = out.video.items[i];
        assert_int_equal(pkt->pts, src->pts);
        assert_int_equal(pkt->dts, src->dts);
        assert_int_equal(pkt->flags & AV_PKT_FLAG_KEY, src->flags & AV_PKT_FLAG_KEY);
        if (src->flags & AV_PKT_FLAG_KEY) {
            keys++;
            /* extradata, then the camera's bytes unchanged. */
            assert_int_equal(pkt->size, in_par->extradata_size + src->size);
            assert_memory_equal(pkt->data, in_par->extradata, in_par->extradata_size);
            assert_memory_equal(pkt->data + in_par->extradata_size, src->data, src->size);
            assert_headers_precede_idr(pkt);
        } else {
            assert_int_equal(pkt->size, src->size);
            assert_memory_equal(pkt->data, src->data, src->size);
        }
    }
    assert_int_equal(keys, 3); /* frames 0, 25, 50 */
    /* Each keyframe alone is enough for a decoder: no extradata given. */
    assert_int_equal(decode_count(&out.video, NULL, 320, 240), 60);
    struct es_transcode_stats stats;
    es_transcoder_stats(t, &stats);
    assert_int_equal(stats.frames_in, 60);
    assert_int_equal(stats.frames_out, 60);
    es_transcoder_destroy(t);
    emitted_free(&out);
    input_free(&in);
}

static void test_passthrough_without_extradata_passes_packets_unchanged(void **state)
{
    (void)state;
    struct input in;
    make_h264_input(&in, 320, 240, 25, 30, 25, false); /* SPS/PPS in-band */
    assert_int_equal(in.stream->codecpar->extradata_size, 0);
    struct emitted out = {0};
    struct es_transcode_config cfg = x264_config();
    cfg.mode = ES_TRANSCODE_COPY;
    struct es_transcoder *t = NULL;
    assert_int_equal(es_transcoder_create(&cfg, in.stream, NULL, collect, &out, &t), ES_OK);
    send_all(t, &in.packets);
    es_transcoder_flush(t);
    assert_int_equal(out.video.count, 30);
    for (int i = 0; i < 30; i++) {
        assert_int_equal(out.video.items[i]->size, in.packets.items[i]->size);
        assert_memory_equal(out.video.items[i]->data, in.packets.items[i]->data,
                            in.packets.items[i]->size);
        assert_int_equal(out.video.items[i]->pts, in.packets.items[i]->pts);
    }
    es_transcoder_destroy(t);
    emitted_free(&out);
    input_free(&in);
}

static void test_passthrough_refuses_a_camera_that_is_not_h264(void **state)
{
    (void)state;
    static const enum AVCodecID others[] = {AV_CODEC_ID_HEVC, AV_CODEC_ID_MJPEG, AV_CODEC_ID_MPEG4};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        AVCodecParameters *par = avcodec_parameters_alloc();
        par->codec_type = AVMEDIA_TYPE_VIDEO;
        par->codec_id = others[i];
        par->width = 1280;
        par->height = 720;
        struct input in;
        input_init(&in, par);
        avcodec_parameters_free(&par);
        struct emitted out = {0};
        struct es_transcode_config cfg = x264_config();
        cfg.mode = ES_TRANSCODE_COPY;
        struct es_transcoder *t = (struct es_transcoder *)&out; /* must be reset */
        assert_int_equal(es_transcoder_create(&cfg, in.stream, NULL, collect, &out, &t),
                         ES_ERR_UNSUPPORTED);
        assert_null(t);
        input_free(&in);
    }
}

static void test_transcoder_destroy_of_null_does_nothing(void **state)
{
    (void)state;
    es_transcoder_destroy(NULL);
}

/* ---- audio ---- */

/* Runs `in` (audio) through a transcoder beside a video stream that sends no
 * packets; returns the transcoder for parameter checks. */
static struct es_transcoder *run_audio(struct input *in, struct emitted *out,
                                       enum es_transcode_mode mode, struct input *video)
{
    make_h264_input(video, 64, 48, 25, 1, 25, true);
    struct es_transcode_config cfg = x264_config();
    cfg.mode = mode;
    struct es_transcoder *t = NULL;
    assert_int_equal(es_transcoder_create(&cfg, video->stream, in->stream, collect, out, &t),
                     ES_OK);
    send_all(t, &in->packets);
    es_transcoder_flush(t);
    return t;
}

static void assert_gapless(const struct test_media *audio, int sample_rate)
{
    AVRational sample_tb = {1, sample_rate};
    for (int i = 1; i < audio->count; i++) {
        int64_t prev = av_rescale_q(audio->items[i - 1]->pts, (AVRational){1, TICKS}, sample_tb);
        int64_t cur = av_rescale_q(audio->items[i]->pts, (AVRational){1, TICKS}, sample_tb);
        assert_int_equal(cur - prev, 1024);
        assert_int_equal(audio->items[i]->dts, audio->items[i]->pts);
    }
}

static void test_transcoder_encodes_pcm_to_gapless_aac(void **state)
{
    (void)state;
    struct input pcm, video;
    int64_t start = 123456;
    make_pcm_input(&pcm, 48000, 1, 2.0, 960, start);
    struct emitted out = {0};
    struct es_transcoder *t = run_audio(&pcm, &out, ES_TRANSCODE_X264, &video);

    const AVCodecParameters *par = es_transcoder_audio_params(t);
    assert_non_null(par);
    assert_int_equal(par->codec_id, AV_CODEC_ID_AAC);
    assert_int_equal(par->sample_rate, 48000);
    assert_int_equal(par->ch_layout.nb_channels, 1);

    /* 96000 samples = 93.75 AAC frames: 94 after the flush pads the last. */
    assert_in_range(out.audio.count, 94, 96);
    assert_int_equal(out.video.count, 0);
    /* Each packet exactly 1024 samples (1920 ticks) after the one before. */
    for (int i = 1; i < out.audio.count; i++)
        assert_int_equal(out.audio.items[i]->pts - out.audio.items[i - 1]->pts, 1920);
    /* The first packet starts at the first sample's time, less at most the
     * encoder's priming frame. */
    assert_in_range(out.audio.items[0]->pts, start - 1920, start);
    es_transcoder_destroy(t);
    emitted_free(&out);
    input_free(&pcm);
    input_free(&video);
}

static void test_transcoder_audio_stays_gapless_despite_input_jitter(void **state)
{
    (void)state;
    struct input pcm, video;
    make_pcm_input(&pcm, 48000, 1, 2.0, 960, 90000);
    /* The camera's audio timestamps wobble by up to ±3 ms. */
    uint32_t seed = 7;
    for (int i = 0; i < pcm.packets.count; i++) {
        seed = seed * 1103515245u + 12345u;
        int64_t jitter = (int64_t)((seed >> 16) % 541) - 270;
        pcm.packets.items[i]->pts += jitter;
        pcm.packets.items[i]->dts += jitter;
    }
    struct emitted out = {0};
    struct es_transcoder *t = run_audio(&pcm, &out, ES_TRANSCODE_X264, &video);
    assert_in_range(out.audio.count, 94, 96);
    for (int i = 1; i < out.audio.count; i++)
        assert_int_equal(out.audio.items[i]->pts - out.audio.items[i - 1]->pts, 1920);
    es_transcoder_destroy(t);
    emitted_free(&out);
    input_free(&pcm);
    input_free(&video);
}

static void test_transcoder_audio_at_44100_hz_stereo_counts_whole_samples(void **state)
{
    (void)state;
    /* 1024 samples at 44.1 kHz are 2089.8 ticks: the steps alternate between
     * whole ticks, but in samples every packet is exactly 1024 later. */
    struct input pcm, video;
    make_pcm_input(&pcm, 44100, 2, 2.0, 882, 0);
    struct emitted out = {0};
    struct es_transcoder *t = run_audio(&pcm, &out, ES_TRANSCODE_X264, &video);
    const AVCodecParameters *par = es_transcoder_audio_params(t);
    assert_non_null(par);
    assert_int_equal(par->sample_rate, 44100);
    assert_int_equal(par->ch_layout.nb_channels, 2);
    assert_in_range(out.audio.count, 87, 89);
    assert_gapless(&out.audio, 44100);
    es_transcoder_destroy(t);
    emitted_free(&out);
    input_free(&pcm);
    input_free(&video);
}

static void test_passthrough_copies_the_cameras_aac_untouched(void **state)
{
    (void)state;
    /* AAC from the camera: make it with FFmpeg's encoder from the tone. */
    struct input pcm;
    make_pcm_input(&pcm, 48000, 1, 1.0, 1024, 0);
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    AVCodecContext *enc = avcodec_alloc_context3(codec);
    enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    enc->sample_rate = 48000;
    av_channel_layout_default(&enc->ch_layout, 1);
    enc->bit_rate = 64000;
    enc->time_base = (AVRational){1, 48000};
    assert_int_equal(avcodec_open2(enc, codec, NULL), 0);
    AVCodecParameters *par = avcodec_parameters_alloc();
    avcodec_parameters_from_context(par, enc);
    struct input aac;
    input_init(&aac, par);
    avcodec_parameters_free(&par);
    AVFrame *frame = av_frame_alloc();
    frame->format = AV_SAMPLE_FMT_FLTP;
    frame->nb_samples = 1024;
    frame->sample_rate = 48000;
    av_channel_layout_default(&frame->ch_layout, 1);
    assert_int_equal(av_frame_get_buffer(frame, 0), 0);
    AVPacket *pkt = av_packet_alloc();
    for (int k = 0; k < 20; k++) {
        av_frame_make_writable(frame);
        float *s = (float *)frame->data[0];
        for (int i = 0; i < 1024; i++)
            s[i] = 0.2f * (float)sin(2 * M_PI * 440 * (k * 1024 + i) / 48000.0);
        frame->pts = k * 1024;
        assert_int_equal(avcodec_send_frame(enc, frame), 0);
        test_media_drain(enc, pkt, &aac.packets, ES_MEDIA_AUDIO);
    }
    avcodec_send_frame(enc, NULL);
    test_media_drain(enc, pkt, &aac.packets, ES_MEDIA_AUDIO);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&enc);
    assert_true(aac.packets.count >= 20);

    struct input video;
    struct emitted out = {0};
    struct es_transcoder *t = run_audio(&aac, &out, ES_TRANSCODE_COPY, &video);
    const AVCodecParameters *out_par = es_transcoder_audio_params(t);
    assert_non_null(out_par);
    assert_int_equal(out_par->codec_id, AV_CODEC_ID_AAC);
    assert_int_equal(out.audio.count, aac.packets.count);
    for (int i = 0; i < aac.packets.count; i++) {
        assert_int_equal(out.audio.items[i]->pts, aac.packets.items[i]->pts);
        assert_int_equal(out.audio.items[i]->size, aac.packets.items[i]->size);
        assert_memory_equal(out.audio.items[i]->data, aac.packets.items[i]->data,
                            aac.packets.items[i]->size);
    }
    es_transcoder_destroy(t);
    emitted_free(&out);
    input_free(&aac);
    input_free(&pcm);
    input_free(&video);
}

static void test_transcoder_without_an_audio_decoder_keeps_the_video(void **state)
{
    (void)state;
    AVCodecParameters *par = avcodec_parameters_alloc();
    par->codec_type = AVMEDIA_TYPE_AUDIO;
    par->codec_id = AV_CODEC_ID_NONE; /* nothing can decode it */
    par->sample_rate = 8000;
    av_channel_layout_default(&par->ch_layout, 1);
    struct input audio, video;
    input_init(&audio, par);
    avcodec_parameters_free(&par);
    make_h264_input(&video, 320, 240, 25, 25, 25, false);
    struct emitted out = {0};
    struct es_transcode_config cfg = x264_config();
    struct es_transcoder *t = NULL;
    assert_int_equal(es_transcoder_create(&cfg, video.stream, audio.stream, collect, &out, &t),
                     ES_OK);
    assert_null(es_transcoder_audio_params(t));
    /* Audio packets are ignored, video flows. */
    AVPacket *junk = av_packet_alloc();
    assert_int_equal(av_new_packet(junk, 16), 0);
    memset(junk->data, 0xAB, 16);
    junk->stream_index = ES_MEDIA_AUDIO;
    junk->pts = junk->dts = 0;
    assert_int_equal(es_transcoder_send(t, junk), ES_OK);
    av_packet_free(&junk);
    send_all(t, &video.packets);
    es_transcoder_flush(t);
    assert_int_equal(out.video.count, 15);
    assert_int_equal(out.audio.count, 0);
    es_transcoder_destroy(t);
    emitted_free(&out);
    input_free(&audio);
    input_free(&video);
}

/* stderr of the calls between the two, read back into `out` (no assertion in
 * between: one would jump out with stderr still redirected). */
struct capture {
    char path[64];
    int fd, saved;
};

static void capture_start(struct capture *c)
{
    snprintf(c->path, sizeof(c->path), "/tmp/es_test_transcode_XXXXXX");
    c->fd = mkstemp(c->path);
    assert_true(c->fd >= 0);
    fflush(stderr);
    c->saved = dup(STDERR_FILENO);
    dup2(c->fd, STDERR_FILENO);
}

static void capture_end(struct capture *c, char *out, size_t out_size)
{
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    lseek(c->fd, 0, SEEK_SET);
    ssize_t n = read(c->fd, out, out_size - 1);
    out[n > 0 ? n : 0] = '\0';
    close(c->fd);
    unlink(c->path);
}

static size_t count_of(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

/* Issue 11, defect 6: a hostile or broken camera announcing huge pictures
 * (16384x8192) must not make the decoder allocate them. Announced in the
 * stream's parameters, the camera is refused at once; announced only in band
 * (an SPS larger than the parameters said), the decoder refuses the pictures.
 * Either way the log names the camera, once. */
static void test_transcoder_refuses_pictures_over_max_pixels(void **state)
{
    (void)state;
    struct input small;
    make_h264_input(&small, 64, 48, 25, 2, 25, false);
    AVCodecParameters *huge = avcodec_parameters_alloc();
    avcodec_parameters_copy(huge, small.stream->codecpar);
    huge->width = 16384; /* 134 MP: within libavcodec's own limit */
    huge->height = 8192;
    struct input announced;
    input_init(&announced, huge);
    avcodec_parameters_free(&huge);

    struct emitted out = {0};
    struct es_transcode_config cfg = x264_config();
    struct es_transcoder *t = NULL;
    char log[8192];
    struct capture cap;
    es_log_set_level(ES_LOG_WARN);
    capture_start(&cap);
    enum es_err err = es_transcoder_create(&cfg, announced.stream, NULL, collect, &out, &t);
    capture_end(&cap, log, sizeof(log));
    es_log_set_level(ES_LOG_ERROR);
    assert_int_not_equal(err, ES_OK);
    assert_null(t);
    assert_non_null(strstr(log, "camera=cam_test"));
    assert_non_null(strstr(log, "16384x8192"));
    input_free(&announced);
    input_free(&small);

    /* In band: the parameters say 64x48, the SPS says 4352x3264 (14.2 MP). */
    struct input in_band;
    make_h264_input(&in_band, 4352, 3264, 25, 3, 25, false);
    in_band.stream->codecpar->width = 64;
    in_band.stream->codecpar->height = 48;
    assert_int_equal(es_transcoder_create(&cfg, in_band.stream, NULL, collect, &out, &t), ES_OK);
    es_log_set_level(ES_LOG_WARN);
    capture_start(&cap);
    AVPacket *pkt = av_packet_alloc();
    enum es_err sent = ES_OK;
    for (int i = 0; i < in_band.packets.count && sent == ES_OK; i++) {
        av_packet_ref(pkt, in_band.packets.items[i]);
        sent = es_transcoder_send(t, pkt);
        av_packet_unref(pkt);
    }
    es_transcoder_flush(t);
    capture_end(&cap, log, sizeof(log));
    es_log_set_level(ES_LOG_ERROR);
    av_packet_free(&pkt);
    struct es_transcode_stats stats;
    es_transcoder_stats(t, &stats);
    assert_int_equal(stats.frames_in, 0);
    assert_int_equal(out.video.count, 0);
    assert_non_null(strstr(log, "camera=cam_test"));
    assert_int_equal(count_of(log, "WARN"), 1);
    es_transcoder_destroy(t);
    emitted_free(&out);
    input_free(&in_band);
}

int main(void)
{
    es_log_set_level(ES_LOG_ERROR);
    av_log_set_level(AV_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reducer_keeps_3_of_every_5_frames_from_25_to_15_fps),
        cmocka_unit_test(test_reducer_keeps_every_other_frame_from_30_to_15_fps),
        cmocka_unit_test(test_reducer_keeps_every_frame_at_the_target_rate),
        cmocka_unit_test(test_reducer_passes_lower_input_rates_through),
        cmocka_unit_test(test_reducer_starts_at_any_timestamp),
        cmocka_unit_test(test_reducer_tolerates_jittered_timestamps),
        cmocka_unit_test(test_scaled_height_keeps_the_aspect_ratio),
        cmocka_unit_test(test_scaled_height_rounds_odd_results_up_to_even),
        cmocka_unit_test(test_scaled_height_handles_4_by_3_input),
        cmocka_unit_test(test_scaled_height_of_tiny_inputs_is_at_least_two),
        cmocka_unit_test(test_transcoder_reduces_25_to_15_fps_and_scales_to_160x120),
        cmocka_unit_test(test_transcoder_puts_a_keyframe_exactly_every_segment_duration),
        cmocka_unit_test(test_transcoder_keeps_the_keyframe_grid_when_a_frame_is_lost),
        cmocka_unit_test(test_transcoder_gop_follows_fps_times_segment_duration),
        cmocka_unit_test(test_transcoder_puts_camera_b_frames_in_order_on_the_grid),
        cmocka_unit_test(test_transcoder_flush_drains_pictures_held_by_the_decoder),
        cmocka_unit_test(test_passthrough_prepends_sps_pps_to_every_keyframe),
        cmocka_unit_test(test_passthrough_without_extradata_passes_packets_unchanged),
        cmocka_unit_test(test_passthrough_refuses_a_camera_that_is_not_h264),
        cmocka_unit_test(test_transcoder_destroy_of_null_does_nothing),
        cmocka_unit_test(test_transcoder_encodes_pcm_to_gapless_aac),
        cmocka_unit_test(test_transcoder_audio_stays_gapless_despite_input_jitter),
        cmocka_unit_test(test_transcoder_audio_at_44100_hz_stereo_counts_whole_samples),
        cmocka_unit_test(test_passthrough_copies_the_cameras_aac_untouched),
        cmocka_unit_test(test_transcoder_without_an_audio_decoder_keeps_the_video),
        cmocka_unit_test(test_transcoder_refuses_pictures_over_max_pixels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
