/* Unit tests for src/source/rtp_audio.c: RFC 3640 AU headers (one or several
 * access units per packet, fragmented units, optional header fields), loss,
 * AudioSpecificConfig and fmtp parameters, and G.711 passthrough. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "source/rtp_audio.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FRAMES 16

struct sink {
    size_t count;
    uint8_t data[MAX_FRAMES][256];
    size_t size[MAX_FRAMES];
    uint32_t timestamp[MAX_FRAMES], duration[MAX_FRAMES];
};

static void collect(void *opaque, const struct es_rtp_audio_frame *f)
{
    struct sink *s = opaque;
    assert_true(s->count < MAX_FRAMES);
    assert_true(f->size <= sizeof(s->data[0]));
    memcpy(s->data[s->count], f->data, f->size);
    s->size[s->count] = f->size;
    s->timestamp[s->count] = f->timestamp;
    s->duration[s->count] = f->duration;
    s->count++;
}

static void push(struct es_rtp_audio *d, const uint8_t *payload, size_t n, uint32_t ts, bool marker,
                 bool lost)
{
    struct es_rtp_packet p = {.payload_type = 97,
                              .marker = marker,
                              .timestamp = ts,
                              .payload = payload,
                              .payload_size = n};
    es_rtp_audio_push(d, &p, lost);
}

/* AAC-hbr as every camera sends it: 13-bit size, 3-bit index (delta). */
static const struct es_rtp_audio_aac_params hbr = {
    .size_length = 13, .index_length = 3, .index_delta_length = 3, .frame_duration = 1024};

/* Writes an AAC-hbr payload with the given AU sizes, filling AU i with byte i+1. */
static size_t make_hbr(uint8_t *out, const size_t *sizes, size_t count)
{
    out[0] = 0;
    out[1] = (uint8_t)(16 * count);
    size_t n = 2;
    for (size_t i = 0; i < count; i++) {
        out[n++] = (uint8_t)(sizes[i] >> 5);
        out[n++] = (uint8_t)((sizes[i] & 0x1f) << 3); /* index / delta 0 */
    }
    for (size_t i = 0; i < count; i++) {
        memset(out + n, (int)(i + 1), sizes[i]);
        n += sizes[i];
    }
    return n;
}

/* ---- AAC ---- */

static void test_aac_splits_several_access_units_with_consecutive_timestamps(void **state)
{
    (void)state;
    struct sink s = {0};
    struct es_rtp_audio *d = es_rtp_audio_create(ES_RTP_AUDIO_AAC, &hbr, collect, &s);
    uint8_t pkt[256];
    const size_t sizes[] = {10, 20, 5};
    push(d, pkt, make_hbr(pkt, sizes, 3), 0xfffffc00u, true, false);
    assert_int_equal(s.count, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(s.size[i], sizes[i]);
        assert_int_equal(s.data[i][0], i + 1);
        assert_int_equal(s.duration[i], 1024);
    }
    assert_int_equal(s.timestamp[0], 0xfffffc00u);
    assert_int_equal(s.timestamp[1], 0); /* wraps like the RTP clock */
    assert_int_equal(s.timestamp[2], 1024);
    es_rtp_audio_destroy(d);
}

static void test_aac_reassembles_a_fragmented_access_unit(void **state)
{
    (void)state;
    struct sink s = {0};
    struct es_rtp_audio *d = es_rtp_audio_create(ES_RTP_AUDIO_AAC, &hbr, collect, &s);
    /* RFC 3640 section 3.2.3: each fragment repeats the AU header of the whole unit (100). */
    uint8_t pkt[64] = {0x00, 0x10, 100 >> 5, (100 & 0x1f) << 3};
    memset(pkt + 4, 0xaa, 40);
    push(d, pkt, 4 + 40, 5000, false, false);
    memset(pkt + 4, 0xbb, 40);
    push(d, pkt, 4 + 40, 5000, false, false);
    assert_int_equal(s.count, 0);
    memset(pkt + 4, 0xcc, 20);
    push(d, pkt, 4 + 20, 5000, true, false);
    assert_int_equal(s.count, 1);
    assert_int_equal(s.size[0], 100);
    assert_int_equal(s.timestamp[0], 5000);
    assert_int_equal(s.data[0][0], 0xaa);
    assert_int_equal(s.data[0][40], 0xbb);
    assert_int_equal(s.data[0][99], 0xcc);
    es_rtp_audio_destroy(d);
}

static void test_aac_drops_a_fragmented_unit_that_lost_a_piece(void **state)
{
    (void)state;
    struct sink s = {0};
    struct es_rtp_audio *d = es_rtp_audio_create(ES_RTP_AUDIO_AAC, &hbr, collect, &s);
    uint8_t pkt[64] = {0x00, 0x10, 100 >> 5, (100 & 0x1f) << 3};
    push(d, pkt, 4 + 40, 5000, false, false);
    push(d, pkt, 4 + 40, 5000, false, true); /* the middle piece is gone */
    push(d, pkt, 4 + 20, 5000, true, false);
    /* A gap before the middle of a unit: nothing of it may pass either. */
    push(d, pkt, 4 + 40, 6024, false, true);
    push(d, pkt, 4 + 40, 6024, false, false);
    push(d, pkt, 4 + 20, 6024, true, false);
    assert_int_equal(s.count, 0);
    assert_true(es_rtp_audio_dropped(d) >= 2);
    /* Whole units after that are fine. */
    const size_t sizes[] = {7};
    push(d, pkt, make_hbr(pkt, sizes, 1), 7048, true, false);
    assert_int_equal(s.count, 1);
    es_rtp_audio_destroy(d);
}

static void test_aac_drops_packets_whose_headers_overrun_the_payload(void **state)
{
    (void)state;
    struct sink s = {0};
    struct es_rtp_audio *d = es_rtp_audio_create(ES_RTP_AUDIO_AAC, &hbr, collect, &s);
    const uint8_t long_headers[] = {0x01, 0x00, 0x00, 0x08}; /* 256 bits of headers */
    push(d, long_headers, sizeof(long_headers), 0, true, false);
    const uint8_t partial_header[] = {0x00, 0x0c, 0x00, 0x10, 0x01}; /* 12 bits < 16 */
    push(d, partial_header, sizeof(partial_header), 0, true, false);
    const uint8_t two_sizes_too_big[] = {0x00, 0x20, 0x00, 0x10, 0x00, 0x50, 0x11};
    push(d, two_sizes_too_big, sizeof(two_sizes_too_big), 0, true, false);
    const uint8_t zero_header_bits[] = {0x00, 0x00, 0x11};
    push(d, zero_header_bits, sizeof(zero_header_bits), 0, true, false);
    const uint8_t one_byte[] = {0x00};
    push(d, one_byte, sizeof(one_byte), 0, true, false);
    assert_int_equal(s.count, 0);
    assert_true(es_rtp_audio_dropped(d) >= 5);
    es_rtp_audio_destroy(d);
}

static void test_aac_skips_optional_header_fields_and_auxiliary_data(void **state)
{
    (void)state;
    struct sink s = {0};
    /* sizelength 6, indexlength 2, ctsdeltalength 4, randomaccessindication,
     * auxiliarydatasizelength 8 (RFC 3640 sections 3.2.1.1 and 3.2.2). */
    struct es_rtp_audio_aac_params p = {.size_length = 6,
                                        .index_length = 2,
                                        .index_delta_length = 2,
                                        .cts_delta_length = 4,
                                        .random_access_indication = true,
                                        .auxiliary_data_size_length = 8,
                                        .frame_duration = 960};
    struct es_rtp_audio *d = es_rtp_audio_create(ES_RTP_AUDIO_AAC, &p, collect, &s);
    /* Two AU headers of 6+2+1+1 bits (CTS flags 0) = 20 bits:
     * size 3, index 0, cts 0, rap 1 | size 2, delta 1, cts 0, rap 0
     * 000011 00 0 1 | 000010 01 0 0 -> 0000 1100 0100 0010 0100 (pad) */
    const uint8_t pkt[] = {0x00, 20,   0x0c, 0x42, 0x40,
                           0x10, 0xee, 0xee, /* 16 bits of auxiliary data */
                           1,    1,    1,    2,    2};
    push(d, pkt, sizeof(pkt), 100, true, false);
    assert_int_equal(s.count, 2);
    assert_int_equal(s.size[0], 3);
    assert_int_equal(s.size[1], 2);
    assert_int_equal(s.data[1][0], 2);
    assert_int_equal(s.timestamp[0], 100);
    assert_int_equal(s.timestamp[1], 100 + 2 * 960); /* index delta 1: one unit skipped */
    es_rtp_audio_destroy(d);
}

static void test_audio_specific_config_is_read_from_the_fmtp_hex(void **state)
{
    (void)state;
    uint8_t asc[16];
    size_t n;
    struct es_rtp_audio_asc info;
    /* The test camera: AAC LC, 48 kHz, stereo. */
    assert_int_equal(es_rtp_audio_parse_config("119056e500", asc, sizeof(asc), &n, &info), ES_OK);
    assert_int_equal(n, 5);
    assert_int_equal(info.object_type, 2);
    assert_int_equal(info.sample_rate, 48000);
    assert_int_equal(info.channels, 2);
    assert_int_equal(info.frame_length, 1024);
    /* Axis-style 16 kHz mono. */
    assert_int_equal(es_rtp_audio_parse_config("1408", asc, sizeof(asc), &n, &info), ES_OK);
    assert_int_equal(info.sample_rate, 16000);
    assert_int_equal(info.channels, 1);
    /* 960-sample frames (frameLengthFlag). */
    assert_int_equal(es_rtp_audio_parse_config("118c", asc, sizeof(asc), &n, &info), ES_OK);
    assert_int_equal(info.frame_length, 960);
    /* Explicit SBR: core AAC LC at 24 kHz, extension to 48 kHz. */
    assert_int_equal(es_rtp_audio_parse_config("2B1188", asc, sizeof(asc), &n, &info), ES_OK);
    assert_int_equal(info.object_type, 2);
    assert_int_equal(info.sample_rate, 24000);
    assert_int_equal(es_rtp_audio_parse_config("1", asc, sizeof(asc), &n, &info), ES_ERR_INVALID);
    assert_int_equal(es_rtp_audio_parse_config("zz", asc, sizeof(asc), &n, &info), ES_ERR_INVALID);
    assert_int_equal(es_rtp_audio_parse_config("", asc, sizeof(asc), &n, &info), ES_ERR_INVALID);
    assert_int_equal(es_rtp_audio_parse_config("1f", asc, sizeof(asc), &n, &info),
                     ES_ERR_INVALID); /* truncated */
}

static void test_aac_fmtp_gives_the_header_layout_and_frame_duration(void **state)
{
    (void)state;
    struct es_rtp_audio_asc asc = {
        .object_type = 2, .sample_rate = 48000, .channels = 2, .frame_length = 1024};
    struct es_rtp_audio_aac_params p;
    const char *fmtp = "streamtype=5;profile-level-id=2;mode=AAC-hbr;config=119056e500;"
                       "SizeLength=13;IndexLength=3;IndexDeltaLength=3";
    assert_int_equal(es_rtp_audio_aac_params(fmtp, &asc, 48000, &p), ES_OK);
    assert_int_equal(p.size_length, 13);
    assert_int_equal(p.index_length, 3);
    assert_int_equal(p.index_delta_length, 3);
    assert_int_equal(p.frame_duration, 1024);
    /* Implicit SBR: 24 kHz core, RTP clock at the 48 kHz output rate. */
    asc.sample_rate = 24000;
    assert_int_equal(es_rtp_audio_aac_params(fmtp, &asc, 48000, &p), ES_OK);
    assert_int_equal(p.frame_duration, 2048);
    assert_int_equal(
        es_rtp_audio_aac_params("mode=AAC-hbr;sizelength=13;constantDuration=960", &asc, 48000, &p),
        ES_OK);
    assert_int_equal(p.frame_duration, 960);
    assert_int_equal(es_rtp_audio_aac_params("mode=AAC-hbr;config=1190", &asc, 48000, &p),
                     ES_ERR_UNSUPPORTED);
    assert_int_equal(es_rtp_audio_aac_params("sizelength=99", &asc, 48000, &p), ES_ERR_UNSUPPORTED);
    assert_int_equal(es_rtp_audio_aac_params(NULL, &asc, 48000, &p), ES_ERR_UNSUPPORTED);
}

/* ---- G.711 ---- */

static void test_g711_passes_each_packet_through_with_its_sample_count(void **state)
{
    (void)state;
    struct sink s = {0};
    struct es_rtp_audio *d = es_rtp_audio_create(ES_RTP_AUDIO_PCMA, NULL, collect, &s);
    uint8_t samples[160];
    memset(samples, 0xd5, sizeof(samples));
    push(d, samples, sizeof(samples), 8000, false, false);
    push(d, samples, 0, 8160, false, false);
    push(d, samples, 80, 8160, false, true);
    assert_int_equal(s.count, 2);
    assert_int_equal(s.size[0], 160);
    assert_int_equal(s.duration[0], 160);
    assert_int_equal(s.timestamp[1], 8160);
    assert_int_equal(s.duration[1], 80);
    assert_int_equal(es_rtp_audio_dropped(d), 1);
    es_rtp_audio_destroy(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aac_splits_several_access_units_with_consecutive_timestamps),
        cmocka_unit_test(test_aac_reassembles_a_fragmented_access_unit),
        cmocka_unit_test(test_aac_drops_a_fragmented_unit_that_lost_a_piece),
        cmocka_unit_test(test_aac_drops_packets_whose_headers_overrun_the_payload),
        cmocka_unit_test(test_aac_skips_optional_header_fields_and_auxiliary_data),
        cmocka_unit_test(test_audio_specific_config_is_read_from_the_fmtp_hex),
        cmocka_unit_test(test_aac_fmtp_gives_the_header_layout_and_frame_duration),
        cmocka_unit_test(test_g711_passes_each_packet_through_with_its_sample_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
