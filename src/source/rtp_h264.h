/* H.264 over RTP (RFC 6184, non-interleaved mode): RTP packets in, whole
 * access units out, in Annex B form (each NAL unit after 00 00 00 01).
 *
 * Single NAL unit packets, STAP-A and FU-A are reassembled; STAP-B, MTAP and
 * FU-B (interleaved mode only) make the unit unusable. An access unit ends at
 * the marker bit or when the timestamp changes. A unit that lost a packet is
 * dropped, and so is every unit after a loss until the next IDR, since they
 * would not decode. The depacketizer also starts by waiting for an IDR, so the
 * first unit it emits is a keyframe. Units holding only parameter sets or SEI
 * are carried into the next unit rather than emitted alone. */
#ifndef ES_SOURCE_RTP_H264_H
#define ES_SOURCE_RTP_H264_H

#include "core/error.h"
#include "source/rtp_packet.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct es_rtp_h264_au {
    const uint8_t *data; /* valid only during the callback */
    size_t size;
    uint32_t timestamp; /* RTP timestamp, 90 kHz */
    bool key;           /* contains an IDR slice (NAL type 5) */
};

typedef void (*es_rtp_h264_emit_fn)(void *opaque, const struct es_rtp_h264_au *au);

struct es_rtp_h264_stats {
    uint64_t emitted;
    uint64_t dropped_damaged;   /* lost packets, malformed or oversized */
    uint64_t dropped_until_idr; /* intact but following a loss */
};

struct es_rtp_h264;

/* Units larger than max_au_size bytes are dropped. */
struct es_rtp_h264 *es_rtp_h264_create(size_t max_au_size, es_rtp_h264_emit_fn emit, void *opaque);
void es_rtp_h264_destroy(struct es_rtp_h264 *d); /* NULL is fine */

/* Feeds one packet; `lost_before` says packets were lost just before it. May
 * call `emit` (up to twice: the unit the new timestamp ended, then this one
 * if its marker bit is set). */
void es_rtp_h264_push(struct es_rtp_h264 *d, const struct es_rtp_packet *p, bool lost_before);

/* Forgets any partial unit and waits for the next IDR (a discontinuity, such
 * as a new SSRC). */
void es_rtp_h264_reset(struct es_rtp_h264 *d);

struct es_rtp_h264_stats es_rtp_h264_stats(const struct es_rtp_h264 *d);

/* Decodes an fmtp sprop-parameter-sets value (comma-separated base64 NAL
 * units, RFC 6184 section 8.1) into Annex B bytes, allocated with av_malloc
 * and zero-padded by AV_INPUT_BUFFER_PADDING_SIZE as codec extradata must be.
 * ES_ERR_INVALID if any unit is not valid base64 or empty. */
enum es_err es_rtp_h264_sprop_to_annexb(const char *sprop, uint8_t **out, size_t *size);

struct es_rtp_h264_sps {
    int profile_idc, level_idc;
    int width, height; /* after cropping */
};

/* Reads the first SPS (NAL type 7) of Annex B bytes (ITU-T H.264 section
 * 7.3.2.1.1). ES_ERR_NOT_FOUND if there is none, ES_ERR_INVALID if it is
 * truncated or out of range. */
enum es_err es_rtp_h264_parse_sps(const uint8_t *annexb, size_t size, struct es_rtp_h264_sps *out);

#endif
