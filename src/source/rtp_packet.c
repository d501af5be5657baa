#include "source/rtp_packet.h"

#include <string.h>

/* Seconds from 1900-01-01 (NTP era 0) to 1970-01-01. */
#define NTP_UNIX_OFFSET UINT64_C(2208988800)

/* RFC 3550 appendix A.1 treats a jump back by more than a few packets as a
 * restarted sequence rather than stale packets; over TCP nothing is
 * reordered, so any small step back is a duplicate. */
#define MAX_MISORDER 100

static uint32_t read32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

enum es_err es_rtp_packet_parse(const uint8_t *data, size_t size, struct es_rtp_packet *out)
{
    memset(out, 0, sizeof(*out));
    if (size < 12 || data[0] >> 6 != 2)
        return ES_ERR_INVALID;
    size_t header = 12 + (size_t)(data[0] & 0x0f) * 4;
    if (size < header)
        return ES_ERR_INVALID;
    if (data[0] & 0x10) { /* RFC 3550 section 5.3.1: 16-bit profile, 16-bit length in words */
        if (size < header + 4)
            return ES_ERR_INVALID;
        header += 4 + (size_t)((data[header + 2] << 8) | data[header + 3]) * 4;
        if (size < header)
            return ES_ERR_INVALID;
    }
    size_t padding = 0;
    if (data[0] & 0x20) { /* the last octet counts the padding, itself included */
        padding = data[size - 1];
        if (padding == 0 || size - header < padding)
            return ES_ERR_INVALID;
    }
    out->marker = data[1] & 0x80;
    out->payload_type = data[1] & 0x7f;
    out->seq = (uint16_t)(data[2] << 8 | data[3]);
    out->timestamp = read32(data + 4);
    out->ssrc = read32(data + 8);
    out->payload = data + header;
    out->payload_size = size - header - padding;
    return ES_OK;
}

enum es_rtp_seq_result es_rtp_packet_check_seq(struct es_rtp_seq *s, uint16_t seq)
{
    if (!s->started) {
        s->started = true;
        s->next = (uint16_t)(seq + 1);
        return ES_RTP_SEQ_IN_ORDER;
    }
    int16_t delta = (int16_t)(uint16_t)(seq - s->next);
    if (delta < 0 && delta >= -MAX_MISORDER)
        return ES_RTP_SEQ_DUPLICATE;
    enum es_rtp_seq_result r = delta == 0 ? ES_RTP_SEQ_IN_ORDER : ES_RTP_SEQ_GAP;
    s->next = (uint16_t)(seq + 1);
    return r;
}

int64_t es_rtp_packet_unwrap(struct es_rtp_unwrap *u, uint32_t timestamp)
{
    if (!u->started) {
        u->started = true;
        u->last = timestamp;
    } else {
        u->last += (int32_t)(timestamp - (uint32_t)u->last);
    }
    return u->last;
}

enum es_err es_rtp_packet_parse_sr(const uint8_t *data, size_t size,
                                   struct es_rtp_sender_report *out)
{
    memset(out, 0, sizeof(*out));
    /* RFC 3550 section 6.1: a compound packet is a sequence of RTCP packets,
     * each with version 2 and a length in 32-bit words minus one. */
    bool any = false;
    while (size >= 4) {
        if (data[0] >> 6 != 2)
            return any ? ES_ERR_NOT_FOUND : ES_ERR_INVALID;
        size_t len = ((size_t)(data[2] << 8 | data[3]) + 1) * 4;
        if (len > size)
            return ES_ERR_INVALID;
        any = true;
        if (data[1] == 200 && len >= 28) { /* SR, section 6.4.1 */
            out->ssrc = read32(data + 4);
            out->ntp = (uint64_t)read32(data + 8) << 32 | read32(data + 12);
            out->rtp_timestamp = read32(data + 16);
            return ES_OK;
        }
        data += len;
        size -= len;
    }
    return any ? ES_ERR_NOT_FOUND : ES_ERR_INVALID;
}

int64_t es_rtp_packet_ntp_to_unix_us(uint64_t ntp)
{
    uint64_t seconds = ntp >> 32;
    uint64_t fraction = ntp & 0xffffffffu;
    int64_t us = ((int64_t)seconds - (int64_t)NTP_UNIX_OFFSET) * 1000000;
    return us + (int64_t)((fraction * 1000000) >> 32);
}

int64_t es_rtp_packet_wall_us(const struct es_rtp_sender_report *sr, unsigned clock_rate,
                              uint32_t timestamp)
{
    int64_t ticks = (int32_t)(timestamp - sr->rtp_timestamp);
    return es_rtp_packet_ntp_to_unix_us(sr->ntp) + ticks * 1000000 / (int64_t)clock_rate;
}
