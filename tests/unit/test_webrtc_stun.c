/* Unit tests for src/webrtc/stun.c: ICE-lite Binding requests parsed, their
 * MESSAGE-INTEGRITY checked against the right and a wrong password, a
 * tampered FINGERPRINT refused, and the success response carrying the
 * XOR-MAPPED-ADDRESS, integrity and fingerprint a browser checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "webrtc/stun.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <zlib.h>

static const uint8_t txid[ES_STUN_TXID] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
#define PWD "abcdefghijklmnopqrstuvwx"

static size_t request(uint8_t *buf, size_t cap, bool use_candidate, const char *pwd)
{
    return es_stun_write_request(txid, "ours:them", pwd, use_candidate, buf, cap);
}

static void test_stun_request_with_right_password_passes_integrity(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t n = request(buf, sizeof(buf), true, PWD);
    assert_true(n > 0);
    assert_true(es_stun_is(buf, n));
    struct es_stun_request req;
    assert_int_equal(es_stun_parse_request(buf, n, &req), ES_OK);
    assert_int_equal(req.username_len, 9);
    assert_memory_equal(req.username, "ours:them", 9);
    assert_true(req.use_candidate);
    assert_true(req.ice_controlling);
    assert_true(req.has_fingerprint);
    assert_memory_equal(req.txid, txid, ES_STUN_TXID);
    assert_true(es_stun_integrity_ok(buf, n, &req, PWD));
}

static void test_stun_request_with_wrong_password_fails_integrity(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t n = request(buf, sizeof(buf), false, "wrongwrongwrongwrongwron");
    struct es_stun_request req;
    assert_int_equal(es_stun_parse_request(buf, n, &req), ES_OK);
    assert_false(req.use_candidate);
    assert_false(es_stun_integrity_ok(buf, n, &req, PWD));
}

static void test_stun_request_with_flipped_username_byte_fails_integrity(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t n = request(buf, sizeof(buf), false, PWD);
    buf[ES_STUN_HEADER + 4] ^= 1; /* first byte of USERNAME */
    struct es_stun_request req;
    /* FINGERPRINT covers it too: the message is refused before integrity. */
    assert_int_equal(es_stun_parse_request(buf, n, &req), ES_ERR_INVALID);
}

static void test_stun_request_without_integrity_fails_integrity(void **state)
{
    (void)state;
    /* A bare Binding request: header only. */
    uint8_t buf[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42};
    memcpy(buf + 8, txid, ES_STUN_TXID);
    struct es_stun_request req;
    assert_int_equal(es_stun_parse_request(buf, sizeof(buf), &req), ES_OK);
    assert_false(es_stun_integrity_ok(buf, sizeof(buf), &req, PWD));
}

static void test_stun_rejects_truncated_and_non_stun_datagrams(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t n = request(buf, sizeof(buf), false, PWD);
    struct es_stun_request req;
    assert_int_equal(es_stun_parse_request(buf, n - 4, &req), ES_ERR_INVALID);
    assert_int_equal(es_stun_parse_request(buf, 10, &req), ES_ERR_INVALID);
    buf[0] = 0x16; /* a DTLS record */
    assert_false(es_stun_is(buf, n));
    /* An attribute claiming more than the message holds. */
    n = request(buf, sizeof(buf), false, PWD);
    buf[ES_STUN_HEADER + 3] = 0xff;
    assert_int_equal(es_stun_parse_request(buf, n, &req), ES_ERR_INVALID);
}

/* The success response is checked by parsing it as the browser would:
 * integrity keyed with our password, fingerprint, and the mapped address. */
static void test_stun_success_response_carries_xor_mapped_address(void **state)
{
    (void)state;
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(54321)};
    inet_pton(AF_INET, "192.168.1.20", &from.sin_addr);
    uint8_t out[256];
    size_t n = es_stun_write_success(txid, (struct sockaddr *)&from, PWD, out, sizeof(out));
    assert_true(n > 0);
    assert_true(es_stun_is(out, n));
    assert_int_equal(out[0], 0x01);
    assert_int_equal(out[1], 0x01);
    assert_memory_equal(out + 8, txid, ES_STUN_TXID);
    /* XOR-MAPPED-ADDRESS first: type 0x0020, length 8, family 1. */
    assert_int_equal(out[20] << 8 | out[21], 0x0020);
    assert_int_equal(out[25], 0x01);
    assert_int_equal((out[26] << 8 | out[27]) ^ 0x2112, 54321);
    uint32_t ip =
        ((uint32_t)out[28] << 24 | (uint32_t)out[29] << 16 | (uint32_t)out[30] << 8 | out[31]) ^
        0x2112A442u;
    assert_int_equal(ip, ntohl(from.sin_addr.s_addr));
    size_t mi_at = 20 + 4 + 8;
    assert_int_equal(out[mi_at] << 8 | out[mi_at + 1], 0x0008);
    assert_int_equal(out[mi_at + 24] << 8 | out[mi_at + 25], 0x8028);
    assert_int_equal(n, mi_at + 24 + 8);
    /* RFC 8489 §14.5: HMAC-SHA1 over the message up to the attribute, with
     * the length counting MESSAGE-INTEGRITY but not FINGERPRINT. */
    uint8_t copy[256];
    memcpy(copy, out, mi_at);
    copy[2] = 0;
    copy[3] = (uint8_t)(mi_at + 24 - 20);
    unsigned char mac[20];
    unsigned mac_len = 0;
    HMAC(EVP_sha1(), PWD, (int)strlen(PWD), copy, mi_at, mac, &mac_len);
    assert_int_equal(mac_len, 20);
    assert_memory_equal(out + mi_at + 4, mac, 20);
    /* FINGERPRINT: CRC-32 of everything before it, XOR 0x5354554E. */
    uint32_t crc = (uint32_t)crc32(0, out, (uInt)(mi_at + 24)) ^ 0x5354554Eu;
    uint8_t *fp = out + mi_at + 24 + 4;
    assert_int_equal(((uint32_t)fp[0] << 24 | (uint32_t)fp[1] << 16 | (uint32_t)fp[2] << 8 | fp[3]),
                     crc);
}

static void test_stun_success_response_for_ipv6(void **state)
{
    (void)state;
    struct sockaddr_in6 from = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
    inet_pton(AF_INET6, "::1", &from.sin6_addr);
    uint8_t out[256];
    size_t n = es_stun_write_success(txid, (struct sockaddr *)&from, PWD, out, sizeof(out));
    assert_int_equal(n, 20 + 24 + 24 + 8);
    assert_int_equal(out[25], 0x02);
    assert_int_equal(es_stun_write_success(txid, (struct sockaddr *)&from, PWD, out, 40), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stun_request_with_right_password_passes_integrity),
        cmocka_unit_test(test_stun_request_with_wrong_password_fails_integrity),
        cmocka_unit_test(test_stun_request_with_flipped_username_byte_fails_integrity),
        cmocka_unit_test(test_stun_request_without_integrity_fails_integrity),
        cmocka_unit_test(test_stun_rejects_truncated_and_non_stun_datagrams),
        cmocka_unit_test(test_stun_success_response_carries_xor_mapped_address),
        cmocka_unit_test(test_stun_success_response_for_ipv6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
