/* H.264 to RTP payloads (RFC 6184, packetization-mode 1): single NAL unit
 * packets, STAP-A for SPS+PPS and FU-A for NAL units above the payload size.
 * Each access unit is packetized once per camera; sessions add their own RTP
 * header (SSRC, sequence number, timestamp) in front of each payload. */
#ifndef ES_WEBRTC_RTP_H264_H
#define ES_WEBRTC_RTP_H264_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RTP packets stay ≤ 1200 bytes (MediaMTX, Janus): 12 header + 1188 payload. */
#define ES_RTP_MAX_PAYLOAD 1188

struct es_rtp_payload {
    size_t offset, size; /* into es_rtp_frame.data */
    bool marker;         /* last packet of the access unit (RFC 6184 §5.1) */
};

/* One access unit's payloads. */
struct es_rtp_frame {
    uint8_t *data;
    size_t size, cap;
    struct es_rtp_payload *payloads;
    size_t count, payload_cap;
    bool idr; /* carries an IDR slice, preceded by SPS and PPS */
};
void es_rtp_frame_free(struct es_rtp_frame *f); /* frees the arrays, not f */

/* Remembers the newest SPS and PPS, so that an IDR without them in its access
 * unit still goes out with them (Chrome drops an IDR whose parameter sets it
 * has not seen, then asks for another: libwebrtc h264_sps_pps_tracker.cc). */
struct es_h264_packetizer {
    uint8_t sps[256], pps[256];
    size_t sps_size, pps_size;
    size_t max_payload; /* ES_RTP_MAX_PAYLOAD unless a test sets it */
};
void es_h264_packetizer_init(struct es_h264_packetizer *p);

/* Packetizes one Annex B access unit into `out` (reset first). Drops access
 * unit delimiters, SEI and filler data. ES_ERR_INVALID when the access unit
 * holds no NAL unit to send. */
enum es_err es_h264_packetize(struct es_h264_packetizer *p, const uint8_t *au, size_t size,
                              struct es_rtp_frame *out);

#endif
