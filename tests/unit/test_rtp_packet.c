/* Unit tests for src/source/rtp_packet.c: the RTP fixed header (CSRCs,
 * extension, padding, malformed lengths), sequence gaps, 32-bit timestamp
 * unwrapping, and RTCP sender reports mapping RTP time to wall time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "source/rtp_packet.h"

#include <stdint.h>
#include <string.h>

/* ---- RTP header ---- */

static void test_rtp_header_gives_fields_and_payload(void **state)
{
    (void)state;
    const uint8_t pkt[] = {0x80, 0xe0, 0x12, 0x34, 0xde, 0xad, 0xbe,
                           0xef, 0x01, 0x02, 0x03, 0x04, 0xaa, 0xbb};
    struct es_rtp_packet p;
    assert_int_equal(es_rtp_packet_parse(pkt, sizeof(pkt), &p), ES_OK);
    assert_true(p.marker);
    assert_int_equal(p.payload_type, 96);
    assert_int_equal(p.seq, 0x1234);
    assert_int_equal(p.timestamp, 0xdeadbeefu);
    assert_int_equal(p.ssrc, 0x01020304u);
    assert_int_equal(p.payload_size, 2);
    assert_int_equal(p.payload[0], 0xaa);
}

static void test_rtp_header_skips_csrcs_extension_and_padding(void **state)
{
    (void)state;
    const uint8_t pkt[] = {
        0xb1, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, /* P, X, CC=1 */
        9,    9,    9, 9,                         /* CSRC */
        0xbe, 0xde, 0, 1, 7, 7, 7, 7,             /* extension of one word */
        0x55, 0x66, 0, 2,                         /* payload, then 2 bytes padding */
    };
    struct es_rtp_packet p;
    assert_int_equal(es_rtp_packet_parse(pkt, sizeof(pkt), &p), ES_OK);
    assert_int_equal(p.payload_size, 2);
    assert_int_equal(p.payload[0], 0x55);
    assert_int_equal(p.payload[1], 0x66);
}

static void test_rtp_header_rejects_bad_versions_and_lengths(void **state)
{
    (void)state;
    struct es_rtp_packet p;
    uint8_t pkt[16] = {0x80, 0x60};
    assert_int_equal(es_rtp_packet_parse(pkt, 11, &p), ES_ERR_INVALID);
    pkt[0] = 0x40; /* version 1 */
    assert_int_equal(es_rtp_packet_parse(pkt, 12, &p), ES_ERR_INVALID);
    pkt[0] = 0x8f; /* 15 CSRCs in 16 bytes */
    assert_int_equal(es_rtp_packet_parse(pkt, 16, &p), ES_ERR_INVALID);
    pkt[0] = 0x90; /* extension header missing */
    assert_int_equal(es_rtp_packet_parse(pkt, 14, &p), ES_ERR_INVALID);
    pkt[0] = 0x90;
    pkt[14] = 0xff; /* extension longer than the packet */
    assert_int_equal(es_rtp_packet_parse(pkt, 16, &p), ES_ERR_INVALID);
    memset(pkt, 0, sizeof(pkt));
    pkt[0] = 0xa0;
    pkt[15] = 5; /* padding larger than the payload */
    assert_int_equal(es_rtp_packet_parse(pkt, 16, &p), ES_ERR_INVALID);
    pkt[15] = 0; /* zero padding count */
    assert_int_equal(es_rtp_packet_parse(pkt, 16, &p), ES_ERR_INVALID);
}

/* ---- Sequence numbers ---- */

static void test_sequence_numbers_report_gaps_duplicates_and_wrap(void **state)
{
    (void)state;
    struct es_rtp_seq s = {0};
    assert_int_equal(es_rtp_packet_check_seq(&s, 65534), ES_RTP_SEQ_IN_ORDER);
    assert_int_equal(es_rtp_packet_check_seq(&s, 65535), ES_RTP_SEQ_IN_ORDER);
    assert_int_equal(es_rtp_packet_check_seq(&s, 0), ES_RTP_SEQ_IN_ORDER);
    assert_int_equal(es_rtp_packet_check_seq(&s, 0), ES_RTP_SEQ_DUPLICATE);
    assert_int_equal(es_rtp_packet_check_seq(&s, 3), ES_RTP_SEQ_GAP);
    assert_int_equal(es_rtp_packet_check_seq(&s, 4), ES_RTP_SEQ_IN_ORDER);
    /* A large jump back is a restarted sequence, not 60000 duplicates. */
    assert_int_equal(es_rtp_packet_check_seq(&s, 5000), ES_RTP_SEQ_GAP);
    assert_int_equal(es_rtp_packet_check_seq(&s, 4000), ES_RTP_SEQ_GAP);
    assert_int_equal(es_rtp_packet_check_seq(&s, 4001), ES_RTP_SEQ_IN_ORDER);
}

/* ---- Timestamps ---- */

static void test_timestamps_unwrap_past_32_bits_both_ways(void **state)
{
    (void)state;
    struct es_rtp_unwrap u = {0};
    assert_int_equal(es_rtp_packet_unwrap(&u, 0xffff0000u), 0xffff0000LL);
    assert_int_equal(es_rtp_packet_unwrap(&u, 0x00001000u), 0x100001000LL);
    assert_int_equal(es_rtp_packet_unwrap(&u, 0xfffff000u), 0xfffff000LL); /* slightly back */
    assert_int_equal(es_rtp_packet_unwrap(&u, 0x90000000u), 0x90000000LL);
    assert_int_equal(es_rtp_packet_unwrap(&u, 0x00000000u), 0x100000000LL);
    /* Many wraps at 90 kHz (13 h each) keep counting up. */
    int64_t last = 0;
    for (int i = 0; i < 20; i++)
        last = es_rtp_packet_unwrap(&u, (uint32_t)(0x40000000u * (uint32_t)i));
    assert_int_equal(last, 0x100000000LL + 19LL * 0x40000000LL);
}

/* ---- Sender reports ---- */

static size_t make_sr(uint8_t *out, uint32_t ssrc, uint64_t ntp, uint32_t rtp)
{
    const uint8_t head[] = {0x80, 200, 0, 6};
    memcpy(out, head, 4);
    for (int i = 0; i < 4; i++) {
        out[4 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
        out[8 + i] = (uint8_t)(ntp >> (56 - 8 * i));
        out[12 + i] = (uint8_t)(ntp >> (24 - 8 * i));
        out[16 + i] = (uint8_t)(rtp >> (24 - 8 * i));
    }
    memset(out + 20, 0, 8); /* packet and octet counts */
    return 28;
}

static void test_sender_report_maps_rtp_time_to_unix_microseconds(void **state)
{
    (void)state;
    /* 2026-11-24T14:35:00.5Z as NTP: Unix seconds + 2208988800, fraction 0.5. */
    uint64_t ntp = ((uint64_t)(1795530900u + 2208988800u) << 32) | 0x80000000u;
    uint8_t buf[128];
    /* A compound packet: an RR of no reports, then the SR, then an SDES. */
    const uint8_t rr[] = {0x80, 201, 0, 1, 0, 0, 0, 9};
    memcpy(buf, rr, sizeof(rr));
    size_t n = sizeof(rr) + make_sr(buf + sizeof(rr), 0x1234, ntp, 1000);
    const uint8_t sdes[] = {0x81, 202, 0, 1, 0, 0, 0, 9};
    memcpy(buf + n, sdes, sizeof(sdes));
    n += sizeof(sdes);

    struct es_rtp_sender_report sr;
    assert_int_equal(es_rtp_packet_parse_sr(buf, n, &sr), ES_OK);
    assert_int_equal(sr.ssrc, 0x1234);
    assert_int_equal(sr.rtp_timestamp, 1000);
    assert_int_equal(es_rtp_packet_ntp_to_unix_us(sr.ntp), 1795530900500000LL);
    /* One second of 90 kHz later, and 40 ms earlier. */
    assert_int_equal(es_rtp_packet_wall_us(&sr, 90000, 91000), 1795530901500000LL);
    assert_int_equal(es_rtp_packet_wall_us(&sr, 90000, 1000 - 3600), 1795530900460000LL);
    /* Across the 32-bit wrap of the RTP clock. */
    sr.rtp_timestamp = 0xffffff00u;
    assert_int_equal(es_rtp_packet_wall_us(&sr, 48000, 0x00000100u),
                     1795530900500000LL + 512 * 1000000LL / 48000);
}

static void test_sender_report_is_absent_or_invalid_in_other_rtcp(void **state)
{
    (void)state;
    struct es_rtp_sender_report sr;
    const uint8_t rr[] = {0x80, 201, 0, 1, 0, 0, 0, 9};
    assert_int_equal(es_rtp_packet_parse_sr(rr, sizeof(rr), &sr), ES_ERR_NOT_FOUND);
    const uint8_t too_long[] = {0x80, 200, 0, 9, 0, 0, 0, 9};
    assert_int_equal(es_rtp_packet_parse_sr(too_long, sizeof(too_long), &sr), ES_ERR_INVALID);
    const uint8_t short_sr[] = {0x80, 200, 0, 1, 0, 0, 0, 9};
    assert_int_equal(es_rtp_packet_parse_sr(short_sr, sizeof(short_sr), &sr), ES_ERR_NOT_FOUND);
    const uint8_t bad_version[] = {0x40, 200, 0, 1, 0, 0, 0, 9};
    assert_int_equal(es_rtp_packet_parse_sr(bad_version, sizeof(bad_version), &sr), ES_ERR_INVALID);
    assert_int_equal(es_rtp_packet_parse_sr(rr, 3, &sr), ES_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rtp_header_gives_fields_and_payload),
        cmocka_unit_test(test_rtp_header_skips_csrcs_extension_and_padding),
        cmocka_unit_test(test_rtp_header_rejects_bad_versions_and_lengths),
        cmocka_unit_test(test_sequence_numbers_report_gaps_duplicates_and_wrap),
        cmocka_unit_test(test_timestamps_unwrap_past_32_bits_both_ways),
        cmocka_unit_test(test_sender_report_maps_rtp_time_to_unix_microseconds),
        cmocka_unit_test(test_sender_report_is_absent_or_invalid_in_other_rtcp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
