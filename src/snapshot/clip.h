/* Clip export (docs/recording.md, "Clips"): recorded MPEG-TS segments
 * remuxed into one MP4, no re-encode. The MP4's moov comes before its mdat
 * (movflags +faststart) so a player can seek as soon as it has the head. */
#ifndef ES_SNAPSHOT_CLIP_H
#define ES_SNAPSHOT_CLIP_H

#include "core/error.h"

#include <stddef.h>
#include <stdint.h>

/* Longest clip range, over HTTP and on the command line: five minutes (about
 * 40 MB at 1 Mbit/s; the origin holds a clip in memory while it is sent). */
#define ES_CLIP_MAX_RANGE_MS (5LL * 60 * 1000)

/* One input: a recorded segment's file and where it sits on the wall clock. */
struct es_clip_input {
    const char *path;
    int64_t start_ms; /* its PROGRAM-DATE-TIME */
    uint32_t duration_ms;
};

struct es_clip_result {
    double duration_s; /* of the video written */
    uint64_t packets;
    int64_t first_ms; /* wall clock of the clip's first frame (a keyframe) */
};

/* Writes the inputs (oldest first; the first starts with a keyframe, as
 * every recorded segment does) from their start up to `end_ms` (wall clock,
 * exclusive) into `out_path` as MP4. Segments after a hole keep their place
 * on the wall clock (the clip has the hole as a gap). ES_ERR_IO when a file
 * cannot be read or written, ES_ERR_CODEC when the muxer refuses (logged with
 * `camera_id`). */
enum es_err es_clip_remux(const char *camera_id, const struct es_clip_input *inputs, size_t count,
                          int64_t end_ms, const char *out_path, struct es_clip_result *result);

/* The biggest clip held in memory (to send or to store): far above five
 * minutes of any camera we take (a 12 MP camera at 16 Mbit/s makes 600 MB in
 * five minutes: refused rather than held). */
#define ES_CLIP_MAX_BYTES (512u << 20)

/* A built clip's file, whole, in memory (free() it); NULL when it cannot be
 * read, is empty, or is over ES_CLIP_MAX_BYTES. */
uint8_t *es_clip_read(const char *path, size_t *size);

struct es_record_entry;

/* The segments recorded in [start_ms, end_ms) under `record_dir`
 * (<record_root>/<camera>), oldest first, from its index (one query):
 * *out (free() it) and *count. ES_ERR_NOT_FOUND when nothing is recorded
 * there (or there is no index yet); ES_ERR_IO when the index cannot be read. */
enum es_err es_clip_find_segments(const char *record_dir, int64_t start_ms, int64_t end_ms,
                                  struct es_record_entry **out, size_t *count);

/* es_clip_remux of those segments' files. */
enum es_err es_clip_build(const char *camera_id, const char *record_dir,
                          const struct es_record_entry *segments, size_t count, int64_t end_ms,
                          const char *out_path, struct es_clip_result *result);

/* "<camera>_2026-12-03T14-32-00.216Z": a clip's file name without ".mp4",
 * from its first frame's wall clock. No ':' (Windows, and URLs people paste). */
void es_clip_base_name(const char *camera_id, int64_t first_ms, char *out, size_t size);

/* Where a shared clip is stored: "<location>/<camera>/clips/<base>_<N>s.mp4",
 * beside the camera's live stream (whose clean-up deletes only segment names). */
void es_clip_object_name(const char *location, const char *camera_id,
                         const struct es_clip_result *result, char *out, size_t size);

#endif
