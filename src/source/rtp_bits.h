/* A bounds-checked MSB-first bit reader for RTP payload headers (RFC 3640
 * AU headers), AudioSpecificConfig and H.264 SPS. Reading past the end
 * returns zeros and sets `overrun`, so callers check once at the end. */
#ifndef ES_SOURCE_RTP_BITS_H
#define ES_SOURCE_RTP_BITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct es_rtp_bits {
    const uint8_t *data;
    size_t size_bits;
    size_t pos;
    bool overrun;
};

static inline struct es_rtp_bits es_rtp_bits_init(const uint8_t *data, size_t size)
{
    return (struct es_rtp_bits){data, size * 8, 0, false};
}

/* Reads n <= 32 bits. */
static inline uint32_t es_rtp_bits_read(struct es_rtp_bits *b, unsigned n)
{
    uint32_t v = 0;
    if (n > 32 || b->pos + n > b->size_bits) {
        b->overrun = true;
        b->pos = b->size_bits;
        return 0;
    }
    for (unsigned i = 0; i < n; i++, b->pos++)
        v = v << 1 | ((b->data[b->pos >> 3] >> (7 - (b->pos & 7))) & 1u);
    return v;
}

static inline void es_rtp_bits_skip(struct es_rtp_bits *b, size_t n)
{
    if (n > b->size_bits - b->pos) {
        b->overrun = true;
        b->pos = b->size_bits;
        return;
    }
    b->pos += n;
}

/* Exp-Golomb ue(v) (H.264 section 9.1); values above 2^31 - 2 count as overrun. */
static inline uint32_t es_rtp_bits_ue(struct es_rtp_bits *b)
{
    unsigned zeros = 0;
    while (es_rtp_bits_read(b, 1) == 0) {
        if (b->overrun || ++zeros > 30) {
            b->overrun = true;
            return 0;
        }
    }
    return ((1u << zeros) - 1) + es_rtp_bits_read(b, zeros);
}

/* Exp-Golomb se(v). */
static inline int32_t es_rtp_bits_se(struct es_rtp_bits *b)
{
    uint32_t k = es_rtp_bits_ue(b);
    return (k & 1) ? (int32_t)((k + 1) / 2) : -(int32_t)(k / 2);
}

#endif
