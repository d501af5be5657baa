/* What the local sink's fsync policy costs (docs/storage.md, "fsync policy"):
 * publishes segments through the real es_local_sink, once with the policy
 * (segment fsync before its rename, playlist likewise, directory fsync after
 * each rename) and once without (no_fsync, for this comparison only), and
 * prints the time of each publish call (segment write + playlist write +
 * deletes) as median, p90, p99 and max.
 *
 *   es-bench-local-fsync [DIR [SEGMENTS [BYTES]]]
 *
 * DIR defaults to ./bench-local-fsync (made, and emptied of the sink's files
 * afterwards), SEGMENTS to 200, BYTES to 1000000 (a 2 s segment at 4 Mbit/s).
 * Run it on the file system the daemon writes to: the cost is the device's. */
#include "core/blob.h"
#include "core/clock.h"
#include "core/log.h"
#include "sink/local.h"
#include "sink/sink.h"

#include <dirent.h>
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

static void remove_sink_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "segment_", 8) == 0 || strcmp(e->d_name, "stream.m3u8") == 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

static void run(const char *root, const char *camera, bool sync, int segments, size_t bytes)
{
    struct es_local_sink_config cfg = {
        .camera_id = camera,
        .root = root,
        .location = "bench",
        .target_duration = 2,
        .segments_to_keep = 5,
        .delete_grace = 0,
        .no_fsync = !sync,
    };
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/bench/%s", root, camera);
    remove_sink_files(dir);
    struct es_sink *sink = NULL;
    if (es_local_sink_create(&cfg, &sink) != ES_OK) {
        fprintf(stderr, "cannot create the sink under %s\n", root);
        exit(1);
    }
    uint8_t *data = malloc(bytes);
    for (size_t i = 0; i < bytes; i++)
        data[i] = (uint8_t)(i * 131 + 7);
    data[0] = 0x47;
    int64_t *us = calloc((size_t)segments, sizeof(*us));
    int64_t start = es_clock_mono_us();
    for (int i = 0; i < segments; i++) {
        struct es_published_segment seg = {
            .msn = (uint64_t)i,
            .data = es_blob_copy(data, bytes),
            .duration = 2.0,
            .program_date_time_us = es_clock_wall_us(),
        };
        int64_t t0 = es_clock_mono_us();
        sink->publish(sink, &seg);
        us[i] = es_clock_mono_us() - t0;
        es_blob_unref(seg.data);
    }
    int64_t total = es_clock_mono_us() - start;
    sink->destroy(sink);
    remove_sink_files(dir);
    qsort(us, (size_t)segments, sizeof(*us), compare_i64);
    printf("%-8s segments=%d bytes=%zu  publish ms: median %.2f  p90 %.2f  p99 %.2f  max %.2f"
           "  (total %.2f s, %.1f MB/s)\n",
           sync ? "fsync" : "no-fsync", segments, bytes, us[segments / 2] / 1000.0,
           us[segments * 9 / 10] / 1000.0, us[segments * 99 / 100] / 1000.0,
           us[segments - 1] / 1000.0, total / 1e6, (double)bytes * segments / total);
    free(us);
    free(data);
}

int main(int argc, char **argv)
{
    const char *root = argc > 1 ? argv[1] : "bench-local-fsync";
    int segments = argc > 2 ? atoi(argv[2]) : 200;
    size_t bytes = argc > 3 ? (size_t)strtoull(argv[3], NULL, 10) : 1000000;
    if (segments < 1 || bytes < 1) {
        fprintf(stderr, "usage: %s [DIR [SEGMENTS [BYTES]]]\n", argv[0]);
        return 2;
    }
    mkdir(root, 0755);
    es_log_set_level(ES_LOG_ERROR);
    /* Alternated, twice each, so neither order nor the page cache's state
     * favours one side. */
    run(root, "a", false, segments, bytes);
    run(root, "b", true, segments, bytes);
    run(root, "c", false, segments, bytes);
    run(root, "d", true, segments, bytes);
    return 0;
}
