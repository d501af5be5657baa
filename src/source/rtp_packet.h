/* RTP and RTCP packets (RFC 3550) as a receiver sees them: the fixed RTP
 * header, sequence-number bookkeeping, 32-bit timestamp unwrapping, and the
 * sender report that maps a stream's RTP clock to the sender's wall clock. */
#ifndef ES_SOURCE_RTP_PACKET_H
#define ES_SOURCE_RTP_PACKET_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct es_rtp_packet {
    uint8_t payload_type;
    bool marker;
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    const uint8_t *payload; /* points into the parsed bytes */
    size_t payload_size;
};

/* Parses one RTP packet (RFC 3550 section 5.1): version 2, CSRCs, header
 * extension and padding removed. ES_ERR_INVALID if malformed. */
enum es_err es_rtp_packet_parse(const uint8_t *data, size_t size, struct es_rtp_packet *out);

/* Sequence numbers of one SSRC. */
struct es_rtp_seq {
    bool started;
    uint16_t next;
};

enum es_rtp_seq_result {
    ES_RTP_SEQ_IN_ORDER = 0,
    ES_RTP_SEQ_GAP,       /* packets before this one were lost */
    ES_RTP_SEQ_DUPLICATE, /* repeated or older than the last one: ignore it */
};

enum es_rtp_seq_result es_rtp_packet_check_seq(struct es_rtp_seq *s, uint16_t seq);

/* Extends 32-bit RTP timestamps to 64 bits: each one is taken as the value
 * nearest to the previous (RFC 3550 section 5.1: they wrap). */
struct es_rtp_unwrap {
    bool started;
    int64_t last;
};

int64_t es_rtp_packet_unwrap(struct es_rtp_unwrap *u, uint32_t timestamp);

/* What a sender report says (RFC 3550 section 6.4.1): at NTP time `ntp` the
 * sender's RTP clock for `ssrc` read `rtp_timestamp`. */
struct es_rtp_sender_report {
    uint32_t ssrc;
    uint64_t ntp;
    uint32_t rtp_timestamp;
};

/* Finds the sender report in an RTCP compound packet (RFC 3550 section 6.1).
 * ES_ERR_NOT_FOUND if it holds none, ES_ERR_INVALID if malformed. */
enum es_err es_rtp_packet_parse_sr(const uint8_t *data, size_t size,
                                   struct es_rtp_sender_report *out);

/* NTP timestamp (seconds since 1900, 32.32 fixed point) as Unix microseconds. */
int64_t es_rtp_packet_ntp_to_unix_us(uint64_t ntp);

/* Wall-clock microseconds of RTP `timestamp` by the mapping of `sr`, for a
 * stream whose clock runs at `clock_rate` Hz. Timestamps within 2^31 ticks of
 * the report's (hours at 90 kHz) map correctly. */
int64_t es_rtp_packet_wall_us(const struct es_rtp_sender_report *sr, unsigned clock_rate,
                              uint32_t timestamp);

#endif
