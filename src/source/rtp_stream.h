/* One media stream of an RTSP session, from its SDP description to AVPackets:
 * it checks that the payload format is one we depacketize (H.264 per RFC
 * 6184; AAC per RFC 3640; G.711), describes it in an AVStream, and turns its
 * RTP and RTCP packets into access units with a 64-bit pts and a capture
 * time. Packets of another payload type are ignored; a new SSRC (RFC 3550
 * section 8.2) restarts the depacketizer but continues the pts timeline. */
#ifndef ES_SOURCE_RTP_STREAM_H
#define ES_SOURCE_RTP_STREAM_H

#include "core/error.h"
#include "source/sdp.h"

#include <libavformat/avformat.h>
#include <stdbool.h>
#include <stdint.h>

/* Receives each access unit; takes ownership of `pkt`. */
typedef void (*es_rtp_stream_emit_fn)(void *opaque, AVPacket *pkt, int64_t capture_us,
                                      bool from_camera_clock);

struct es_rtp_stream_config {
    const char *camera_id; /* for logs; must outlive the stream */
    int stream_index;      /* set on every packet */
    size_t max_video_unit; /* larger access units are dropped */
    es_rtp_stream_emit_fn emit;
    void *opaque;
};

struct es_rtp_stream_stats {
    uint64_t rtp_packets, rtcp_packets, lost_packets;
    uint64_t units, dropped_units;
};

struct es_rtp_stream;

/* Creates the stream for media section `m` and fills `st` (codecpar,
 * time_base, avg_frame_rate). A valid format this code does not handle is
 * ES_ERR_UNSUPPORTED with *reason saying which (e.g. "video_codec"). */
enum es_err es_rtp_stream_create(const struct es_rtp_stream_config *config,
                                 const struct es_sdp_media *m, AVStream *st, const char **reason,
                                 struct es_rtp_stream **out);
void es_rtp_stream_destroy(struct es_rtp_stream *s); /* NULL is fine */

/* The RTP time at which PLAY started (RTP-Info rtptime, RFC 2326 section
 * 12.33): pts 0 lies there, which lines the streams up. Without it, pts 0 is
 * the first packet. */
void es_rtp_stream_set_start(struct es_rtp_stream *s, uint32_t rtptime);

/* Feeds one RTP packet that arrived at wall-clock `arrival_us`; returns
 * whether it was a packet of this stream (the caller's sign of life). */
bool es_rtp_stream_push_rtp(struct es_rtp_stream *s, const uint8_t *data, size_t size,
                            int64_t arrival_us);
/* Feeds one RTCP compound packet; a sender report maps later units to the
 * camera's wall clock. */
void es_rtp_stream_push_rtcp(struct es_rtp_stream *s, const uint8_t *data, size_t size);

struct es_rtp_stream_stats es_rtp_stream_stats(const struct es_rtp_stream *s);

#endif
