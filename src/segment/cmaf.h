/* Cuts one camera's packets into fMP4/CMAF for Low-Latency HLS: an init
 * section (ftyp + moov) per codec configuration, then parts (moof + mdat) that
 * add up to segments. Everything is in memory; bytes leave as immutable blobs.
 *
 * Timing rules (draft-pantos-hls-rfc8216bis-16 §4.4.4.9, §4.4.3.7):
 *  - a part ends when one more frame would take it past the part target, so no
 *    part is longer than PART-TARGET;
 *  - a segment ends with the part in which it reaches the segment target, and
 *    is cut there even without a keyframe next (the cap: EXTINF never exceeds
 *    EXT-X-TARGETDURATION, which therefore never changes);
 *  - a keyframe that arrives once a segment is at least half its target starts
 *    a new segment (passthrough cameras whose GOP fits the target);
 *  - a part that starts with an IDR is independent (INDEPENDENT=YES).
 * In transcode mode the keyframe grid is exact (fps × segment duration), so
 * every segment is exactly the target and starts with an IDR.
 *
 * Like the TS segmenter it does not name anything; it numbers segments from
 * `first_msn` on, and keeps numbering across set_streams() (reconnects). */
#ifndef ES_SEGMENT_CMAF_H
#define ES_SEGMENT_CMAF_H

#include "core/blob.h"
#include "core/error.h"

#include <libavcodec/avcodec.h>
#include <stdbool.h>
#include <stdint.h>

struct es_cmaf_config {
    const char *camera_id;
    double segment_target; /* seconds (segment_duration) */
    double part_target;    /* seconds: PART-TARGET, see es_cmaf_part_target() */
    unsigned fps;          /* nominal output frame rate; 0 = unknown (passthrough) */
    uint64_t first_msn;    /* media sequence number of the first segment */
};

enum es_cmaf_event_kind {
    ES_CMAF_PART = 0,    /* a part is complete (and with segment_end, its segment too) */
    ES_CMAF_SEGMENT_END, /* the segment `msn` is complete, its last part already sent */
};

struct es_cmaf_event {
    enum es_cmaf_event_kind kind;
    uint64_t msn;
    unsigned part_index;          /* PART: index within its segment, from 0 */
    struct es_blob *data;         /* PART: moof + mdat; the callee refs it to keep it */
    struct es_blob *init;         /* PART: the init section it needs; ref to keep */
    unsigned init_id;             /* PART: changes whenever `init` does (from 1) */
    int64_t start_ts;             /* 90 kHz: first video frame of the part / segment */
    int64_t duration_ts;          /* 90 kHz: of the part (PART) or segment (SEGMENT_END) */
    int64_t program_date_time_us; /* PART: wall clock of start_ts */
    bool independent;             /* PART: starts with an IDR frame */
    bool discontinuity;           /* PART 0: timestamps or encoding jumped before it */
    /* PART: the last part of its segment. The segment's end arrives with its
     * last part, so no reader ever sees a playlist that announces a part that
     * will not exist. */
    bool segment_end;
    int64_t segment_duration_ts; /* with segment_end (and SEGMENT_END): 90 kHz */
};

typedef void (*es_cmaf_emit_fn)(void *opaque, const struct es_cmaf_event *event);

struct es_cmaf_segmenter;

/* PART-TARGET for a configured part duration at `fps`: rounded down to a whole
 * number of frames (at least one), so that parts of that many frames are never
 * longer than the target and never shorter than 85 % of it. fps == 0: as given. */
double es_cmaf_part_target(double configured, unsigned fps);

enum es_err es_cmaf_create(const struct es_cmaf_config *config, es_cmaf_emit_fn emit, void *opaque,
                           struct es_cmaf_segmenter **out);
/* Emits nothing: call es_cmaf_flush() first to keep the open part. */
void es_cmaf_destroy(struct es_cmaf_segmenter *s); /* NULL is fine */

/* Codec parameters for what follows (audio may be NULL); copied. Ends the open
 * segment; the next keyframe brings a new init section. */
void es_cmaf_set_streams(struct es_cmaf_segmenter *s, const AVCodecParameters *video,
                         const AVCodecParameters *audio);

/* One packet: 90 kHz timestamps, stream_index an es_media; not consumed.
 * `wall_us` is the wall clock of its capture (PROGRAM-DATE-TIME). Packets
 * before the first keyframe of a connection are dropped. */
enum es_err es_cmaf_write(struct es_cmaf_segmenter *s, const AVPacket *pkt, int64_t wall_us);

/* Ends the open part and segment, if any, and emits them. */
void es_cmaf_flush(struct es_cmaf_segmenter *s);

/* The next segment carries EXT-X-DISCONTINUITY. */
void es_cmaf_mark_discontinuity(struct es_cmaf_segmenter *s);

#endif
