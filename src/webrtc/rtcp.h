/* The RTCP a send-only WebRTC server writes and reads: sender reports (RFC
 * 3550 §6.4.1) with the CNAME, and the feedback that asks for a keyframe:
 * PLI (RFC 4585 §6.3.1) and FIR (RFC 5104 §4.3.1). Plain RTCP, before
 * SRTCP protection and after unprotection. */
#ifndef ES_WEBRTC_RTCP_H
#define ES_WEBRTC_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 7983 §7 with RFC 5761 §4: RTP or RTCP by the first two bytes. */
bool es_rtcp_is(const uint8_t *data, size_t len);

/* SR (no report blocks) followed by SDES with the CNAME. `wall_us` is the
 * Unix time that `rtp_ts` stands for. Returns the length, 0 if `cap` is too
 * small. */
size_t es_rtcp_write_sr(uint8_t *out, size_t cap, uint32_t ssrc, int64_t wall_us, uint32_t rtp_ts,
                        uint32_t packets, uint32_t octets, const char *cname);

/* One report block of an RR or SR (RFC 3550 §6.4.1): what the receiver saw
 * of one of our SSRCs. */
struct es_rtcp_report_block {
    uint32_t ssrc;
    uint8_t fraction_lost;   /* of 256, since the previous report */
    int32_t cumulative_lost; /* 24-bit signed, sign-extended */
    uint32_t highest_seq;    /* extended highest sequence number received */
};
#define ES_RTCP_MAX_BLOCKS 4

struct es_rtcp_feedback {
    unsigned pli, fir, nack, receiver_reports;
    size_t block_count; /* the first ES_RTCP_MAX_BLOCKS report blocks */
    struct es_rtcp_report_block blocks[ES_RTCP_MAX_BLOCKS];
};
/* Walks a compound packet; false when it is malformed. Counts add up. */
bool es_rtcp_parse(const uint8_t *data, size_t len, struct es_rtcp_feedback *out);

#endif
