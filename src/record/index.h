/* The recording index of one camera: which segments exist, by time. SQLite in
 * WAL mode (one writer, the camera's thread; readers, the origin's thread, on
 * their own connections never wait for it).
 *
 * The files are the truth (record/layout.h); the index is a cache of them
 * that answers "what do we have between T1 and T2" without a directory scan.
 * A row is added only after its file is durable and removed before its file
 * is, so a crash leaves at worst a file without a row (found again by
 * es_record_index_reconcile), never a row without a file. */
#ifndef ES_RECORD_INDEX_H
#define ES_RECORD_INDEX_H

#include "core/error.h"
#include "record/layout.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest segment the index expects: a range query looks back this far for a
 * segment that began before the range and reaches into it. */
#define ES_RECORD_MAX_SEGMENT_MS 120000

struct es_record_index;

struct es_record_totals {
    uint64_t segments;
    uint64_t bytes;
    int64_t oldest_ms;     /* start of the oldest segment; 0 when empty */
    int64_t newest_end_ms; /* end of the newest segment; 0 when empty */
    bool have_msn;
    uint64_t max_msn;
};

/* Opens (read_only: an existing index, for queries) or opens-or-creates the
 * index at `path`. ES_ERR_IO when SQLite cannot open it; ES_ERR_INVALID when
 * it is not a readable index of ours (corrupt, another schema): the caller
 * moves it aside and rebuilds. */
enum es_err es_record_index_open(const char *path, bool read_only, struct es_record_index **out);
void es_record_index_close(struct es_record_index *index); /* NULL is fine */

/* Writers only. Adding a row whose msn exists replaces it. */
enum es_err es_record_index_add(struct es_record_index *index, const struct es_record_entry *e);
enum es_err es_record_index_remove(struct es_record_index *index, uint64_t msn);
/* Groups many adds/removes into one transaction (a rebuild). */
enum es_err es_record_index_begin(struct es_record_index *index);
enum es_err es_record_index_commit(struct es_record_index *index);

/* The segments that overlap [from_ms, to_ms), oldest first, at most `max`
 * (more: *truncated). `fn` is called for each, in order. */
typedef void (*es_record_entry_fn)(void *opaque, const struct es_record_entry *entry);
enum es_err es_record_index_query(struct es_record_index *index, int64_t from_ms, int64_t to_ms,
                                  size_t max, es_record_entry_fn fn, void *opaque, size_t *count,
                                  bool *truncated);
/* es_record_index_query into an array: *out (free() it; NULL when none) and
 * *count of them. */
enum es_err es_record_index_collect(struct es_record_index *index, int64_t from_ms, int64_t to_ms,
                                    size_t max, struct es_record_entry **out, size_t *count,
                                    bool *truncated);

/* What is recorded between from_ms and to_ms as runs of continuous
 * recording, oldest first: [start_ms, end_ms) of each, unclipped. A run
 * ends where a segment carries the discontinuity flag (camera reconnect,
 * restart, a segment the recorder could not store), so the answer costs one
 * indexed lookup per run, not a pass over the segments: a month is a few
 * dozen lookups (bench/record_bench.c). The timeline's question. */
typedef void (*es_record_span_fn)(void *opaque, int64_t start_ms, int64_t end_ms);
enum es_err es_record_index_spans(struct es_record_index *index, int64_t from_ms, int64_t to_ms,
                                  es_record_span_fn fn, void *opaque, size_t *count);
/* The `max` oldest segments (retention), oldest first; *count of them. */
enum es_err es_record_index_oldest(struct es_record_index *index, struct es_record_entry *out,
                                   size_t max, size_t *count);
enum es_err es_record_index_totals(struct es_record_index *index, struct es_record_totals *out);
bool es_record_index_has(struct es_record_index *index, uint64_t msn);

/* Adds a row for every segment file under `camera_dir` whose hour overlaps
 * [from_ms, to_ms) and that has none (INT64_MIN/INT64_MAX: a full rebuild).
 * Returns how many were added. */
size_t es_record_index_reconcile(struct es_record_index *index, const char *camera_dir,
                                 int64_t from_ms, int64_t to_ms);

#endif
