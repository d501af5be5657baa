/* Where recorded segments live on disk, and what their names say.
 *
 *   <root>/<camera>/YYYY-MM-DD/HH/<YYYYMMDD>T<HHMMSS>.<mmm>Z_<duration ms>_<msn>[_d].ts
 *
 * Date, hour and name are the segment's first frame in UTC (its
 * PROGRAM-DATE-TIME), so a person can browse a camera by day and hour. The
 * name carries everything the index holds about a segment except its size
 * (which the file has): the index can be rebuilt from the files alone. "_d"
 * marks a segment after a discontinuity (camera reconnect, restart).
 *
 * Nothing read back is trusted (DESIGN invariant 8): a name is ours only if
 * es_record_name_parse() accepts it, which it does only for exactly the
 * text es_record_name() writes for the values it parsed. */
#ifndef ES_RECORD_LAYOUT_H
#define ES_RECORD_LAYOUT_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ES_RECORD_NAME_MAX 64
/* "YYYY-MM-DD/HH/" + name */
#define ES_RECORD_REL_MAX (ES_RECORD_NAME_MAX + 16)

/* One recorded segment, as the index and the file name know it. */
struct es_record_entry {
    uint64_t msn;         /* the camera's media sequence number: unique, never reused */
    int64_t start_ms;     /* PROGRAM-DATE-TIME, ms since the epoch (UTC) */
    uint32_t duration_ms; /* EXTINF */
    uint64_t bytes;       /* file size */
    bool discontinuity;   /* EXT-X-DISCONTINUITY before it in the live stream */
};

/* The file name of `e` (bytes not used). */
void es_record_name(const struct es_record_entry *e, char *out, size_t size);
/* "YYYY-MM-DD/HH/<name>", relative to the camera's directory. */
void es_record_rel_path(const struct es_record_entry *e, char *out, size_t size);
/* Parses a name es_record_name() wrote; false for anything else (also a name
 * that would print differently, e.g. with a leading zero too many). */
bool es_record_name_parse(const char *name, struct es_record_entry *out);
/* "YYYY-MM-DD" and "HH" directory names: true only for real dates/hours. */
bool es_record_day_dir(const char *name, int64_t *day_start_ms);
bool es_record_hour_dir(const char *name, unsigned *hour);

/* Calls `fn` for every complete recorded segment under `camera_dir` whose
 * hour directory overlaps [from_ms, to_ms) (INT64_MIN/INT64_MAX for all),
 * with its size filled in. Left-over temporary files (".<name>.tmp", a write
 * a crash cut short) are deleted on the way; foreign names are left alone.
 * Returns the number of segments seen. */
typedef void (*es_record_scan_fn)(void *opaque, const struct es_record_entry *entry);
size_t es_record_scan(const char *camera_dir, int64_t from_ms, int64_t to_ms, es_record_scan_fn fn,
                      void *opaque);

#endif
