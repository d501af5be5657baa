/* Cuts one camera's packets into MPEG-TS segments in memory.
 *
 * A segment starts at a video keyframe and ends at the first keyframe at or
 * after the target duration (nginx-rtmp's rule), so every segment decodes on
 * its own. Each segment gets its own muxer instance, which puts PAT/PMT and
 * (from the encoder's repeated headers) SPS/PPS at its head.
 *
 * A segment that reaches ES_SEGMENT_MAX_BYTES, or max(ES_SEGMENT_MAX_TARGETS x
 * the target, ES_SEGMENT_MAX_MIN_SECONDS) of media, without a keyframe to cut
 * at (a passthrough camera that stopped sending them) is dropped and its memory
 * freed: a segment cannot start without a keyframe, so none is made until the
 * next one, and that segment carries a discontinuity. Logged with the camera,
 * once per episode. This bounds the memory one camera can hold here.
 *
 * The segmenter does not name or number segments: the camera's stream assigns
 * media sequence numbers, which must continue across restarts. */
#ifndef ES_SEGMENT_SEGMENTER_H
#define ES_SEGMENT_SEGMENTER_H

#include "core/blob.h"
#include "core/error.h"

#include <libavcodec/avcodec.h>
#include <stdbool.h>
#include <stdint.h>

#define ES_SEGMENT_MAX_BYTES (32u << 20)
#define ES_SEGMENT_MAX_TARGETS 10
#define ES_SEGMENT_MAX_MIN_SECONDS 30

struct es_segment {
    struct es_blob *data;          /* MPEG-TS bytes; the callee refs it to keep it */
    int64_t start_ts;              /* 90 kHz, first video frame */
    int64_t duration_ts;           /* 90 kHz */
    bool discontinuity;            /* timestamps or encoding jumped before this one */
    bool has_audio;
};

typedef void (*es_segment_emit_fn)(void *opaque, const struct es_segment *segment);

struct es_segmenter_config {
    const char *camera_id;
    double target_duration;        /* seconds: cut at the first keyframe at or after this */
};

struct es_segmenter;

enum es_err es_segmenter_create(const struct es_segmenter_config *config, es_segment_emit_fn emit,
                                void *opaque, struct es_segmenter **out);
/* Emits nothing: call es_segmenter_flush() first to keep the open segment. */
void es_segmenter_destroy(struct es_segmenter *s); /* NULL is fine */

/* Sets the codec parameters for the segments that follow (audio may be NULL).
 * Parameters are copied. An open segment is ended first. */
void es_segmenter_set_streams(struct es_segmenter *s, const AVCodecParameters *video,
                              const AVCodecParameters *audio);

/* Writes one packet: 90 kHz timestamps, stream_index an es_media. Packets
 * before the first keyframe are dropped. The packet is not consumed. The
 * segmenter knows only media time: wall-clock dates are the caller's. */
enum es_err es_segmenter_write(struct es_segmenter *s, const AVPacket *pkt);

/* Ends the open segment, if any, and emits it (a camera dropped, or shutdown). */
void es_segmenter_flush(struct es_segmenter *s);

/* The next segment will carry EXT-X-DISCONTINUITY (a reconnect, a restart). */
void es_segmenter_mark_discontinuity(struct es_segmenter *s);

#endif
