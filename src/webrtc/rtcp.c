#include "webrtc/rtcp.h"

#include <string.h>

#define PT_SR 200
#define PT_RR 201
#define PT_SDES 202
#define PT_RTPFB 205
#define PT_PSFB 206
/* RFC 868/5905: NTP counts from 1900, Unix from 1970. */
#define NTP_UNIX_OFFSET 2208988800ull

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

bool es_rtcp_is(const uint8_t *data, size_t len)
{
    return len >= 8 && (data[0] & 0xC0) == 0x80 && data[1] >= 192 && data[1] <= 223;
}

size_t es_rtcp_write_sr(uint8_t *out, size_t cap, uint32_t ssrc, int64_t wall_us, uint32_t rtp_ts,
                        uint32_t packets, uint32_t octets, const char *cname)
{
    size_t cname_len = strlen(cname);
    if (cname_len > 255)
        return 0;
    /* SDES: header, SSRC, item (type, length, text), end item, padded to 4. */
    size_t sdes = (4 + 4 + 2 + cname_len + 1 + 3) & ~(size_t)3;
    if (cap < 28 + sdes)
        return 0;
    memset(out, 0, 28 + sdes);
    out[0] = 0x80;
    out[1] = PT_SR;
    out[2] = 0;
    out[3] = 6; /* length in words minus one */
    wr32(out + 4, ssrc);
    uint64_t secs = (uint64_t)(wall_us / 1000000) + NTP_UNIX_OFFSET;
    uint64_t frac = ((uint64_t)(wall_us % 1000000) << 32) / 1000000;
    wr32(out + 8, (uint32_t)secs);
    wr32(out + 12, (uint32_t)frac);
    wr32(out + 16, rtp_ts);
    wr32(out + 20, packets);
    wr32(out + 24, octets);
    uint8_t *s = out + 28;
    s[0] = 0x81; /* one chunk */
    s[1] = PT_SDES;
    s[2] = (uint8_t)((sdes / 4 - 1) >> 8);
    s[3] = (uint8_t)(sdes / 4 - 1);
    wr32(s + 4, ssrc);
    s[8] = 1; /* CNAME */
    s[9] = (uint8_t)cname_len;
    memcpy(s + 10, cname, cname_len);
    return 28 + sdes;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* RFC 3550 §6.4.1/§6.4.2: `count` report blocks of 24 bytes each, after
 * `skip` bytes of the packet (header and sender SSRC, plus sender info in an
 * SR). */
static void read_blocks(const uint8_t *h, size_t size, size_t skip, unsigned count,
                        struct es_rtcp_feedback *out)
{
    for (unsigned i = 0; i < count && skip + 24 * (i + 1) <= size; i++) {
        if (out->block_count == ES_RTCP_MAX_BLOCKS)
            return;
        const uint8_t *b = h + skip + 24 * i;
        uint32_t lost = (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
        struct es_rtcp_report_block *r = &out->blocks[out->block_count++];
        r->ssrc = rd32(b);
        r->fraction_lost = b[4];
        r->cumulative_lost = (int32_t)(lost & 0x800000 ? lost | 0xFF000000u : lost);
        r->highest_seq = rd32(b + 8);
    }
}

bool es_rtcp_parse(const uint8_t *data, size_t len, struct es_rtcp_feedback *out)
{
    size_t at = 0;
    if (len < 4)
        return false;
    while (at + 4 <= len) {
        const uint8_t *h = data + at;
        if ((h[0] & 0xC0) != 0x80)
            return false;
        size_t size = ((size_t)h[2] << 8 | h[3]) * 4 + 4;
        if (at + size > len)
            return false;
        unsigned fmt = h[0] & 0x1F;
        switch (h[1]) {
        case PT_RR:
            out->receiver_reports++;
            read_blocks(h, size, 8, fmt, out);
            break;
        case PT_SR:
            read_blocks(h, size, 28, fmt, out);
            break;
        case PT_RTPFB:
            if (fmt == 1)
                out->nack++;
            break;
        case PT_PSFB:
            if (fmt == 1)
                out->pli++;
            else if (fmt == 4)
                out->fir++;
            break;
        default:
            break;
        }
        at += size;
    }
    return at == len;
}
