/* Unit tests for src/playlist: the writer against the reference shape, the model's
 * RFC 8216 invariants, and the parser by round trips and mutated input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "playlist/playlist.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-11-24T14:35:00.123Z and 2026-11-24T14:35:01.963Z. */
#define PDT_A INT64_C(1795530900123000)
#define PDT_B INT64_C(1795530901963000)

static const char reference_example[] = "#EXTM3U\n"
                                        "#EXT-X-VERSION:3\n"
                                        "#EXT-X-TARGETDURATION:2\n"
                                        "#EXT-X-MEDIA-SEQUENCE:42\n"
                                        "#EXT-X-DISCONTINUITY-SEQUENCE:1\n"
                                        "#EXT-X-INDEPENDENT-SEGMENTS\n"
                                        "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:00.123Z\n"
                                        "#EXTINF:2.000000,\n"
                                        "segment_042.ts\n"
                                        "#EXTINF:1.840000,\n"
                                        "segment_043.ts\n"
                                        "#EXT-X-DISCONTINUITY\n"
                                        "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:01.963Z\n"
                                        "#EXTINF:2.000000,\n"
                                        "segment_044.ts\n"
                                        "#EXT-X-ENDLIST\n";

static struct es_playlist_segment make_segment(uint64_t msn, double duration, int64_t pdt,
                                               bool discontinuity)
{
    struct es_playlist_segment seg;
    memset(&seg, 0, sizeof(seg));
    seg.msn = msn;
    snprintf(seg.uri, sizeof(seg.uri), "segment_%03" PRIu64 ".ts", msn);
    seg.duration = duration;
    seg.program_date_time_us = pdt;
    seg.discontinuity = discontinuity;
    return seg;
}

static void append_ok(struct es_playlist *pl, struct es_playlist_segment seg)
{
    assert_int_equal(es_playlist_append(pl, &seg), ES_OK);
}

static void build_reference(struct es_playlist *pl)
{
    es_playlist_init(pl, 2);
    pl->discontinuity_sequence = 1;
    pl->independent_segments = true;
    append_ok(pl, make_segment(42, 2.0, PDT_A, false));
    append_ok(pl, make_segment(43, 1.84, 0, false));
    append_ok(pl, make_segment(44, 2.0, PDT_B, true));
    pl->endlist = true;
}

/* Returns a malloc'd NUL-terminated copy of the written text. */
static char *write_text(const struct es_playlist *pl)
{
    size_t need = es_playlist_write(pl, NULL, 0);
    char *text = malloc(need + 1);
    assert_non_null(text);
    assert_int_equal(es_playlist_write(pl, text, need + 1), need);
    assert_int_equal(strlen(text), need);
    return text;
}

static void assert_playlists_equal(const struct es_playlist *a, const struct es_playlist *b)
{
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->target_duration, b->target_duration);
    assert_int_equal(a->media_sequence, b->media_sequence);
    assert_int_equal(a->discontinuity_sequence, b->discontinuity_sequence);
    assert_int_equal(a->independent_segments, b->independent_segments);
    assert_int_equal(a->endlist, b->endlist);
    assert_int_equal(a->count, b->count);
    for (size_t i = 0; i < a->count; i++) {
        const struct es_playlist_segment *x = &a->segments[i], *y = &b->segments[i];
        assert_int_equal(x->msn, y->msn);
        assert_string_equal(x->uri, y->uri);
        assert_true(x->duration == y->duration);
        assert_int_equal(x->program_date_time_us, y->program_date_time_us);
        assert_int_equal(x->discontinuity, y->discontinuity);
    }
}

static enum es_err parse_str(const char *text, struct es_playlist *pl)
{
    return es_playlist_parse(text, strlen(text), pl);
}

/* --- writer ------------------------------------------------------------------------ */

static void test_playlist_writer_matches_reference_example(void **state)
{
    (void)state;
    struct es_playlist pl;
    build_reference(&pl);
    char *text = write_text(&pl);
    assert_string_equal(text, reference_example);
    free(text);
    es_playlist_clear(&pl);
}

static void test_playlist_writer_omits_optional_tags_when_unset(void **state)
{
    (void)state;
    struct es_playlist pl;
    es_playlist_init(&pl, 4);
    append_ok(&pl, make_segment(0, 4.0, 0, false));
    append_ok(&pl, make_segment(1, 3.5, 0, false));
    char *text = write_text(&pl);
    assert_string_equal(text, "#EXTM3U\n"
                              "#EXT-X-VERSION:3\n"
                              "#EXT-X-TARGETDURATION:4\n"
                              "#EXT-X-MEDIA-SEQUENCE:0\n"
                              "#EXTINF:4.000000,\n"
                              "segment_000.ts\n"
                              "#EXTINF:3.500000,\n"
                              "segment_001.ts\n");
    free(text);
    es_playlist_clear(&pl);
}

static void test_playlist_writer_of_empty_playlist_has_only_header(void **state)
{
    (void)state;
    struct es_playlist pl;
    es_playlist_init(&pl, 6);
    char *text = write_text(&pl);
    assert_string_equal(text, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n"
                              "#EXT-X-MEDIA-SEQUENCE:0\n");
    free(text);
    es_playlist_clear(&pl);
}

static void test_playlist_writer_follows_snprintf_semantics(void **state)
{
    (void)state;
    struct es_playlist pl;
    build_reference(&pl);
    size_t need = es_playlist_write(&pl, NULL, 0);
    assert_int_equal(need, strlen(reference_example));

    /* Every short buffer gets a NUL-terminated prefix and the full length back. */
    for (size_t size = 1; size <= need; size += 7) {
        char *buf = malloc(size);
        assert_non_null(buf);
        assert_int_equal(es_playlist_write(&pl, buf, size), need);
        assert_int_equal(strlen(buf), size - 1);
        assert_memory_equal(buf, reference_example, size - 1);
        free(buf);
    }
    char exact[sizeof(reference_example)];
    assert_int_equal(es_playlist_write(&pl, exact, sizeof(exact)), need);
    assert_string_equal(exact, reference_example);
    es_playlist_clear(&pl);
}

static void test_playlist_writer_prints_microsecond_durations(void **state)
{
    (void)state;
    struct es_playlist pl;
    es_playlist_init(&pl, 10);
    append_ok(&pl, make_segment(7, 0.0333333, 0, false));
    append_ok(&pl, make_segment(8, 9.9999996, 0, false));
    append_ok(&pl, make_segment(9, 0.0, 0, false));
    char *text = write_text(&pl);
    assert_non_null(strstr(text, "#EXTINF:0.033333,\nsegment_007.ts\n"));
    assert_non_null(strstr(text, "#EXTINF:10.000000,\nsegment_008.ts\n"));
    assert_non_null(strstr(text, "#EXTINF:0.000000,\nsegment_009.ts\n"));
    free(text);
    es_playlist_clear(&pl);
}

/* --- model ------------------------------------------------------------------------- */

static void test_playlist_first_append_sets_media_sequence(void **state)
{
    (void)state;
    struct es_playlist pl;
    es_playlist_init(&pl, 2);
    append_ok(&pl, make_segment(1234, 2.0, 0, false));
    assert_int_equal(pl.media_sequence, 1234);
    assert_int_equal(pl.count, 1);
    es_playlist_clear(&pl);
}

static void test_playlist_append_requires_the_next_msn(void **state)
{
    (void)state;
    struct es_playlist pl;
    es_playlist_init(&pl, 2);
    append_ok(&pl, make_segment(10, 2.0, 0, false));
    struct es_playlist_segment gap = make_segment(12, 2.0, 0, false);
    struct es_playlist_segment repeat = make_segment(10, 2.0, 0, false);
    assert_int_equal(es_playlist_append(&pl, &gap), ES_ERR_INVALID);
    assert_int_equal(es_playlist_append(&pl, &repeat), ES_ERR_INVALID);
    append_ok(&pl, make_segment(11, 2.0, 0, false));
    assert_int_equal(pl.count, 2);
    es_playlist_clear(&pl);
}

static void test_playlist_media_sequence_never_decreases_after_trim_to_empty(void **state)
{
    (void)state;
    struct es_playlist pl;
    es_playlist_init(&pl, 2);
    append_ok(&pl, make_segment(5, 2.0, 0, false));
    append_ok(&pl, make_segment(6, 2.0, 0, false));
    assert_int_equal(es_playlist_trim(&pl, 0, NULL, 0), 2);
    assert_int_equal(pl.media_sequence, 7);
    struct es_playlist_segment back = make_segment(3, 2.0, 0, false);
    assert_int_equal(es_playlist_append(&pl, &back), ES_ERR_INVALID);
    append_ok(&pl, make_segment(7, 2.0, 0, false));
    es_playlist_clear(&pl);
}

static void test_playlist_media_sequence_never_wraps(void **state)
{
    (void)state;
    struct es_playlist pl;
    es_playlist_init(&pl, 2);
    append_ok(&pl, make_segment(UINT64_MAX - 1, 2.0, 0, false));
    struct es_playlist_segment last = make_segment(UINT64_MAX, 2.0, 0, false);
    assert_int_equal(es_playlist_append(&pl, &last), ES_ERR_INVALID);
    es_playlist_clear(&pl);
}

static void test_playlist_rejects_segment_longer_than_target(void **state)
{
    (void)state;
    struct es_playlist pl;
    es_playlist_init(&pl, 2);
    struct es_playlist_segment half_up = make_segment(0, 2.5, 0, false);
    struct es_playlist_segment three = make_segment(0, 3.0, 0, false);
    /* Prints as 2.500000, which a player rounds to 3. */
    struct es_playlist_segment prints_half = make_segment(0, 2.4999996, 0, false);
    assert_int_equal(es_playlist_append(&pl, &half_up), ES_ERR_INVALID);
    assert_int_equal(es_playlist_append(&pl, &three), ES_ERR_INVALID);
    assert_int_equal(es_playlist_append(&pl, &prints_half), ES_ERR_INVALID);
    assert_int_equal(pl.count, 0);
    append_ok(&pl, make_segment(0, 2.499999, 0, false));
    append_ok(&pl, make_segment(1, 2.4, 0, false));
    es_playlist_clear(&pl);
}

static void test_playlist_rejects_absurd_durations(void **state)
{
    (void)state;
    struct es_playlist pl;
    es_playlist_init(&pl, 1000000);
    const double bad[] = {-0.001, -1.0, NAN, INFINITY, -INFINITY, 1000000.6, 1e300};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct es_playlist_segment seg = make_segment(0, bad[i], 0, false);
        assert_int_equal(es_playlist_append(&pl, &seg), ES_ERR_INVALID);
    }
    assert_int_equal(pl.count, 0);
    es_playlist_clear(&pl);
}

static void test_playlist_rejects_uris_that_would_break_the_text(void **state)
{
    (void)state;
    struct es_playlist pl;
    es_playlist_init(&pl, 2);
    const char *bad[] = {"",         "#EXT-X-ENDLIST", "a\nb.ts", "a\r.ts", "with space.ts",
                         "tab\t.ts", "del\x7f.ts"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct es_playlist_segment seg = make_segment(0, 2.0, 0, false);
        snprintf(seg.uri, sizeof(seg.uri), "%s", bad[i]);
        assert_int_equal(es_playlist_append(&pl, &seg), ES_ERR_INVALID);
    }
    /* A URI filling the array without a NUL is not a string. */
    struct es_playlist_segment unterminated = make_segment(0, 2.0, 0, false);
    memset(unterminated.uri, 'a', sizeof(unterminated.uri));
    assert_int_equal(es_playlist_append(&pl, &unterminated), ES_ERR_INVALID);
    assert_int_equal(pl.count, 0);

    struct es_playlist_segment longest = make_segment(0, 2.0, 0, false);
    memset(longest.uri, 'b', sizeof(longest.uri) - 1);
    longest.uri[sizeof(longest.uri) - 1] = '\0';
    append_ok(&pl, longest);
    append_ok(&pl, make_segment(1, 2.0, 0, false));
    es_playlist_clear(&pl);
}

/* A playlist read back from disk or a bucket is not trusted (DESIGN.md
 * invariant 8): a URI whose path climbs out of the playlist's directory with a
 * dot-segment (RFC 3986 §5.2.4), also spelled with percent-encoded dots or a
 * backslash (which WHATWG URL parsers read as '/'), is refused by the model
 * and by the parser, while ordinary relative and absolute URIs still pass. */
static void test_playlist_rejects_uris_that_climb_out_of_the_directory(void **state)
{
    (void)state;
    const char *bad[] = {"../x",         "..",           ".",          "./segment_000.ts",
                         "a/../../x.ts", "a/./b.ts",     "a/..",       "%2e%2e/x.ts",
                         "%2E./x.ts",    ".%2e/x",       "..\\x.ts",   "a\\b.ts",
                         "https://cdn.example/../x.ts", "/../etc/x"};
    struct es_playlist pl;
    es_playlist_init(&pl, 2);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct es_playlist_segment seg = make_segment(0, 2.0, 0, false);
        snprintf(seg.uri, sizeof(seg.uri), "%s", bad[i]);
        assert_int_equal(es_playlist_append(&pl, &seg), ES_ERR_INVALID);

        char text[256];
        snprintf(text, sizeof(text),
                 "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nsegment_000.ts\n#EXTINF:2.0,\n%s\n",
                 bad[i]);
        struct es_playlist parsed;
        es_playlist_init(&parsed, 0);
        assert_int_equal(parse_str(text, &parsed), ES_ERR_INVALID);
        assert_int_equal(parsed.count, 0);
        es_playlist_clear(&parsed);
    }
    assert_int_equal(pl.count, 0);

    const char *good[] = {"segment_000.ts", "a..b.ts", "...ts", "sub/segment_001.ts",
                          "https://cdn.example/seg18.ts?token=a%20b", "x.ts?p=../y"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct es_playlist_segment seg = make_segment(i, 2.0, 0, false);
        snprintf(seg.uri, sizeof(seg.uri), "%s", good[i]);
        append_ok(&pl, seg);
    }
    es_playlist_clear(&pl);
}

static void test_playlist_rejects_program_date_times_it_cannot_print(void **state)
{
    (void)state;
    struct es_playlist pl;
    es_playlist_init(&pl, 2);
    const int64_t bad[] = {-1, 1, 999, INT64_C(253402300800000000), INT64_MAX};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct es_playlist_segment seg = make_segment(0, 2.0, bad[i], false);
        assert_int_equal(es_playlist_append(&pl, &seg), ES_ERR_INVALID);
    }
    append_ok(&pl, make_segment(0, 2.0, 1000, false));
    append_ok(&pl, make_segment(1, 2.0, INT64_C(253402300799999000), false));
    char *text = write_text(&pl);
    assert_non_null(strstr(text, "#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:00.001Z\n"));
    assert_non_null(strstr(text, "#EXT-X-PROGRAM-DATE-TIME:9999-12-31T23:59:59.999Z\n"));
    free(text);
    es_playlist_clear(&pl);
}

static void test_playlist_trim_advances_media_sequence_and_copies_removed(void **state)
{
    (void)state;
    struct es_playlist pl;
    es_playlist_init(&pl, 2);
    for (uint64_t msn = 100; msn < 110; msn++)
        append_ok(&pl, make_segment(msn, 2.0, 0, false));

    struct es_playlist_segment removed[3];
    assert_int_equal(es_playlist_trim(&pl, 6, removed, 3), 4);
    assert_int_equal(pl.media_sequence, 104);
    assert_int_equal(pl.count, 6);
    assert_int_equal(pl.segments[0].msn, 104);
    /* Only removed_cap of the four are copied, oldest first. */
    assert_int_equal(removed[0].msn, 100);
    assert_int_equal(removed[2].msn, 102);
    assert_string_equal(removed[1].uri, "segment_101.ts");

    assert_int_equal(es_playlist_trim(&pl, 6, removed, 3), 0);
    assert_int_equal(es_playlist_trim(&pl, 10, NULL, 0), 0);
    assert_int_equal(pl.media_sequence, 104);
    append_ok(&pl, make_segment(110, 2.0, 0, false));
    es_playlist_clear(&pl);
}

static void test_playlist_slide_never_leaves_less_than_three_target_durations(void **state)
{
    (void)state;
    struct es_playlist pl;
    es_playlist_init(&pl, 2);
    /* 2 + 2 + 2 + 0.5: keeping 3 would leave 4.5 s < 6 s, so 4 stay. */
    const double durations[] = {2.0, 2.0, 2.0, 2.0, 0.5};
    for (uint64_t i = 0; i < 5; i++) {
        struct es_playlist_segment seg = make_segment(i, durations[i], 0, false);
        assert_int_equal(es_playlist_append(&pl, &seg), ES_OK);
    }
    struct es_playlist_segment removed[8];
    assert_int_equal(es_playlist_slide(&pl, 3, removed, 8), 1);
    assert_int_equal(pl.count, 4);
    assert_int_equal(pl.media_sequence, 1);
    assert_true(es_playlist_duration(&pl) >= 6.0);

    /* Once the short segment is far enough back, it trims down to `keep`. */
    for (uint64_t i = 5; i < 8; i++) {
        struct es_playlist_segment seg = make_segment(i, 2.0, 0, false);
        assert_int_equal(es_playlist_append(&pl, &seg), ES_OK);
    }
    assert_int_equal(es_playlist_slide(&pl, 3, removed, 8), 4);
    assert_int_equal(pl.count, 3);
    assert_int_equal(removed[3].msn, 4);
    assert_true(es_playlist_duration(&pl) >= 6.0);
    es_playlist_clear(&pl);
}

static void test_playlist_trim_advances_discontinuity_sequence(void **state)
{
    (void)state;
    struct es_playlist pl;
    es_playlist_init(&pl, 2);
    pl.discontinuity_sequence = 3;
    append_ok(&pl, make_segment(0, 2.0, 0, true));
    append_ok(&pl, make_segment(1, 2.0, 0, false));
    append_ok(&pl, make_segment(2, 2.0, 0, true));
    append_ok(&pl, make_segment(3, 2.0, 0, false));
    append_ok(&pl, make_segment(4, 2.0, 0, true));

    assert_int_equal(es_playlist_trim(&pl, 4, NULL, 0), 1);
    assert_int_equal(pl.discontinuity_sequence, 4);
    assert_int_equal(es_playlist_trim(&pl, 3, NULL, 0), 1);
    assert_int_equal(pl.discontinuity_sequence, 4);
    assert_int_equal(es_playlist_trim(&pl, 1, NULL, 0), 2);
    assert_int_equal(pl.discontinuity_sequence, 5);
    assert_int_equal(pl.media_sequence, 4);
    /* The remaining segment keeps its own tag: it has not been removed yet. */
    assert_true(pl.segments[0].discontinuity);
    es_playlist_clear(&pl);
}

static void test_playlist_duration_sums_extinf(void **state)
{
    (void)state;
    struct es_playlist pl;
    es_playlist_init(&pl, 2);
    assert_true(es_playlist_duration(&pl) == 0.0);
    append_ok(&pl, make_segment(0, 2.0, 0, false));
    append_ok(&pl, make_segment(1, 1.5, 0, false));
    append_ok(&pl, make_segment(2, 0.25, 0, false));
    assert_true(fabs(es_playlist_duration(&pl) - 3.75) < 1e-9);
    es_playlist_clear(&pl);
}

static void test_playlist_clear_accepts_null_and_repeats(void **state)
{
    (void)state;
    es_playlist_clear(NULL);
    struct es_playlist pl;
    build_reference(&pl);
    es_playlist_clear(&pl);
    es_playlist_clear(&pl);
    assert_int_equal(pl.count, 0);
    assert_null(pl.segments);
}

/* --- parser ------------------------------------------------------------------------ */

static void test_playlist_parses_reference_example(void **state)
{
    (void)state;
    struct es_playlist expected, got;
    build_reference(&expected);
    es_playlist_init(&got, 0);
    assert_int_equal(parse_str(reference_example, &got), ES_OK);
    assert_playlists_equal(&expected, &got);
    es_playlist_clear(&expected);
    es_playlist_clear(&got);
}

static void test_playlist_round_trips_through_parser(void **state)
{
    (void)state;
    struct es_playlist pl, back;
    es_playlist_init(&pl, 4);
    append_ok(&pl, make_segment(900, 3.966667, PDT_A, false));
    append_ok(&pl, make_segment(901, 4.033333, 0, true));
    append_ok(&pl, make_segment(902, 0.5, PDT_B, true));
    es_playlist_trim(&pl, 2, NULL, 0);
    char *text = write_text(&pl);
    es_playlist_init(&back, 0);
    assert_int_equal(parse_str(text, &back), ES_OK);
    assert_playlists_equal(&pl, &back);
    char *again = write_text(&back);
    assert_string_equal(text, again);
    free(text);
    free(again);
    es_playlist_clear(&pl);
    es_playlist_clear(&back);
}

/* xorshift64*: fixed seed, so every run checks the same playlists. */
static uint64_t rng_state = UINT64_C(0x9E3779B97F4A7C15);

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

static uint64_t rng_below(uint64_t n)
{
    return n ? rng() % n : 0;
}

static void random_playlist(struct es_playlist *pl)
{
    static const char uri_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789-._~/?=&%:@!$'()*+;,";
    es_playlist_init(pl, (unsigned)(1 + rng_below(12)));
    uint64_t first_msn = rng_below(4) == 0 ? UINT64_MAX - 1000 + rng_below(900) : rng_below(100000);
    pl->discontinuity_sequence = rng_below(3) == 0 ? 0 : rng_below(1000000);
    pl->independent_segments = rng_below(2);
    pl->endlist = rng_below(4) == 0;
    size_t count = (size_t)rng_below(40);
    for (size_t i = 0; i < count; i++) {
        struct es_playlist_segment seg;
        memset(&seg, 0, sizeof(seg));
        seg.msn = first_msn + i;
        size_t len = 1 + (size_t)rng_below(ES_PLAYLIST_URI_MAX - 1);
        for (size_t k = 0; k < len; k++) {
            char c = uri_chars[rng_below(sizeof(uri_chars) - 1)];
            /* No dot-segments ("." or ".." between slashes, also as %2e):
             * the model refuses those (see the climb-out test). */
            if (c == '.' && (k == 0 || seg.uri[k - 1] == '/' || seg.uri[k - 1] == '.'))
                c = 'd';
            if ((c == 'e' || c == 'E') && k >= 2 && seg.uri[k - 2] == '%' && seg.uri[k - 1] == '2')
                c = 'f';
            seg.uri[k] = c;
        }
        if (seg.uri[0] == '#')
            seg.uri[0] = 's';
        /* Whole microseconds up to the largest value that rounds to the target. */
        uint64_t max_us = (uint64_t)pl->target_duration * 1000000 + 499999;
        seg.duration = (double)rng_below(max_us + 1) / 1e6;
        if (rng_below(3) == 0)
            seg.program_date_time_us = (int64_t)(1 + rng_below(INT64_C(253402300799999))) * 1000;
        seg.discontinuity = rng_below(5) == 0;
        assert_int_equal(es_playlist_append(pl, &seg), ES_OK);
    }
    if (count == 0)
        pl->media_sequence = first_msn;
    /* Sometimes trim, as a live window does. */
    if (count > 0 && rng_below(2))
        es_playlist_trim(pl, (size_t)rng_below(count + 1), NULL, 0);
}

static void test_playlist_round_trips_random_playlists(void **state)
{
    (void)state;
    for (int iter = 0; iter < 2000; iter++) {
        struct es_playlist pl, back;
        random_playlist(&pl);
        char *text = write_text(&pl);
        es_playlist_init(&back, 0);
        assert_int_equal(parse_str(text, &back), ES_OK);
        assert_playlists_equal(&pl, &back);
        char *again = write_text(&back);
        assert_string_equal(text, again);
        free(text);
        free(again);
        es_playlist_clear(&pl);
        es_playlist_clear(&back);
    }
}

static void test_playlist_parser_tolerates_crlf_blank_lines_and_unknown_tags(void **state)
{
    (void)state;
    /* Shaped like FFmpeg and other packagers' output, with CRLF endings. */
    const char *text = "#EXTM3U\r\n"
                       "#EXT-X-VERSION:4\r\n"
                       "#EXT-X-ALLOW-CACHE:YES\r\n"
                       "\r\n"
                       "#EXT-X-TARGETDURATION:6\r\n"
                       "#EXT-X-MEDIA-SEQUENCE:17\r\n"
                       "#EXT-X-PLAYLIST-TYPE:EVENT\r\n"
                       "# a comment\r\n"
                       "#EXT-X-KEY:METHOD=NONE\r\n"
                       "#EXTINF:5.005,Title, with comma\r\n"
                       "#EXT-X-BYTERANGE:1000@0\r\n"
                       "seg17.ts\r\n"
                       "   \r\n"
                       "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:00.5+02:00\r\n"
                       "#EXTINF:6\r\n"
                       "https://cdn.example/seg18.ts?token=a%20b\r\n"
                       "#EXT-X-ENDLIST\r\n"
                       "\r\n";
    struct es_playlist pl;
    es_playlist_init(&pl, 0);
    assert_int_equal(parse_str(text, &pl), ES_OK);
    assert_int_equal(pl.version, 4);
    assert_int_equal(pl.target_duration, 6);
    assert_int_equal(pl.media_sequence, 17);
    assert_int_equal(pl.discontinuity_sequence, 0);
    assert_false(pl.independent_segments);
    assert_true(pl.endlist);
    assert_int_equal(pl.count, 2);
    assert_int_equal(pl.segments[0].msn, 17);
    assert_string_equal(pl.segments[0].uri, "seg17.ts");
    assert_true(pl.segments[0].duration == 5.005);
    assert_int_equal(pl.segments[0].program_date_time_us, 0);
    assert_int_equal(pl.segments[1].msn, 18);
    assert_string_equal(pl.segments[1].uri, "https://cdn.example/seg18.ts?token=a%20b");
    assert_true(pl.segments[1].duration == 6.0);
    assert_int_equal(pl.segments[1].program_date_time_us, INT64_C(1795523700500000));
    es_playlist_clear(&pl);
}

static void test_playlist_parser_reads_old_versions_as_version_3(void **state)
{
    (void)state;
    struct es_playlist pl;
    es_playlist_init(&pl, 0);
    assert_int_equal(parse_str("#EXTM3U\n#EXT-X-VERSION:2\n#EXT-X-TARGETDURATION:10\n"
                               "#EXTINF:10,\na.ts\n",
                               &pl),
                     ES_OK);
    assert_int_equal(pl.version, 3);
    assert_int_equal(pl.media_sequence, 0);
    es_playlist_clear(&pl);
    /* No EXT-X-VERSION at all: also 3. */
    es_playlist_init(&pl, 0);
    assert_int_equal(parse_str("#EXTM3U\n#EXT-X-TARGETDURATION:10\n", &pl), ES_OK);
    assert_int_equal(pl.version, 3);
    assert_int_equal(pl.count, 0);
    es_playlist_clear(&pl);
}

static void test_playlist_parser_rounds_durations_to_microseconds(void **state)
{
    (void)state;
    struct es_playlist pl;
    es_playlist_init(&pl, 0);
    assert_int_equal(parse_str("#EXTM3U\n#EXT-X-TARGETDURATION:3\n"
                               "#EXTINF:2.0000004,\na.ts\n"
                               "#EXTINF:2.0000005,\nb.ts\n"
                               "#EXTINF:.5,\nc.ts\n"
                               "#EXTINF:3.,\nd.ts\n",
                               &pl),
                     ES_OK);
    assert_true(pl.segments[0].duration == 2.0);
    assert_true(pl.segments[1].duration == 2.000001);
    assert_true(pl.segments[2].duration == 0.5);
    assert_true(pl.segments[3].duration == 3.0);
    es_playlist_clear(&pl);
}

static void test_playlist_parser_keeps_program_date_time_to_the_millisecond(void **state)
{
    (void)state;
    /* The writer prints milliseconds; finer digits would not survive a rewrite. */
    struct es_playlist pl;
    es_playlist_init(&pl, 0);
    assert_int_equal(parse_str("#EXTM3U\n#EXT-X-TARGETDURATION:2\n"
                               "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:00.123999Z\n"
                               "#EXTINF:2,\na.ts\n",
                               &pl),
                     ES_OK);
    assert_int_equal(pl.segments[0].program_date_time_us, PDT_A);
    es_playlist_clear(&pl);
}

static void test_playlist_parser_reads_every_iso8601_zone_form(void **state)
{
    (void)state;
    /* FFmpeg 5.1's hlsenc writes "+0000"; ISO 8601 also allows "+hh"; no zone
     * at all means UTC (8216bis §4.4.4.6). */
    const char *forms[] = {"2026-11-24T16:35:00.123+02:00", "2026-11-24T16:35:00.123+0200",
                           "2026-11-24T16:35:00.123+02",    "2026-11-24T14:35:00.123+0000",
                           "2026-11-24T12:05:00.123-02:30", "2026-11-24T14:35:00.123"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text),
                 "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000000,\n"
                 "#EXT-X-PROGRAM-DATE-TIME:%s\nffmpeg0.ts\n",
                 forms[i]);
        struct es_playlist pl;
        es_playlist_init(&pl, 0);
        assert_int_equal(parse_str(text, &pl), ES_OK);
        assert_int_equal(pl.segments[0].program_date_time_us, PDT_A);
        es_playlist_clear(&pl);
    }
    struct es_playlist pl;
    es_playlist_init(&pl, 0);
    assert_int_equal(parse_str("#EXTM3U\n#EXT-X-TARGETDURATION:2\n"
                               "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:00\n#EXTINF:2,\na.ts\n",
                               &pl),
                     ES_OK);
    assert_int_equal(pl.segments[0].program_date_time_us, PDT_A - 123000);
    es_playlist_clear(&pl);
}

static const char *const garbage[] = {
    "",
    "\n",
    "EXTM3U\n#EXT-X-TARGETDURATION:2\n",
    " #EXTM3U\n#EXT-X-TARGETDURATION:2\n",
    "#EXTM3Ux\n#EXT-X-TARGETDURATION:2\n",
    "\xEF\xBB\xBF#EXTM3U\n#EXT-X-TARGETDURATION:2\n",
    "<html><body>404</body></html>",
    "#EXTM3U\n",
    "#EXTM3U\n#EXTINF:2,\na.ts\n",
    /* EXTINF without a URI, and URIs without EXTINF. */
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXTINF:2,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\nb.ts\n",
    "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nlow.m3u8\n",
    /* Malformed and absurd durations. */
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:-1,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:nan,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:inf,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1e0,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:+1,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF: 1,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:0x1,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1..0,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:.,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2000000\n#EXTINF:1000001,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:99999999999999999999999,\na.ts\n",
    /* RFC 8216 §4.3.3.1: rounded EXTINF above the target. */
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.5,\na.ts\n",
    "#EXTM3U\n#EXTINF:3,\na.ts\n#EXT-X-TARGETDURATION:2\n",
    /* Target duration. */
    "#EXTM3U\n#EXT-X-TARGETDURATION:-2\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2.5\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:two\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:1000001\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:4294967298\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-TARGETDURATION:2\n",
    /* Sequences: overflow, sign, placement, wrap. */
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:18446744073709551616\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:-5\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-MEDIA-SEQUENCE:5\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-MEDIA-SEQUENCE:5\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-MEDIA-SEQUENCE:1\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n"
    "#EXTINF:2,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-DISCONTINUITY-SEQUENCE:18446744073709551615\n"
    "#EXT-X-DISCONTINUITY\n#EXTINF:2,\na.ts\n",
    /* Version. */
    "#EXTM3U\n#EXT-X-VERSION:0\n#EXT-X-TARGETDURATION:2\n",
    "#EXTM3U\n#EXT-X-VERSION:101\n#EXT-X-TARGETDURATION:2\n",
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n",
    /* Value on tags that take none. */
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-ENDLIST:YES\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-DISCONTINUITY:1\n#EXTINF:2,\na.ts\n",
    /* Program date times. */
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n#EXTINF:2,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:2026-13-01T00:00:00Z\n"
    "#EXTINF:2,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:2026-11-24 14:35:00.123Z\n"
    "#EXTINF:2,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:00.123Zjunk\n"
    "#EXTINF:2,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:00.Z\n"
    "#EXTINF:2,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:00+2:00\n"
    "#EXTINF:2,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:00+020\n"
    "#EXTINF:2,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:00+02:0\n"
    "#EXTINF:2,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:00+24:00\n"
    "#EXTINF:2,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:00+02-00\n"
    "#EXTINF:2,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:+026-11-24T14:35:00Z\n"
    "#EXTINF:2,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:00.000Z\n"
    "#EXTINF:2,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:1969-12-31T23:59:59.000Z\n"
    "#EXTINF:2,\na.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:9999-12-31T23:59:59.000-01:00\n"
    "#EXTINF:2,\na.ts\n",
    /* Segment tags with no segment after them. */
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-DISCONTINUITY\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:00Z\n",
    /* URIs the model cannot hold. */
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nwith space.ts\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaa"
    ".ts\n",
};

static void test_playlist_parser_rejects_garbage(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        struct es_playlist pl;
        es_playlist_init(&pl, 2);
        enum es_err err = parse_str(garbage[i], &pl);
        if (err != ES_ERR_INVALID)
            fail_msg("garbage[%zu] accepted: %s", i, garbage[i]);
        assert_int_equal(pl.count, 0);
        es_playlist_clear(&pl);
    }
}

static void test_playlist_parser_rejects_nul_bytes_and_null_text(void **state)
{
    (void)state;
    static const char with_nul[] = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na\0b.ts\n";
    struct es_playlist pl;
    es_playlist_init(&pl, 2);
    assert_int_equal(es_playlist_parse(with_nul, sizeof(with_nul) - 1, &pl), ES_ERR_INVALID);
    assert_int_equal(es_playlist_parse(NULL, 0, &pl), ES_ERR_INVALID);
    assert_int_equal(es_playlist_parse("#EXTM3U", 0, &pl), ES_ERR_INVALID);
    es_playlist_clear(&pl);
}

static void test_playlist_parser_reads_only_len_bytes(void **state)
{
    (void)state;
    /* The text need not be NUL-terminated; what follows len is not read. */
    const char *text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXTINF:2,\nb.ts\n";
    size_t len = strstr(text, "#EXTINF:2,\nb.ts") - text;
    char *exact = malloc(len);
    assert_non_null(exact);
    memcpy(exact, text, len);
    struct es_playlist pl;
    es_playlist_init(&pl, 0);
    assert_int_equal(es_playlist_parse(exact, len, &pl), ES_OK);
    assert_int_equal(pl.count, 1);
    /* A last line without its newline still counts. */
    assert_int_equal(es_playlist_parse(exact, len - 1, &pl), ES_OK);
    assert_int_equal(pl.count, 1);
    assert_string_equal(pl.segments[0].uri, "a.ts");
    free(exact);
    es_playlist_clear(&pl);
}

static void test_playlist_parser_leaves_playlist_empty_on_error(void **state)
{
    (void)state;
    struct es_playlist pl;
    build_reference(&pl);
    assert_int_equal(parse_str("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n", &pl),
                     ES_ERR_INVALID);
    assert_int_equal(pl.count, 0);
    assert_int_equal(pl.media_sequence, 0);
    assert_int_equal(pl.discontinuity_sequence, 0);
    assert_false(pl.endlist);
    assert_false(pl.independent_segments);
    assert_int_equal(pl.version, 3);
    assert_int_equal(pl.target_duration, 2);
    /* Still usable. */
    append_ok(&pl, make_segment(0, 2.0, 0, false));
    es_playlist_clear(&pl);
}

static void test_playlist_parser_replaces_previous_contents(void **state)
{
    (void)state;
    struct es_playlist pl;
    build_reference(&pl);
    assert_int_equal(parse_str("#EXTM3U\n#EXT-X-TARGETDURATION:8\n#EXT-X-MEDIA-SEQUENCE:9\n"
                               "#EXTINF:8,\nx.ts\n",
                               &pl),
                     ES_OK);
    assert_int_equal(pl.count, 1);
    assert_int_equal(pl.target_duration, 8);
    assert_int_equal(pl.media_sequence, 9);
    assert_int_equal(pl.discontinuity_sequence, 0);
    assert_false(pl.endlist);
    es_playlist_clear(&pl);
}

static void test_playlist_parsed_playlist_continues_media_sequence(void **state)
{
    (void)state;
    /* The restart path: read what the last run left, trim, append the next msn. */
    struct es_playlist pl;
    es_playlist_init(&pl, 0);
    assert_int_equal(parse_str(reference_example, &pl), ES_OK);
    pl.endlist = false;
    struct es_playlist_segment next = make_segment(45, 2.0, PDT_B + 2000000, true);
    assert_int_equal(es_playlist_append(&pl, &next), ES_OK);
    assert_int_equal(es_playlist_trim(&pl, 2, NULL, 0), 2);
    assert_int_equal(pl.media_sequence, 44);
    assert_int_equal(pl.discontinuity_sequence, 1);
    es_playlist_clear(&pl);
}

/* --- fuzz-ish ---------------------------------------------------------------------- */

static const char interesting[] = "#\n\r:,.-+0123456789 \0ZTXaE";

static size_t mutate(char *buf, size_t len, size_t cap)
{
    switch (rng_below(6)) {
    case 0: /* flip a byte */
        if (len)
            buf[rng_below(len)] ^= (char)(1u << rng_below(8));
        return len;
    case 1: /* overwrite with an interesting byte */
        if (len)
            buf[rng_below(len)] = interesting[rng_below(sizeof(interesting) - 1)];
        return len;
    case 2: /* truncate */
        return (size_t)rng_below(len + 1);
    case 3: { /* delete a run */
        if (!len)
            return len;
        size_t at = (size_t)rng_below(len), n = 1 + (size_t)rng_below(len - at);
        memmove(buf + at, buf + at + n, len - at - n);
        return len - n;
    }
    case 4: { /* insert an interesting byte */
        if (len >= cap)
            return len;
        size_t at = (size_t)rng_below(len + 1);
        memmove(buf + at + 1, buf + at, len - at);
        buf[at] = interesting[rng_below(sizeof(interesting) - 1)];
        return len + 1;
    }
    default: { /* duplicate a run of bytes elsewhere */
        if (!len)
            return len;
        size_t from = (size_t)rng_below(len), n = 1 + (size_t)rng_below(len - from);
        if (n > cap - len)
            n = cap - len;
        size_t at = (size_t)rng_below(len + 1);
        char tmp[4096];
        if (n > sizeof(tmp))
            n = sizeof(tmp);
        memcpy(tmp, buf + from, n);
        memmove(buf + at + n, buf + at, len - at);
        memcpy(buf + at, tmp, n);
        return len + n;
    }
    }
}

/* Any text the parser accepts must write back as text that parses to the
 * same model; any text it rejects must leave the playlist empty. */
static bool check_parse(const char *text, size_t len, struct es_playlist *pl)
{
    char *exact = malloc(len ? len : 1); /* exact size, so ASan sees over-reads */
    assert_non_null(exact);
    memcpy(exact, text, len);
    enum es_err err = es_playlist_parse(exact, len, pl);
    free(exact);
    if (err != ES_OK) {
        assert_int_equal(err, ES_ERR_INVALID);
        assert_int_equal(pl->count, 0);
        return false;
    }
    char *first = write_text(pl);
    struct es_playlist again;
    es_playlist_init(&again, 0);
    assert_int_equal(parse_str(first, &again), ES_OK);
    assert_playlists_equal(pl, &again);
    char *second = write_text(&again);
    assert_string_equal(first, second);
    free(first);
    free(second);
    es_playlist_clear(&again);
    return true;
}

static void test_playlist_parser_survives_mutated_and_truncated_text(void **state)
{
    (void)state;
    enum { CAP = 8192 };
    char *buf = malloc(CAP);
    assert_non_null(buf);
    struct es_playlist pl;
    es_playlist_init(&pl, 2);
    size_t accepted = 0, total = 0;
    for (int base = 0; base < 60; base++) {
        size_t len;
        if (base == 0) {
            len = strlen(reference_example);
            memcpy(buf, reference_example, len);
        } else {
            struct es_playlist src;
            random_playlist(&src);
            len = es_playlist_write(&src, buf, CAP);
            es_playlist_clear(&src);
            if (len >= CAP)
                len = CAP - 1;
        }
        char *orig = malloc(len ? len : 1);
        assert_non_null(orig);
        memcpy(orig, buf, len);
        for (int iter = 0; iter < 250; iter++) {
            memcpy(buf, orig, len);
            size_t n = len;
            int rounds = 1 + (int)rng_below(4);
            for (int r = 0; r < rounds; r++)
                n = mutate(buf, n, CAP);
            accepted += check_parse(buf, n, &pl);
            total++;
        }
        free(orig);
    }
    /* Mutations keep many texts valid; the loop must have exercised both paths. */
    print_message("mutated texts: %zu parsed, %zu accepted\n", total, accepted);
    assert_true(accepted > 0);
    assert_true(accepted < total);
    es_playlist_clear(&pl);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_playlist_writer_matches_reference_example),
        cmocka_unit_test(test_playlist_writer_omits_optional_tags_when_unset),
        cmocka_unit_test(test_playlist_writer_of_empty_playlist_has_only_header),
        cmocka_unit_test(test_playlist_writer_follows_snprintf_semantics),
        cmocka_unit_test(test_playlist_writer_prints_microsecond_durations),
        cmocka_unit_test(test_playlist_first_append_sets_media_sequence),
        cmocka_unit_test(test_playlist_append_requires_the_next_msn),
        cmocka_unit_test(test_playlist_media_sequence_never_decreases_after_trim_to_empty),
        cmocka_unit_test(test_playlist_media_sequence_never_wraps),
        cmocka_unit_test(test_playlist_rejects_segment_longer_than_target),
        cmocka_unit_test(test_playlist_rejects_absurd_durations),
        cmocka_unit_test(test_playlist_rejects_uris_that_would_break_the_text),
        cmocka_unit_test(test_playlist_rejects_uris_that_climb_out_of_the_directory),
        cmocka_unit_test(test_playlist_rejects_program_date_times_it_cannot_print),
        cmocka_unit_test(test_playlist_trim_advances_media_sequence_and_copies_removed),
        cmocka_unit_test(test_playlist_trim_advances_discontinuity_sequence),
        cmocka_unit_test(test_playlist_slide_never_leaves_less_than_three_target_durations),
        cmocka_unit_test(test_playlist_duration_sums_extinf),
        cmocka_unit_test(test_playlist_clear_accepts_null_and_repeats),
        cmocka_unit_test(test_playlist_parses_reference_example),
        cmocka_unit_test(test_playlist_round_trips_through_parser),
        cmocka_unit_test(test_playlist_round_trips_random_playlists),
        cmocka_unit_test(test_playlist_parser_tolerates_crlf_blank_lines_and_unknown_tags),
        cmocka_unit_test(test_playlist_parser_reads_old_versions_as_version_3),
        cmocka_unit_test(test_playlist_parser_rounds_durations_to_microseconds),
        cmocka_unit_test(test_playlist_parser_keeps_program_date_time_to_the_millisecond),
        cmocka_unit_test(test_playlist_parser_reads_every_iso8601_zone_form),
        cmocka_unit_test(test_playlist_parser_rejects_garbage),
        cmocka_unit_test(test_playlist_parser_rejects_nul_bytes_and_null_text),
        cmocka_unit_test(test_playlist_parser_reads_only_len_bytes),
        cmocka_unit_test(test_playlist_parser_leaves_playlist_empty_on_error),
        cmocka_unit_test(test_playlist_parser_replaces_previous_contents),
        cmocka_unit_test(test_playlist_parsed_playlist_continues_media_sequence),
        cmocka_unit_test(test_playlist_parser_survives_mutated_and_truncated_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
