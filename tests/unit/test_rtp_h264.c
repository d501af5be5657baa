/* Unit tests for src/source/rtp_h264.c: RFC 6184 reassembly (single NAL unit,
 * STAP-A, FU-A), access unit boundaries by marker bit and by timestamp, loss
 * handling (damaged units dropped, then everything until an IDR), malformed
 * payloads, sprop-parameter-sets and SPS dimensions of real encoders. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "source/rtp_h264.h"

#include <libavutil/base64.h>
#include <libavutil/mem.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_UNITS 16

struct sink {
    size_t count;
    uint8_t *data[MAX_UNITS];
    size_t size[MAX_UNITS];
    uint32_t timestamp[MAX_UNITS];
    bool key[MAX_UNITS];
};

static void collect(void *opaque, const struct es_rtp_h264_au *au)
{
    struct sink *s = opaque;
    assert_true(s->count < MAX_UNITS);
    s->data[s->count] = malloc(au->size);
    memcpy(s->data[s->count], au->data, au->size);
    s->size[s->count] = au->size;
    s->timestamp[s->count] = au->timestamp;
    s->key[s->count] = au->key;
    s->count++;
}

static void sink_free(struct sink *s)
{
    for (size_t i = 0; i < s->count; i++)
        free(s->data[i]);
    memset(s, 0, sizeof(*s));
}

static void push(struct es_rtp_h264 *d, const uint8_t *payload, size_t n, uint32_t ts, bool marker,
                 bool lost)
{
    struct es_rtp_packet p = {.payload_type = 96,
                              .marker = marker,
                              .timestamp = ts,
                              .payload = payload,
                              .payload_size = n};
    es_rtp_h264_push(d, &p, lost);
}

static const uint8_t sps[] = {0x67, 0x42, 0xc0, 0x1f, 0xda};
static const uint8_t pps[] = {0x68, 0xce, 0x3c, 0x80};
static const uint8_t idr[] = {0x65, 0x88, 0x84, 0x00, 0x10};
static const uint8_t p_slice[] = {0x41, 0x9a, 0x02, 0x03};

/* SPS and PPS in one STAP-A (RFC 6184 section 5.7.1). */
static size_t make_stap_a(uint8_t *out)
{
    size_t n = 0;
    out[n++] = 0x18; /* F=0, NRI=0, type 24 */
    out[n++] = 0;
    out[n++] = sizeof(sps);
    memcpy(out + n, sps, sizeof(sps));
    n += sizeof(sps);
    out[n++] = 0;
    out[n++] = sizeof(pps);
    memcpy(out + n, pps, sizeof(pps));
    return n + sizeof(pps);
}

/* Pushes an IDR as STAP-A(SPS, PPS) + FU-A in three fragments. */
static void push_idr_unit(struct es_rtp_h264 *d, uint32_t ts)
{
    uint8_t stap[32];
    push(d, stap, make_stap_a(stap), ts, false, false);
    const uint8_t fu1[] = {0x7c, 0x85, 0x88, 0x84}; /* NRI 3, type 28; S, type 5 */
    const uint8_t fu2[] = {0x7c, 0x05, 0x00};
    const uint8_t fu3[] = {0x7c, 0x45, 0x10}; /* E */
    push(d, fu1, sizeof(fu1), ts, false, false);
    push(d, fu2, sizeof(fu2), ts, false, false);
    push(d, fu3, sizeof(fu3), ts, true, false);
}

static const uint8_t expected_idr_unit[] = {
    0,    0,    0,    1,    0x67, 0x42, 0xc0, 0x1f, 0xda, 0,    0,    0,    1,
    0x68, 0xce, 0x3c, 0x80, 0,    0,    0,    1,    0x65, 0x88, 0x84, 0x00, 0x10,
};

/* ---- Reassembly ---- */

static void test_h264_reassembles_stap_a_and_fu_a_into_one_annex_b_keyframe(void **state)
{
    (void)state;
    struct sink s = {0};
    struct es_rtp_h264 *d = es_rtp_h264_create(1 << 20, collect, &s);
    push_idr_unit(d, 1000);
    assert_int_equal(s.count, 1);
    assert_true(s.key[0]);
    assert_int_equal(s.timestamp[0], 1000);
    assert_int_equal(s.size[0], sizeof(expected_idr_unit));
    assert_memory_equal(s.data[0], expected_idr_unit, sizeof(expected_idr_unit));
    sink_free(&s);
    es_rtp_h264_destroy(d);
}

static void test_h264_emits_single_nal_units_with_start_codes_and_no_key_flag(void **state)
{
    (void)state;
    struct sink s = {0};
    struct es_rtp_h264 *d = es_rtp_h264_create(1 << 20, collect, &s);
    push_idr_unit(d, 0);
    push(d, p_slice, sizeof(p_slice), 3600, true, false);
    assert_int_equal(s.count, 2);
    assert_false(s.key[1]);
    const uint8_t expected[] = {0, 0, 0, 1, 0x41, 0x9a, 0x02, 0x03};
    assert_int_equal(s.size[1], sizeof(expected));
    assert_memory_equal(s.data[1], expected, sizeof(expected));
    sink_free(&s);
    es_rtp_h264_destroy(d);
}

static void test_h264_ends_a_unit_when_the_timestamp_changes_without_a_marker(void **state)
{
    (void)state;
    struct sink s = {0};
    struct es_rtp_h264 *d = es_rtp_h264_create(1 << 20, collect, &s);
    push(d, sps, sizeof(sps), 0, false, false);
    push(d, idr, sizeof(idr), 0, false, false);
    assert_int_equal(s.count, 0);
    push(d, p_slice, sizeof(p_slice), 3600, false, false);
    assert_int_equal(s.count, 1);
    assert_true(s.key[0]);
    assert_int_equal(s.timestamp[0], 0);
    push(d, p_slice, sizeof(p_slice), 7200, false, false);
    assert_int_equal(s.count, 2);
    assert_int_equal(s.timestamp[1], 3600);
    sink_free(&s);
    es_rtp_h264_destroy(d);
}

static void test_h264_carries_parameter_sets_sent_alone_into_the_next_unit(void **state)
{
    (void)state;
    struct sink s = {0};
    struct es_rtp_h264 *d = es_rtp_h264_create(1 << 20, collect, &s);
    uint8_t stap[32];
    push(d, stap, make_stap_a(stap), 0, true, false); /* parameter sets with a marker */
    assert_int_equal(s.count, 0);
    push(d, idr, sizeof(idr), 3600, true, false);
    assert_int_equal(s.count, 1);
    assert_true(s.key[0]);
    assert_int_equal(s.timestamp[0], 3600);
    assert_int_equal(s.size[0], sizeof(expected_idr_unit));
    assert_memory_equal(s.data[0], expected_idr_unit, sizeof(expected_idr_unit));
    sink_free(&s);
    es_rtp_h264_destroy(d);
}

/* ---- Loss ---- */

static void test_h264_waits_for_the_first_idr_before_emitting_anything(void **state)
{
    (void)state;
    struct sink s = {0};
    struct es_rtp_h264 *d = es_rtp_h264_create(1 << 20, collect, &s);
    push(d, p_slice, sizeof(p_slice), 0, true, false);
    push(d, p_slice, sizeof(p_slice), 3600, true, false);
    assert_int_equal(s.count, 0);
    assert_int_equal(es_rtp_h264_stats(d).dropped_until_idr, 2);
    push_idr_unit(d, 7200);
    push(d, p_slice, sizeof(p_slice), 10800, true, false);
    assert_int_equal(s.count, 2);
    assert_true(s.key[0]);
    sink_free(&s);
    es_rtp_h264_destroy(d);
}

static void test_h264_drops_a_unit_that_lost_a_fragment_and_waits_for_the_next_idr(void **state)
{
    (void)state;
    struct sink s = {0};
    struct es_rtp_h264 *d = es_rtp_h264_create(1 << 20, collect, &s);
    push_idr_unit(d, 0);
    /* A P frame whose middle FU-A fragment was lost. */
    const uint8_t fu1[] = {0x5c, 0x81, 0x9a};
    const uint8_t fu3[] = {0x5c, 0x41, 0x03};
    push(d, fu1, sizeof(fu1), 3600, false, false);
    push(d, fu3, sizeof(fu3), 3600, true, true);
    /* Intact P frames after the loss still reference the damaged one. */
    push(d, p_slice, sizeof(p_slice), 7200, true, false);
    push(d, p_slice, sizeof(p_slice), 10800, true, false);
    assert_int_equal(s.count, 1);
    struct es_rtp_h264_stats st = es_rtp_h264_stats(d);
    assert_int_equal(st.dropped_damaged, 1);
    assert_int_equal(st.dropped_until_idr, 2);
    push_idr_unit(d, 14400);
    push(d, p_slice, sizeof(p_slice), 18000, true, false);
    assert_int_equal(s.count, 3);
    assert_true(s.key[1]);
    assert_int_equal(s.timestamp[1], 14400);
    sink_free(&s);
    es_rtp_h264_destroy(d);
}

static void test_h264_drops_both_units_around_a_gap_at_a_timestamp_change(void **state)
{
    (void)state;
    struct sink s = {0};
    struct es_rtp_h264 *d = es_rtp_h264_create(1 << 20, collect, &s);
    push_idr_unit(d, 0);
    /* An IDR without a marker, then a gap: its tail or the next unit's head
     * is missing, so neither may pass. */
    push(d, idr, sizeof(idr), 3600, false, false);
    push(d, idr, sizeof(idr), 7200, true, true);
    assert_int_equal(s.count, 1);
    assert_int_equal(es_rtp_h264_stats(d).dropped_damaged, 2);
    sink_free(&s);
    es_rtp_h264_destroy(d);
}

static void test_h264_drops_a_fragment_without_its_start_and_a_start_without_its_end(void **state)
{
    (void)state;
    struct sink s = {0};
    struct es_rtp_h264 *d = es_rtp_h264_create(1 << 20, collect, &s);
    push_idr_unit(d, 0);
    const uint8_t middle[] = {0x7c, 0x05, 0x00};
    push(d, middle, sizeof(middle), 3600, true, false);
    const uint8_t start[] = {0x7c, 0x85, 0x88};
    push(d, start, sizeof(start), 7200, true, false); /* marker inside the NAL unit */
    assert_int_equal(s.count, 1);
    assert_int_equal(es_rtp_h264_stats(d).dropped_damaged, 2);
    sink_free(&s);
    es_rtp_h264_destroy(d);
}

static void test_h264_drops_interleaved_mode_packets_and_malformed_stap_a(void **state)
{
    (void)state;
    struct sink s = {0};
    struct es_rtp_h264 *d = es_rtp_h264_create(1 << 20, collect, &s);
    push_idr_unit(d, 0);
    const uint8_t fu_b[] = {0x7d, 0x85, 0x00, 0x01, 0x88};
    push(d, fu_b, sizeof(fu_b), 3600, true, false);
    const uint8_t stap_b[] = {0x19, 0x00, 0x01, 0x00, 0x02, 0x41, 0x00};
    push(d, stap_b, sizeof(stap_b), 7200, true, false);
    const uint8_t mtap[] = {0x1a, 0x00};
    push(d, mtap, sizeof(mtap), 10800, true, false);
    const uint8_t bad_stap[] = {0x18, 0x00, 0x09, 0x41, 0x00}; /* size past the end */
    push(d, bad_stap, sizeof(bad_stap), 14400, true, false);
    const uint8_t empty_stap[] = {0x18};
    push(d, empty_stap, sizeof(empty_stap), 18000, true, false);
    const uint8_t forbidden[] = {0xc1, 0x00};
    push(d, forbidden, sizeof(forbidden), 21600, true, false);
    assert_int_equal(s.count, 1);
    assert_int_equal(es_rtp_h264_stats(d).dropped_damaged, 6);
    sink_free(&s);
    es_rtp_h264_destroy(d);
}

static void test_h264_ignores_undefined_nal_types(void **state)
{
    (void)state;
    struct sink s = {0};
    struct es_rtp_h264 *d = es_rtp_h264_create(1 << 20, collect, &s);
    push_idr_unit(d, 0);
    const uint8_t undefined[] = {0x1e, 0x01}; /* type 30 */
    push(d, undefined, sizeof(undefined), 3600, false, false);
    push(d, p_slice, sizeof(p_slice), 3600, true, false);
    assert_int_equal(s.count, 2);
    assert_int_equal(s.size[1], 4 + sizeof(p_slice));
    sink_free(&s);
    es_rtp_h264_destroy(d);
}

static void test_h264_drops_units_larger_than_the_maximum(void **state)
{
    (void)state;
    struct sink s = {0};
    struct es_rtp_h264 *d = es_rtp_h264_create(64, collect, &s);
    push_idr_unit(d, 0);
    uint8_t big[100] = {0x65};
    push(d, big, sizeof(big), 3600, true, false);
    assert_int_equal(s.count, 1);
    assert_int_equal(es_rtp_h264_stats(d).dropped_damaged, 1);
    push_idr_unit(d, 7200);
    assert_int_equal(s.count, 2);
    sink_free(&s);
    es_rtp_h264_destroy(d);
}

static void test_h264_reset_forgets_the_partial_unit_and_waits_for_an_idr(void **state)
{
    (void)state;
    struct sink s = {0};
    struct es_rtp_h264 *d = es_rtp_h264_create(1 << 20, collect, &s);
    push_idr_unit(d, 0);
    push(d, p_slice, sizeof(p_slice), 3600, false, false);
    es_rtp_h264_reset(d);
    push(d, p_slice, sizeof(p_slice), 90, true, false);
    assert_int_equal(s.count, 1);
    push_idr_unit(d, 3690);
    assert_int_equal(s.count, 2);
    assert_int_equal(s.size[1], sizeof(expected_idr_unit));
    sink_free(&s);
    es_rtp_h264_destroy(d);
}

/* ---- sprop-parameter-sets and SPS ---- */

static void assert_sps(const char *sprop, int width, int height, int profile)
{
    uint8_t *annexb;
    size_t size;
    assert_int_equal(es_rtp_h264_sprop_to_annexb(sprop, &annexb, &size), ES_OK);
    struct es_rtp_h264_sps sps_info;
    assert_int_equal(es_rtp_h264_parse_sps(annexb, size, &sps_info), ES_OK);
    assert_int_equal(sps_info.width, width);
    assert_int_equal(sps_info.height, height);
    assert_int_equal(sps_info.profile_idc, profile);
    av_free(annexb);
}

static void test_sprop_decodes_to_annex_b_with_four_byte_start_codes(void **state)
{
    (void)state;
    uint8_t *annexb;
    size_t size;
    assert_int_equal(es_rtp_h264_sprop_to_annexb(
                         "Z0LAH9oBQBbsBagICAoAAAMAAgAAAwBlHjBlQA==,aM48gA==", &annexb, &size),
                     ES_OK);
    assert_int_equal(size, 4 + 28 + 4 + 4);
    const uint8_t head[] = {0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f};
    const uint8_t tail[] = {0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80};
    assert_memory_equal(annexb, head, sizeof(head));
    assert_memory_equal(annexb + size - 8, tail, sizeof(tail));
    av_free(annexb);
}

static void test_sprop_rejects_bad_base64_and_empty_units(void **state)
{
    (void)state;
    uint8_t *annexb;
    size_t size;
    assert_int_equal(es_rtp_h264_sprop_to_annexb("Z0LA!!", &annexb, &size), ES_ERR_INVALID);
    assert_null(annexb);
    assert_int_equal(es_rtp_h264_sprop_to_annexb("Z0LAHw==,,aM48gA==", &annexb, &size),
                     ES_ERR_INVALID);
    assert_int_equal(es_rtp_h264_sprop_to_annexb("", &annexb, &size), ES_ERR_INVALID);
}

static void test_sps_gives_the_dimensions_of_real_encoders(void **state)
{
    (void)state;
    /* The test camera (x264 via GStreamer, constrained baseline 720p). */
    assert_sps("Z0LAH9oBQBbsBagICAoAAAMAAgAAAwBlHjBlQA==", 1280, 720, 66);
    /* libx264 High 1080p: 1088 coded lines cropped to 1080. */
    assert_sps("Z2QAKKzZQHgCJ+XARAAAAwAEAAADAMg8YMZY", 1920, 1080, 100);
    /* libx264 High 4:4:4 at 1366x766: crop units of one pixel. */
    assert_sps("Z/QAIJGbKArAw8XeAiAAAAMAIAAABkHjBjLA", 1366, 766, 244);
    /* libx264 Main 640x360. */
    assert_sps("Z01AHuygUBf8uAiAAAADAIAAABkHixbL", 640, 360, 77);
}

static void test_sps_rejects_truncated_and_missing_parameter_sets(void **state)
{
    (void)state;
    struct es_rtp_h264_sps info;
    const uint8_t truncated[] = {0, 0, 0, 1, 0x67, 0x42, 0xc0};
    assert_int_equal(es_rtp_h264_parse_sps(truncated, sizeof(truncated), &info), ES_ERR_INVALID);
    const uint8_t only_pps[] = {0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80};
    assert_int_equal(es_rtp_h264_parse_sps(only_pps, sizeof(only_pps), &info), ES_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h264_reassembles_stap_a_and_fu_a_into_one_annex_b_keyframe),
        cmocka_unit_test(test_h264_emits_single_nal_units_with_start_codes_and_no_key_flag),
        cmocka_unit_test(test_h264_ends_a_unit_when_the_timestamp_changes_without_a_marker),
        cmocka_unit_test(test_h264_carries_parameter_sets_sent_alone_into_the_next_unit),
        cmocka_unit_test(test_h264_waits_for_the_first_idr_before_emitting_anything),
        cmocka_unit_test(test_h264_drops_a_unit_that_lost_a_fragment_and_waits_for_the_next_idr),
        cmocka_unit_test(test_h264_drops_both_units_around_a_gap_at_a_timestamp_change),
        cmocka_unit_test(test_h264_drops_a_fragment_without_its_start_and_a_start_without_its_end),
        cmocka_unit_test(test_h264_drops_interleaved_mode_packets_and_malformed_stap_a),
        cmocka_unit_test(test_h264_ignores_undefined_nal_types),
        cmocka_unit_test(test_h264_drops_units_larger_than_the_maximum),
        cmocka_unit_test(test_h264_reset_forgets_the_partial_unit_and_waits_for_an_idr),
        cmocka_unit_test(test_sprop_decodes_to_annex_b_with_four_byte_start_codes),
        cmocka_unit_test(test_sprop_rejects_bad_base64_and_empty_units),
        cmocka_unit_test(test_sps_gives_the_dimensions_of_real_encoders),
        cmocka_unit_test(test_sps_rejects_truncated_and_missing_parameter_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
