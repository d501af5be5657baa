/* Unit tests for src/source/rtp_framer.c: splitting the RTSP-over-TCP stream
 * into interleaved frames and RTSP messages however the bytes arrive (one at
 * a time or in random chunks), resynchronising after noise, enforcing the
 * size bounds, and parsing requests and responses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "source/rtp_framer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A stream mixing everything a camera may send after PLAY. */
static size_t make_stream(uint8_t *out)
{
    size_t n = 0;
    const char *reply = "RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession: abc\r\nRTP-Info: url=x\r\n\r\n";
    memcpy(out + n, reply, strlen(reply));
    n += strlen(reply);
    for (int i = 0; i < 3; i++) {
        out[n++] = '$';
        out[n++] = (uint8_t)i;
        size_t len = 100 + (size_t)i * 1000;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
        memset(out + n, 'A' + i, len);
        n += len;
    }
    const char *announce = "ANNOUNCE rtsp://cam/live RTSP/1.0\r\nCSeq: 9\r\n"
                           "Content-Length: 5\r\n\r\nhello";
    memcpy(out + n, announce, strlen(announce));
    n += strlen(announce);
    const uint8_t empty_frame[] = {'$', 1, 0, 0};
    memcpy(out + n, empty_frame, sizeof(empty_frame));
    n += sizeof(empty_frame);
    const char *keepalive = "RTSP/1.0 200 OK\nCSeq: 6\n\n";
    memcpy(out + n, keepalive, strlen(keepalive));
    return n + strlen(keepalive);
}

struct unit {
    enum es_rtp_frame_kind kind;
    uint8_t channel;
    size_t size;
    uint8_t first;
};

/* Feeds `stream` in chunks drawn by `next_chunk`, as a socket would deliver
 * it, and records the units found. */
static size_t feed(const uint8_t *stream, size_t total, size_t (*next_chunk)(void),
                   struct unit *units, size_t max)
{
    uint8_t *buf = malloc(total);
    size_t len = 0, fed = 0, count = 0;
    while (fed < total || len > 0) {
        if (fed < total) {
            size_t chunk = next_chunk();
            if (chunk > total - fed)
                chunk = total - fed;
            memcpy(buf + len, stream + fed, chunk);
            len += chunk;
            fed += chunk;
        }
        size_t off = 0;
        for (;;) {
            struct es_rtp_frame f;
            assert_int_equal(es_rtp_framer_next(buf + off, len - off, &f), ES_OK);
            if (f.kind == ES_RTP_FRAME_NONE)
                break;
            assert_true(f.consumed > 0 && f.consumed <= len - off);
            if (f.kind != ES_RTP_FRAME_SKIPPED) {
                assert_true(count < max);
                units[count++] = (struct unit){f.kind, f.channel, f.size, f.size ? f.data[0] : 0};
            }
            off += f.consumed;
        }
        memmove(buf, buf + off, len - off);
        len -= off;
        if (fed == total && off == 0)
            break;
    }
    assert_int_equal(len, 0);
    free(buf);
    return count;
}

static void assert_same_units(const struct unit *a, const struct unit *b, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(a[i].kind, b[i].kind);
        assert_int_equal(a[i].channel, b[i].channel);
        assert_int_equal(a[i].size, b[i].size);
        assert_int_equal(a[i].first, b[i].first);
    }
}

static size_t one_byte(void)
{
    return 1;
}

static size_t whole(void)
{
    return 1 << 20;
}

static unsigned seed = 12345;

static size_t random_chunk(void)
{
    seed = seed * 1103515245u + 12345u;
    return 1 + (seed >> 16) % 700;
}

static void test_framer_finds_the_same_units_in_any_chunking(void **state)
{
    (void)state;
    uint8_t stream[8192];
    size_t n = make_stream(stream);
    struct unit reference[16], got[16];
    size_t count = feed(stream, n, whole, reference, 16);
    assert_int_equal(count, 7);
    assert_int_equal(reference[0].kind, ES_RTP_FRAME_MESSAGE);
    assert_int_equal(reference[1].kind, ES_RTP_FRAME_INTERLEAVED);
    assert_int_equal(reference[1].size, 100);
    assert_int_equal(reference[3].channel, 2);
    assert_int_equal(reference[3].size, 2100);
    assert_int_equal(reference[3].first, 'C');
    assert_int_equal(reference[4].kind, ES_RTP_FRAME_MESSAGE);
    assert_int_equal(reference[5].size, 0);
    assert_int_equal(reference[6].kind, ES_RTP_FRAME_MESSAGE);

    assert_int_equal(feed(stream, n, one_byte, got, 16), count);
    assert_same_units(got, reference, count);
    for (int round = 0; round < 50; round++) {
        memset(got, 0, sizeof(got));
        assert_int_equal(feed(stream, n, random_chunk, got, 16), count);
        assert_same_units(got, reference, count);
    }
}

static void test_framer_skips_noise_up_to_the_next_frame(void **state)
{
    (void)state;
    const uint8_t stream[] = {'\r', '\n', 0x00, 0xff, 0x17, 'x', '$', 0, 0, 1, 0x42};
    struct unit got[4];
    assert_int_equal(feed(stream, sizeof(stream), one_byte, got, 4), 1);
    assert_int_equal(got[0].kind, ES_RTP_FRAME_INTERLEAVED);
    assert_int_equal(got[0].first, 0x42);
    /* A text line that is no RTSP start line is noise too. */
    const char text[] = "GARBAGE LINE\r\n$\x01\x00\x01Z";
    assert_int_equal(feed((const uint8_t *)text, sizeof(text) - 1, whole, got, 4), 1);
    assert_int_equal(got[0].channel, 1);
}

static void test_framer_waits_for_the_whole_body_by_content_length(void **state)
{
    (void)state;
    const char *msg = "RTSP/1.0 200 OK\r\nCSeq: 2\r\ncontent-length: 4\r\n\r\nv=0\n";
    struct es_rtp_frame f;
    size_t n = strlen(msg);
    for (size_t len = 0; len < n; len++) {
        assert_int_equal(es_rtp_framer_next((const uint8_t *)msg, len, &f), ES_OK);
        assert_int_equal(f.kind, ES_RTP_FRAME_NONE);
    }
    assert_int_equal(es_rtp_framer_next((const uint8_t *)msg, n, &f), ES_OK);
    assert_int_equal(f.kind, ES_RTP_FRAME_MESSAGE);
    assert_int_equal(f.size, n);
    assert_int_equal(f.header_size, n - 4);
}

static void test_framer_rejects_oversized_headers_and_bodies(void **state)
{
    (void)state;
    size_t n = ES_RTP_FRAMER_MAX_HEADER + 10;
    uint8_t *big = malloc(n);
    memset(big, 'a', n);
    memcpy(big, "RTSP/1.0 200 OK\r\nX: ", 20);
    struct es_rtp_frame f;
    assert_int_equal(es_rtp_framer_next(big, n, &f), ES_ERR_INVALID);
    /* Just under the limit it waits for more. */
    assert_int_equal(es_rtp_framer_next(big, ES_RTP_FRAMER_MAX_HEADER - 1, &f), ES_OK);
    assert_int_equal(f.kind, ES_RTP_FRAME_NONE);
    /* A start line that never ends. */
    memset(big, 'R', n);
    assert_int_equal(es_rtp_framer_next(big, n, &f), ES_ERR_INVALID);
    free(big);
    const char *huge = "RTSP/1.0 200 OK\r\nContent-Length: 999999\r\n\r\n";
    assert_int_equal(es_rtp_framer_next((const uint8_t *)huge, strlen(huge), &f), ES_ERR_INVALID);
    const char *bad = "RTSP/1.0 200 OK\r\nContent-Length: x\r\n\r\n";
    assert_int_equal(es_rtp_framer_next((const uint8_t *)bad, strlen(bad), &f), ES_ERR_INVALID);
}

/* ---- Messages ---- */

static void parse(const char *text, struct es_rtp_message *m)
{
    struct es_rtp_frame f;
    assert_int_equal(es_rtp_framer_next((const uint8_t *)text, strlen(text), &f), ES_OK);
    assert_int_equal(f.kind, ES_RTP_FRAME_MESSAGE);
    assert_int_equal(es_rtp_framer_parse(&f, m), ES_OK);
}

static void test_message_gives_status_headers_and_body(void **state)
{
    (void)state;
    struct es_rtp_message m;
    parse("RTSP/1.0 401 Unauthorized\r\nCSeq: 3\r\n"
          "WWW-Authenticate: Basic realm=\"cam\"\r\n"
          "WWW-Authenticate: Digest realm=\"cam\",\r\n  nonce=\"abc\"\r\n"
          "content-length: 3\r\n\r\nxyz",
          &m);
    assert_true(m.is_response);
    assert_int_equal(m.status, 401);
    assert_int_equal(m.cseq, 3);
    assert_string_equal(es_rtp_framer_header(&m, "www-authenticate", 0), "Basic realm=\"cam\"");
    /* A folded header line continues the previous one. */
    assert_string_equal(es_rtp_framer_header(&m, "WWW-Authenticate", 1),
                        "Digest realm=\"cam\",    nonce=\"abc\"");
    assert_null(es_rtp_framer_header(&m, "WWW-Authenticate", 2));
    assert_int_equal(m.body_size, 3);
    assert_memory_equal(m.body, "xyz", 3);
    es_rtp_framer_clear(&m);
}

static void test_message_parses_server_requests(void **state)
{
    (void)state;
    struct es_rtp_message m;
    parse("SET_PARAMETER rtsp://cam/live RTSP/1.0\r\nCSeq: 12\r\nSession: 77\r\n\r\n", &m);
    assert_false(m.is_response);
    assert_string_equal(m.method, "SET_PARAMETER");
    assert_string_equal(m.uri, "rtsp://cam/live");
    assert_int_equal(m.cseq, 12);
    es_rtp_framer_clear(&m);
}

static void test_message_marks_a_missing_or_bad_cseq(void **state)
{
    (void)state;
    struct es_rtp_message m;
    parse("RTSP/1.0 200 OK\r\n\r\n", &m);
    assert_int_equal(m.cseq, -1);
    es_rtp_framer_clear(&m);
    parse("RTSP/1.0 200 OK\r\nCSeq: 99999999999\r\n\r\n", &m);
    assert_int_equal(m.cseq, -1);
    es_rtp_framer_clear(&m);
    parse("RTSP/1.0 200 OK\r\nCSeq: 4x\r\n\r\n", &m);
    assert_int_equal(m.cseq, -1);
    es_rtp_framer_clear(&m);
}

static void test_message_keeps_only_the_first_headers_past_the_maximum(void **state)
{
    (void)state;
    char text[8192];
    size_t n = (size_t)snprintf(text, sizeof(text), "RTSP/1.0 200 OK\r\n");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "X-%d: %d\r\n", i, i);
    snprintf(text + n, sizeof(text) - n, "CSeq: 1\r\n\r\n");
    struct es_rtp_message m;
    parse(text, &m);
    assert_int_equal(m.header_count, ES_RTP_FRAMER_MAX_HEADERS);
    assert_int_equal(m.cseq, -1); /* beyond the maximum */
    es_rtp_framer_clear(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framer_finds_the_same_units_in_any_chunking),
        cmocka_unit_test(test_framer_skips_noise_up_to_the_next_frame),
        cmocka_unit_test(test_framer_waits_for_the_whole_body_by_content_length),
        cmocka_unit_test(test_framer_rejects_oversized_headers_and_bodies),
        cmocka_unit_test(test_message_gives_status_headers_and_body),
        cmocka_unit_test(test_message_parses_server_requests),
        cmocka_unit_test(test_message_marks_a_missing_or_bad_cseq),
        cmocka_unit_test(test_message_keeps_only_the_first_headers_past_the_maximum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
