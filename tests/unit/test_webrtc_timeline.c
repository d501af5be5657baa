/* Unit tests for src/webrtc/timeline.c: RTP time of a camera for WebRTC
 * viewers follows media time within a run and the wall clock across a
 * reconnect (the pipeline's media time moves on by ~1 s there, however long
 * the camera was away: app/camera.c run_base). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "webrtc/timeline.h"

#define FRAME 6000 /* 15 fps at 90 kHz */
#define V ES_RTP_TIMELINE_VIDEO
#define A ES_RTP_TIMELINE_AUDIO

static int64_t map(struct es_rtp_timeline *t, int stream, int64_t pts, int64_t mono_us,
                   bool *new_run)
{
    return es_rtp_timeline_map(t, stream, pts, mono_us, new_run);
}
#define FRAME_US 66667

static void test_timeline_follows_media_time_within_a_run(void **state)
{
    (void)state;
    struct es_rtp_timeline t = {0};
    bool new_run = true;
    int64_t mono = 1000000;
    for (int i = 0; i < 100; i++) {
        /* Arrival is bursty (three frames at once, then a pause): RTP time
         * still follows capture (media) time, not arrival. */
        if (i % 3 == 0)
            mono += 3 * FRAME_US;
        assert_int_equal(map(&t, V, 900000 + i * FRAME, mono, &new_run), 900000 + i * FRAME);
        assert_false(new_run);
    }
    assert_int_equal(t.runs, 0);
}

static void test_timeline_reconnect_advances_by_the_wall_clock_gap(void **state)
{
    (void)state;
    struct es_rtp_timeline t = {0};
    bool new_run;
    int64_t pts = 900000, mono = 5000000;
    for (int i = 0; i < 30; i++, pts += FRAME, mono += FRAME_US)
        map(&t, V, pts, mono, &new_run);
    int64_t last_pts = pts - FRAME, last_mono = mono - FRAME_US;
    /* The camera is away 11.5 s; the pipeline's next run starts 1 s after
     * its last output. */
    int64_t run_pts = last_pts + 90000, run_mono = last_mono + 11500000;
    int64_t rtp = map(&t, V, run_pts, run_mono, &new_run);
    assert_true(new_run);
    assert_int_equal(t.runs, 1);
    assert_int_equal(rtp - last_pts, 11500000LL * 90 / 1000);
    /* Then media time again, from there: a 15 fps run stays 6000 ticks apart. */
    for (int i = 1; i < 20; i++) {
        int64_t next = map(&t, V, run_pts + i * FRAME, run_mono + i * FRAME_US, &new_run);
        assert_false(new_run);
        assert_int_equal(next - rtp, i * FRAME);
    }
}

static void test_timeline_audio_first_in_a_new_run_moves_video_too(void **state)
{
    (void)state;
    struct es_rtp_timeline t = {0};
    bool new_run;
    map(&t, V, 900000, 1000000, &new_run);
    /* New run: audio (AAC's 21 ms priming ahead of the video) comes first. */
    map(&t, A, 900000 - 1920, 1000000, &new_run);
    int64_t audio = map(&t, A, 990000 - 1920, 6000000, &new_run);
    assert_true(new_run);
    int64_t video = map(&t, V, 990000, 6010000, &new_run);
    assert_false(new_run); /* the same run, set again from the picture's own gap */
    assert_int_equal(video - 900000, 5010000LL * 90 / 1000);
    assert_int_equal(video - audio, 1920 + 900);
    assert_int_equal(audio - (900000 - 1920), 5000000LL * 90 / 1000);
    assert_int_equal(t.runs, 1);
}

static void test_timeline_pause_within_a_run_keeps_media_time(void **state)
{
    (void)state;
    struct es_rtp_timeline t = {0};
    bool new_run;
    map(&t, V, 900000, 1000000, &new_run);
    /* A camera that sent nothing for 2 s, and says so in its timestamps. */
    int64_t rtp = map(&t, V, 900000 + 180000, 3000000, &new_run);
    assert_true(new_run);
    assert_int_equal(rtp, 900000 + 180000);
}

static void test_timeline_quick_reconnect_still_moves_forward(void **state)
{
    (void)state;
    struct es_rtp_timeline t = {0};
    bool new_run;
    map(&t, V, 900000, 1000000, &new_run);
    /* Back after 0.2 s of wall time, media time +1 s: RTP follows the wall
     * clock, and never steps back even with no time elapsed at all. */
    assert_int_equal(map(&t, V, 990000, 1200000, &new_run), 900000 + 18000);
    int64_t before = map(&t, V, 996000, 1266667, &new_run);
    int64_t after = map(&t, V, 996000 + 90000, 1266667, &new_run);
    assert_true(new_run);
    assert_true(after > before);
}

static void test_timeline_restarted_pipeline_moves_forward_by_the_gap(void **state)
{
    (void)state;
    struct es_rtp_timeline t = {0};
    bool new_run;
    int64_t last = map(&t, V, 9000000, 1000000, &new_run);
    /* A config reload made a new pipeline for the camera: its media time
     * starts over at 10 s, 3 s of wall time later. */
    int64_t rtp = map(&t, V, 900000, 4000000, &new_run);
    assert_true(new_run);
    assert_int_equal(rtp - last, 3000000LL * 90 / 1000);
    int64_t next = map(&t, V, 900000 + FRAME, 4066667, &new_run);
    assert_false(new_run);
    assert_int_equal(next - rtp, FRAME);
    assert_int_equal(t.runs, 1);
}

static void test_timeline_audio_far_behind_video_is_no_new_run(void **state)
{
    (void)state;
    struct es_rtp_timeline t = {0};
    bool new_run;
    /* A camera whose audio timestamps run 1.5 s behind its video. */
    for (int i = 0; i < 50; i++) {
        int64_t v = map(&t, V, 900000 + i * FRAME, 1000000 + i * 66667, &new_run);
        assert_false(new_run);
        assert_int_equal(v, 900000 + i * FRAME);
        int64_t a = map(&t, A, 900000 - 135000 + i * FRAME, 1000000 + i * 66667, &new_run);
        assert_false(new_run);
        assert_int_equal(a, 900000 - 135000 + i * FRAME);
    }
    assert_int_equal(t.runs, 0);
}

static void test_timeline_video_after_audio_sets_the_run_from_its_own_gap(void **state)
{
    (void)state;
    struct es_rtp_timeline t = {0};
    bool new_run;
    map(&t, V, 900000, 1000000, &new_run);
    map(&t, A, 898080, 1000000, &new_run);
    /* New connection: its audio comes first and opens the run (6 s)... */
    int64_t audio = map(&t, A, 988080, 7000000, &new_run);
    assert_true(new_run);
    assert_int_equal(audio - 898080, 6000000LL * 90 / 1000);
    /* ...then the first picture, 6.1 s after the last one, sets it again. */
    int64_t video = map(&t, V, 990000, 7100000, &new_run);
    assert_false(new_run);
    assert_int_equal(video - 900000, 6100000LL * 90 / 1000);
    int64_t audio2 = map(&t, A, 988080 + 1920, 7100000, &new_run);
    assert_int_equal(video - audio2, 990000 - 988080 - 1920);
    assert_int_equal(t.runs, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeline_follows_media_time_within_a_run),
        cmocka_unit_test(test_timeline_reconnect_advances_by_the_wall_clock_gap),
        cmocka_unit_test(test_timeline_audio_first_in_a_new_run_moves_video_too),
        cmocka_unit_test(test_timeline_pause_within_a_run_keeps_media_time),
        cmocka_unit_test(test_timeline_quick_reconnect_still_moves_forward),
        cmocka_unit_test(test_timeline_restarted_pipeline_moves_forward_by_the_gap),
        cmocka_unit_test(test_timeline_audio_far_behind_video_is_no_new_run),
        cmocka_unit_test(test_timeline_video_after_audio_sets_the_run_from_its_own_gap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
