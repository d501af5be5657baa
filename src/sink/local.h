/* The local directory sink: <root>/<location>/<camera>/stream.m3u8 and its
 * segments. Every file appears atomically (written under a dot-name in the same
 * directory, fsynced, renamed, then the directory fsynced), and a segment is
 * deleted only after a successfully written playlist no longer names it and
 * the grace period has passed (RFC 8216 §6.2.2: a removed segment stays
 * available for its duration plus the playlist's). Names read back from an
 * earlier run are used only if they are exactly the sink's own
 * (es_sink_segment_msn); anything else is never deleted. docs/storage.md. */
#ifndef ES_SINK_LOCAL_H
#define ES_SINK_LOCAL_H

#include "core/error.h"
#include "sink/sink.h"

struct es_local_sink_config {
    const char *camera_id;
    const char *root;
    const char *location;
    unsigned target_duration;   /* EXT-X-TARGETDURATION, seconds */
    unsigned segments_to_keep;
    double delete_grace;        /* seconds; < 0: playlist duration + 30 s */
    bool no_fsync;              /* benchmarks only (bench/local_fsync.c): skip fsync */
};

/* Creates the directory if needed and reads back what an earlier run left
 * there (playlist and segment names) so the media sequence continues. */
enum es_err es_local_sink_create(const struct es_local_sink_config *config, struct es_sink **out);

#endif
