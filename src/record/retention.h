/* What recording may keep: by age, by a byte budget, and above a free-space
 * floor on the file system that holds it. The oldest segments go first. */
#ifndef ES_RECORD_RETENTION_H
#define ES_RECORD_RETENTION_H

#include "record/index.h"

#include <stdbool.h>
#include <stdint.h>

struct es_record_policy {
    int64_t max_age_ms;      /* 0: no age limit */
    uint64_t max_bytes;      /* 0: no byte budget */
    uint64_t min_free_bytes; /* 0: no floor */
};

/* Free bytes for an unprivileged writer on the file system of `path`;
 * UINT64_MAX when it cannot be read (then no floor is enforced). */
uint64_t es_record_free_bytes(const char *path);

/* Deletes the oldest segments of one camera until `policy` holds for
 * `*bytes_used` (updated) at `now_ms`, at most `max_deletes` of them in this
 * call (the caller runs again later: a camera's thread never stalls on a
 * backlog). Each row goes before its file, so a crash between the two leaves
 * a file without a row, never a row naming a missing file. Empty hour and day
 * directories go too. Returns how many were deleted; *bytes_freed says how
 * much. `*below_floor` is true when the floor still does not hold. */
size_t es_record_retention_run(struct es_record_index *index, const char *camera_dir,
                               const struct es_record_policy *policy, int64_t now_ms,
                               uint64_t *bytes_used, size_t max_deletes, uint64_t *bytes_freed,
                               bool *below_floor);

#endif
