/* The recording index under a month of rows (docs/recording.md): synthesizes
 * DAYS days of SEGMENT_MS segments for one camera into a fresh index (the
 * real es_record_index, WAL, as the recorder opens it), then times, on a
 * second connection opened as the origin opens it (read side, per request):
 *
 *   - the VOD query of a 1 h and of a 24 h range (rows read and handed over),
 *   - the whole DAYS range (every row), and the same range as runs of
 *     recording (es_record_index_spans: what a timeline asks),
 *   - the same 24 h range turned into the VOD playlist text (es_record_vod_playlist),
 *   - the totals (/api/cameras figures at start) and the retention step's oldest rows,
 *   - opening the index (the origin opens it per request).
 *
 *   es-bench-record [DIR [DAYS [SEGMENT_MS [RUNS]]]]
 *
 * DIR defaults to ./bench-record (its index.db is made and removed), DAYS to
 * 30, SEGMENT_MS to 2000, RUNS to 20 (median and max are printed). */
#include "core/clock.h"
#include "core/log.h"
#include "record/index.h"
#include "record/vod_playlist.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int compare_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

struct sink {
    struct es_record_entry *items;
    size_t count, cap;
};

static void keep(void *opaque, const struct es_record_entry *e)
{
    struct sink *s = opaque;
    if (s->count == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->items = realloc(s->items, s->cap * sizeof(*s->items));
        if (!s->items)
            abort();
    }
    s->items[s->count++] = *e;
}

static void count_span(void *opaque, int64_t start_ms, int64_t end_ms)
{
    (void)opaque;
    (void)start_ms;
    (void)end_ms;
}

static void report(const char *what, int64_t *us, int runs, size_t rows)
{
    qsort(us, (size_t)runs, sizeof(*us), compare_i64);
    printf("| %s | %zu | %.2f ms | %.2f ms |\n", what, rows, (double)us[runs / 2] / 1000.0,
           (double)us[runs - 1] / 1000.0);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "bench-record";
    int days = argc > 2 ? atoi(argv[2]) : 30;
    int segment_ms = argc > 3 ? atoi(argv[3]) : 2000;
    int runs = argc > 4 ? atoi(argv[4]) : 20;
    if (days < 1 || segment_ms < 100 || runs < 1 || runs > 1000) {
        fprintf(stderr, "usage: es-bench-record [DIR [DAYS [SEGMENT_MS [RUNS]]]]\n");
        return 2;
    }
    es_log_set_level(ES_LOG_WARN);
    mkdir(dir, 0755);
    char path[4096];
    snprintf(path, sizeof(path), "%s/index.db", dir);
    unlink(path);
    struct es_record_index *writer = NULL;
    if (es_record_index_open(path, false, &writer) != ES_OK) {
        fprintf(stderr, "cannot create %s\n", path);
        return 1;
    }
    /* A month ending now, with a 10 min hole every day (restarts, outages). */
    int64_t end_ms = es_clock_wall_us() / 1000;
    int64_t start_ms = end_ms - (int64_t)days * 86400000;
    int64_t t0 = es_clock_mono_us();
    es_record_index_begin(writer);
    uint64_t msn = 0, rows = 0;
    for (int64_t t = start_ms; t < end_ms; t += segment_ms) {
        if ((t - start_ms) % 86400000 < 600000)
            continue;
        struct es_record_entry e = {.msn = msn++,
                                    .start_ms = t,
                                    .duration_ms = (uint32_t)segment_ms,
                                    .bytes = 400000 + (uint64_t)(t % 1000)};
        e.discontinuity = (t - start_ms) % 86400000 < 600000 + segment_ms;
        es_record_index_add(writer, &e);
        rows++;
    }
    es_record_index_commit(writer);
    int64_t fill_us = es_clock_mono_us() - t0;
    struct stat st;
    stat(path, &st);
    printf("Synthesized %" PRIu64 " rows (%d days of %d ms segments, a 10 min hole a day) in "
           "%.1f s; index file %.1f MB.\n\n",
           rows, days, segment_ms, (double)fill_us / 1e6, (double)st.st_size / 1e6);
    printf("| query (origin-side connection) | rows | median | max |\n|---|---|---|---|\n");

    int64_t *us = calloc((size_t)runs, sizeof(*us));
    struct es_record_index *reader = NULL;
    if (es_record_index_open(path, true, &reader) != ES_OK)
        return 1;
    struct {
        const char *what;
        int64_t from, to;
        bool playlist;
    } cases[] = {
        {"1 h range (mid-month)", start_ms + (int64_t)days * 43200000, 0, false},
        {"24 h range (mid-month)", start_ms + (int64_t)days * 43200000, 0, false},
        {"24 h range + VOD playlist text", start_ms + (int64_t)days * 43200000, 0, true},
        {"whole range (every row)", start_ms, end_ms, false},
    };
    cases[0].to = cases[0].from + 3600000;
    cases[1].to = cases[1].from + 86400000;
    cases[2].to = cases[2].from + 86400000;
    cases[3].what = days == 30 ? "30-day range (every row)" : "whole range (every row)";
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        size_t got = 0;
        for (int r = 0; r < runs; r++) {
            struct sink s = {NULL, 0, 0};
            size_t n;
            bool truncated;
            int64_t a = es_clock_mono_us();
            es_record_index_query(reader, cases[c].from, cases[c].to, SIZE_MAX, keep, &s, &n,
                                  &truncated);
            if (cases[c].playlist) {
                size_t len;
                free(es_record_vod_playlist(s.items, s.count, NULL, &len));
            }
            us[r] = es_clock_mono_us() - a;
            got = s.count;
            free(s.items);
        }
        report(cases[c].what, us, runs, got);
    }
    /* The timeline's question over the whole month: the runs of recording. */
    size_t span_count = 0;
    for (int r = 0; r < runs; r++) {
        int64_t a = es_clock_mono_us();
        es_record_index_spans(reader, start_ms, end_ms, count_span, &span_count, &span_count);
        us[r] = es_clock_mono_us() - a;
    }
    report(days == 30 ? "30-day range as runs of recording (es_record_index_spans)"
                      : "whole range as runs of recording (es_record_index_spans)",
           us, runs, span_count);
    for (int r = 0; r < runs; r++) {
        struct es_record_totals t;
        int64_t a = es_clock_mono_us();
        es_record_index_totals(reader, &t);
        us[r] = es_clock_mono_us() - a;
    }
    report("totals (count, bytes, oldest, newest)", us, runs, 1);
    for (int r = 0; r < runs; r++) {
        struct es_record_entry oldest[32];
        size_t n;
        int64_t a = es_clock_mono_us();
        es_record_index_oldest(reader, oldest, 32, &n);
        us[r] = es_clock_mono_us() - a;
    }
    report("retention: 32 oldest", us, runs, 32);
    es_record_index_close(reader);
    for (int r = 0; r < runs; r++) {
        int64_t a = es_clock_mono_us();
        struct es_record_index *x = NULL;
        es_record_index_open(path, true, &x);
        es_record_index_close(x);
        us[r] = es_clock_mono_us() - a;
    }
    report("open + close (per VOD request)", us, runs, 0);
    es_record_index_close(writer);
    free(us);
    char side[4200];
    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
    rmdir(dir);
    return 0;
}
