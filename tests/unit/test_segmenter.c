/* Unit tests for src/segment: where segments are cut, what each one reports
 * (start, duration, discontinuity, audio), and that its bytes are MPEG-TS
 * that ffprobe reads on their own. (Wall-clock dates are the camera
 * pipeline's, not the segmenter's.) Media is encoded here by libx264
 * and FFmpeg's AAC encoder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/blob.h"
#include "core/clock.h"
#include "core/log.h"
#include "fixture/media.h"
#include "segment/segmenter.h"
#include "source/source.h"

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICKS ES_TICKS_PER_SECOND
#define FPS 10
#define FRAME_TICKS (TICKS / FPS)

/* The TS muxer's default PIDs. */
#define PID_PAT 0x0000
#define PID_PMT 0x1000
#define PID_VIDEO 0x0100
#define PID_AUDIO 0x0101

/* ---- generated media ---- */

/* 64x48 at 10 fps from dts 0. */
static void make_video(struct test_media *out, int frames, int gop)
{
    test_media_video(out, &(struct test_video_spec){.width = 64, .height = 48, .fps = FPS,
                                                   .frames = frames, .gop = gop});
}

static void make_audio(struct test_media *out, int count)
{
    test_media_audio(out, count, 0);
}

/* ---- segments the segmenter emits ---- */

#define MAX_SEGMENTS 64

struct collected {
    struct es_segment items[MAX_SEGMENTS];
    int count;
};

static void collect(void *opaque, const struct es_segment *segment)
{
    struct collected *c = opaque;
    assert_true(c->count < MAX_SEGMENTS);
    c->items[c->count] = *segment;
    c->items[c->count].data = es_blob_ref(segment->data);
    c->count++;
}

static void collected_free(struct collected *c)
{
    for (int i = 0; i < c->count; i++)
        es_blob_unref(c->items[i].data);
    c->count = 0;
}

static struct es_segmenter *make_segmenter(double target, struct collected *c,
                                           const AVCodecParameters *video,
                                           const AVCodecParameters *audio)
{
    struct es_segmenter_config cfg = {.camera_id = "cam_test", .target_duration = target};
    struct es_segmenter *s = NULL;
    assert_int_equal(es_segmenter_create(&cfg, collect, c, &s), ES_OK);
    assert_non_null(s);
    es_segmenter_set_streams(s, video, audio);
    return s;
}

static void write_range(struct es_segmenter *s, const struct test_media *v, int from, int to)
{
    for (int i = from; i < to; i++)
        assert_int_equal(es_segmenter_write(s, v->items[i]), ES_OK);
}

/* Writes video frames v_from..v_to-1, each followed by the audio (AAC, 1920
 * ticks apart) that starts within its frame time, as a live pipeline would. */
static void write_interleaved(struct es_segmenter *s, const struct test_media *v,
                              const struct test_media *a, int v_from, int v_to)
{
    for (int i = v_from; i < v_to; i++) {
        int64_t dts = v->items[i]->dts;
        assert_int_equal(es_segmenter_write(s, v->items[i]), ES_OK);
        for (int k = 0; k < a->count; k++)
            if (a->items[k]->dts >= dts && a->items[k]->dts < dts + FRAME_TICKS)
                assert_int_equal(es_segmenter_write(s, a->items[k]), ES_OK);
    }
}

/* ---- MPEG-TS inspection ---- */

static int ts_pid(const uint8_t *p)
{
    return ((p[1] & 0x1f) << 8) | p[2];
}

static void assert_valid_ts(const struct es_blob *blob)
{
    const uint8_t *d = es_blob_data(blob);
    size_t size = es_blob_size(blob);
    assert_true(size >= 3 * 188);
    assert_int_equal(size % 188, 0);
    for (size_t off = 0; off < size; off += 188)
        assert_int_equal(d[off], 0x47);
}

/* Index of the first TS packet on `pid`, or -1. */
static long first_packet_of(const struct es_blob *blob, int pid)
{
    const uint8_t *d = es_blob_data(blob);
    for (size_t off = 0; off + 188 <= es_blob_size(blob); off += 188)
        if (ts_pid(d + off) == pid)
            return (long)(off / 188);
    return -1;
}

/* PES packets started on `pid` (payload_unit_start_indicator). */
static int pes_count(const struct es_blob *blob, int pid)
{
    const uint8_t *d = es_blob_data(blob);
    int n = 0;
    for (size_t off = 0; off + 188 <= es_blob_size(blob); off += 188)
        if (ts_pid(d + off) == pid && (d[off + 1] & 0x40))
            n++;
    return n;
}

/* The NAL unit types of the segment's first video access unit. */
static int first_access_unit_nals(const struct es_blob *blob, int *types, int max)
{
    const uint8_t *d = es_blob_data(blob);
    uint8_t pes[16384];
    size_t len = 0;
    bool started = false;
    for (size_t off = 0; off + 188 <= es_blob_size(blob); off += 188) {
        const uint8_t *p = d + off;
        if (ts_pid(p) != PID_VIDEO)
            continue;
        bool pusi = p[1] & 0x40;
        if (pusi && started)
            break;
        if (pusi)
            started = true;
        if (!started)
            continue;
        size_t payload = 4;
        if (p[3] & 0x20)
            payload += 1 + p[4];
        if (!(p[3] & 0x10) || payload >= 188)
            continue;
        assert_true(len + (188 - payload) <= sizeof(pes));
        memcpy(pes + len, p + payload, 188 - payload);
        len += 188 - payload;
    }
    assert_true(len > 9);
    assert_memory_equal(pes, "\x00\x00\x01", 3);
    size_t es = 9 + pes[8];
    int n = 0;
    for (size_t i = es; i + 3 < len && n < max; i++)
        if (pes[i] == 0 && pes[i + 1] == 0 && pes[i + 2] == 1) {
            types[n++] = pes[i + 3] & 0x1f;
            i += 3;
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

/* Every segment: TS framing, PAT and PMT ahead of the media, and a first
 * picture that is an IDR with its SPS/PPS (RFC 8216 §3.2: each segment
 * carries what a decoder needs). */
static void assert_self_contained(const struct es_blob *blob)
{
    assert_valid_ts(blob);
    long pat = first_packet_of(blob, PID_PAT);
    long pmt = first_packet_of(blob, PID_PMT);
    long video = first_packet_of(blob, PID_VIDEO);
    assert_true(pat >= 0 && pat <= 1); /* only the SDT may precede it */
    assert_true(pmt > pat);
    assert_true(video > pmt);
    long audio = first_packet_of(blob, PID_AUDIO);
    if (audio >= 0)
        assert_true(audio > pmt);
    int types[32];
    int n = first_access_unit_nals(blob, types, 32);
    int idr = index_of(types, n, 5);
    assert_true(idr >= 0);
    assert_true(index_of(types, n, 7) >= 0 && index_of(types, n, 7) < idr);
    assert_true(index_of(types, n, 8) >= 0 && index_of(types, n, 8) < idr);
}

/* Writes the segment to a temporary file and returns ffprobe's output for
 * `args` (one line per entry, trailing newline stripped). */
static void probe(const struct es_blob *blob, const char *args, char *out, size_t out_size)
{
    char path[] = "/tmp/es_test_segment_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, es_blob_data(blob), es_blob_size(blob)),
                     (ssize_t)es_blob_size(blob));
    close(fd);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "ffprobe -v error %s %s 2>&1", args, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t len = fread(out, 1, out_size - 1, p);
    out[len] = '\0';
    char rest[4096]; /* read to the end: a closed pipe would kill ffprobe */
    while (fread(rest, 1, sizeof(rest), p) > 0)
        continue;
    int status = pclose(p);
    unlink(path);
    assert_int_equal(status, 0);
    while (len && (out[len - 1] == '\n' || out[len - 1] == '\r'))
        out[--len] = '\0';
}

/* The codec names ffprobe finds, one a line. For MPEG-TS it lists the
 * program's streams and then the streams again after a blank line: the
 * second list is compared. */
static void assert_codecs(const struct es_blob *blob, const char *expected)
{
    char out[256];
    probe(blob, "-show_entries stream=codec_name -of csv=p=0", out, sizeof(out));
    const char *streams = out;
    for (const char *blank = strstr(out, "\n\n"); blank; blank = strstr(blank + 1, "\n\n"))
        streams = blank + 2;
    assert_string_equal(streams, expected);
}

/* ---- tests ---- */

static void test_segmenter_drops_packets_before_the_first_keyframe(void **state)
{
    (void)state;
    struct test_media v, a;
    make_video(&v, 50, 20); /* IDR at 0, 2 s, 4 s */
    make_audio(&a, 250);
    struct collected c = {0};
    struct es_segmenter *s = make_segmenter(2.0, &c, v.params, a.params);
    /* Join mid-GOP: frames 5..19 and the audio beside them have no keyframe
     * to start from. */
    write_interleaved(s, &v, &a, 5, 50);
    assert_int_equal(c.count, 1); /* 2 s .. 4 s; 4 s .. is still open */
    assert_int_equal(c.items[0].start_ts, 20 * FRAME_TICKS);
    assert_int_equal(c.items[0].duration_ts, 2 * TICKS);
    /* Exactly frames 20..39 went in. */
    assert_int_equal(pes_count(c.items[0].data, PID_VIDEO), 20);
    assert_self_contained(c.items[0].data);
    /* Audio from 2 s: the first audio packet muxed is not older than the keyframe. */
    char out[256];
    probe(c.items[0].data, "-select_streams a -show_entries packet=pts -of csv=p=0", out,
          sizeof(out));
    assert_true(strlen(out) > 0);
    assert_true(atol(out) >= 20 * FRAME_TICKS);
    es_segmenter_destroy(s);
    collected_free(&c);
    test_media_free(&v);
    test_media_free(&a);
}

static void test_segmenter_cuts_at_the_target_when_keyframes_are_frequent(void **state)
{
    (void)state;
    struct test_media v;
    make_video(&v, 101, 5); /* IDR every 0.5 s, 10 s */
    struct collected c = {0};
    struct es_segmenter *s = make_segmenter(2.0, &c, v.params, NULL);
    write_range(s, &v, 0, 101);
    /* Cuts at 2, 4, 6, 8, 10 s: never at the 0.5 s keyframes in between. */
    assert_int_equal(c.count, 5);
    for (int i = 0; i < c.count; i++) {
        assert_int_equal(c.items[i].start_ts, (int64_t)i * 2 * TICKS);
        assert_int_equal(c.items[i].duration_ts, 2 * TICKS);
        assert_false(c.items[i].discontinuity);
        assert_false(c.items[i].has_audio);
        assert_int_equal(pes_count(c.items[i].data, PID_VIDEO), 20);
    }
    es_segmenter_destroy(s);
    collected_free(&c);
    test_media_free(&v);
}

static void test_segmenter_never_cuts_before_the_target(void **state)
{
    (void)state;
    struct test_media v;
    make_video(&v, 61, 5); /* IDR every 0.5 s */
    struct collected c = {0};
    /* 1.8 s: the keyframe at 1.5 s is too early, the one at 2.0 s is the cut. */
    struct es_segmenter *s = make_segmenter(1.8, &c, v.params, NULL);
    write_range(s, &v, 0, 61);
    assert_int_equal(c.count, 3);
    for (int i = 0; i < c.count; i++) {
        assert_int_equal(c.items[i].start_ts, (int64_t)i * 2 * TICKS);
        assert_int_equal(c.items[i].duration_ts, 2 * TICKS);
    }
    es_segmenter_destroy(s);
    collected_free(&c);
    test_media_free(&v);
}

static void test_segmenter_makes_longer_segments_when_keyframes_are_rare(void **state)
{
    (void)state;
    struct test_media v;
    make_video(&v, 100, 30); /* IDR every 3 s */
    struct collected c = {0};
    struct es_segmenter *s = make_segmenter(2.0, &c, v.params, NULL);
    write_range(s, &v, 0, 100);
    /* A segment must start with a keyframe, so 3 s it is (the sink raises
     * TARGETDURATION for passthrough cameras like this). */
    assert_int_equal(c.count, 3);
    for (int i = 0; i < c.count; i++) {
        assert_int_equal(c.items[i].start_ts, (int64_t)i * 3 * TICKS);
        assert_int_equal(c.items[i].duration_ts, 3 * TICKS);
        assert_self_contained(c.items[i].data);
    }
    es_segmenter_destroy(s);
    collected_free(&c);
    test_media_free(&v);
}

static void test_segmenter_counts_a_keyframe_a_few_ticks_early_as_on_target(void **state)
{
    (void)state;
    struct test_media v;
    make_video(&v, 41, 20);
    /* The keyframe meant for 2 s arrives 5 ms early (timestamp rounding). */
    int64_t early = 2 * TICKS - 450;
    v.items[20]->dts = v.items[20]->pts = early;
    struct collected c = {0};
    struct es_segmenter *s = make_segmenter(2.0, &c, v.params, NULL);
    write_range(s, &v, 0, 41);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.items[0].duration_ts, early);
    assert_int_equal(c.items[1].start_ts, early);
    es_segmenter_destroy(s);
    collected_free(&c);
    test_media_free(&v);
}

static void test_segmenter_flush_emits_the_open_segment_with_its_duration(void **state)
{
    (void)state;
    struct test_media v;
    make_video(&v, 25, 20);
    struct collected c = {0};
    struct es_segmenter *s = make_segmenter(2.0, &c, v.params, NULL);
    /* Nothing open yet: flush emits nothing. */
    es_segmenter_flush(s);
    assert_int_equal(c.count, 0);
    write_range(s, &v, 0, 25); /* 0..2.4 s: one cut at 2 s */
    assert_int_equal(c.count, 1);
    es_segmenter_flush(s);
    assert_int_equal(c.count, 2);
    /* Frames at 2.0..2.4 s, each 0.1 s long: 0.5 s. */
    assert_int_equal(c.items[1].start_ts, 2 * TICKS);
    assert_int_equal(c.items[1].duration_ts, 5 * FRAME_TICKS);
    assert_int_equal(pes_count(c.items[1].data, PID_VIDEO), 5);
    assert_self_contained(c.items[1].data);
    assert_codecs(c.items[1].data, "h264");
    /* A second flush has nothing left to emit. */
    es_segmenter_flush(s);
    assert_int_equal(c.count, 2);
    es_segmenter_destroy(s);
    collected_free(&c);
    test_media_free(&v);
}

static void test_segmenter_flush_of_a_first_segment_counts_its_last_frame(void **state)
{
    (void)state;
    struct test_media v;
    make_video(&v, 7, 20);
    struct collected c = {0};
    struct es_segmenter *s = make_segmenter(2.0, &c, v.params, NULL);
    write_range(s, &v, 0, 7); /* 0..0.6 s, no cut yet */
    es_segmenter_flush(s);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.items[0].start_ts, 0);
    assert_int_equal(c.items[0].duration_ts, 7 * FRAME_TICKS);
    es_segmenter_destroy(s);
    collected_free(&c);
    test_media_free(&v);
}

/* EXPECTED TO FAIL until segmenter.c learns the frame interval from a
 * segment's second frame: with `last_video_ts > start_ts` the interval stays 0
 * until the third frame, so a first segment of two frames is flushed one frame
 * short (and a later one keeps the previous connection's interval). */
static void test_segmenter_flush_of_a_two_frame_segment_lasts_two_frames(void **state)
{
    (void)state;
    struct test_media v;
    make_video(&v, 2, 20);
    struct collected c = {0};
    struct es_segmenter *s = make_segmenter(2.0, &c, v.params, NULL);
    write_range(s, &v, 0, 2);
    es_segmenter_flush(s);
    int count = c.count;
    int64_t duration = count ? c.items[0].duration_ts : -1;
    es_segmenter_destroy(s);
    collected_free(&c);
    test_media_free(&v);
    assert_int_equal(count, 1);
    assert_int_equal(duration, 2 * FRAME_TICKS);
}

static void test_segmenter_marks_exactly_the_next_segment_discontinuous(void **state)
{
    (void)state;
    struct test_media v;
    make_video(&v, 60, 20);
    struct collected c = {0};
    struct es_segmenter *s = make_segmenter(2.0, &c, v.params, NULL);
    /* A restart: the very first segment carries it. */
    es_segmenter_mark_discontinuity(s);
    write_range(s, &v, 0, 40); /* emits 0..2 s */
    /* A reconnect: the camera's pipeline flushes, then marks. */
    es_segmenter_flush(s); /* emits 2..4 s */
    es_segmenter_mark_discontinuity(s);
    /* The new connection's timestamps start over. */
    write_range(s, &v, 0, 60);
    es_segmenter_flush(s);
    assert_int_equal(c.count, 5);
    static const bool want[] = {true, false, true, false, false};
    for (int i = 0; i < 5; i++)
        assert_int_equal(c.items[i].discontinuity, want[i]);
    assert_int_equal(c.items[2].start_ts, 0);
    es_segmenter_destroy(s);
    collected_free(&c);
    test_media_free(&v);
}

static void test_segmenter_segments_are_mpegts_that_ffprobe_reads(void **state)
{
    (void)state;
    struct test_media v;
    make_video(&v, 41, 20);
    struct collected c = {0};
    struct es_segmenter *s = make_segmenter(2.0, &c, v.params, NULL);
    write_range(s, &v, 0, 41);
    assert_int_equal(c.count, 2);
    for (int i = 0; i < c.count; i++) {
        assert_self_contained(c.items[i].data);
        assert_codecs(c.items[i].data, "h264");
    }
    /* The first packet ffprobe reads is a keyframe, and all 20 are there. */
    char out[2048];
    probe(c.items[1].data, "-select_streams v -show_entries packet=flags -of csv=p=0", out,
          sizeof(out));
    assert_int_equal(out[0], 'K');
    int packets = 0, keys = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        packets++; /* one "K_," or "__," line each; blank lines are skipped */
        keys += line[0] == 'K';
    }
    assert_int_equal(packets, 20);
    assert_int_equal(keys, 1);
    es_segmenter_destroy(s);
    collected_free(&c);
    test_media_free(&v);
}

static int count_packets(const struct es_blob *blob, const char *stream)
{
    char args[160], out[64];
    snprintf(args, sizeof(args),
             "-select_streams %s -count_packets -show_entries stream=nb_read_packets -of csv=p=0",
             stream);
    probe(blob, args, out, sizeof(out));
    return atoi(out);
}

static void test_segmenter_with_audio_params_muxes_h264_and_aac(void **state)
{
    (void)state;
    struct test_media v, a;
    make_video(&v, 41, 20);
    make_audio(&a, 200); /* 4.3 s */
    struct collected c = {0};
    struct es_segmenter *s = make_segmenter(2.0, &c, v.params, a.params);
    write_interleaved(s, &v, &a, 0, 41);
    assert_int_equal(c.count, 2);
    for (int i = 0; i < c.count; i++) {
        assert_true(c.items[i].has_audio);
        assert_self_contained(c.items[i].data);
        assert_codecs(c.items[i].data, "h264\naac");
        assert_int_equal(count_packets(c.items[i].data, "v"), 20);
        /* 2 s of AAC at 1920 ticks a frame: 94 frames start in each segment. */
        assert_int_equal(count_packets(c.items[i].data, "a"), 94);
    }
    es_segmenter_destroy(s);
    collected_free(&c);
    test_media_free(&v);
    test_media_free(&a);
}

static void test_segmenter_writes_audio_only_into_an_open_segment(void **state)
{
    (void)state;
    struct test_media v, a;
    make_video(&v, 30, 20);
    make_audio(&a, 150); /* 3.2 s */
    struct collected c = {0};
    struct es_segmenter *s = make_segmenter(2.0, &c, v.params, a.params);
    /* Audio with no segment open (before any keyframe) goes nowhere. */
    for (int k = 0; k < 10; k++)
        assert_int_equal(es_segmenter_write(s, a.items[k]), ES_OK);
    write_interleaved(s, &v, &a, 0, 30); /* 0..3 s: one cut at 2 s */
    es_segmenter_flush(s);
    assert_int_equal(c.count, 2);
    /* Audio after the flush, with no segment open, goes nowhere either. */
    for (int k = 141; k < 150; k++)
        assert_int_equal(es_segmenter_write(s, a.items[k]), ES_OK);
    es_segmenter_flush(s);
    assert_int_equal(c.count, 2);
    /* 0..2 s holds the audio starting in 0..2 s (the first 10 frames were
     * dropped, then sent again beside the video): 94 frames; 2..2.9 s the
     * 47 after them, up to the last video frame's time. */
    assert_int_equal(count_packets(c.items[0].data, "a"), 94);
    assert_int_equal(count_packets(c.items[1].data, "a"), 47);
    es_segmenter_destroy(s);
    collected_free(&c);
    test_media_free(&v);
    test_media_free(&a);
}

static void test_segmenter_without_audio_params_ignores_audio_packets(void **state)
{
    (void)state;
    struct test_media v, a;
    make_video(&v, 21, 20);
    make_audio(&a, 50);
    struct collected c = {0};
    struct es_segmenter *s = make_segmenter(2.0, &c, v.params, NULL);
    write_interleaved(s, &v, &a, 0, 21);
    assert_int_equal(c.count, 1);
    assert_false(c.items[0].has_audio);
    assert_int_equal(first_packet_of(c.items[0].data, PID_AUDIO), -1);
    assert_codecs(c.items[0].data, "h264");
    es_segmenter_destroy(s);
    collected_free(&c);
    test_media_free(&v);
    test_media_free(&a);
}

static void test_segmenter_set_streams_ends_the_open_segment(void **state)
{
    (void)state;
    struct test_media v, a;
    make_video(&v, 41, 20);
    make_audio(&a, 200);
    struct collected c = {0};
    struct es_segmenter *s = make_segmenter(2.0, &c, v.params, NULL);
    write_range(s, &v, 0, 10);
    /* New codec parameters (a reconnect with audio): the open segment ends. */
    es_segmenter_set_streams(s, v.params, a.params);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.items[0].duration_ts, 10 * FRAME_TICKS);
    assert_false(c.items[0].has_audio);
    /* Nothing open now: frames 10..19 have no keyframe and are dropped. */
    write_interleaved(s, &v, &a, 10, 41);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.items[1].start_ts, 2 * TICKS);
    assert_true(c.items[1].has_audio);
    assert_codecs(c.items[1].data, "h264\naac");
    es_segmenter_destroy(s);
    collected_free(&c);
    test_media_free(&v);
    test_media_free(&a);
}

static void test_segmenter_refuses_packets_before_set_streams(void **state)
{
    (void)state;
    struct test_media v;
    make_video(&v, 1, 20);
    struct collected c = {0};
    struct es_segmenter_config cfg = {.camera_id = "cam_test", .target_duration = 2.0};
    struct es_segmenter *s = NULL;
    assert_int_equal(es_segmenter_create(&cfg, collect, &c, &s), ES_OK);
    assert_int_equal(es_segmenter_write(s, v.items[0]), ES_ERR_INVALID);
    es_segmenter_flush(s);
    assert_int_equal(c.count, 0);
    es_segmenter_destroy(s);
    test_media_free(&v);
}

static void test_segmenter_destroy_drops_the_open_segment_silently(void **state)
{
    (void)state;
    struct test_media v;
    make_video(&v, 10, 20);
    struct collected c = {0};
    struct es_segmenter *s = make_segmenter(2.0, &c, v.params, NULL);
    write_range(s, &v, 0, 10);
    es_segmenter_destroy(s);
    assert_int_equal(c.count, 0);
    es_segmenter_destroy(NULL);
    test_media_free(&v);
}

/* Issue 11, defect 6: a passthrough camera that stops sending keyframes must
 * not grow one segment without bound (DESIGN.md invariant 9). Here a camera
 * sends one IDR and then 120 s of P-frames; later, big P-frames (1 MiB each,
 * so the byte cap is reached long before the duration cap). No segment ever
 * emitted, at a flush or otherwise, passes the caps the header states, the
 * open one is dropped at the cap (its memory freed), and the next segment,
 * at the next keyframe, carries a discontinuity. */
static void feed(struct es_segmenter *s, AVPacket *pkt, int64_t dts)
{
    pkt->dts = pkt->pts = dts;
    assert_int_equal(es_segmenter_write(s, pkt), ES_OK);
}

static void assert_under_the_caps(const struct collected *c, double target)
{
    int64_t max_ticks = (int64_t)(target * 10 * TICKS);
    if (max_ticks < 30 * TICKS)
        max_ticks = 30 * TICKS;
    for (int i = 0; i < c->count; i++) {
        assert_true(c->items[i].duration_ts <= max_ticks);
        assert_true(es_blob_size(c->items[i].data) <= (32u << 20));
    }
}

static void test_segmenter_caps_a_segment_when_keyframes_stop(void **state)
{
    (void)state;
    struct test_media v;
    make_video(&v, 20, 1000); /* one IDR, then P-frames */
    struct collected c = {0};
    struct es_segmenter *s = make_segmenter(2.0, &c, v.params, NULL);
    AVPacket *pkt = av_packet_alloc();

    /* 120 s of P-frames after the IDR (reused: the muxer does not decode). */
    int64_t dts = 0;
    feed(s, v.items[0], dts);
    for (int i = 1; i < 120 * FPS; i++) {
        av_packet_ref(pkt, v.items[1 + i % 19]);
        feed(s, pkt, dts += FRAME_TICKS);
        av_packet_unref(pkt);
    }
    es_segmenter_flush(s);
    assert_under_the_caps(&c, 2.0);

    /* A keyframe again: segments resume, the first after a discontinuity. */
    int before = c.count;
    for (int i = 0; i < 2; i++) {
        av_packet_ref(pkt, v.items[0]);
        feed(s, pkt, dts += FRAME_TICKS);
        av_packet_unref(pkt);
        for (int k = 1; k < 2 * FPS; k++) {
            av_packet_ref(pkt, v.items[k % 19 + 1]);
            feed(s, pkt, dts += FRAME_TICKS);
            av_packet_unref(pkt);
        }
    }
    assert_true(c.count > before);
    assert_true(c.items[before].discontinuity);
    assert_int_equal(c.items[before].duration_ts, 2 * TICKS);

    /* Big frames: 1 MiB P-frames, 10 a second, from a fresh keyframe. */
    av_packet_ref(pkt, v.items[0]);
    feed(s, pkt, dts += FRAME_TICKS);
    av_packet_unref(pkt);
    for (int i = 0; i < 60; i++) {
        assert_int_equal(av_new_packet(pkt, 1 << 20), 0);
        memset(pkt->data, 0x55, (size_t)pkt->size);
        static const uint8_t aud[] = {0, 0, 0, 1, 0x09, 0xf0}; /* an access unit delimiter */
        memcpy(pkt->data, aud, sizeof(aud));
        pkt->stream_index = ES_MEDIA_VIDEO;
        feed(s, pkt, dts += FRAME_TICKS);
        av_packet_unref(pkt);
    }
    es_segmenter_flush(s);
    assert_under_the_caps(&c, 2.0);

    av_packet_free(&pkt);
    es_segmenter_destroy(s);
    collected_free(&c);
    test_media_free(&v);
}

int main(void)
{
    es_log_set_level(ES_LOG_ERROR);
    av_log_set_level(AV_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segmenter_drops_packets_before_the_first_keyframe),
        cmocka_unit_test(test_segmenter_cuts_at_the_target_when_keyframes_are_frequent),
        cmocka_unit_test(test_segmenter_never_cuts_before_the_target),
        cmocka_unit_test(test_segmenter_makes_longer_segments_when_keyframes_are_rare),
        cmocka_unit_test(test_segmenter_counts_a_keyframe_a_few_ticks_early_as_on_target),
        cmocka_unit_test(test_segmenter_flush_emits_the_open_segment_with_its_duration),
        cmocka_unit_test(test_segmenter_flush_of_a_first_segment_counts_its_last_frame),
        cmocka_unit_test(test_segmenter_flush_of_a_two_frame_segment_lasts_two_frames),
        cmocka_unit_test(test_segmenter_marks_exactly_the_next_segment_discontinuous),
        cmocka_unit_test(test_segmenter_segments_are_mpegts_that_ffprobe_reads),
        cmocka_unit_test(test_segmenter_with_audio_params_muxes_h264_and_aac),
        cmocka_unit_test(test_segmenter_writes_audio_only_into_an_open_segment),
        cmocka_unit_test(test_segmenter_without_audio_params_ignores_audio_packets),
        cmocka_unit_test(test_segmenter_set_streams_ends_the_open_segment),
        cmocka_unit_test(test_segmenter_refuses_packets_before_set_streams),
        cmocka_unit_test(test_segmenter_destroy_drops_the_open_segment_silently),
        cmocka_unit_test(test_segmenter_caps_a_segment_when_keyframes_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
