/* RFC 6184 packetization; section numbers below are that RFC's. */
#include "webrtc/rtp_h264.h"

#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

#define NAL_IDR 5
#define NAL_SEI 6
#define NAL_SPS 7
#define NAL_PPS 8
#define NAL_AUD 9
#define NAL_FILLER 12
#define STAP_A 24
#define FU_A 28
#define MAX_NALS 64

struct nal {
    const uint8_t *data;
    size_t size;
};

void es_h264_packetizer_init(struct es_h264_packetizer *p)
{
    memset(p, 0, sizeof(*p));
    p->max_payload = ES_RTP_MAX_PAYLOAD;
}

void es_rtp_frame_free(struct es_rtp_frame *f)
{
    free(f->data);
    free(f->payloads);
    memset(f, 0, sizeof(*f));
}

/* Annex B: NAL units follow 00 00 01 or 00 00 00 01; trailing zero bytes
 * belong to the next start code. */
static size_t split_annexb(const uint8_t *b, size_t n, struct nal *out, size_t max)
{
    size_t count = 0, i = 0, start = SIZE_MAX;
    while (i + 3 <= n) {
        if (b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1) {
            if (start != SIZE_MAX && count < max) {
                size_t end = i;
                while (end > start && b[end - 1] == 0)
                    end--;
                out[count++] = (struct nal){b + start, end - start};
            }
            i += 3;
            start = i;
            continue;
        }
        i++;
    }
    if (start != SIZE_MAX && start < n && count < max) {
        size_t end = n;
        while (end > start && b[end - 1] == 0)
            end--;
        out[count++] = (struct nal){b + start, end - start};
    }
    return count;
}

static uint8_t *payload_add(struct es_rtp_frame *f, size_t size)
{
    if (f->size + size > f->cap) {
        f->cap = (f->size + size) * 2;
        f->data = es_realloc(f->data, f->cap);
    }
    if (f->count == f->payload_cap) {
        f->payload_cap = f->payload_cap ? f->payload_cap * 2 : 16;
        f->payloads = es_realloc(f->payloads, f->payload_cap * sizeof(*f->payloads));
    }
    f->payloads[f->count++] = (struct es_rtp_payload){f->size, size, false};
    uint8_t *at = f->data + f->size;
    f->size += size;
    return at;
}

static void emit_nal(const struct es_h264_packetizer *p, struct es_rtp_frame *f, struct nal n)
{
    if (n.size <= p->max_payload) { /* §5.6 single NAL unit packet */
        memcpy(payload_add(f, n.size), n.data, n.size);
        return;
    }
    /* §5.8 FU-A: the NAL header becomes the indicator (F, NRI, type 28) and
     * the FU header (S, E, type); the header byte itself is not repeated. */
    uint8_t indicator = (uint8_t)((n.data[0] & 0xE0) | FU_A);
    uint8_t type = n.data[0] & 0x1F;
    const uint8_t *at = n.data + 1;
    size_t left = n.size - 1, chunk_max = p->max_payload - 2;
    bool first = true;
    while (left > 0) {
        size_t chunk = left < chunk_max ? left : chunk_max;
        uint8_t *out = payload_add(f, chunk + 2);
        out[0] = indicator;
        out[1] = (uint8_t)((first ? 0x80 : 0) | (chunk == left ? 0x40 : 0) | type);
        memcpy(out + 2, at, chunk);
        at += chunk;
        left -= chunk;
        first = false;
    }
}

/* §5.7.1 STAP-A: SPS and PPS in one packet, each with a 16-bit size. */
static void emit_parameter_sets(const struct es_h264_packetizer *p, struct es_rtp_frame *f,
                                struct nal sps, struct nal pps)
{
    size_t size = 1 + 2 + sps.size + 2 + pps.size;
    if (size > p->max_payload) {
        emit_nal(p, f, sps);
        emit_nal(p, f, pps);
        return;
    }
    uint8_t *out = payload_add(f, size);
    uint8_t nri = (uint8_t)((sps.data[0] | pps.data[0]) & 0x60);
    *out++ = (uint8_t)(nri | STAP_A);
    *out++ = (uint8_t)(sps.size >> 8);
    *out++ = (uint8_t)sps.size;
    memcpy(out, sps.data, sps.size);
    out += sps.size;
    *out++ = (uint8_t)(pps.size >> 8);
    *out++ = (uint8_t)pps.size;
    memcpy(out, pps.data, pps.size);
}

enum es_err es_h264_packetize(struct es_h264_packetizer *p, const uint8_t *au, size_t size,
                              struct es_rtp_frame *out)
{
    out->size = 0;
    out->count = 0;
    out->idr = false;
    struct nal nals[MAX_NALS];
    size_t count = split_annexb(au, size, nals, MAX_NALS);
    bool has_idr = false;
    for (size_t i = 0; i < count; i++) {
        if (nals[i].size == 0)
            continue;
        uint8_t type = nals[i].data[0] & 0x1F;
        if (type == NAL_SPS && nals[i].size <= sizeof(p->sps)) {
            memcpy(p->sps, nals[i].data, nals[i].size);
            p->sps_size = nals[i].size;
        } else if (type == NAL_PPS && nals[i].size <= sizeof(p->pps)) {
            memcpy(p->pps, nals[i].data, nals[i].size);
            p->pps_size = nals[i].size;
        } else if (type == NAL_IDR) {
            has_idr = true;
        }
    }
    /* SPS and PPS go first, together, in front of every IDR (and only there:
     * in front of other frames they would only cost bytes). */
    if (has_idr && p->sps_size && p->pps_size) {
        emit_parameter_sets(p, out, (struct nal){p->sps, p->sps_size},
                            (struct nal){p->pps, p->pps_size});
        out->idr = true;
    }
    for (size_t i = 0; i < count; i++) {
        if (nals[i].size == 0)
            continue;
        uint8_t type = nals[i].data[0] & 0x1F;
        if (type == NAL_AUD || type == NAL_SEI || type == NAL_FILLER || type == NAL_SPS ||
            type == NAL_PPS)
            continue;
        emit_nal(p, out, nals[i]);
    }
    if (out->count == 0 || (out->count == 1 && out->idr))
        return ES_ERR_INVALID;
    out->payloads[out->count - 1].marker = true;
    return ES_OK;
}
