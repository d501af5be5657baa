#include "record/recorder.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/file.h"
#include "core/log.h"
#include "record/index.h"
#include "record/layout.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Deletes per publish or tick: a backlog (a lowered budget, days of expired
 * recordings) is worked off over a few seconds instead of stalling the camera. */
#define DELETES_PER_RUN 64
#define AGE_CHECK_INTERVAL_US (10 * 1000000LL)

struct recorder {
    struct es_sink base;
    char *camera_id;
    char *dir; /* <root>/<camera> */
    struct es_record_policy policy;
    bool sync;
    struct es_record_index *index;
    uint64_t bytes_used;     /* camera thread */
    char hour_dir[PATH_MAX]; /* the newest hour directory made, "" before */
    bool have_msn;
    uint64_t max_msn;
    int64_t next_age_check_us;
    bool failing, disk_full; /* episodes, logged once each */
    /* The next recorded segment starts a run (es_record_index_spans): the
     * first after start, and the first after one that was not stored. */
    bool broke;

    /* Read by any thread (es_recorder_stats). */
    atomic_int state;
    atomic_uint_fast64_t segments, bytes, written, deleted, dropped, write_failures;
    atomic_int_fast64_t oldest_ms, newest_end_ms;
};

const char *es_recorder_state_name(enum es_recorder_state state)
{
    switch (state) {
    case ES_RECORDER_RECORDING:
        return "recording";
    case ES_RECORDER_DISK_FULL:
        return "disk_full";
    case ES_RECORDER_FAILING:
        return "failing";
    }
    return "unknown";
}

/* Publishes what the index holds now to the stats readers. */
static void refresh_totals(struct recorder *r)
{
    struct es_record_totals t;
    if (es_record_index_totals(r->index, &t) != ES_OK)
        return;
    r->bytes_used = t.bytes;
    if (t.have_msn && (!r->have_msn || t.max_msn > r->max_msn)) {
        r->have_msn = true;
        r->max_msn = t.max_msn;
    }
    atomic_store(&r->segments, t.segments);
    atomic_store(&r->bytes, t.bytes);
    atomic_store(&r->oldest_ms, t.oldest_ms);
    atomic_store(&r->newest_end_ms, t.newest_end_ms);
}

static void run_retention(struct recorder *r, bool *below_floor)
{
    uint64_t freed;
    size_t n = es_record_retention_run(r->index, r->dir, &r->policy, es_clock_wall_us() / 1000,
                                       &r->bytes_used, DELETES_PER_RUN, &freed, below_floor);
    if (n) {
        /* Updated in place: a full count over a month of rows costs ~170 ms
         * (bench/record_bench.c), too much for a camera thread per segment. */
        atomic_fetch_add(&r->deleted, n);
        uint64_t kept = atomic_load(&r->segments);
        atomic_store(&r->segments, kept > n ? kept - n : 0);
        atomic_store(&r->bytes, r->bytes_used);
        struct es_record_entry oldest;
        size_t found = 0;
        es_record_index_oldest(r->index, &oldest, 1, &found);
        atomic_store(&r->oldest_ms, found ? oldest.start_ms : 0);
        if (!found)
            atomic_store(&r->newest_end_ms, 0);
        es_log(ES_LOG_DEBUG, "record",
               "camera=%s event=retention deleted=%zu freed_bytes=%" PRIu64 " kept_bytes=%" PRIu64,
               r->camera_id, n, freed, r->bytes_used);
    }
}

/* Writes the segment durably under its final name (see recorder.h). */
static int write_segment(struct recorder *r, const char *hour_dir, const char *name,
                         const struct es_blob *data)
{
    int error =
        es_file_write_atomic(hour_dir, name, es_blob_data(data), es_blob_size(data), r->sync);
    if (!error && r->sync)
        es_file_sync_dir(hour_dir);
    return error;
}

/* The segment's hour directory, made (and its parents synced, so the new
 * names survive a power cut) when it is new. */
static bool ensure_hour_dir(struct recorder *r, const char *rel, char *out, size_t size)
{
    const char *slash = strrchr(rel, '/');
    snprintf(out, size, "%s/%.*s", r->dir, (int)(slash - rel), rel);
    if (strcmp(out, r->hour_dir) == 0)
        return true;
    if (es_file_make_dirs(out) != 0)
        return false;
    if (r->sync) {
        char day[PATH_MAX];
        snprintf(day, sizeof(day), "%s", out);
        char *cut = strrchr(day, '/');
        *cut = '\0';
        es_file_sync_dir(day);
        es_file_sync_dir(r->dir);
    }
    snprintf(r->hour_dir, sizeof(r->hour_dir), "%s", out);
    return true;
}

static void note_failure(struct recorder *r, const char *what, const char *path, int error)
{
    atomic_fetch_add(&r->write_failures, 1);
    atomic_store(&r->state, ES_RECORDER_FAILING);
    r->broke = true;
    if (!r->failing)
        es_log(ES_LOG_ERROR, "record", "camera=%s event=%s file=%s error=\"%s\"", r->camera_id,
               what, path, strerror(error));
    r->failing = true;
}

static void recorder_publish(struct es_sink *sink, const struct es_published_segment *segment)
{
    struct recorder *r = (struct recorder *)sink;
    struct es_record_entry e = {
        .msn = segment->msn,
        .start_ms = segment->program_date_time_us / 1000,
        .duration_ms = (uint32_t)lround(segment->duration * 1000.0),
        .bytes = es_blob_size(segment->data),
        .discontinuity = segment->discontinuity,
    };
    if (e.start_ms <= 0 || e.bytes == 0)
        return;
    e.discontinuity = e.discontinuity || r->broke;
    /* Room first: the budget and the floor hold before a byte is written. */
    bool below_floor = false;
    run_retention(r, &below_floor);
    if (below_floor) {
        /* Nothing of ours left to delete and the disk is still too full: a
         * camera never fills the disk; this segment is not recorded. */
        atomic_fetch_add(&r->dropped, 1);
        atomic_store(&r->state, ES_RECORDER_DISK_FULL);
        if (!r->disk_full)
            es_log(ES_LOG_ERROR, "record",
                   "camera=%s event=disk_full dir=%s min_free_bytes=%" PRIu64
                   " action=\"segments not recorded until space is free\"",
                   r->camera_id, r->dir, r->policy.min_free_bytes);
        r->disk_full = true;
        r->broke = true;
        return;
    }
    char rel[ES_RECORD_REL_MAX], hour_dir[PATH_MAX], name[ES_RECORD_NAME_MAX];
    es_record_rel_path(&e, rel, sizeof(rel));
    es_record_name(&e, name, sizeof(name));
    if (!ensure_hour_dir(r, rel, hour_dir, sizeof(hour_dir))) {
        note_failure(r, "mkdir_failed", hour_dir, errno);
        return;
    }
    int error = write_segment(r, hour_dir, name, segment->data);
    if (error) {
        note_failure(r, "write_failed", rel, error);
        return;
    }
    if (es_record_index_add(r->index, &e) != ES_OK) {
        /* The file stays (files are the truth); the next start indexes it. */
        atomic_fetch_add(&r->write_failures, 1);
        r->broke = true;
        return;
    }
    if (r->failing || r->disk_full)
        es_log(ES_LOG_INFO, "record", "camera=%s event=recording_resumed msn=%" PRIu64,
               r->camera_id, e.msn);
    r->failing = r->disk_full = r->broke = false;
    r->bytes_used += e.bytes;
    if (!r->have_msn || e.msn > r->max_msn) {
        r->have_msn = true;
        r->max_msn = e.msn;
    }
    atomic_store(&r->state, ES_RECORDER_RECORDING);
    atomic_fetch_add(&r->written, 1);
    atomic_fetch_add(&r->segments, 1);
    atomic_store(&r->bytes, r->bytes_used);
    if (!atomic_load(&r->oldest_ms))
        atomic_store(&r->oldest_ms, e.start_ms);
    atomic_store(&r->newest_end_ms, e.start_ms + (int64_t)e.duration_ms);
    es_log(ES_LOG_DEBUG, "record", "camera=%s event=segment_recorded msn=%" PRIu64 " file=%s",
           r->camera_id, e.msn, rel);
}

static bool recorder_last_msn(struct es_sink *sink, uint64_t *msn)
{
    struct recorder *r = (struct recorder *)sink;
    *msn = r->max_msn;
    return r->have_msn;
}

static void recorder_tick(struct es_sink *sink)
{
    struct recorder *r = (struct recorder *)sink;
    int64_t now = es_clock_mono_us();
    if (now < r->next_age_check_us)
        return;
    r->next_age_check_us = now + AGE_CHECK_INTERVAL_US;
    bool below_floor;
    run_retention(r, &below_floor); /* recordings age while the camera is away too */
}

static void recorder_destroy(struct es_sink *sink)
{
    struct recorder *r = (struct recorder *)sink;
    if (!r)
        return;
    es_record_index_close(r->index);
    free(r->camera_id);
    free(r->dir);
    free(r);
}

/* Opens the index; one that is missing or unreadable is rebuilt from the
 * files, one that opens is brought up to date with what a crash may have
 * left unindexed (files are the truth). */
static enum es_err open_index(struct recorder *r)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", r->dir, ES_RECORDER_INDEX_NAME);
    bool existed = access(path, F_OK) == 0;
    enum es_err err = es_record_index_open(path, false, &r->index);
    if (err == ES_ERR_INVALID) {
        char aside[PATH_MAX + 32];
        snprintf(aside, sizeof(aside), "%s.unreadable-%" PRId64, path,
                 es_clock_wall_us() / 1000000);
        es_log(ES_LOG_WARN, "record",
               "camera=%s event=index_unreadable file=%s moved_to=%s "
               "action=\"rebuilt from the files\"",
               r->camera_id, path, aside);
        rename(path, aside);
        char side[PATH_MAX + 8];
        snprintf(side, sizeof(side), "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", path);
        unlink(side);
        existed = false;
        err = es_record_index_open(path, false, &r->index);
    }
    if (err != ES_OK)
        return err;
    int64_t started = es_clock_mono_us();
    struct es_record_totals t;
    size_t added;
    const char *how;
    if (!existed || es_record_index_totals(r->index, &t) != ES_OK || t.segments == 0) {
        how = "rebuild";
        added = es_record_index_reconcile(r->index, r->dir, INT64_MIN, INT64_MAX);
    } else {
        /* A crash leaves files without rows only at the ends: the newest
         * (written, not yet indexed) and the oldest (unindexed, not yet
         * deleted by retention). Their hours are scanned, not every day. */
        how = "reconcile";
        added = es_record_index_reconcile(r->index, r->dir, INT64_MIN, t.oldest_ms + 1) +
                es_record_index_reconcile(r->index, r->dir,
                                          t.newest_end_ms - ES_RECORD_MAX_SEGMENT_MS, INT64_MAX);
    }
    refresh_totals(r);
    es_log(ES_LOG_INFO, "record",
           "camera=%s event=index_ready how=%s added=%zu segments=%" PRIu64 " bytes=%" PRIu64
           " ms=%" PRId64,
           r->camera_id, how, added, atomic_load(&r->segments), r->bytes_used,
           (es_clock_mono_us() - started) / 1000);
    return ES_OK;
}

enum es_err es_recorder_create(const struct es_recorder_config *config, struct es_sink **out)
{
    *out = NULL;
    struct recorder *r = es_calloc(1, sizeof(*r));
    r->base = (struct es_sink){
        .kind = "record",
        .last_msn = recorder_last_msn,
        .publish = recorder_publish,
        .tick = recorder_tick,
        .destroy = recorder_destroy,
    };
    r->camera_id = es_strdup(config->camera_id);
    size_t len = strlen(config->root) + strlen(config->camera_id) + 2;
    r->dir = es_malloc(len);
    snprintf(r->dir, len, "%s/%s", config->root, config->camera_id);
    r->policy = config->policy;
    r->sync = !config->no_fsync;
    r->broke = true;
    if (es_file_make_dirs(r->dir) != 0) {
        es_log(ES_LOG_ERROR, "record", "camera=%s event=mkdir_failed dir=%s error=\"%s\"",
               r->camera_id, r->dir, strerror(errno));
        recorder_destroy(&r->base);
        return ES_ERR_IO;
    }
    enum es_err err = open_index(r);
    if (err != ES_OK) {
        recorder_destroy(&r->base);
        return err;
    }
    es_log(ES_LOG_INFO, "record",
           "camera=%s event=ready dir=%s max_age_days=%.0f max_bytes=%" PRIu64
           " min_free_bytes=%" PRIu64,
           r->camera_id, r->dir, (double)r->policy.max_age_ms / 86400000.0, r->policy.max_bytes,
           r->policy.min_free_bytes);
    *out = &r->base;
    return ES_OK;
}

void es_recorder_stats(const struct es_sink *sink, struct es_recorder_stats *out)
{
    struct recorder *r = (struct recorder *)(uintptr_t)sink;
    out->state = (enum es_recorder_state)atomic_load(&r->state);
    out->segments = atomic_load(&r->segments);
    out->bytes = atomic_load(&r->bytes);
    out->oldest_ms = atomic_load(&r->oldest_ms);
    out->newest_end_ms = atomic_load(&r->newest_end_ms);
    out->written = atomic_load(&r->written);
    out->deleted = atomic_load(&r->deleted);
    out->dropped = atomic_load(&r->dropped);
    out->write_failures = atomic_load(&r->write_failures);
}
