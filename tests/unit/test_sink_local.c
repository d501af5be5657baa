/* Unit tests for src/sink/local.c (and the segment names of sink.c): files and
 * playlist on disk, the window, delayed deletes, and continuity across
 * restarts, in a temporary directory removed at the end. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw, mkdtemp */
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/blob.h"
#include "core/clock.h"
#include "core/log.h"
#include "playlist/playlist.h"
#include "sink/local.h"
#include "sink/sink.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PDT_BASE INT64_C(1795530900123000) /* 2026-11-24T14:35:00.123Z */
#define GRACE 0.3                          /* seconds */
#define AFTER_GRACE_US 500000              /* grace plus 0.2 s: generous */

struct fixture {
    char root[64];
    char dir[PATH_MAX]; /* root/loc/cam */
};

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->root, sizeof(f->root), "/tmp/es_test_sink_XXXXXX");
    if (!mkdtemp(f->root)) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/loc/cam", f->root);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    nftw(f->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static struct es_sink *open_sink(const struct fixture *f, unsigned target, unsigned keep,
                                 double grace)
{
    struct es_local_sink_config cfg = {
        .camera_id = "cam",
        .root = f->root,
        .location = "loc",
        .target_duration = target,
        .segments_to_keep = keep,
        .delete_grace = grace,
    };
    struct es_sink *sink = NULL;
    assert_int_equal(es_local_sink_create(&cfg, &sink), ES_OK);
    assert_non_null(sink);
    assert_string_equal(sink->kind, "local");
    return sink;
}

static void segment_bytes(uint64_t msn, char *out, size_t size)
{
    snprintf(out, size, "TS bytes of segment %" PRIu64, msn);
}

static void publish(struct es_sink *sink, uint64_t msn, double duration, bool discontinuity)
{
    char bytes[64];
    segment_bytes(msn, bytes, sizeof(bytes));
    struct es_published_segment seg = {
        .msn = msn,
        .data = es_blob_copy(bytes, strlen(bytes)),
        .duration = duration,
        .program_date_time_us = PDT_BASE + (int64_t)msn * 2000000,
        .discontinuity = discontinuity,
    };
    sink->publish(sink, &seg);
    es_blob_unref(seg.data);
}

static void publish_range(struct es_sink *sink, uint64_t from, uint64_t to)
{
    for (uint64_t msn = from; msn < to; msn++)
        publish(sink, msn, 2.0, false);
}

static bool segment_exists(const struct fixture *f, uint64_t msn)
{
    char name[64], path[PATH_MAX + 64];
    es_sink_segment_name(msn, name, sizeof(name));
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    return access(path, F_OK) == 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *text = malloc(1 << 16);
    assert_non_null(text);
    *len = fread(text, 1, (1 << 16) - 1, fp);
    text[*len] = '\0';
    fclose(fp);
    return text;
}

/* Parses stream.m3u8 as a player would see it. */
static void read_playlist(const struct fixture *f, struct es_playlist *pl)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/stream.m3u8", f->dir);
    size_t len = 0;
    char *text = read_file(path, &len);
    assert_non_null(text);
    es_playlist_init(pl, 0);
    assert_int_equal(es_playlist_parse(text, len, pl), ES_OK);
    free(text);
}

/* The playlist names msn from..to-1, each a file on disk with its bytes. */
static void assert_window(const struct fixture *f, uint64_t from, uint64_t to)
{
    struct es_playlist pl;
    read_playlist(f, &pl);
    assert_int_equal(pl.media_sequence, from);
    assert_int_equal(pl.count, to - from);
    for (size_t i = 0; i < pl.count; i++) {
        char name[64], path[PATH_MAX + 64], bytes[64];
        es_sink_segment_name(from + i, name, sizeof(name));
        assert_string_equal(pl.segments[i].uri, name);
        snprintf(path, sizeof(path), "%s/%s", f->dir, name);
        size_t len = 0;
        char *data = read_file(path, &len);
        assert_non_null(data);
        segment_bytes(from + i, bytes, sizeof(bytes));
        assert_string_equal(data, bytes);
        free(data);
    }
    es_playlist_clear(&pl);
}

static int count_dot_files(const struct fixture *f)
{
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void write_stray_segment(const struct fixture *f, uint64_t msn)
{
    char name[64], path[PATH_MAX + 64];
    es_sink_segment_name(msn, name, sizeof(name));
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("half a crash", fp);
    fclose(fp);
}

/* ---- names ---- */

static void test_segment_names_pad_to_three_digits_and_then_grow(void **state)
{
    (void)state;
    char name[64];
    es_sink_segment_name(0, name, sizeof(name));
    assert_string_equal(name, "segment_000.ts");
    es_sink_segment_name(42, name, sizeof(name));
    assert_string_equal(name, "segment_042.ts");
    es_sink_segment_name(1234, name, sizeof(name));
    assert_string_equal(name, "segment_1234.ts");
    es_sink_segment_name(UINT64_MAX, name, sizeof(name));
    assert_string_equal(name, "segment_18446744073709551615.ts");
    es_sink_segment_name(42, name, 8); /* truncates, never overflows */
    assert_string_equal(name, "segment");
}

static void test_segment_msn_accepts_only_the_exact_own_name(void **state)
{
    (void)state;
    uint64_t msn = 7;
    assert_true(es_sink_segment_msn("segment_042.ts", &msn));
    assert_int_equal(msn, 42);
    assert_true(es_sink_segment_msn("segment_1234.ts", &msn));
    assert_int_equal(msn, 1234);
    assert_true(es_sink_segment_msn("segment_18446744073709551615.ts", &msn));
    assert_true(msn == UINT64_MAX);
    const char *foreign[] = {"segment_42.ts",     "segment_0042.ts", "segment_042.ts.bak",
                             "../segment_042.ts", "segment_-42.ts",  "segment_+42.ts",
                             "segment_ 42.ts",    "segment_.ts",     "segment_042.TS",
                             "segment_18446744073709551616.ts",      "sub/segment_042.ts",
                             "stream.m3u8",       ""};
    for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
        msn = 7;
        assert_false(es_sink_segment_msn(foreign[i], &msn));
        assert_int_equal(msn, 7);
    }
}

/* ---- publishing ---- */

static void test_local_sink_writes_segments_and_a_playlist_naming_them(void **state)
{
    struct fixture *f = *state;
    struct es_sink *sink = open_sink(f, 2, 5, GRACE);
    uint64_t msn = 99;
    assert_false(sink->last_msn(sink, &msn)); /* an empty directory: no history */
    publish(sink, 0, 2.0, false);
    publish(sink, 1, 1.96, false);
    publish(sink, 2, 2.0, false);
    assert_window(f, 0, 3);

    struct es_playlist pl;
    read_playlist(f, &pl);
    assert_int_equal(pl.version, 3);
    assert_int_equal(pl.target_duration, 2);
    assert_true(pl.independent_segments);
    assert_false(pl.endlist);
    assert_int_equal(pl.discontinuity_sequence, 0);
    assert_true(pl.segments[1].duration > 1.959 && pl.segments[1].duration < 1.961);
    for (size_t i = 0; i < pl.count; i++) {
        assert_int_equal(pl.segments[i].program_date_time_us, PDT_BASE + (int64_t)i * 2000000);
        assert_false(pl.segments[i].discontinuity);
    }
    es_playlist_clear(&pl);
    assert_int_equal(count_dot_files(f), 0);
    sink->destroy(sink);
}

static void test_local_sink_window_keeps_segments_to_keep(void **state)
{
    struct fixture *f = *state;
    struct es_sink *sink = open_sink(f, 2, 3, GRACE);
    for (uint64_t msn = 0; msn < 8; msn++) {
        publish(sink, msn, 2.0, false);
        uint64_t from = msn >= 2 ? msn - 2 : 0;
        assert_window(f, from, msn + 1);
    }
    assert_int_equal(count_dot_files(f), 0);
    sink->destroy(sink);
}

static void test_local_sink_deletes_a_removed_segment_only_after_the_grace(void **state)
{
    struct fixture *f = *state;
    struct es_sink *sink = open_sink(f, 2, 3, GRACE);
    publish_range(sink, 0, 5); /* 0 and 1 leave the playlist */
    assert_window(f, 2, 5);
    /* Out of the playlist, still fetchable by a player that loaded it just
     * before (RFC 8216 §6.2.2). */
    assert_true(segment_exists(f, 0));
    assert_true(segment_exists(f, 1));
    sink->tick(sink);
    assert_true(segment_exists(f, 0));
    es_clock_sleep_us(AFTER_GRACE_US);
    sink->tick(sink);
    assert_false(segment_exists(f, 0));
    assert_false(segment_exists(f, 1));
    for (uint64_t msn = 2; msn < 5; msn++)
        assert_true(segment_exists(f, msn));
    assert_int_equal(count_dot_files(f), 0);
    sink->destroy(sink);
}

static void test_local_sink_default_grace_outlasts_the_playlist(void **state)
{
    struct fixture *f = *state;
    /* delete_grace < 0: playlist duration + 30 s, far beyond this test. */
    struct es_sink *sink = open_sink(f, 2, 3, -1);
    publish_range(sink, 0, 5);
    es_clock_sleep_us(AFTER_GRACE_US);
    sink->tick(sink);
    publish(sink, 5, 2.0, false);
    for (uint64_t msn = 0; msn < 6; msn++)
        assert_true(segment_exists(f, msn));
    assert_window(f, 3, 6);
    sink->destroy(sink);
}

static void test_local_sink_window_never_drops_below_three_target_durations(void **state)
{
    struct fixture *f = *state;
    /* RFC 8216 §6.2.2: a segment may not leave if that would make the
     * playlist shorter than three target durations: 6 s here. */
    struct es_sink *sink = open_sink(f, 2, 1, GRACE);
    publish_range(sink, 0, 5);
    assert_window(f, 2, 5);
    sink->destroy(sink);

    struct fixture g = *f;
    snprintf(g.dir, sizeof(g.dir), "%s/loc/short", f->root);
    struct es_local_sink_config cfg = {
        .camera_id = "short",
        .root = f->root,
        .location = "loc",
        .target_duration = 2,
        .segments_to_keep = 3,
        .delete_grace = GRACE,
    };
    assert_int_equal(es_local_sink_create(&cfg, &sink), ES_OK);
    for (uint64_t msn = 0; msn < 10; msn++)
        publish(sink, msn, 1.0, false); /* half-length segments: six are needed */
    assert_window(&g, 4, 10);
    sink->destroy(sink);
}

static void test_local_sink_restarts_the_window_after_a_numbering_gap(void **state)
{
    struct fixture *f = *state;
    struct es_sink *sink = open_sink(f, 2, 5, GRACE);
    publish_range(sink, 0, 3);
    publish(sink, 7, 2.0, false); /* 3..6 were lost upstream */
    struct es_playlist pl;
    read_playlist(f, &pl);
    assert_int_equal(pl.media_sequence, 7);
    assert_int_equal(pl.count, 1);
    assert_string_equal(pl.segments[0].uri, "segment_007.ts");
    /* RFC 8216 §6.3.3: the timestamps jumped, so the player must be told. */
    assert_true(pl.segments[0].discontinuity);
    es_playlist_clear(&pl);
    es_clock_sleep_us(AFTER_GRACE_US);
    sink->tick(sink);
    for (uint64_t msn = 0; msn < 3; msn++)
        assert_false(segment_exists(f, msn));
    assert_true(segment_exists(f, 7));
    sink->destroy(sink);
}

static void test_local_sink_counts_removed_discontinuities(void **state)
{
    struct fixture *f = *state;
    struct es_sink *sink = open_sink(f, 2, 3, GRACE);
    publish(sink, 0, 2.0, false);
    publish(sink, 1, 2.0, true);
    publish_range(sink, 2, 5); /* 0 and 1 (with its tag) leave */
    struct es_playlist pl;
    read_playlist(f, &pl);
    assert_int_equal(pl.media_sequence, 2);
    assert_int_equal(pl.discontinuity_sequence, 1);
    es_playlist_clear(&pl);
    sink->destroy(sink);
}

/* Runs `publish` with stderr captured into `out`. */
static void publish_capturing_log(struct es_sink *sink, uint64_t msn, double duration, char *out,
                                  size_t out_size)
{
    char path[] = "/tmp/es_test_sink_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    publish(sink, msn, duration, false);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, out, out_size - 1);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
}

static void test_local_sink_raises_target_duration_for_a_long_segment(void **state)
{
    struct fixture *f = *state;
    struct es_sink *sink = open_sink(f, 2, 5, GRACE);
    publish(sink, 0, 2.0, false);
    char log[2048];
    es_log_set_level(ES_LOG_WARN);
    publish_capturing_log(sink, 1, 3.2, log, sizeof(log)); /* a passthrough camera's GOP */
    es_log_set_level(ES_LOG_ERROR);
    assert_non_null(strstr(log, "WARN"));
    assert_non_null(strstr(log, "event=target_duration_raised"));
    assert_non_null(strstr(log, "camera=cam"));
    publish(sink, 2, 2.0, false);
    /* Not dropped: the playlist names it, and TARGETDURATION covers it (RFC
     * 8216 §4.3.3.1) and does not shrink back afterwards. */
    assert_window(f, 0, 3);
    struct es_playlist pl;
    read_playlist(f, &pl);
    assert_int_equal(pl.target_duration, 3);
    assert_true(pl.segments[1].duration > 3.19 && pl.segments[1].duration < 3.21);
    es_playlist_clear(&pl);
    sink->destroy(sink);
}

static void test_local_sink_fails_with_io_when_the_directory_cannot_be_made(void **state)
{
    struct fixture *f = *state;
    char file[PATH_MAX];
    snprintf(file, sizeof(file), "%s/plain_file", f->root);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    struct es_local_sink_config cfg = {
        .camera_id = "cam",
        .root = file, /* a regular file where a directory should be */
        .location = "loc",
        .target_duration = 2,
        .segments_to_keep = 5,
        .delete_grace = GRACE,
    };
    struct es_sink *sink = (struct es_sink *)f; /* must be reset */
    assert_int_equal(es_local_sink_create(&cfg, &sink), ES_ERR_IO);
    assert_null(sink);
}

/* ---- restarts ---- */

static void test_local_sink_continues_the_sequence_after_a_restart(void **state)
{
    struct fixture *f = *state;
    struct es_sink *sink = open_sink(f, 2, 5, GRACE);
    publish_range(sink, 0, 4);
    sink->destroy(sink);

    sink = open_sink(f, 2, 5, GRACE);
    uint64_t last = 0;
    assert_true(sink->last_msn(sink, &last));
    assert_int_equal(last, 3);
    /* The camera's pipeline marks the restart as a discontinuity. */
    publish(sink, 4, 2.0, true);
    /* The old segments are still in the window: players see one stream. */
    assert_window(f, 0, 5);
    struct es_playlist pl;
    read_playlist(f, &pl);
    for (size_t i = 0; i < pl.count; i++) {
        assert_int_equal(pl.segments[i].program_date_time_us, PDT_BASE + (int64_t)i * 2000000);
        assert_int_equal(pl.segments[i].discontinuity, i == 4);
    }
    es_playlist_clear(&pl);
    /* And they leave it, then the disk, as usual. */
    publish_range(sink, 5, 7);
    assert_window(f, 2, 7);
    es_clock_sleep_us(AFTER_GRACE_US);
    sink->tick(sink);
    assert_false(segment_exists(f, 0));
    assert_false(segment_exists(f, 1));
    assert_int_equal(count_dot_files(f), 0);
    sink->destroy(sink);
}

static void test_local_sink_recovery_keeps_the_discontinuity_sequence(void **state)
{
    struct fixture *f = *state;
    struct es_sink *sink = open_sink(f, 2, 3, GRACE);
    publish(sink, 0, 2.0, true);
    publish_range(sink, 1, 4); /* 0 leaves with its tag */
    sink->destroy(sink);
    sink = open_sink(f, 2, 3, GRACE);
    publish(sink, 4, 2.0, true);
    struct es_playlist pl;
    read_playlist(f, &pl);
    assert_int_equal(pl.media_sequence, 2);
    assert_int_equal(pl.discontinuity_sequence, 1);
    assert_true(pl.segments[2].discontinuity);
    es_playlist_clear(&pl);
    sink->destroy(sink);
}

static void test_local_sink_counts_a_segment_left_by_a_crash(void **state)
{
    struct fixture *f = *state;
    struct es_sink *sink = open_sink(f, 2, 5, GRACE);
    publish_range(sink, 0, 4);
    sink->destroy(sink);
    /* The process died after writing segment 4, before the playlist named it. */
    write_stray_segment(f, 4);

    sink = open_sink(f, 2, 5, GRACE);
    uint64_t last = 0;
    assert_true(sink->last_msn(sink, &last));
    assert_int_equal(last, 4); /* the name segment_004.ts is never reused */
    publish(sink, 5, 2.0, true);
    struct es_playlist pl;
    read_playlist(f, &pl);
    assert_int_equal(pl.media_sequence + pl.count - 1, 5);
    for (size_t i = 0; i < pl.count; i++)
        assert_string_not_equal(pl.segments[i].uri, "segment_004.ts");
    assert_true(pl.segments[pl.count - 1].discontinuity);
    es_playlist_clear(&pl);
    /* The stray file is no one's: it goes after the grace. */
    es_clock_sleep_us(AFTER_GRACE_US);
    sink->tick(sink);
    assert_false(segment_exists(f, 4));
    assert_true(segment_exists(f, 5));
    sink->destroy(sink);
}

static void test_local_sink_counts_stray_segments_without_a_playlist(void **state)
{
    struct fixture *f = *state;
    struct es_sink *sink = open_sink(f, 2, 5, GRACE); /* makes the directory */
    sink->destroy(sink);
    write_stray_segment(f, 17);
    write_stray_segment(f, 9);
    sink = open_sink(f, 2, 5, GRACE);
    uint64_t last = 0;
    assert_true(sink->last_msn(sink, &last));
    assert_int_equal(last, 17);
    sink->destroy(sink);
}

static void test_local_sink_does_not_reuse_a_playlist_with_another_target(void **state)
{
    struct fixture *f = *state;
    struct es_sink *sink = open_sink(f, 2, 5, GRACE);
    publish_range(sink, 0, 3);
    sink->destroy(sink);

    /* segment_duration changed from 2 to 4 between runs: RFC 8216 §6.2.2
     * forbids changing TARGETDURATION, so the old window is not continued... */
    sink = open_sink(f, 4, 5, GRACE);
    uint64_t last = 0;
    assert_true(sink->last_msn(sink, &last));
    assert_int_equal(last, 2); /* ...but its numbers still count */
    publish(sink, 3, 4.0, true);
    struct es_playlist pl;
    read_playlist(f, &pl);
    assert_int_equal(pl.target_duration, 4);
    assert_int_equal(pl.media_sequence, 3);
    assert_int_equal(pl.count, 1);
    es_playlist_clear(&pl);
    es_clock_sleep_us(AFTER_GRACE_US);
    sink->tick(sink);
    for (uint64_t msn = 0; msn < 3; msn++)
        assert_false(segment_exists(f, msn));
    sink->destroy(sink);
}

static void test_local_sink_ignores_an_unreadable_playlist(void **state)
{
    struct fixture *f = *state;
    struct es_sink *sink = open_sink(f, 2, 5, GRACE);
    sink->destroy(sink);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/stream.m3u8", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("this is not a playlist\n", fp);
    fclose(fp);
    sink = open_sink(f, 2, 5, GRACE);
    uint64_t last = 0;
    assert_false(sink->last_msn(sink, &last));
    publish(sink, 0, 2.0, false);
    assert_window(f, 0, 1);
    sink->destroy(sink);
}

static void test_local_sink_deletes_every_segment_a_smaller_window_trims(void **state)
{
    struct fixture *f = *state;
    struct es_sink *sink = open_sink(f, 2, 20, GRACE);
    publish_range(sink, 0, 20);
    sink->destroy(sink);

    sink = open_sink(f, 2, 3, GRACE); /* the operator shrank the window */
    publish(sink, 20, 2.0, true);     /* 0..17 must go */
    publish(sink, 21, 2.0, false);    /* and 18 */
    assert_window(f, 19, 22);
    es_clock_sleep_us(AFTER_GRACE_US);
    sink->tick(sink);
    for (uint64_t msn = 0; msn < 19; msn++)
        assert_false(segment_exists(f, msn));
    sink->destroy(sink);
}

static void write_text_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static bool path_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* DESIGN.md invariant 8: an old stream.m3u8 is not trusted. A crafted one that
 * names files outside the directory ("../x") or files that are not named as
 * the sink names them must never make the sink delete them, however the window
 * moves on; only the sink's own names for their msn are adopted (and later
 * deleted). Foreign names are logged once. */
static void test_local_sink_never_deletes_a_name_it_would_not_have_written(void **state)
{
    struct fixture *f = *state;
    struct es_sink *sink = open_sink(f, 2, 3, GRACE); /* makes the directory */
    sink->destroy(sink);

    char outside[PATH_MAX + 32], beside[PATH_MAX + 32], odd[PATH_MAX + 32], path[PATH_MAX + 32];
    snprintf(outside, sizeof(outside), "%s/loc/x", f->root);
    snprintf(beside, sizeof(beside), "%s/notes.txt", f->dir);
    snprintf(odd, sizeof(odd), "%s/segment_1.ts", f->dir);
    write_text_file(outside, "not the sink's");
    write_text_file(beside, "not the sink's");
    write_text_file(odd, "not the sink's");
    snprintf(path, sizeof(path), "%s/stream.m3u8", f->dir);

    /* 1. A playlist that climbs out of the directory. */
    write_text_file(path, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
                          "#EXTINF:2.0,\n../x\n");
    sink = open_sink(f, 2, 3, GRACE);
    publish_range(sink, 1, 8);
    es_clock_sleep_us(AFTER_GRACE_US);
    sink->tick(sink);
    publish(sink, 8, 2.0, false);
    es_clock_sleep_us(AFTER_GRACE_US);
    sink->tick(sink);
    assert_true(path_exists(outside));
    sink->destroy(sink);

    /* 2. A playlist the parser accepts, naming foreign files at msn 10..12 and
     * the sink's own name at msn 13. */
    write_text_file(path, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n"
                          "#EXTINF:2.0,\nnotes.txt\n#EXTINF:2.0,\nsegment_1.ts\n"
                          "#EXTINF:2.0,\nsub/notes.txt\n#EXTINF:2.0,\nsegment_013.ts\n");
    struct es_local_sink_config cfg = {
        .camera_id = "cam",
        .root = f->root,
        .location = "loc",
        .target_duration = 2,
        .segments_to_keep = 3,
        .delete_grace = GRACE,
    };
    /* stderr is captured with no assertion inside (one would jump out). */
    char log[4096];
    char log_path[] = "/tmp/es_test_sink_log_XXXXXX";
    int fd = mkstemp(log_path);
    assert_true(fd >= 0);
    es_log_set_level(ES_LOG_WARN);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    sink = NULL;
    enum es_err err = es_local_sink_create(&cfg, &sink);
    uint64_t last = 0;
    bool have_last = err == ES_OK && sink->last_msn(sink, &last);
    if (have_last) {
        publish_range(sink, last + 1, last + 8);
        es_clock_sleep_us(AFTER_GRACE_US);
        sink->tick(sink);
    }
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    es_log_set_level(ES_LOG_ERROR);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, log, sizeof(log) - 1);
    log[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(log_path);
    assert_int_equal(err, ES_OK);
    assert_true(have_last);
    assert_true(last >= 13); /* numbers still count: names are never reused */
    assert_true(path_exists(outside));
    assert_true(path_exists(beside));
    assert_true(path_exists(odd));
    /* Logged, once. */
    const char *hit = strstr(log, "camera=cam event=foreign_names_ignored");
    assert_non_null(hit);
    assert_null(strstr(hit + 12, "event=foreign_names_ignored"));
    assert_non_null(strstr(hit, "count=3"));
    /* The sink's own names still come and go as usual. */
    struct es_playlist pl;
    read_playlist(f, &pl);
    for (size_t i = 0; i < pl.count; i++) {
        char own[64];
        es_sink_segment_name(pl.segments[i].msn, own, sizeof(own));
        assert_string_equal(pl.segments[i].uri, own);
    }
    es_playlist_clear(&pl);
    for (uint64_t msn = 1; msn < 8; msn++)
        assert_false(segment_exists(f, msn));
    sink->destroy(sink);
}

/* Deletes follow the playlist on disk, not the one in memory: while the
 * playlist cannot be written (ENOSPC, EIO, a read-only remount; here its
 * temporary name is taken by a directory, so open() fails with EISDIR even
 * for root), the playlist on disk still names the segments the window slid
 * past, so none of them may go. Once a playlist without them is written, they
 * go after the grace as usual. */
static void test_local_sink_schedules_no_delete_when_the_playlist_write_fails(void **state)
{
    struct fixture *f = *state;
    struct es_sink *sink = open_sink(f, 2, 3, GRACE);
    publish_range(sink, 0, 3);
    assert_window(f, 0, 3);

    char blocker[PATH_MAX + 32];
    snprintf(blocker, sizeof(blocker), "%s/.stream.m3u8.tmp", f->dir);
    assert_int_equal(mkdir(blocker, 0755), 0);
    /* stderr captured with no assertion inside (one would jump out). */
    char log[8192];
    char log_path[] = "/tmp/es_test_sink_log_XXXXXX";
    int fd = mkstemp(log_path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    publish_range(sink, 3, 9); /* stored, but the playlist cannot say so */
    es_clock_sleep_us(AFTER_GRACE_US);
    sink->tick(sink);
    publish(sink, 9, 2.0, false);
    es_clock_sleep_us(AFTER_GRACE_US);
    sink->tick(sink);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, log, sizeof(log) - 1);
    log[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(log_path);
    /* One ERROR for the episode, not one per attempt. */
    const char *hit = strstr(log, "event=write_failed");
    assert_non_null(hit);
    assert_null(strstr(hit + 1, "event=write_failed"));
    assert_window(f, 0, 3); /* what is on disk still names 0..2 ... */
    for (uint64_t msn = 0; msn < 10; msn++)
        assert_true(segment_exists(f, msn)); /* ... so nothing was deleted */

    assert_int_equal(rmdir(blocker), 0);
    publish(sink, 10, 2.0, false);
    assert_window(f, 8, 11);
    for (uint64_t msn = 0; msn < 11; msn++)
        assert_true(segment_exists(f, msn)); /* the grace starts now */
    es_clock_sleep_us(AFTER_GRACE_US);
    sink->tick(sink);
    for (uint64_t msn = 0; msn < 8; msn++)
        assert_false(segment_exists(f, msn));
    assert_window(f, 8, 11);
    assert_int_equal(count_dot_files(f), 0);
    sink->destroy(sink);
}

static size_t count_segment_files(const struct fixture *f)
{
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, "segment_", 8) == 0;
    closedir(d);
    return n;
}

/* A playlist that can never be written must not let the directory (or the
 * sink's memory) grow: past a bound, segments are not written at all; once a
 * playlist is written again (retried on tick, camera or not), the stream goes
 * on after a discontinuity and the old files go. */
static void test_local_sink_bounds_what_it_keeps_while_no_playlist_can_be_written(void **state)
{
    struct fixture *f = *state;
    struct es_sink *sink = open_sink(f, 2, 3, GRACE);
    publish_range(sink, 0, 3);
    char blocker[PATH_MAX + 32];
    snprintf(blocker, sizeof(blocker), "%s/.stream.m3u8.tmp", f->dir);
    assert_int_equal(mkdir(blocker, 0755), 0);
    es_log_set_level((enum es_log_level)-1); /* the failures are expected here */
    publish_range(sink, 3, 200);
    es_clock_sleep_us(AFTER_GRACE_US);
    sink->tick(sink);
    es_log_set_level(ES_LOG_ERROR);
    size_t kept = count_segment_files(f);
    assert_true(kept <= 3 + 3 + 16); /* the window, the old window, the bound */
    assert_window(f, 0, 3);

    assert_int_equal(rmdir(blocker), 0);
    sink->tick(sink); /* writes the playlist it owes */
    publish(sink, 200, 2.0, false);
    es_clock_sleep_us(AFTER_GRACE_US);
    sink->tick(sink);
    struct es_playlist pl;
    read_playlist(f, &pl);
    assert_int_equal(pl.media_sequence + pl.count - 1, 200);
    assert_true(pl.segments[pl.count - 1].discontinuity);
    es_playlist_clear(&pl);
    assert_true(count_segment_files(f) <= 3 + 1);
    sink->destroy(sink);
}

/* The numbering-gap path trims a window longer than 64 in chunks of 64 (an
 * earlier version read past `removed[64]`); every old segment still goes. */
static void test_local_sink_gap_in_a_long_window_deletes_every_old_segment(void **state)
{
    struct fixture *f = *state;
    struct es_sink *sink = open_sink(f, 2, 80, GRACE);
    publish_range(sink, 0, 70);
    publish(sink, 75, 2.0, false);
    assert_window(f, 75, 76);
    es_clock_sleep_us(AFTER_GRACE_US);
    sink->tick(sink);
    for (uint64_t msn = 0; msn < 70; msn++)
        assert_false(segment_exists(f, msn));
    sink->destroy(sink);
}

int main(void)
{
    es_log_set_level(ES_LOG_ERROR);
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segment_names_pad_to_three_digits_and_then_grow),
        cmocka_unit_test(test_segment_msn_accepts_only_the_exact_own_name),
        T(test_local_sink_writes_segments_and_a_playlist_naming_them),
        T(test_local_sink_window_keeps_segments_to_keep),
        T(test_local_sink_deletes_a_removed_segment_only_after_the_grace),
        T(test_local_sink_default_grace_outlasts_the_playlist),
        T(test_local_sink_window_never_drops_below_three_target_durations),
        T(test_local_sink_restarts_the_window_after_a_numbering_gap),
        T(test_local_sink_counts_removed_discontinuities),
        T(test_local_sink_raises_target_duration_for_a_long_segment),
        T(test_local_sink_fails_with_io_when_the_directory_cannot_be_made),
        T(test_local_sink_continues_the_sequence_after_a_restart),
        T(test_local_sink_recovery_keeps_the_discontinuity_sequence),
        T(test_local_sink_counts_a_segment_left_by_a_crash),
        T(test_local_sink_counts_stray_segments_without_a_playlist),
        T(test_local_sink_does_not_reuse_a_playlist_with_another_target),
        T(test_local_sink_ignores_an_unreadable_playlist),
        T(test_local_sink_deletes_every_segment_a_smaller_window_trims),
        T(test_local_sink_never_deletes_a_name_it_would_not_have_written),
        T(test_local_sink_schedules_no_delete_when_the_playlist_write_fails),
        T(test_local_sink_bounds_what_it_keeps_while_no_playlist_can_be_written),
        T(test_local_sink_gap_in_a_long_window_deletes_every_old_segment),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
