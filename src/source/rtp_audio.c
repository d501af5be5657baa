#include "source/rtp_audio.h"

#include "core/alloc.h"
#include "source/rtp_bits.h"
#include "source/sdp.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* An AAC frame is at most 6144 bits per channel (ISO 14496-3 section
 * 4.5.3.3); this bounds a reassembled one generously. */
#define MAX_FRAGMENTED_AU 65536
/* AU headers one packet may describe. */
#define MAX_AUS 256

struct es_rtp_audio {
    enum es_rtp_audio_codec codec;
    struct es_rtp_audio_aac_params aac;
    es_rtp_audio_emit_fn emit;
    void *opaque;
    uint64_t dropped;

    /* A fragmented access unit being reassembled (RFC 3640 section 3.2.3). */
    bool frag_active;
    uint32_t frag_timestamp;
    size_t frag_size, frag_len;
    uint8_t *frag;
    /* Fragments with this timestamp follow a loss: their start is gone. */
    bool skip_active;
    uint32_t skip_timestamp;
};

static const int sample_rates[13] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                     22050, 16000, 12000, 11025, 8000,  7350};

static unsigned read_object_type(struct es_rtp_bits *b)
{
    unsigned type = es_rtp_bits_read(b, 5);
    return type == 31 ? 32 + es_rtp_bits_read(b, 6) : type;
}

static int read_sample_rate(struct es_rtp_bits *b)
{
    unsigned index = es_rtp_bits_read(b, 4);
    if (index == 15)
        return (int)es_rtp_bits_read(b, 24);
    return index < 13 ? sample_rates[index] : 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

enum es_err es_rtp_audio_parse_config(const char *hex, uint8_t *asc, size_t asc_cap,
                                      size_t *asc_size, struct es_rtp_audio_asc *out)
{
    memset(out, 0, sizeof(*out));
    *asc_size = 0;
    size_t n = strlen(hex);
    if (n == 0 || n % 2 || n / 2 > asc_cap)
        return ES_ERR_INVALID;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return ES_ERR_INVALID;
        asc[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *asc_size = n / 2;

    /* ISO 14496-3 section 1.6.2.1 AudioSpecificConfig. */
    struct es_rtp_bits b = es_rtp_bits_init(asc, *asc_size);
    unsigned object_type = read_object_type(&b);
    out->sample_rate = read_sample_rate(&b);
    unsigned channel_config = es_rtp_bits_read(&b, 4);
    if (object_type == 5 || object_type == 29) {
        /* Explicit SBR/PS: the extension rate, then the core object type. */
        read_sample_rate(&b);
        object_type = read_object_type(&b);
    }
    out->object_type = (int)object_type;
    out->channels = channel_config == 7 ? 8 : channel_config <= 6 ? (int)channel_config : 0;
    out->frame_length = 1024;
    /* GASpecificConfig starts with frameLengthFlag (section 4.4.1). */
    if (object_type == 1 || object_type == 2 || object_type == 3 || object_type == 4 ||
        object_type == 6 || object_type == 7 || (object_type >= 17 && object_type <= 23))
        out->frame_length = es_rtp_bits_read(&b, 1) ? 960 : 1024;
    if (b.overrun || out->sample_rate <= 0 || object_type == 0)
        return ES_ERR_INVALID;
    return ES_OK;
}

static unsigned fmtp_uint(const char *fmtp, const char *key, unsigned fallback, bool *bad)
{
    char value[32];
    if (!es_sdp_fmtp_get(fmtp, key, value, sizeof(value)))
        return fallback;
    char *end = NULL;
    unsigned long v = strtoul(value, &end, 10);
    if (end == value || *end || v > 32) {
        *bad = true;
        return fallback;
    }
    return (unsigned)v;
}

enum es_err es_rtp_audio_aac_params(const char *fmtp, const struct es_rtp_audio_asc *asc,
                                    unsigned clock_rate, struct es_rtp_audio_aac_params *out)
{
    memset(out, 0, sizeof(*out));
    if (!fmtp)
        return ES_ERR_UNSUPPORTED;
    bool bad = false;
    out->size_length = fmtp_uint(fmtp, "sizelength", 0, &bad);
    out->index_length = fmtp_uint(fmtp, "indexlength", 0, &bad);
    out->index_delta_length = fmtp_uint(fmtp, "indexdeltalength", 0, &bad);
    out->cts_delta_length = fmtp_uint(fmtp, "ctsdeltalength", 0, &bad);
    out->dts_delta_length = fmtp_uint(fmtp, "dtsdeltalength", 0, &bad);
    out->random_access_indication = fmtp_uint(fmtp, "randomaccessindication", 0, &bad) != 0;
    out->stream_state_indication = fmtp_uint(fmtp, "streamstateindication", 0, &bad);
    out->auxiliary_data_size_length = fmtp_uint(fmtp, "auxiliarydatasizelength", 0, &bad);
    /* Without AU sizes (constantsize mode) AUs cannot be split; no camera sends that. */
    if (bad || out->size_length == 0)
        return ES_ERR_UNSUPPORTED;

    char value[32];
    unsigned long constant = 0;
    if (es_sdp_fmtp_get(fmtp, "constantduration", value, sizeof(value)))
        constant = strtoul(value, NULL, 10);
    if (constant > 0 && constant <= 1u << 20)
        out->frame_duration = (uint32_t)constant;
    else if (asc->sample_rate > 0)
        out->frame_duration =
            (uint32_t)((uint64_t)asc->frame_length * clock_rate / (uint64_t)asc->sample_rate);
    if (out->frame_duration == 0)
        out->frame_duration = (uint32_t)asc->frame_length;
    return ES_OK;
}

struct es_rtp_audio *es_rtp_audio_create(enum es_rtp_audio_codec codec,
                                         const struct es_rtp_audio_aac_params *aac,
                                         es_rtp_audio_emit_fn emit, void *opaque)
{
    struct es_rtp_audio *d = es_calloc(1, sizeof(*d));
    d->codec = codec;
    if (aac)
        d->aac = *aac;
    d->emit = emit;
    d->opaque = opaque;
    return d;
}

void es_rtp_audio_destroy(struct es_rtp_audio *d)
{
    if (!d)
        return;
    free(d->frag);
    free(d);
}

uint64_t es_rtp_audio_dropped(const struct es_rtp_audio *d)
{
    return d->dropped;
}

static void drop_fragment(struct es_rtp_audio *d)
{
    if (d->frag_active)
        d->dropped++;
    d->frag_active = false;
    d->frag_len = 0;
}

void es_rtp_audio_reset(struct es_rtp_audio *d)
{
    drop_fragment(d);
    d->skip_active = false;
}

static void emit(struct es_rtp_audio *d, const uint8_t *data, size_t size, uint32_t timestamp,
                 uint32_t duration)
{
    struct es_rtp_audio_frame f = {data, size, timestamp, duration};
    d->emit(d->opaque, &f);
}

/* RFC 3640 section 3.3.6: a fragment carries the AU header of the whole unit,
 * whose size is larger than the data in the packet. */
static void push_fragment(struct es_rtp_audio *d, const struct es_rtp_packet *p,
                          const uint8_t *data, size_t avail, size_t au_size)
{
    if (d->skip_active && p->timestamp == d->skip_timestamp) {
        d->dropped += !d->frag_active;
        return;
    }
    if (d->frag_active && (p->timestamp != d->frag_timestamp || au_size != d->frag_size))
        drop_fragment(d);
    if (!d->frag_active) {
        if (au_size > MAX_FRAGMENTED_AU) {
            d->dropped++;
            return;
        }
        if (!d->frag)
            d->frag = es_malloc(MAX_FRAGMENTED_AU);
        d->frag_active = true;
        d->frag_timestamp = p->timestamp;
        d->frag_size = au_size;
        d->frag_len = 0;
    }
    if (avail > d->frag_size - d->frag_len) {
        drop_fragment(d);
        return;
    }
    memcpy(d->frag + d->frag_len, data, avail);
    d->frag_len += avail;
    if (d->frag_len == d->frag_size) {
        d->frag_active = false;
        emit(d, d->frag, d->frag_size, d->frag_timestamp, d->aac.frame_duration);
    }
}

static void push_aac(struct es_rtp_audio *d, const struct es_rtp_packet *p)
{
    const struct es_rtp_audio_aac_params *a = &d->aac;
    const uint8_t *payload = p->payload;
    size_t n = p->payload_size;
    if (n < 2) {
        d->dropped++;
        return;
    }
    /* Section 3.2.1: AU-headers-length (in bits), then the AU headers. */
    size_t header_bits = (size_t)payload[0] << 8 | payload[1];
    size_t header_bytes = (header_bits + 7) / 8;
    if (header_bits == 0 || 2 + header_bytes > n) {
        d->dropped++;
        return;
    }
    struct es_rtp_bits b = es_rtp_bits_init(payload + 2, header_bytes);
    b.size_bits = header_bits;
    size_t sizes[MAX_AUS];
    uint32_t offsets[MAX_AUS];
    size_t count = 0;
    uint32_t k = 0;
    while (b.pos < header_bits && count < MAX_AUS) {
        size_t size = es_rtp_bits_read(&b, a->size_length);
        if (count == 0)
            k = es_rtp_bits_read(&b, a->index_length);
        else
            k += es_rtp_bits_read(&b, a->index_delta_length) + 1;
        if (a->cts_delta_length && es_rtp_bits_read(&b, 1))
            es_rtp_bits_skip(&b, a->cts_delta_length);
        if (a->dts_delta_length && es_rtp_bits_read(&b, 1))
            es_rtp_bits_skip(&b, a->dts_delta_length);
        if (a->random_access_indication)
            es_rtp_bits_skip(&b, 1);
        es_rtp_bits_skip(&b, a->stream_state_indication);
        if (b.overrun) {
            d->dropped++;
            return;
        }
        sizes[count] = size;
        offsets[count++] = k;
    }
    size_t offset = 2 + header_bytes;
    if (a->auxiliary_data_size_length) { /* section 3.2.2: skipped */
        struct es_rtp_bits aux = es_rtp_bits_init(payload + offset, n - offset);
        size_t aux_bits = es_rtp_bits_read(&aux, a->auxiliary_data_size_length);
        size_t aux_bytes = (a->auxiliary_data_size_length + aux_bits + 7) / 8;
        if (aux.overrun || aux_bytes > n - offset) {
            d->dropped++;
            return;
        }
        offset += aux_bytes;
    }
    const uint8_t *data = payload + offset;
    size_t avail = n - offset;
    if (count == 1 && sizes[0] > avail) {
        push_fragment(d, p, data, avail, sizes[0]);
        return;
    }
    drop_fragment(d); /* a whole unit arrived while a fragmented one was unfinished */
    for (size_t i = 0; i < count; i++) {
        if (sizes[i] > avail || sizes[i] == 0) {
            d->dropped += count - i;
            return;
        }
        emit(d, data, sizes[i], p->timestamp + offsets[i] * a->frame_duration, a->frame_duration);
        data += sizes[i];
        avail -= sizes[i];
    }
}

void es_rtp_audio_push(struct es_rtp_audio *d, const struct es_rtp_packet *p, bool lost_before)
{
    if (lost_before) {
        drop_fragment(d);
        d->skip_active = true;
        d->skip_timestamp = p->timestamp;
    }
    if (d->codec == ES_RTP_AUDIO_AAC) {
        push_aac(d, p);
        return;
    }
    /* G.711: one octet per sample at 8 kHz (RFC 3551 section 4.5.14). */
    if (p->payload_size == 0) {
        d->dropped++;
        return;
    }
    emit(d, p->payload, p->payload_size, p->timestamp, (uint32_t)p->payload_size);
}
