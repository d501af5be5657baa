/* Unit tests for src/segment/cmaf.c: part and segment boundaries, durations
 * against PART-TARGET, INDEPENDENT parts, the forced cut at the cap, the init
 * section, tfdt of every track on one timeline, and that init + parts demux
 * back into every frame. Media is encoded here (libx264, FFmpeg's AAC). */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/blob.h"
#include "core/clock.h"
#include "core/log.h"
#include "fixture/media.h"
#include "segment/cmaf.h"
#include "source/source.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICKS ES_TICKS_PER_SECOND
#define FPS 15
#define FRAME_TICKS (TICKS / FPS) /* 6000 */
#define START (10 * TICKS)        /* the camera timeline starts at 10 s */

/* ---- generated media ---- */

/* 96x64 at 15 fps, SPS/PPS before each IDR (as the transcoder makes them), the
 * camera timeline starting at START. */
static void make_video(struct test_media *out, int frames, int gop)
{
    test_media_video(out, &(struct test_video_spec){.width = 96, .height = 64, .fps = FPS,
                                                   .frames = frames, .gop = gop, .start = START,
                                                   .repeat_headers = true});
}

static void make_audio(struct test_media *out, int count)
{
    test_media_audio(out, count, START);
}

/* ---- what the segmenter emits ---- */

#define MAX_EVENTS 512

struct recorded {
    struct es_cmaf_event ev[MAX_EVENTS];
    int count;
};

static void record(void *opaque, const struct es_cmaf_event *event)
{
    struct recorded *r = opaque;
    assert_true(r->count < MAX_EVENTS);
    r->ev[r->count] = *event;
    if (event->data)
        es_blob_ref(event->data);
    if (event->init)
        es_blob_ref(event->init);
    r->count++;
}

static void recorded_free(struct recorded *r)
{
    for (int i = 0; i < r->count; i++) {
        es_blob_unref(r->ev[i].data);
        es_blob_unref(r->ev[i].init);
    }
    r->count = 0;
}

/* Interleaves video and audio by dts, as the transcoder's output arrives. */
static void feed(struct es_cmaf_segmenter *s, const struct test_media *video,
                 const struct test_media *audio)
{
    int a = 0;
    for (int v = 0; v < video->count; v++) {
        while (audio && a < audio->count && audio->items[a]->dts <= video->items[v]->dts) {
            es_cmaf_write(s, audio->items[a], 1000 + audio->items[a]->dts);
            a++;
        }
        assert_int_equal(es_cmaf_write(s, video->items[v], 1000 + video->items[v]->dts), ES_OK);
    }
}

/* ---- ISO BMFF reading, just enough ---- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Finds box `path` ("moof/traf/tfdt") starting at data; returns its body. */
static const uint8_t *find_box(const uint8_t *data, size_t size, const char *path, size_t nth,
                               size_t *body_size)
{
    char first[5] = {0};
    memcpy(first, path, 4);
    const char *rest = path[4] == '/' ? path + 5 : NULL;
    size_t off = 0, seen = 0;
    while (off + 8 <= size) {
        uint32_t len = be32(data + off);
        if (len < 8 || off + len > size)
            return NULL;
        if (memcmp(data + off + 4, first, 4) == 0) {
            if (!rest) {
                if (seen++ == nth) {
                    *body_size = len - 8;
                    return data + off + 8;
                }
            } else {
                const uint8_t *found = find_box(data + off + 8, len - 8, rest, nth, body_size);
                if (found)
                    return found;
            }
        }
        off += len;
    }
    return NULL;
}

/* baseMediaDecodeTime of the traf of track `track_id`, in seconds. */
static double tfdt_seconds(const struct es_blob *part, uint32_t track_id, uint32_t timescale)
{
    for (size_t t = 0; t < 4; t++) {
        size_t size;
        const uint8_t *traf =
            find_box(es_blob_data(part), es_blob_size(part), "moof/traf", t, &size);
        if (!traf)
            break;
        size_t hs, ds;
        const uint8_t *tfhd = find_box(traf, size, "tfhd", 0, &hs);
        const uint8_t *tfdt = find_box(traf, size, "tfdt", 0, &ds);
        assert_non_null(tfhd);
        assert_non_null(tfdt);
        if (be32(tfhd + 4) != track_id)
            continue;
        uint64_t v =
            tfdt[0] == 1 ? ((uint64_t)be32(tfdt + 4) << 32 | be32(tfdt + 8)) : be32(tfdt + 4);
        return (double)v / timescale;
    }
    return -1;
}

/* ---- tests ---- */

static void test_cmaf_part_target_is_whole_frames_at_most_the_configured_value(void **state)
{
    (void)state;
    assert_true(fabs(es_cmaf_part_target(0.2, 15) - 0.2) < 1e-12);
    assert_true(fabs(es_cmaf_part_target(0.2, 25) - 0.2) < 1e-12);
    assert_true(fabs(es_cmaf_part_target(0.2, 12) - 2.0 / 12) < 1e-12);
    assert_true(fabs(es_cmaf_part_target(0.333, 30) - 9.0 / 30) < 1e-12);
    assert_true(fabs(es_cmaf_part_target(0.05, 10) - 0.1) < 1e-12); /* at least one frame */
    assert_true(fabs(es_cmaf_part_target(0.25, 0) - 0.25) < 1e-12);
}

static void test_cmaf_cuts_parts_of_part_target_and_segments_at_each_idr(void **state)
{
    (void)state;
    struct test_media video, audio;
    make_video(&video, 60, 15); /* 4 s, an IDR every second */
    make_audio(&audio, 190);
    struct recorded rec = {.count = 0};
    struct es_cmaf_config cfg = {
        .camera_id = "t", .segment_target = 1.0, .part_target = 0.2, .fps = FPS, .first_msn = 7};
    struct es_cmaf_segmenter *s;
    assert_int_equal(es_cmaf_create(&cfg, record, &rec, &s), ES_OK);
    es_cmaf_set_streams(s, video.params, audio.params);
    feed(s, &video, &audio);
    es_cmaf_flush(s);

    int parts = 0, ends = 0;
    uint64_t msn = 7;
    unsigned index = 0;
    int64_t expect_start = START;
    for (int i = 0; i < rec.count; i++) {
        const struct es_cmaf_event *e = &rec.ev[i];
        /* The segment's end travels with its last part: no separate event. */
        assert_int_equal(e->kind, ES_CMAF_PART);
        assert_int_equal(e->msn, msn);
        assert_int_equal(e->part_index, index);
        assert_int_equal(e->start_ts, expect_start);
        /* Three frames of 1/15 s: exactly PART-TARGET. */
        assert_int_equal(e->duration_ts, 3 * FRAME_TICKS);
        assert_int_equal(e->independent, index == 0);
        assert_non_null(e->init);
        assert_int_equal(e->init_id, 1);
        assert_int_equal(e->program_date_time_us, 1000 + e->start_ts);
        assert_int_equal(e->segment_end, index == 4);
        expect_start += e->duration_ts;
        index++;
        parts++;
        if (e->segment_end) {
            assert_int_equal(e->segment_duration_ts, TICKS);
            msn++;
            index = 0;
            ends++;
        }
    }
    assert_int_equal(parts, 20);
    assert_int_equal(ends, 4);
    es_cmaf_destroy(s);
    recorded_free(&rec);
    test_media_free(&video);
    test_media_free(&audio);
}

static void test_cmaf_init_section_has_avcc_and_audio_and_tracks_share_one_timeline(void **state)
{
    (void)state;
    struct test_media video, audio;
    make_video(&video, 30, 15);
    make_audio(&audio, 95);
    struct recorded rec = {.count = 0};
    struct es_cmaf_config cfg = {
        .camera_id = "t", .segment_target = 1.0, .part_target = 0.2, .fps = FPS, .first_msn = 0};
    struct es_cmaf_segmenter *s;
    assert_int_equal(es_cmaf_create(&cfg, record, &rec, &s), ES_OK);
    es_cmaf_set_streams(s, video.params, audio.params);
    feed(s, &video, &audio);
    es_cmaf_flush(s);

    const struct es_blob *init = rec.ev[0].init;
    size_t size;
    assert_non_null(find_box(es_blob_data(init), es_blob_size(init), "ftyp", 0, &size));
    assert_non_null(find_box(es_blob_data(init), es_blob_size(init), "moov/mvex/trex", 0, &size));
    assert_non_null(memmem(es_blob_data(init), es_blob_size(init), "avcC", 4));
    assert_non_null(memmem(es_blob_data(init), es_blob_size(init), "esds", 4));
    /* No samples in the init section, and no moof in it. */
    assert_null(find_box(es_blob_data(init), es_blob_size(init), "moof", 0, &size));

    for (int i = 0; i < rec.count; i++) {
        const struct es_cmaf_event *e = &rec.ev[i];
        if (e->kind != ES_CMAF_PART)
            continue;
        /* tfdt counts from the first video frame, for video and audio alike. */
        double v = tfdt_seconds(e->data, 1, TICKS);
        double want = (double)(e->start_ts - START) / TICKS;
        assert_true(fabs(v - want) < 1e-6);
        double a = tfdt_seconds(e->data, 2, 48000);
        if (a >= 0 && fabs(a - want) > 0.15)
            fail_msg("part %d: audio tfdt %.3f s, video %.3f s", i, a, v);
    }
    es_cmaf_destroy(s);
    recorded_free(&rec);
    test_media_free(&video);
    test_media_free(&audio);
}

/* Reads init + parts back with libavformat's mp4 demuxer. */
struct memory_input {
    uint8_t *data;
    size_t size, pos;
};

static int read_memory(void *opaque, uint8_t *buf, int size)
{
    struct memory_input *m = opaque;
    size_t left = m->size - m->pos;
    if (left == 0)
        return AVERROR_EOF;
    size_t n = (size_t)size < left ? (size_t)size : left;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (int)n;
}

static void test_cmaf_init_and_parts_demux_into_every_frame(void **state)
{
    (void)state;
    struct test_media video;
    make_video(&video, 45, 15);
    struct recorded rec = {.count = 0};
    struct es_cmaf_config cfg = {
        .camera_id = "t", .segment_target = 1.0, .part_target = 0.2, .fps = FPS, .first_msn = 0};
    struct es_cmaf_segmenter *s;
    assert_int_equal(es_cmaf_create(&cfg, record, &rec, &s), ES_OK);
    es_cmaf_set_streams(s, video.params, NULL);
    feed(s, &video, NULL);
    es_cmaf_flush(s);

    struct memory_input m = {.data = NULL, .size = 0, .pos = 0};
    const struct es_blob *init = rec.ev[0].init;
    m.data = malloc(1 << 22);
    memcpy(m.data, es_blob_data(init), es_blob_size(init));
    m.size = es_blob_size(init);
    for (int i = 0; i < rec.count; i++) {
        if (rec.ev[i].kind != ES_CMAF_PART)
            continue;
        memcpy(m.data + m.size, es_blob_data(rec.ev[i].data), es_blob_size(rec.ev[i].data));
        m.size += es_blob_size(rec.ev[i].data);
    }
    AVFormatContext *in = avformat_alloc_context();
    uint8_t *iobuf = av_malloc(4096);
    in->pb = avio_alloc_context(iobuf, 4096, 0, &m, read_memory, NULL, NULL);
    assert_int_equal(avformat_open_input(&in, NULL, av_find_input_format("mp4"), NULL), 0);
    assert_true(avformat_find_stream_info(in, NULL) >= 0);
    assert_int_equal(in->streams[0]->codecpar->width, 96);
    AVPacket *pkt = av_packet_alloc();
    int frames = 0, keys = 0;
    int64_t last = -1;
    while (av_read_frame(in, pkt) == 0) {
        int64_t t = av_rescale_q(pkt->dts, in->streams[0]->time_base, (AVRational){1, TICKS});
        assert_true(t > last);
        if (frames > 0)
            assert_int_equal(t - last, FRAME_TICKS);
        last = t;
        keys += !!(pkt->flags & AV_PKT_FLAG_KEY);
        frames++;
        av_packet_unref(pkt);
    }
    assert_int_equal(frames, 45);
    assert_int_equal(keys, 3);
    av_packet_free(&pkt);
    AVIOContext *pb = in->pb; /* custom I/O: ours to free, buffer included */
    avformat_close_input(&in);
    av_freep(&pb->buffer);
    avio_context_free(&pb);
    free(m.data);
    es_cmaf_destroy(s);
    recorded_free(&rec);
    test_media_free(&video);
}

static void test_cmaf_cuts_at_the_cap_when_no_keyframe_comes(void **state)
{
    (void)state;
    struct test_media video;
    make_video(&video, 60, 45); /* a 3 s GOP (passthrough camera), 1 s segments */
    struct recorded rec = {.count = 0};
    struct es_cmaf_config cfg = {
        .camera_id = "t", .segment_target = 1.0, .part_target = 0.2, .fps = 0, .first_msn = 0};
    struct es_cmaf_segmenter *s;
    assert_int_equal(es_cmaf_create(&cfg, record, &rec, &s), ES_OK);
    es_cmaf_set_streams(s, video.params, NULL);
    es_log_set_level(ES_LOG_ERROR); /* the forced-cut warning is expected */
    feed(s, &video, NULL);
    es_cmaf_flush(s);
    es_log_set_level(ES_LOG_INFO);
    int segments = 0;
    for (int i = 0; i < rec.count; i++) {
        const struct es_cmaf_event *e = &rec.ev[i];
        if (e->kind == ES_CMAF_SEGMENT_END || e->segment_end) {
            /* RFC 8216 §4.3.3.1 with TARGETDURATION 1: never above it. */
            assert_true(e->segment_duration_ts <= TICKS);
            segments++;
        }
        if (e->kind == ES_CMAF_PART) {
            assert_true(e->duration_ts <= TICKS / 5);
            /* Only a part that starts on the IDR (every 3 s) is independent. */
            assert_int_equal(e->independent, (e->start_ts - START) % (45 * FRAME_TICKS) == 0);
        }
    }
    assert_int_equal(segments, 4);
    es_cmaf_destroy(s);
    recorded_free(&rec);
    test_media_free(&video);
}

static void test_cmaf_new_streams_bring_a_new_init_and_the_sequence_continues(void **state)
{
    (void)state;
    struct test_media video;
    make_video(&video, 30, 15);
    struct recorded rec = {.count = 0};
    struct es_cmaf_config cfg = {
        .camera_id = "t", .segment_target = 1.0, .part_target = 0.2, .fps = FPS, .first_msn = 41};
    struct es_cmaf_segmenter *s;
    assert_int_equal(es_cmaf_create(&cfg, record, &rec, &s), ES_OK);
    es_cmaf_set_streams(s, video.params, NULL);
    feed(s, &video, NULL);
    /* The camera drops and comes back: flush, mark, new parameters. */
    es_cmaf_flush(s);
    es_cmaf_mark_discontinuity(s);
    es_cmaf_set_streams(s, video.params, NULL);
    feed(s, &video, NULL);
    es_cmaf_flush(s);
    int first_of_second_run = -1;
    for (int i = 0; i < rec.count; i++)
        if (rec.ev[i].kind == ES_CMAF_PART && rec.ev[i].init_id == 2) {
            first_of_second_run = i;
            break;
        }
    assert_true(first_of_second_run > 0);
    const struct es_cmaf_event *e = &rec.ev[first_of_second_run];
    assert_int_equal(e->msn, 43); /* 41, 42, then 43: never reused, never reset */
    assert_int_equal(e->part_index, 0);
    assert_true(e->discontinuity);
    assert_true(e->independent);
    assert_ptr_not_equal(e->init, rec.ev[0].init);
    for (int i = 0; i < rec.count; i++)
        if (i != first_of_second_run && rec.ev[i].kind == ES_CMAF_PART)
            assert_false(rec.ev[i].discontinuity);
    es_cmaf_destroy(s);
    recorded_free(&rec);
    test_media_free(&video);
}

static void test_cmaf_drops_media_before_the_first_keyframe(void **state)
{
    (void)state;
    struct test_media video;
    make_video(&video, 30, 15);
    struct recorded rec = {.count = 0};
    struct es_cmaf_config cfg = {
        .camera_id = "t", .segment_target = 1.0, .part_target = 0.2, .fps = FPS, .first_msn = 0};
    struct es_cmaf_segmenter *s;
    assert_int_equal(es_cmaf_create(&cfg, record, &rec, &s), ES_OK);
    es_cmaf_set_streams(s, video.params, NULL);
    for (int v = 5; v < video.count; v++) /* join mid-GOP */
        es_cmaf_write(s, video.items[v], 0);
    es_cmaf_flush(s);
    assert_true(rec.count > 0);
    assert_int_equal(rec.ev[0].start_ts, START + 15 * FRAME_TICKS);
    assert_true(rec.ev[0].independent);
    es_cmaf_destroy(s);
    recorded_free(&rec);
    test_media_free(&video);
}

static void test_cmaf_refuses_part_targets_longer_than_the_segment(void **state)
{
    (void)state;
    struct es_cmaf_config cfg = {
        .camera_id = "t", .segment_target = 1.0, .part_target = 1.5, .fps = FPS, .first_msn = 0};
    struct es_cmaf_segmenter *s = NULL;
    assert_int_equal(es_cmaf_create(&cfg, record, NULL, &s), ES_ERR_INVALID);
    es_cmaf_destroy(NULL);
}

int main(void)
{
    av_log_set_level(AV_LOG_ERROR); /* libx264's statistics are noise here */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmaf_part_target_is_whole_frames_at_most_the_configured_value),
        cmocka_unit_test(test_cmaf_cuts_parts_of_part_target_and_segments_at_each_idr),
        cmocka_unit_test(test_cmaf_init_section_has_avcc_and_audio_and_tracks_share_one_timeline),
        cmocka_unit_test(test_cmaf_init_and_parts_demux_into_every_frame),
        cmocka_unit_test(test_cmaf_cuts_at_the_cap_when_no_keyframe_comes),
        cmocka_unit_test(test_cmaf_new_streams_bring_a_new_init_and_the_sequence_continues),
        cmocka_unit_test(test_cmaf_drops_media_before_the_first_keyframe),
        cmocka_unit_test(test_cmaf_refuses_part_targets_longer_than_the_segment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
