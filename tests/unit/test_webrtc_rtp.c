/* Unit tests for src/webrtc/rtp_h264.c and rtcp.c: single NAL units, SPS+PPS
 * in one STAP-A in front of every IDR (remembered when the access unit lacks
 * them), FU-A fragments that reassemble (through our own RFC 6184
 * depacketizer, src/source/rtp_h264.c) into the same NAL units, AUD and SEI
 * dropped, and RTCP sender reports and PLI/FIR feedback. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "source/rtp_h264.h"
#include "webrtc/rtcp.h"
#include "webrtc/rtp_h264.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t sps[] = {0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8};
static const uint8_t pps[] = {0x68, 0xce, 0x3c, 0x80};

/* Builds an Annex B access unit: [AUD] [SPS PPS] [SEI] slice of `slice_size`. */
static size_t build_au(uint8_t *out, bool idr, bool with_sets, size_t slice_size)
{
    size_t n = 0;
    static const uint8_t sc[] = {0, 0, 0, 1};
    memcpy(out + n, sc, 4), n += 4;
    out[n++] = 0x09, out[n++] = 0xf0; /* AUD */
    if (with_sets) {
        memcpy(out + n, sc, 4), n += 4;
        memcpy(out + n, sps, sizeof(sps)), n += sizeof(sps);
        memcpy(out + n, sc + 1, 3), n += 3;
        memcpy(out + n, pps, sizeof(pps)), n += sizeof(pps);
    }
    memcpy(out + n, sc, 4), n += 4;
    out[n++] = 0x06, out[n++] = 0x05, out[n++] = 0x01, out[n++] = 0x80; /* SEI */
    memcpy(out + n, sc, 4), n += 4;
    out[n++] = idr ? 0x65 : 0x41;
    for (size_t i = 1; i < slice_size; i++)
        out[n++] = (uint8_t)(i % 251 + 1); /* never 0: no emulated start codes */
    return n;
}

static void test_rtp_small_p_frame_is_one_single_nal_packet(void **state)
{
    (void)state;
    struct es_h264_packetizer p;
    es_h264_packetizer_init(&p);
    struct es_rtp_frame f = {0};
    uint8_t au[2048];
    size_t n = build_au(au, false, false, 500);
    assert_int_equal(es_h264_packetize(&p, au, n, &f), ES_OK);
    assert_int_equal(f.count, 1);
    assert_false(f.idr);
    assert_true(f.payloads[0].marker);
    assert_int_equal(f.payloads[0].size, 500);
    assert_int_equal(f.data[f.payloads[0].offset], 0x41);
    es_rtp_frame_free(&f);
}

static void test_rtp_idr_gets_sps_pps_stap_a_first(void **state)
{
    (void)state;
    struct es_h264_packetizer p;
    es_h264_packetizer_init(&p);
    struct es_rtp_frame f = {0};
    uint8_t au[4096];
    size_t n = build_au(au, true, true, 800);
    assert_int_equal(es_h264_packetize(&p, au, n, &f), ES_OK);
    assert_true(f.idr);
    assert_int_equal(f.count, 2);
    const uint8_t *stap = f.data + f.payloads[0].offset;
    assert_int_equal(stap[0] & 0x1f, 24);
    assert_int_equal(stap[1] << 8 | stap[2], sizeof(sps));
    assert_memory_equal(stap + 3, sps, sizeof(sps));
    assert_int_equal(stap[3 + sizeof(sps)] << 8 | stap[4 + sizeof(sps)], sizeof(pps));
    assert_false(f.payloads[0].marker);
    assert_true(f.payloads[1].marker);
    /* The next IDR comes without SPS/PPS: the remembered ones go first. */
    n = build_au(au, true, false, 300);
    assert_int_equal(es_h264_packetize(&p, au, n, &f), ES_OK);
    assert_true(f.idr);
    assert_int_equal(f.count, 2);
    assert_int_equal(f.data[f.payloads[0].offset] & 0x1f, 24);
    es_rtp_frame_free(&f);
}

struct reassembled {
    uint8_t data[200000];
    size_t size;
    int count;
    bool key;
};

static void collect(void *opaque, const struct es_rtp_h264_au *au)
{
    struct reassembled *r = opaque;
    assert_true(au->size <= sizeof(r->data));
    memcpy(r->data, au->data, au->size);
    r->size = au->size;
    r->key = au->key;
    r->count++;
}

static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return true;
    return false;
}

static void test_rtp_large_idr_splits_into_fu_a_that_reassembles(void **state)
{
    (void)state;
    struct es_h264_packetizer p;
    es_h264_packetizer_init(&p);
    struct es_rtp_frame f = {0};
    size_t slice = 50000;
    uint8_t *au = malloc(slice + 256);
    size_t n = build_au(au, true, true, slice);
    assert_int_equal(es_h264_packetize(&p, au, n, &f), ES_OK);
    /* STAP-A, then ceil((50000 - 1) / 1186) fragments. */
    size_t fragments = (slice - 1 + 1185) / 1186;
    assert_int_equal(f.count, 1 + fragments);
    for (size_t i = 1; i < f.count; i++) {
        const uint8_t *fu = f.data + f.payloads[i].offset;
        assert_true(f.payloads[i].size <= ES_RTP_MAX_PAYLOAD);
        assert_int_equal(fu[0], (0x65 & 0xE0) | 28);
        assert_int_equal(fu[1] & 0x1f, 5);
        assert_int_equal(!!(fu[1] & 0x80), i == 1);           /* S */
        assert_int_equal(!!(fu[1] & 0x40), i == f.count - 1); /* E */
        assert_int_equal(f.payloads[i].marker, i == f.count - 1);
    }
    /* Through the daemon's own depacketizer: the slice comes back intact. */
    struct reassembled *r = calloc(1, sizeof(*r));
    struct es_rtp_h264 *d = es_rtp_h264_create(sizeof(r->data), collect, r);
    for (size_t i = 0; i < f.count; i++) {
        struct es_rtp_packet pkt = {
            .payload_type = 96,
            .marker = f.payloads[i].marker,
            .seq = (uint16_t)(1000 + i),
            .timestamp = 90000,
            .ssrc = 1,
            .payload = f.data + f.payloads[i].offset,
            .payload_size = f.payloads[i].size,
        };
        es_rtp_h264_push(d, &pkt, false);
    }
    assert_int_equal(r->count, 1);
    assert_true(r->key);
    const uint8_t *slice_start = au + n - slice;
    assert_true(contains(r->data, r->size, slice_start, slice));
    assert_true(contains(r->data, r->size, sps, sizeof(sps)));
    assert_true(contains(r->data, r->size, pps, sizeof(pps)));
    static const uint8_t sei[] = {0x06, 0x05, 0x01, 0x80};
    assert_false(contains(r->data, r->size, sei, sizeof(sei)));
    es_rtp_h264_destroy(d);
    free(r);
    free(au);
    es_rtp_frame_free(&f);
}

static void test_rtp_access_unit_without_slices_is_refused(void **state)
{
    (void)state;
    struct es_h264_packetizer p;
    es_h264_packetizer_init(&p);
    struct es_rtp_frame f = {0};
    static const uint8_t aud_only[] = {0, 0, 0, 1, 0x09, 0xf0};
    assert_int_equal(es_h264_packetize(&p, aud_only, sizeof(aud_only), &f), ES_ERR_INVALID);
    assert_int_equal(es_h264_packetize(&p, aud_only, 2, &f), ES_ERR_INVALID);
    es_rtp_frame_free(&f);
}

static void test_rtcp_sender_report_and_feedback(void **state)
{
    (void)state;
    uint8_t buf[128];
    size_t n = es_rtcp_write_sr(buf, sizeof(buf), 0x01020304, 1700000000500000LL, 90000, 7, 7000,
                                "edgestream");
    assert_true(n > 28);
    assert_int_equal(n % 4, 0);
    assert_true(es_rtcp_is(buf, n));
    assert_int_equal(buf[1], 200);
    /* NTP seconds: Unix + 2208988800; fraction of 0.5 s is 2^31. */
    uint32_t secs =
        (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11];
    assert_int_equal(secs, (uint32_t)(1700000000ULL + 2208988800ULL));
    assert_int_equal(buf[12], 0x80);
    assert_int_equal(buf[29], 202); /* SDES follows */
    struct es_rtcp_feedback fb = {0};
    assert_true(es_rtcp_parse(buf, n, &fb));
    assert_int_equal(fb.pli + fb.fir, 0);

    /* RR + PLI (PSFB fmt 1) + FIR (PSFB fmt 4), as Chrome sends them. */
    uint8_t c[8 + 12 + 20] = {
        0x80, 201, 0, 1, 0, 0, 0, 1, 0x81, 206, 0, 2, 0, 0, 0, 1, 1, 2, 3, 4,
        0x84, 206, 0, 4, 0, 0, 0, 1, 0,    0,   0, 0, 1, 2, 3, 4, 9, 0, 0, 0,
    };
    memset(&fb, 0, sizeof(fb));
    assert_true(es_rtcp_parse(c, sizeof(c), &fb));
    assert_int_equal(fb.receiver_reports, 1);
    assert_int_equal(fb.pli, 1);
    assert_int_equal(fb.fir, 1);
    assert_false(es_rtcp_parse(c, sizeof(c) - 1, &fb)); /* truncated */
    assert_false(es_rtcp_is(c, 4));
}

/* RR report blocks (RFC 3550 §6.4.2): the cumulative loss per SSRC, as the
 * passthrough keyframe gate reads it; a negative count (duplicates) keeps its
 * sign. */
static void test_rtcp_receiver_report_blocks_carry_the_loss_count(void **state)
{
    (void)state;
    uint8_t rr[8 + 2 * 24] = {0x82, 201, 0, 13, 0xaa, 0xbb, 0xcc, 0xdd};
    uint8_t *b = rr + 8;
    b[0] = 0x11, b[1] = 0x22, b[2] = 0x33, b[3] = 0x44; /* video SSRC */
    b[4] = 26;                                          /* ~10 % of 256 */
    b[5] = 0x00, b[6] = 0x01, b[7] = 0x02;              /* 258 lost */
    b[8] = 0x00, b[9] = 0x01, b[10] = 0x23, b[11] = 0x45; /* highest: cycle 1, 0x2345 */
    b += 24;
    b[0] = 0x55, b[1] = 0x66, b[2] = 0x77, b[3] = 0x88; /* audio SSRC */
    b[5] = 0xff, b[6] = 0xff, b[7] = 0xfe;              /* -2: duplicates */
    struct es_rtcp_feedback fb = {0};
    assert_true(es_rtcp_parse(rr, sizeof(rr), &fb));
    assert_int_equal(fb.receiver_reports, 1);
    assert_int_equal(fb.block_count, 2);
    assert_int_equal(fb.blocks[0].ssrc, 0x11223344);
    assert_int_equal(fb.blocks[0].fraction_lost, 26);
    assert_int_equal(fb.blocks[0].cumulative_lost, 258);
    assert_int_equal(fb.blocks[0].highest_seq, 0x00012345);
    assert_int_equal(fb.blocks[1].ssrc, 0x55667788);
    assert_int_equal(fb.blocks[1].cumulative_lost, -2);
    /* A report count larger than the packet holds reads only what is there. */
    rr[0] = 0x85;
    memset(&fb, 0, sizeof(fb));
    assert_true(es_rtcp_parse(rr, sizeof(rr), &fb));
    assert_int_equal(fb.block_count, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rtp_small_p_frame_is_one_single_nal_packet),
        cmocka_unit_test(test_rtp_idr_gets_sps_pps_stap_a_first),
        cmocka_unit_test(test_rtp_large_idr_splits_into_fu_a_that_reassembles),
        cmocka_unit_test(test_rtp_access_unit_without_slices_is_refused),
        cmocka_unit_test(test_rtcp_sender_report_and_feedback),
        cmocka_unit_test(test_rtcp_receiver_report_blocks_carry_the_loss_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
