/* Where finished segments go. A sink keeps its own playlist, rendered only from
 * the segments it has itself stored, so a reader never sees a name it cannot
 * fetch yet. The camera's pipeline thread calls these in order; a sink that
 * needs the network queues the work to its own thread. */
#ifndef ES_SINK_SINK_H
#define ES_SINK_SINK_H

#include "core/blob.h"

#include <stdbool.h>
#include <stdint.h>

struct es_cmaf_event;

struct es_published_segment {
    uint64_t msn;                  /* media sequence number; names the segment */
    struct es_blob *data;          /* MPEG-TS bytes; ref it to keep it */
    double duration;               /* seconds */
    int64_t program_date_time_us;
    bool discontinuity;
};

struct es_sink {
    const char *kind; /* "local", ... for logs */
    /* The highest msn this sink's store already holds from an earlier run, so
     * the stream continues after it; false when the store is empty. */
    bool (*last_msn)(struct es_sink *sink, uint64_t *msn);
    void (*publish)(struct es_sink *sink, const struct es_published_segment *segment);
    /* Called about once a second, also while the camera is offline: delayed
     * deletes and retries happen here. */
    void (*tick)(struct es_sink *sink);
    void (*destroy)(struct es_sink *sink);
    /* Optional (NULL in sinks that store whole segments only): the fMP4 parts
     * and segment ends of a camera whose profile has Low-Latency HLS parts
     * (segment/cmaf.h). Same thread and ordering rules as publish. */
    void (*publish_cmaf)(struct es_sink *sink, const struct es_cmaf_event *event);
};

/* The segment's object name, e.g. "segment_042.ts" (%03 like the reference
 * design's segment_%03d.ts; wider numbers simply grow). */
void es_sink_segment_name(uint64_t msn, char *out, size_t out_size);

/* True if `name` is exactly the name es_sink_segment_name gives some msn
 * (written to *msn): "segment_042.ts", never "segment_42.ts", "../segment_042.ts"
 * or "segment_042.ts.bak". A name read back from a store or a playlist is the
 * sink's own only if this holds; anything else is foreign and never deleted
 * (docs/storage.md). */
bool es_sink_segment_msn(const char *name, uint64_t *msn);

#endif
