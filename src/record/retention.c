#include "record/retention.h"

#include "core/log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define BATCH 32

uint64_t es_record_free_bytes(const char *path)
{
    struct statvfs vfs;
    if (statvfs(path, &vfs) != 0)
        return UINT64_MAX;
    return (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
}

static bool must_delete(const struct es_record_policy *p, const struct es_record_entry *e,
                        int64_t now_ms, uint64_t bytes_used, const char *dir, bool *floor)
{
    *floor = false;
    if (p->max_age_ms > 0 && e->start_ms + (int64_t)e->duration_ms < now_ms - p->max_age_ms)
        return true;
    if (p->max_bytes > 0 && bytes_used > p->max_bytes)
        return true;
    if (p->min_free_bytes > 0 && es_record_free_bytes(dir) < p->min_free_bytes) {
        *floor = true;
        return true;
    }
    return false;
}

/* rmdir of the segment's hour and day directories, when they became empty. */
static void remove_empty_dirs(const char *camera_dir, const char *rel)
{
    char path[PATH_MAX];
    const char *slash = strrchr(rel, '/');
    if (!slash)
        return;
    snprintf(path, sizeof(path), "%s/%.*s", camera_dir, (int)(slash - rel), rel);
    if (rmdir(path) != 0)
        return;
    char *day_end = strrchr(path, '/');
    if (day_end) {
        *day_end = '\0';
        rmdir(path);
    }
}

size_t es_record_retention_run(struct es_record_index *index, const char *camera_dir,
                               const struct es_record_policy *policy, int64_t now_ms,
                               uint64_t *bytes_used, size_t max_deletes, uint64_t *bytes_freed,
                               bool *below_floor)
{
    size_t deleted = 0;
    *bytes_freed = 0;
    *below_floor = false;
    while (deleted < max_deletes) {
        struct es_record_entry batch[BATCH];
        size_t n = 0;
        size_t want = max_deletes - deleted < BATCH ? max_deletes - deleted : BATCH;
        if (es_record_index_oldest(index, batch, want, &n) != ES_OK || n == 0)
            break;
        size_t i = 0;
        for (; i < n; i++) {
            bool floor;
            if (!must_delete(policy, &batch[i], now_ms, *bytes_used, camera_dir, &floor))
                return deleted;
            if (es_record_index_remove(index, batch[i].msn) != ES_OK)
                return deleted;
            char rel[ES_RECORD_REL_MAX], path[PATH_MAX];
            es_record_rel_path(&batch[i], rel, sizeof(rel));
            snprintf(path, sizeof(path), "%s/%s", camera_dir, rel);
            if (unlink(path) != 0 && errno != ENOENT)
                es_log(ES_LOG_WARN, "record", "event=delete_failed file=%s error=\"%s\"", path,
                       strerror(errno));
            remove_empty_dirs(camera_dir, rel);
            *bytes_used = *bytes_used > batch[i].bytes ? *bytes_used - batch[i].bytes : 0;
            *bytes_freed += batch[i].bytes;
            deleted++;
        }
        if (n < want)
            break;
    }
    /* Nothing (more) to delete: is the floor still under water? */
    if (policy->min_free_bytes > 0 && es_record_free_bytes(camera_dir) < policy->min_free_bytes)
        *below_floor = true;
    return deleted;
}
