/* Continuous recording (docs/recording.md): a sink that keeps every segment
 * the camera's pipeline already made (no second encode) under
 * <root>/<camera>/YYYY-MM-DD/HH/ (record/layout.h), indexes it in SQLite
 * (record/index.h) and deletes the oldest by age, byte budget and free-space
 * floor (record/retention.h).
 *
 * Crash safety: a segment is written under a dot-name in its hour directory,
 * fsynced, renamed and the directory fsynced before its index row is added;
 * a SIGKILL or power cut therefore loses at most the segment being written,
 * and the index never names a file a player cannot read. At start the index
 * is checked (rebuilt from the files when missing or unreadable) and the
 * files a crash left without a row are indexed again. */
#ifndef ES_RECORD_RECORDER_H
#define ES_RECORD_RECORDER_H

#include "core/error.h"
#include "record/retention.h"
#include "sink/sink.h"

#include <stdbool.h>
#include <stdint.h>

/* The index's file name in the camera's recording directory. */
#define ES_RECORDER_INDEX_NAME "index.db"

struct es_recorder_config {
    const char *camera_id;
    const char *root; /* recordings root: the camera's directory is <root>/<camera_id> */
    struct es_record_policy policy;
    bool no_fsync; /* benchmarks only */
};

enum es_recorder_state {
    ES_RECORDER_RECORDING = 0, /* the newest segment was stored */
    ES_RECORDER_DISK_FULL,     /* below the free-space floor with nothing left to delete */
    ES_RECORDER_FAILING,       /* writes fail (logged) */
};

/* Figures of one camera's recording; any thread may read them. */
struct es_recorder_stats {
    enum es_recorder_state state;
    uint64_t segments, bytes;                           /* what is kept now */
    int64_t oldest_ms, newest_end_ms;                   /* 0 when nothing is kept */
    uint64_t written, deleted, dropped, write_failures; /* since start */
};

/* Creates <root>/<camera_id>, opens or rebuilds its index. The sink reports
 * the highest recorded msn as last_msn, so names are never reused. */
enum es_err es_recorder_create(const struct es_recorder_config *config, struct es_sink **out);

/* `sink` must be one es_recorder_create made. Any thread. */
void es_recorder_stats(const struct es_sink *sink, struct es_recorder_stats *out);
const char *es_recorder_state_name(enum es_recorder_state state);

#endif
