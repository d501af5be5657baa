/* Unit tests for src/record: segment names and the layout (only our own names are
 * accepted), the SQLite index (range queries at their edges, oldest-first, totals),
 * rebuilding it from the files, retention by budget, the VOD playlist writer (holes become
 * EXT-X-DISCONTINUITY) and the strict time parser of /vod/ queries. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "record/index.h"
#include "record/layout.h"
#include "record/retention.h"
#include "record/vod_playlist.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 2026-12-03T10:59:58.500Z */
#define T0 INT64_C(1796295598500)

static char *make_temp_dir(void)
{
    char *dir = strdup("/tmp/es-test-record-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void remove_tree(const char *dir)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static struct es_record_entry entry(uint64_t msn, int64_t start_ms, uint32_t duration_ms)
{
    return (struct es_record_entry){
        .msn = msn, .start_ms = start_ms, .duration_ms = duration_ms, .bytes = 1000 + msn};
}

/* Writes the segment's file where the recorder would, `size` bytes. */
static void write_file(const char *camera_dir, const struct es_record_entry *e, size_t size)
{
    char rel[ES_RECORD_REL_MAX], path[PATH_MAX + 128], cmd[PATH_MAX + 160];
    es_record_rel_path(e, rel, sizeof(rel));
    snprintf(path, sizeof(path), "%s/%s", camera_dir, rel);
    snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < size; i++)
        fputc(0x47, f);
    fclose(f);
}

static void test_record_name_round_trips_and_places_by_utc_hour(void **state)
{
    (void)state;
    struct es_record_entry e = entry(123, T0, 2002);
    e.discontinuity = true;
    char name[ES_RECORD_NAME_MAX], rel[ES_RECORD_REL_MAX];
    es_record_name(&e, name, sizeof(name));
    assert_string_equal(name, "20261203T105958.500Z_2002_123_d.ts");
    es_record_rel_path(&e, rel, sizeof(rel));
    assert_string_equal(rel, "2026-12-03/10/20261203T105958.500Z_2002_123_d.ts");
    struct es_record_entry back;
    assert_true(es_record_name_parse(name, &back));
    assert_int_equal(back.msn, 123);
    assert_int_equal(back.start_ms, T0);
    assert_int_equal(back.duration_ms, 2002);
    assert_true(back.discontinuity);
}

static void test_record_name_parse_refuses_foreign_names(void **state)
{
    (void)state;
    static const char *const foreign[] = {
        "20261203T105958.500Z_2002_0123.ts", /* leading zero */
        "20261203T105958.500Z_02002_123.ts",
        "20260231T105958.500Z_2002_123.ts", /* 31 February */
        "20261203T245958.500Z_2002_123.ts",
        "20261203T105958.500Z_2002_123.ts.tmp",
        ".20261203T105958.500Z_2002_123.ts.tmp",
        "20261203T105958.500Z_2002_123_x.ts",
        "20261203T105958.500Z_2002_123.mp4",
        "20261203T105958.5Z_2002_123.ts",
        "20261203T105958.500Z_2002_18446744073709551616.ts", /* > 2^64-1 */
        "../20261203T105958.500Z_2002_123.ts",
        "index.db",
        "",
    };
    struct es_record_entry e;
    for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++)
        assert_false(es_record_name_parse(foreign[i], &e));
    int64_t day;
    unsigned hour;
    assert_true(es_record_day_dir("2026-12-03", &day));
    assert_false(es_record_day_dir("2026-02-30", &day));
    assert_false(es_record_day_dir("2026-12-3", &day));
    assert_true(es_record_hour_dir("23", &hour));
    assert_false(es_record_hour_dir("24", &hour));
    assert_false(es_record_hour_dir("7", &hour));
}

struct list {
    uint64_t msn[64];
    size_t count;
};

static void collect(void *opaque, const struct es_record_entry *e)
{
    struct list *l = opaque;
    assert_true(l->count < 64);
    l->msn[l->count++] = e->msn;
}

struct spans {
    int64_t start[8], end[8];
    size_t count;
};

static void collect_span(void *opaque, int64_t start_ms, int64_t end_ms)
{
    struct spans *sp = opaque;
    assert_true(sp->count < 8);
    sp->start[sp->count] = start_ms;
    sp->end[sp->count++] = end_ms;
}

static struct es_record_index *open_index(const char *dir)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/index.db", dir);
    struct es_record_index *x = NULL;
    assert_int_equal(es_record_index_open(path, false, &x), ES_OK);
    return x;
}

static void test_record_index_query_returns_overlapping_segments_in_time_order(void **state)
{
    (void)state;
    char *dir = make_temp_dir();
    struct es_record_index *x = open_index(dir);
    /* 0..9 of 2 s each from T0, then a 60 s hole, then 10..14. Added out of order. */
    for (int i = 9; i >= 0; i--) {
        struct es_record_entry e = entry((uint64_t)i, T0 + i * 2000, 2000);
        assert_int_equal(es_record_index_add(x, &e), ES_OK);
    }
    for (int i = 10; i < 15; i++) {
        struct es_record_entry e = entry((uint64_t)i, T0 + 80000 + (i - 10) * 2000, 2000);
        e.discontinuity = i == 10; /* the recording after the hole starts a run */
        assert_int_equal(es_record_index_add(x, &e), ES_OK);
    }
    struct list l = {.count = 0};
    size_t n;
    bool truncated;
    /* [T0+3 s, T0+7 s): segment 1 (2..4 s) reaches into it, 3 (6..8 s) begins in it. */
    assert_int_equal(
        es_record_index_query(x, T0 + 3000, T0 + 7000, 100, collect, &l, &n, &truncated), ES_OK);
    assert_int_equal(n, 3);
    assert_false(truncated);
    assert_int_equal(l.msn[0], 1);
    assert_int_equal(l.msn[2], 3);
    /* End exclusive, start exclusive of what ended exactly there. */
    l.count = 0;
    es_record_index_query(x, T0 + 4000, T0 + 6000, 100, collect, &l, &n, &truncated);
    assert_int_equal(n, 1);
    assert_int_equal(l.msn[0], 2);
    /* Inside the hole: nothing. */
    l.count = 0;
    es_record_index_query(x, T0 + 30000, T0 + 70000, 100, collect, &l, &n, &truncated);
    assert_int_equal(n, 0);
    /* Everything, capped. */
    l.count = 0;
    es_record_index_query(x, T0 - 100000, T0 + 200000, 12, collect, &l, &n, &truncated);
    assert_int_equal(n, 12);
    assert_true(truncated);
    for (size_t i = 0; i < 12; i++)
        assert_int_equal(l.msn[i], i);

    /* The timeline: two runs, unclipped, whatever the range's edges. */
    struct spans sp = {.count = 0};
    assert_int_equal(es_record_index_spans(x, T0 - 100000, T0 + 200000, collect_span, &sp, &n),
                     ES_OK);
    assert_int_equal(n, 2);
    assert_int_equal(sp.start[0], T0);
    assert_int_equal(sp.end[0], T0 + 20000);
    assert_int_equal(sp.start[1], T0 + 80000);
    assert_int_equal(sp.end[1], T0 + 90000);
    sp.count = 0;
    es_record_index_spans(x, T0 + 85000, T0 + 86000, collect_span, &sp, &n);
    assert_int_equal(n, 1);
    assert_int_equal(sp.start[0], T0 + 80000); /* the run's own start, before the range */
    assert_int_equal(sp.end[0], T0 + 90000);
    sp.count = 0;
    es_record_index_spans(x, T0 + 30000, T0 + 70000, collect_span, &sp, &n);
    assert_int_equal(n, 0);

    struct es_record_totals t;
    assert_int_equal(es_record_index_totals(x, &t), ES_OK);
    assert_int_equal(t.segments, 15);
    assert_int_equal(t.oldest_ms, T0);
    assert_int_equal(t.newest_end_ms, T0 + 80000 + 5 * 2000);
    assert_int_equal(t.max_msn, 14);
    uint64_t bytes = 0;
    for (int i = 0; i < 15; i++)
        bytes += 1000 + (uint64_t)i;
    assert_int_equal(t.bytes, bytes);

    struct es_record_entry oldest[3];
    assert_int_equal(es_record_index_oldest(x, oldest, 3, &n), ES_OK);
    assert_int_equal(n, 3);
    assert_int_equal(oldest[0].msn, 0);
    assert_int_equal(oldest[2].msn, 2);
    assert_int_equal(es_record_index_remove(x, 0), ES_OK);
    assert_false(es_record_index_has(x, 0));
    assert_true(es_record_index_has(x, 1));
    es_record_index_close(x);
    remove_tree(dir);
    free(dir);
}

static void test_record_index_rebuilds_from_the_files_and_refuses_garbage(void **state)
{
    (void)state;
    char *dir = make_temp_dir();
    /* Files across an hour and a day boundary, one temporary left-over, one foreign. */
    struct es_record_entry e[4] = {
        entry(7, INT64_C(1796342397000), 2000), /* 2026-12-03T23:59:57Z */
        entry(8, INT64_C(1796342399000), 2000), /* 23:59:59 */
        entry(9, INT64_C(1796342401000), 1500), /* 2026-12-04T00:00:01Z */
        entry(10, INT64_C(1796342402500), 2000),
    };
    e[2].discontinuity = true;
    for (int i = 0; i < 4; i++)
        write_file(dir, &e[i], 100 + (size_t)i);
    char tmp[PATH_MAX + 64], foreign[PATH_MAX + 64];
    snprintf(tmp, sizeof(tmp), "%s/2026-12-04/00/.20261204T000004.500Z_2000_11.ts.tmp", dir);
    snprintf(foreign, sizeof(foreign), "%s/2026-12-04/00/notes.txt", dir);
    FILE *f = fopen(tmp, "wb");
    fclose(f);
    f = fopen(foreign, "wb");
    fclose(f);

    struct es_record_index *x = open_index(dir);
    assert_int_equal(es_record_index_reconcile(x, dir, INT64_MIN, INT64_MAX), 4);
    assert_int_equal(access(tmp, F_OK), -1);    /* the left-over went */
    assert_int_equal(access(foreign, F_OK), 0); /* the foreign file stays */
    /* Reconciling again adds nothing. */
    assert_int_equal(es_record_index_reconcile(x, dir, INT64_MIN, INT64_MAX), 0);
    struct list l = {.count = 0};
    size_t n;
    bool truncated;
    es_record_index_query(x, INT64_C(1796342390000), INT64_C(1796342410000), 100, collect, &l, &n,
                          &truncated);
    assert_int_equal(n, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(l.msn[i], 7 + (uint64_t)i);
    struct es_record_totals t;
    es_record_index_totals(x, &t);
    assert_int_equal(t.bytes, 100 + 101 + 102 + 103);
    es_record_index_close(x);

    /* A file that is not SQLite is refused as unreadable (the recorder rebuilds). */
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/index.db", dir);
    unlink(path);
    f = fopen(path, "wb");
    fputs("definitely not a database, but long enough to look like a header.......", f);
    fclose(f);
    struct es_record_index *bad = NULL;
    assert_int_equal(es_record_index_open(path, false, &bad), ES_ERR_INVALID);
    assert_null(bad);
    /* A read-only open of a missing index fails rather than creating one. */
    unlink(path);
    assert_int_not_equal(es_record_index_open(path, true, &bad), ES_OK);
    assert_int_equal(access(path, F_OK), -1);
    remove_tree(dir);
    free(dir);
}

static void test_record_retention_deletes_oldest_first_down_to_the_budget(void **state)
{
    (void)state;
    char *dir = make_temp_dir();
    struct es_record_index *x = open_index(dir);
    uint64_t used = 0;
    for (int i = 0; i < 10; i++) {
        struct es_record_entry e = entry((uint64_t)i, T0 + i * 2000, 2000);
        e.bytes = 1000;
        write_file(dir, &e, 1000);
        es_record_index_add(x, &e);
        used += e.bytes;
    }
    struct es_record_policy budget = {.max_bytes = 3500};
    uint64_t freed;
    bool below;
    /* At most 4 per run: the camera's thread never works off a backlog in one go. */
    assert_int_equal(es_record_retention_run(x, dir, &budget, T0 + 30000, &used, 4, &freed, &below),
                     4);
    assert_int_equal(used, 6000);
    assert_int_equal(
        es_record_retention_run(x, dir, &budget, T0 + 30000, &used, 64, &freed, &below), 3);
    assert_int_equal(used, 3000);
    assert_int_equal(freed, 3000);
    assert_false(below);
    struct es_record_entry oldest;
    size_t n;
    es_record_index_oldest(x, &oldest, 1, &n);
    assert_int_equal(oldest.msn, 7);
    char rel[ES_RECORD_REL_MAX], path[PATH_MAX + 128];
    struct es_record_entry gone = entry(6, T0 + 6 * 2000, 2000);
    es_record_rel_path(&gone, rel, sizeof(rel));
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    assert_int_equal(access(path, F_OK), -1);
    /* By age: what ended more than 10 s before now (T0+29 s): 7 ended at T0+16 s, 8 at
     * T0+18 s (both go), 9 at T0+20 s (stays). */
    struct es_record_policy age = {.max_age_ms = 10000};
    es_record_retention_run(x, dir, &age, T0 + 29000, &used, 64, &freed, &below);
    es_record_index_oldest(x, &oldest, 1, &n);
    assert_int_equal(oldest.msn, 9);
    /* A floor no disk can meet: all goes, and the floor is reported under water. */
    struct es_record_policy floor = {.min_free_bytes = UINT64_MAX - 1};
    es_record_retention_run(x, dir, &floor, T0, &used, 64, &freed, &below);
    assert_true(below);
    es_record_index_oldest(x, &oldest, 1, &n);
    assert_int_equal(n, 0);
    es_record_index_close(x);
    remove_tree(dir);
    free(dir);
}

static void test_record_vod_playlist_marks_holes_and_restarts(void **state)
{
    (void)state;
    struct es_record_entry e[5] = {
        entry(1, T0, 2000),
        entry(2, T0 + 2000, 1960),
        entry(3, T0 + 3960, 2000),        /* continues exactly */
        entry(4, T0 + 60000, 2000),       /* a 54 s hole */
        entry(7, T0 + 62000 + 100, 2400), /* numbers skip (segments lost) */
    };
    size_t len;
    char *text = es_record_vod_playlist(e, 5, "token=a%20b", &len);
    assert_int_equal(strlen(text), len);
    const char *expected =
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-12-03T10:59:58.500Z\n#EXTINF:2.000,\n"
        "20261203T105958.500Z_2000_1.ts?token=a%20b\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-12-03T11:00:00.500Z\n#EXTINF:1.960,\n"
        "20261203T110000.500Z_1960_2.ts?token=a%20b\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-12-03T11:00:02.460Z\n#EXTINF:2.000,\n"
        "20261203T110002.460Z_2000_3.ts?token=a%20b\n"
        "#EXT-X-DISCONTINUITY\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-12-03T11:00:58.500Z\n#EXTINF:2.000,\n"
        "20261203T110058.500Z_2000_4.ts?token=a%20b\n"
        "#EXT-X-DISCONTINUITY\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-12-03T11:01:00.600Z\n#EXTINF:2.400,\n"
        "20261203T110100.600Z_2400_7.ts?token=a%20b\n"
        "#EXT-X-ENDLIST\n";
    assert_string_equal(text, expected);
    free(text);
    /* A 2.6 s segment rounds to 3: TARGETDURATION follows (RFC 8216 §4.3.3.1). */
    e[0].duration_ms = 2600;
    text = es_record_vod_playlist(e, 1, NULL, &len);
    assert_non_null(strstr(text, "#EXT-X-TARGETDURATION:3\n"));
    assert_null(strstr(text, "?"));
    free(text);
    /* The segment's own discontinuity flag counts even without a hole. */
    e[2].discontinuity = true;
    assert_true(es_record_is_break(&e[1], &e[2]));
    e[2].discontinuity = false;
    assert_false(es_record_is_break(&e[1], &e[2]));
}

static void test_record_parse_time_is_strict(void **state)
{
    (void)state;
    int64_t ms;
    assert_true(es_record_parse_time("2026-12-03T10:59:58.500Z", &ms));
    assert_int_equal(ms, T0);
    assert_true(es_record_parse_time("2026-12-03T11:59:58.5+01:00", &ms));
    assert_int_equal(ms, T0);
    assert_true(es_record_parse_time("2026-12-03T05:29:58.500-05:30", &ms));
    assert_int_equal(ms, T0);
    assert_true(es_record_parse_time("2026-12-03T10:59:58Z", &ms));
    assert_int_equal(ms, T0 - 500);
    static const char *const bad[] = {
        "2026-12-03T10:59:58",
        "2026-12-03 10:59:58Z",
        "2026-12-03T10:59:58.Z",
        "2026-02-29T10:00:00Z",
        "2026-12-03T24:00:00Z",
        "2026-12-03T10:60:00Z",
        "2026-12-03T10:59:58Zjunk",
        "+2026-12-03T10:59:58Z",
        "2026-12-03T10:59:58+0100",
        "1969-12-31T23:59:59Z",
        "",
        "2026-12-03T10:59:58.1234567890Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(es_record_parse_time(bad[i], &ms));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_name_round_trips_and_places_by_utc_hour),
        cmocka_unit_test(test_record_name_parse_refuses_foreign_names),
        cmocka_unit_test(test_record_index_query_returns_overlapping_segments_in_time_order),
        cmocka_unit_test(test_record_index_rebuilds_from_the_files_and_refuses_garbage),
        cmocka_unit_test(test_record_retention_deletes_oldest_first_down_to_the_budget),
        cmocka_unit_test(test_record_vod_playlist_marks_holes_and_restarts),
        cmocka_unit_test(test_record_parse_time_is_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
