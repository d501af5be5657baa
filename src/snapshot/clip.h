/* Clip export (docs/recording.md, "Clips"): recorded MPEG-TS segments
 * remuxed into one MP4, no re-encode. The MP4's moov comes before its mdat
 * (movflags +faststart) so a player can seek as soon as it has the head. */
#ifndef ES_SNAPSHOT_CLIP_H
#define ES_SNAPSHOT_CLIP_H

#include "core/error.h"

#include <stddef.h>
#include <stdint.h>

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

#endif
