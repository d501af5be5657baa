#include "source/rtp_h264.h"

#include "core/alloc.h"
#include "source/rtp_bits.h"

#include <libavcodec/avcodec.h>
#include <libavutil/base64.h>
#include <libavutil/mem.h>
#include <stdlib.h>
#include <string.h>

/* RFC 6184 section 5.2 NAL unit types of the payload structures. */
enum {
    NAL_IDR = 5,
    NAL_STAP_A = 24,
    NAL_STAP_B = 25,
    NAL_MTAP16 = 26,
    NAL_MTAP24 = 27,
    NAL_FU_A = 28,
    NAL_FU_B = 29,
};

static const uint8_t start_code[4] = {0, 0, 0, 1};

struct es_rtp_h264 {
    es_rtp_h264_emit_fn emit;
    void *opaque;
    uint8_t *buf;
    size_t size, cap, max;

    bool active; /* a unit with `timestamp` is being assembled */
    uint32_t timestamp;
    bool damaged;  /* it lost a packet, or a packet was malformed or too big */
    bool has_vcl;  /* it holds a slice (NAL types 1..5) */
    bool key;      /* it holds an IDR slice */
    bool in_fu;    /* inside a fragmented NAL unit */
    bool wait_idr; /* drop units until one with an IDR slice */
    struct es_rtp_h264_stats stats;
};

struct es_rtp_h264 *es_rtp_h264_create(size_t max_au_size, es_rtp_h264_emit_fn emit, void *opaque)
{
    struct es_rtp_h264 *d = es_calloc(1, sizeof(*d));
    d->emit = emit;
    d->opaque = opaque;
    d->max = max_au_size;
    d->wait_idr = true;
    return d;
}

void es_rtp_h264_destroy(struct es_rtp_h264 *d)
{
    if (!d)
        return;
    free(d->buf);
    free(d);
}

struct es_rtp_h264_stats es_rtp_h264_stats(const struct es_rtp_h264 *d)
{
    return d->stats;
}

static void clear_unit(struct es_rtp_h264 *d)
{
    d->size = 0;
    d->active = d->damaged = d->has_vcl = d->key = d->in_fu = false;
}

void es_rtp_h264_reset(struct es_rtp_h264 *d)
{
    clear_unit(d);
    d->wait_idr = true;
}

static void append(struct es_rtp_h264 *d, const uint8_t *data, size_t n)
{
    if (d->damaged)
        return;
    if (n > d->max - d->size) {
        d->damaged = true;
        return;
    }
    if (d->size + n > d->cap) {
        size_t cap = d->cap ? d->cap : 65536;
        while (cap < d->size + n)
            cap *= 2;
        d->cap = cap < d->max ? cap : d->max;
        d->buf = es_realloc(d->buf, d->cap);
    }
    memcpy(d->buf + d->size, data, n);
    d->size += n;
}

static void note_type(struct es_rtp_h264 *d, unsigned type)
{
    if (type >= 1 && type <= 5)
        d->has_vcl = true;
    if (type == NAL_IDR)
        d->key = true;
}

/* Appends one whole NAL unit (header byte included) with its start code. */
static void append_nal(struct es_rtp_h264 *d, const uint8_t *nal, size_t n)
{
    if (n == 0 || (nal[0] & 0x80)) { /* forbidden_zero_bit set: damaged (RFC 6184 5.3) */
        d->damaged = true;
        return;
    }
    note_type(d, nal[0] & 0x1f);
    append(d, start_code, sizeof(start_code));
    append(d, nal, n);
}

static void finish_unit(struct es_rtp_h264 *d)
{
    if (d->in_fu)
        d->damaged = true; /* the unit ended inside a fragmented NAL unit */
    if (d->damaged) {
        d->stats.dropped_damaged++;
        d->wait_idr = true;
    } else if (!d->has_vcl) {
        /* Parameter sets or SEI sent apart from the slices they belong to:
         * keep the bytes and let the next unit carry them. */
        d->active = false;
        return;
    } else if (d->wait_idr && !d->key) {
        d->stats.dropped_until_idr++;
    } else {
        struct es_rtp_h264_au au = {d->buf, d->size, d->timestamp, d->key};
        d->wait_idr = false;
        d->stats.emitted++;
        d->emit(d->opaque, &au);
    }
    clear_unit(d);
}

/* RFC 6184 section 5.7.1: STAP-A is a list of 16-bit size + NAL unit. */
static void push_stap_a(struct es_rtp_h264 *d, const uint8_t *p, size_t n)
{
    p++, n--;
    if (n == 0)
        d->damaged = true;
    while (n > 0 && !d->damaged) {
        if (n < 2) {
            d->damaged = true;
            break;
        }
        size_t len = (size_t)p[0] << 8 | p[1];
        if (len == 0 || len > n - 2) {
            d->damaged = true;
            break;
        }
        append_nal(d, p + 2, len);
        p += 2 + len;
        n -= 2 + len;
    }
}

/* RFC 6184 section 5.8: FU indicator (F, NRI, type 28) + FU header (S, E, R,
 * type) + fragment; the NAL header is rebuilt from the two. */
static void push_fu_a(struct es_rtp_h264 *d, const uint8_t *p, size_t n)
{
    if (n < 3) {
        d->damaged = true;
        return;
    }
    bool start = p[1] & 0x80, end = p[1] & 0x40;
    if (start && end) { /* "MUST NOT both be set to one in the same FU header" */
        d->damaged = true;
        return;
    }
    if (start) {
        if (d->in_fu)
            d->damaged = true; /* the previous fragmented unit never ended */
        uint8_t header = (uint8_t)((p[0] & 0xe0) | (p[1] & 0x1f));
        if (header & 0x80) {
            d->damaged = true;
            return;
        }
        note_type(d, header & 0x1f);
        append(d, start_code, sizeof(start_code));
        append(d, &header, 1);
        d->in_fu = true;
    } else if (!d->in_fu) {
        d->damaged = true; /* a middle or end fragment without its start */
        return;
    }
    append(d, p + 2, n - 2);
    if (end)
        d->in_fu = false;
}

void es_rtp_h264_push(struct es_rtp_h264 *d, const struct es_rtp_packet *p, bool lost_before)
{
    /* After a gap the lost packets may have ended the unit in progress or
     * begun the one this packet belongs to: both are damaged. */
    if (lost_before) {
        d->wait_idr = true;
        if (d->active)
            d->damaged = true;
    }
    if (d->active && p->timestamp != d->timestamp)
        finish_unit(d);
    if (!d->active) {
        d->active = true;
        d->timestamp = p->timestamp;
        if (lost_before)
            d->damaged = true;
    }

    if (p->payload_size == 0) {
        d->damaged = true;
    } else {
        unsigned type = p->payload[0] & 0x1f;
        if (type >= 1 && type <= 23) {
            if (d->in_fu) {
                d->damaged = true;
                d->in_fu = false;
            }
            append_nal(d, p->payload, p->payload_size);
        } else if (type == NAL_STAP_A) {
            push_stap_a(d, p->payload, p->payload_size);
        } else if (type == NAL_FU_A) {
            push_fu_a(d, p->payload, p->payload_size);
        } else if (type == NAL_STAP_B || type == NAL_MTAP16 || type == NAL_MTAP24 ||
                   type == NAL_FU_B) {
            d->damaged = true; /* interleaved mode only (RFC 6184 section 5.2) */
        }
        /* Types 0, 30 and 31 are undefined: "SHOULD be ignored" (section 5.2). */
    }
    if (p->marker)
        finish_unit(d);
}

enum es_err es_rtp_h264_sprop_to_annexb(const char *sprop, uint8_t **out, size_t *size)
{
    *out = NULL;
    *size = 0;
    size_t total = 0, cap = strlen(sprop) + 4 * (strlen(sprop) / 2 + 1);
    uint8_t *buf = av_mallocz(cap + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!buf)
        abort();
    const char *p = sprop;
    while (*p) {
        size_t n = strcspn(p, ",");
        char unit[4096];
        if (n == 0 || n >= sizeof(unit)) {
            av_free(buf);
            return ES_ERR_INVALID;
        }
        memcpy(unit, p, n);
        unit[n] = '\0';
        memcpy(buf + total, start_code, sizeof(start_code));
        int len = av_base64_decode(buf + total + 4, unit, (int)(cap - total - 4));
        if (len <= 0) {
            av_free(buf);
            return ES_ERR_INVALID;
        }
        total += 4 + (size_t)len;
        p += n;
        if (*p == ',')
            p++;
    }
    if (total == 0) {
        av_free(buf);
        return ES_ERR_INVALID;
    }
    *out = buf;
    *size = total;
    return ES_OK;
}

/* Removes emulation prevention bytes (00 00 03 -> 00 00, H.264 section 7.4.1). */
static size_t unescape_rbsp(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t o = 0, zeros = 0;
    for (size_t i = 0; i < n; i++) {
        if (zeros >= 2 && in[i] == 3) {
            zeros = 0;
            continue;
        }
        zeros = in[i] == 0 ? zeros + 1 : 0;
        out[o++] = in[i];
    }
    return o;
}

static void skip_scaling_list(struct es_rtp_bits *b, int size)
{
    int last = 8, next = 8;
    for (int j = 0; j < size && !b->overrun; j++) {
        if (next != 0)
            next = (last + es_rtp_bits_se(b) + 256) % 256;
        last = next == 0 ? last : next;
    }
}

static bool high_profile(int profile)
{
    static const int profiles[] = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135};
    for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
        if (profiles[i] == profile)
            return true;
    return false;
}

static enum es_err parse_sps_rbsp(struct es_rtp_bits *b, struct es_rtp_h264_sps *out)
{
    out->profile_idc = (int)es_rtp_bits_read(b, 8);
    es_rtp_bits_skip(b, 8); /* constraint flags, reserved */
    out->level_idc = (int)es_rtp_bits_read(b, 8);
    es_rtp_bits_ue(b); /* seq_parameter_set_id */
    uint32_t chroma_format_idc = 1;
    bool separate_colour_plane = false;
    if (high_profile(out->profile_idc)) {
        chroma_format_idc = es_rtp_bits_ue(b);
        if (chroma_format_idc > 3)
            return ES_ERR_INVALID;
        if (chroma_format_idc == 3)
            separate_colour_plane = es_rtp_bits_read(b, 1);
        es_rtp_bits_ue(b);          /* bit_depth_luma_minus8 */
        es_rtp_bits_ue(b);          /* bit_depth_chroma_minus8 */
        es_rtp_bits_skip(b, 1);     /* qpprime_y_zero_transform_bypass_flag */
        if (es_rtp_bits_read(b, 1)) /* seq_scaling_matrix_present_flag */
            for (int i = 0; i < (chroma_format_idc == 3 ? 12 : 8); i++)
                if (es_rtp_bits_read(b, 1))
                    skip_scaling_list(b, i < 6 ? 16 : 64);
    }
    es_rtp_bits_ue(b); /* log2_max_frame_num_minus4 */
    uint32_t poc_type = es_rtp_bits_ue(b);
    if (poc_type == 0) {
        es_rtp_bits_ue(b); /* log2_max_pic_order_cnt_lsb_minus4 */
    } else if (poc_type == 1) {
        es_rtp_bits_skip(b, 1);
        es_rtp_bits_se(b);
        es_rtp_bits_se(b);
        uint32_t cycle = es_rtp_bits_ue(b);
        if (cycle > 255)
            return ES_ERR_INVALID;
        for (uint32_t i = 0; i < cycle && !b->overrun; i++)
            es_rtp_bits_se(b);
    } else if (poc_type > 2) {
        return ES_ERR_INVALID;
    }
    es_rtp_bits_ue(b);      /* max_num_ref_frames */
    es_rtp_bits_skip(b, 1); /* gaps_in_frame_num_value_allowed_flag */
    uint32_t width_mbs = es_rtp_bits_ue(b) + 1;
    uint32_t height_map_units = es_rtp_bits_ue(b) + 1;
    uint32_t frame_mbs_only = es_rtp_bits_read(b, 1);
    if (!frame_mbs_only)
        es_rtp_bits_skip(b, 1); /* mb_adaptive_frame_field_flag */
    es_rtp_bits_skip(b, 1);     /* direct_8x8_inference_flag */
    uint32_t crop[4] = {0, 0, 0, 0};
    if (es_rtp_bits_read(b, 1))
        for (int i = 0; i < 4; i++)
            crop[i] = es_rtp_bits_ue(b);
    if (b->overrun || width_mbs > 1024 || height_map_units > 1024)
        return ES_ERR_INVALID;

    /* Section 7.4.2.1.1: crop units depend on ChromaArrayType. */
    uint32_t chroma_array_type = separate_colour_plane ? 0 : chroma_format_idc;
    uint32_t crop_x = chroma_array_type == 0 || chroma_array_type == 3 ? 1 : 2;
    uint32_t crop_y = (chroma_array_type == 1 ? 2 : 1) * (2 - frame_mbs_only);
    int64_t width = (int64_t)width_mbs * 16 - (int64_t)crop_x * (crop[0] + crop[1]);
    int64_t height = (int64_t)height_map_units * 16 * (2 - frame_mbs_only) -
                     (int64_t)crop_y * (crop[2] + crop[3]);
    if (width <= 0 || height <= 0)
        return ES_ERR_INVALID;
    out->width = (int)width;
    out->height = (int)height;
    return ES_OK;
}

enum es_err es_rtp_h264_parse_sps(const uint8_t *annexb, size_t size, struct es_rtp_h264_sps *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i + 3 < size; i++) {
        if (annexb[i] != 0 || annexb[i + 1] != 0 || annexb[i + 2] != 1 ||
            (annexb[i + 3] & 0x1f) != 7)
            continue;
        const uint8_t *nal = annexb + i + 4;
        size_t n = size - (i + 4);
        for (size_t j = 0; j + 2 < n; j++)
            if (nal[j] == 0 && nal[j + 1] == 0 && (nal[j + 2] == 1 || nal[j + 2] == 0)) {
                n = j;
                break;
            }
        if (n > 1024) /* far larger than any SPS */
            n = 1024;
        uint8_t rbsp[1024];
        struct es_rtp_bits b = es_rtp_bits_init(rbsp, unescape_rbsp(nal, n, rbsp));
        return parse_sps_rbsp(&b, out);
    }
    return ES_ERR_NOT_FOUND;
}
