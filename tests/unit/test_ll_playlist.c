/* Unit tests for src/playlist/ll_playlist.c: the LL-HLS writer against a
 * hand-written playlist, the delta update (EXT-X-SKIP) boundary, rounding that
 * keeps every part at or below PART-TARGET, and URI queries. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "playlist/ll_playlist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PDT0 INT64_C(1795530900000000) /* 2026-11-24T14:35:00.000Z */

struct fixture {
    struct es_ll_part parts[8][5];
    struct es_ll_segment segs[8];
    struct es_ll_playlist pl;
};

/* `complete` complete 1 s segments from msn 100, then an open one with
 * `open_parts` parts; parts listed for the last two complete and the open one. */
static void build(struct fixture *f, size_t complete, size_t open_parts)
{
    memset(f, 0, sizeof(*f));
    size_t n = complete + 1;
    for (size_t i = 0; i < n; i++) {
        struct es_ll_segment *s = &f->segs[i];
        s->msn = 100 + i;
        s->complete = i < complete;
        s->duration = 1.0;
        snprintf(s->uri, sizeof(s->uri), "seg_%zu.m4s", 100 + i);
        s->program_date_time_us = PDT0 + (int64_t)i * 1000000;
        s->map_uri = "init_1.mp4";
        size_t np = s->complete ? 5 : open_parts;
        for (size_t p = 0; p < np; p++) {
            f->parts[i][p].duration = 0.2;
            f->parts[i][p].independent = p == 0;
            snprintf(f->parts[i][p].uri, sizeof(f->parts[i][p].uri), "part_%zu_%zu.m4s", 100 + i,
                     p);
        }
        s->parts = f->parts[i];
        s->part_count = np;
        s->list_parts = !s->complete || complete - i <= 2;
    }
    f->pl = (struct es_ll_playlist){
        .target_duration = 1,
        .part_target = 0.2,
        .media_sequence = 100,
        .independent_segments = true,
        .can_block_reload = true,
        .part_hold_back = 0.6,
        .hold_back = 3.0,
        .can_skip_until = 6.0,
        .segments = f->segs,
        .count = n,
        .preload_hint_uri = NULL,
    };
}

static char *write_text(const struct es_ll_playlist *pl, const struct es_ll_write_options *opt)
{
    size_t need = es_ll_playlist_write(pl, opt, NULL, 0);
    char *text = malloc(need + 1);
    assert_int_equal(es_ll_playlist_write(pl, opt, text, need + 1), need);
    assert_int_equal(strlen(text), need);
    return text;
}

static void test_ll_writer_prints_the_server_control_and_parts_as_the_draft_shows(void **state)
{
    (void)state;
    struct fixture f;
    build(&f, 2, 2);
    f.pl.preload_hint_uri = "part_102_2.m4s";
    char *text = write_text(&f.pl, NULL);
    const char *want =
        "#EXTM3U\n"
        "#EXT-X-VERSION:9\n"
        "#EXT-X-TARGETDURATION:1\n"
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.0,PART-HOLD-BACK=0.6,"
        "HOLD-BACK=3.0\n"
        "#EXT-X-PART-INF:PART-TARGET=0.2\n"
        "#EXT-X-MEDIA-SEQUENCE:100\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-MAP:URI=\"init_1.mp4\"\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:00.000Z\n"
        "#EXT-X-PART:DURATION=0.2,URI=\"part_100_0.m4s\",INDEPENDENT=YES\n"
        "#EXT-X-PART:DURATION=0.2,URI=\"part_100_1.m4s\"\n"
        "#EXT-X-PART:DURATION=0.2,URI=\"part_100_2.m4s\"\n"
        "#EXT-X-PART:DURATION=0.2,URI=\"part_100_3.m4s\"\n"
        "#EXT-X-PART:DURATION=0.2,URI=\"part_100_4.m4s\"\n"
        "#EXTINF:1.0,\n"
        "seg_100.m4s\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:01.000Z\n"
        "#EXT-X-PART:DURATION=0.2,URI=\"part_101_0.m4s\",INDEPENDENT=YES\n"
        "#EXT-X-PART:DURATION=0.2,URI=\"part_101_1.m4s\"\n"
        "#EXT-X-PART:DURATION=0.2,URI=\"part_101_2.m4s\"\n"
        "#EXT-X-PART:DURATION=0.2,URI=\"part_101_3.m4s\"\n"
        "#EXT-X-PART:DURATION=0.2,URI=\"part_101_4.m4s\"\n"
        "#EXTINF:1.0,\n"
        "seg_101.m4s\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:02.000Z\n"
        "#EXT-X-PART:DURATION=0.2,URI=\"part_102_0.m4s\",INDEPENDENT=YES\n"
        "#EXT-X-PART:DURATION=0.2,URI=\"part_102_1.m4s\"\n"
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part_102_2.m4s\"\n";
    assert_string_equal(text, want);
    free(text);
}

static void test_ll_writer_lists_parts_only_where_asked(void **state)
{
    (void)state;
    struct fixture f;
    build(&f, 6, 1);
    char *text = write_text(&f.pl, NULL);
    assert_null(strstr(text, "part_100_"));
    assert_null(strstr(text, "part_103_"));
    assert_non_null(strstr(text, "part_104_4.m4s"));
    assert_non_null(strstr(text, "part_106_0.m4s"));
    assert_non_null(strstr(text, "seg_100.m4s"));
    free(text);
}

static void test_ll_skip_replaces_segments_before_the_skip_boundary(void **state)
{
    (void)state;
    struct fixture f;
    build(&f, 7, 3); /* 7 s + 0.6 s: the boundary is 1.6 s in, after seg_100 */
    assert_int_equal(es_ll_playlist_skippable(&f.pl), 1);
    build(&f, 7, 0);
    f.pl.count = 7; /* 7 complete, nothing open: boundary at 1.0 s exactly */
    assert_int_equal(es_ll_playlist_skippable(&f.pl), 1);
    build(&f, 6, 4); /* 6.8 s: boundary at 0.8 s: nothing entirely before it */
    assert_int_equal(es_ll_playlist_skippable(&f.pl), 0);

    build(&f, 7, 3);
    f.pl.preload_hint_uri = "part_107_3.m4s";
    struct es_ll_write_options opt = {.skip = true};
    char *text = write_text(&f.pl, &opt);
    assert_non_null(strstr(text, "#EXT-X-MEDIA-SEQUENCE:100\n#EXT-X-INDEPENDENT-SEGMENTS\n"
                                 "#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n#EXT-X-MAP:URI=\"init_1.mp4\"\n"
                                 "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:01.000Z\n"));
    assert_null(strstr(text, "seg_100.m4s"));
    assert_non_null(strstr(text, "seg_101.m4s"));
    free(text);
}

static void test_ll_skip_never_skips_without_can_skip_until(void **state)
{
    (void)state;
    struct fixture f;
    build(&f, 7, 3);
    f.pl.can_skip_until = 0;
    assert_int_equal(es_ll_playlist_skippable(&f.pl), 0);
    struct es_ll_write_options opt = {.skip = true};
    char *text = write_text(&f.pl, &opt);
    assert_null(strstr(text, "EXT-X-SKIP"));
    assert_null(strstr(text, "CAN-SKIP-UNTIL"));
    free(text);
}

/* EXT-X-START where the player should start (PART-HOLD-BACK before the end,
 * PRECISE: stock hls.js then seeks there instead of playing from the
 * segment's keyframe); not in a finished playlist, nor when not asked. */
static void test_ll_writer_prints_the_start_point_only_when_asked_and_live(void **state)
{
    (void)state;
    struct fixture f;
    build(&f, 2, 2);
    char *text = write_text(&f.pl, NULL);
    assert_null(strstr(text, "#EXT-X-START"));
    free(text);
    f.pl.start_back = 0.6;
    text = write_text(&f.pl, NULL);
    assert_non_null(strstr(text, "#EXT-X-INDEPENDENT-SEGMENTS\n"
                                 "#EXT-X-START:TIME-OFFSET=-0.6,PRECISE=YES\n"
                                 "#EXT-X-MAP:"));
    free(text);
    f.pl.endlist = true;
    text = write_text(&f.pl, NULL);
    assert_null(strstr(text, "#EXT-X-START"));
    free(text);
}

static void test_ll_part_durations_round_down_and_part_target_up(void **state)
{
    (void)state;
    struct fixture f;
    build(&f, 0, 1);
    f.pl.part_target = 1.0 / 7 + 3.0 / 90000; /* 7 fps: whole frames are not whole ticks */
    f.parts[0][0].duration = 12858.0 / 90000;
    f.pl.preload_hint_uri = "part_100_1.m4s";
    char *text = write_text(&f.pl, NULL);
    assert_non_null(strstr(text, "PART-TARGET=0.1429\n"));
    assert_non_null(strstr(text, "DURATION=0.14286,"));
    free(text);
}

static void test_ll_writer_appends_the_query_to_every_uri(void **state)
{
    (void)state;
    struct fixture f;
    build(&f, 1, 1);
    f.pl.preload_hint_uri = "part_101_1.m4s";
    struct es_ll_write_options opt = {.uri_query = "token=abc"};
    char *text = write_text(&f.pl, &opt);
    assert_non_null(strstr(text, "URI=\"init_1.mp4?token=abc\""));
    assert_non_null(strstr(text, "URI=\"part_100_0.m4s?token=abc\""));
    assert_non_null(strstr(text, "\nseg_100.m4s?token=abc\n"));
    assert_non_null(strstr(text, "PRELOAD-HINT:TYPE=PART,URI=\"part_101_1.m4s?token=abc\""));
    free(text);
}

static void test_ll_writer_marks_discontinuities_and_new_init_sections(void **state)
{
    (void)state;
    struct fixture f;
    build(&f, 3, 1);
    f.segs[2].discontinuity = true;
    f.segs[2].map_uri = "init_2.mp4";
    f.segs[3].map_uri = "init_2.mp4";
    f.pl.discontinuity_sequence = 4;
    char *text = write_text(&f.pl, NULL);
    assert_non_null(strstr(text, "#EXT-X-DISCONTINUITY-SEQUENCE:4\n"));
    const char *d = strstr(text, "#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init_2.mp4\"\n");
    assert_non_null(d);
    assert_null(strstr(d + 10, "init_2.mp4\"\n#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:03"));
    free(text);
}

static void test_ll_writer_snprintf_semantics_hold_for_small_buffers(void **state)
{
    (void)state;
    struct fixture f;
    build(&f, 3, 2);
    size_t need = es_ll_playlist_write(&f.pl, NULL, NULL, 0);
    char small[32];
    assert_int_equal(es_ll_playlist_write(&f.pl, NULL, small, sizeof(small)), need);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    char seconds[16];
    es_ll_format_seconds(6.0, seconds, sizeof(seconds));
    assert_string_equal(seconds, "6.0");
    es_ll_format_seconds(0.33333333, seconds, sizeof(seconds));
    assert_string_equal(seconds, "0.33333");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ll_writer_prints_the_server_control_and_parts_as_the_draft_shows),
        cmocka_unit_test(test_ll_writer_prints_the_start_point_only_when_asked_and_live),
        cmocka_unit_test(test_ll_writer_lists_parts_only_where_asked),
        cmocka_unit_test(test_ll_skip_replaces_segments_before_the_skip_boundary),
        cmocka_unit_test(test_ll_skip_never_skips_without_can_skip_until),
        cmocka_unit_test(test_ll_part_durations_round_down_and_part_target_up),
        cmocka_unit_test(test_ll_writer_appends_the_query_to_every_uri),
        cmocka_unit_test(test_ll_writer_marks_discontinuities_and_new_init_sections),
        cmocka_unit_test(test_ll_writer_snprintf_semantics_hold_for_small_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
