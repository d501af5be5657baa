/* Unit tests for src/webrtc/dtls.c and srtp.c: a DTLS-SRTP handshake between
 * two in-memory OpenSSL endpoints (our server against our client, each with
 * its own self-signed identity) completes when each side expects the other's
 * certificate fingerprint and fails when the server expects another; the
 * exported keys pair up (server send = client receive) and SRTP/SRTCP
 * protected by one side unprotects on the other; close_notify closes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "webrtc/dtls.h"
#include "webrtc/srtp.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DGRAMS 64

struct wire {
    uint8_t data[MAX_DGRAMS][2048];
    size_t size[MAX_DGRAMS];
    size_t count;
    size_t total;
};

static void to_wire(void *opaque, const uint8_t *data, size_t len)
{
    struct wire *w = opaque;
    assert_true(w->count < MAX_DGRAMS);
    assert_true(len <= 1200); /* the MTU we set: one datagram per write */
    memcpy(w->data[w->count], data, len);
    w->size[w->count++] = len;
    w->total++;
}

static void deliver(struct wire *w, struct es_dtls *to)
{
    size_t count = w->count;
    w->count = 0;
    for (size_t i = 0; i < count; i++)
        es_dtls_feed(to, w->data[i], w->size[i]);
}

struct pair {
    struct es_dtls_identity *server_id, *client_id;
    struct es_dtls *server, *client;
    struct wire to_server, to_client;
};

static void pair_setup(struct pair *p, bool right_fingerprint)
{
    memset(p, 0, sizeof(*p));
    assert_int_equal(es_dtls_identity_create(&p->server_id), ES_OK);
    assert_int_equal(es_dtls_identity_create(&p->client_id), ES_OK);
    const char *client_fp = es_dtls_identity_fingerprint(p->client_id);
    assert_int_equal(strlen(client_fp), 95);
    char wrong[96];
    memcpy(wrong, client_fp, sizeof(wrong));
    wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
    struct es_dtls_config sc = {p->server_id, ES_DTLS_SERVER, right_fingerprint ? client_fp : wrong,
                                to_wire, &p->to_client};
    struct es_dtls_config cc = {p->client_id, ES_DTLS_CLIENT,
                                es_dtls_identity_fingerprint(p->server_id), to_wire, &p->to_server};
    assert_int_equal(es_dtls_create(&sc, &p->server), ES_OK);
    assert_int_equal(es_dtls_create(&cc, &p->client), ES_OK);
}

static void pair_run(struct pair *p)
{
    assert_int_equal(es_dtls_start(p->server), ES_DTLS_HANDSHAKING);
    assert_int_equal(p->to_client.count, 0); /* a passive server waits */
    es_dtls_start(p->client);
    for (int round = 0; round < 20; round++) {
        if (p->to_server.count == 0 && p->to_client.count == 0)
            break;
        deliver(&p->to_server, p->server);
        deliver(&p->to_client, p->client);
    }
}

static void pair_teardown(struct pair *p)
{
    es_dtls_destroy(p->server);
    es_dtls_destroy(p->client);
    es_dtls_identity_destroy(p->server_id);
    es_dtls_identity_destroy(p->client_id);
}

static void test_dtls_handshake_with_right_fingerprints_exports_matching_keys(void **state)
{
    (void)state;
    struct pair p;
    pair_setup(&p, true);
    pair_run(&p);
    assert_int_equal(es_dtls_state(p.server), ES_DTLS_CONNECTED);
    assert_int_equal(es_dtls_state(p.client), ES_DTLS_CONNECTED);
    struct es_dtls_srtp sk, ck;
    assert_int_equal(es_dtls_srtp_keys(p.server, &sk), ES_OK);
    assert_int_equal(es_dtls_srtp_keys(p.client, &ck), ES_OK);
    assert_int_equal(sk.profile, ck.profile);
    assert_int_equal(sk.key_len, sk.profile == ES_SRTP_AEAD_AES_128_GCM ? 28 : 30);
    assert_memory_equal(sk.tx, ck.rx, sk.key_len);
    assert_memory_equal(sk.rx, ck.tx, sk.key_len);
    assert_memory_not_equal(sk.tx, sk.rx, sk.key_len);

    /* SRTP: the server protects RTP and RTCP, the client unprotects them. */
    struct es_srtp *ss, *cs;
    assert_int_equal(es_srtp_create(&sk, &ss), ES_OK);
    assert_int_equal(es_srtp_create(&ck, &cs), ES_OK);
    uint8_t pkt[12 + 100 + ES_SRTP_TRAILER] = {0x80, 102, 0x12, 0x34, 0,    0,
                                               0,    1,   0xde, 0xad, 0xbe, 0xef};
    for (int i = 0; i < 100; i++)
        pkt[12 + i] = (uint8_t)i;
    uint8_t plain[112];
    memcpy(plain, pkt, sizeof(plain));
    size_t len = 112;
    assert_int_equal(es_srtp_protect(ss, pkt, &len), ES_OK);
    assert_true(len > 112);
    assert_memory_not_equal(pkt + 12, plain + 12, 100);
    assert_int_equal(es_srtp_unprotect(cs, pkt, &len), ES_OK);
    assert_int_equal(len, 112);
    assert_memory_equal(pkt, plain, 112);
    /* Replayed: refused. */
    memcpy(pkt, plain, 112);
    len = 112;
    /* The same sequence number cannot be protected twice (libsrtp's
     * replay check on send). */
    assert_int_equal(es_srtp_protect(ss, pkt, &len), ES_ERR_INVALID);
    pkt[3] = 0x35;
    len = 112;
    assert_int_equal(es_srtp_protect(ss, pkt, &len), ES_OK);
    uint8_t copy[sizeof(pkt)];
    memcpy(copy, pkt, len);
    size_t copy_len = len;
    assert_int_equal(es_srtp_unprotect(cs, pkt, &len), ES_OK);
    assert_int_equal(es_srtp_unprotect(cs, copy, &copy_len), ES_ERR_INVALID);
    /* RTCP the other way: a PLI from the client. */
    uint8_t pli[12 + ES_SRTP_TRAILER] = {0x81, 206, 0, 2, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef};
    len = 12;
    assert_int_equal(es_srtp_protect_rtcp(cs, pli, &len), ES_OK);
    assert_int_equal(es_srtp_unprotect_rtcp(ss, pli, &len), ES_OK);
    assert_int_equal(len, 12);
    assert_int_equal(pli[1], 206);
    es_srtp_destroy(ss);
    es_srtp_destroy(cs);

    /* close_notify from the server closes the client. */
    es_dtls_close(p.server);
    assert_int_equal(es_dtls_state(p.server), ES_DTLS_CLOSED);
    deliver(&p.to_client, p.client);
    assert_int_equal(es_dtls_state(p.client), ES_DTLS_CLOSED);
    pair_teardown(&p);
}

static void test_dtls_handshake_with_wrong_fingerprint_fails(void **state)
{
    (void)state;
    struct pair p;
    pair_setup(&p, false);
    pair_run(&p);
    assert_int_equal(es_dtls_state(p.server), ES_DTLS_FAILED);
    /* The refusal happens inside the handshake (an alert before our Finished):
     * the client never believes it is connected. */
    assert_int_equal(es_dtls_state(p.client), ES_DTLS_FAILED);
    struct es_dtls_srtp sk;
    assert_int_equal(es_dtls_srtp_keys(p.server, &sk), ES_ERR_INVALID);
    pair_teardown(&p);
}

static void test_dtls_client_refuses_server_with_other_certificate(void **state)
{
    (void)state;
    struct pair p;
    pair_setup(&p, true);
    /* The client expects a third identity's fingerprint. */
    struct es_dtls_identity *other;
    assert_int_equal(es_dtls_identity_create(&other), ES_OK);
    es_dtls_destroy(p.client);
    struct es_dtls_config cc = {p.client_id, ES_DTLS_CLIENT, es_dtls_identity_fingerprint(other),
                                to_wire, &p.to_server};
    assert_int_equal(es_dtls_create(&cc, &p.client), ES_OK);
    pair_run(&p);
    assert_int_equal(es_dtls_state(p.client), ES_DTLS_FAILED);
    es_dtls_identity_destroy(other);
    pair_teardown(&p);
}

static void test_dtls_refuses_garbage_and_bad_config(void **state)
{
    (void)state;
    struct es_dtls_identity *id;
    assert_int_equal(es_dtls_identity_create(&id), ES_OK);
    struct wire w = {0};
    struct es_dtls *d;
    struct es_dtls_config bad = {id, ES_DTLS_SERVER, "AA:BB", to_wire, &w};
    assert_int_equal(es_dtls_create(&bad, &d), ES_ERR_INVALID);
    struct es_dtls_config ok = {id, ES_DTLS_SERVER, es_dtls_identity_fingerprint(id), to_wire, &w};
    assert_int_equal(es_dtls_create(&ok, &d), ES_OK);
    uint8_t junk[64];
    memset(junk, 0x16, sizeof(junk));
    enum es_dtls_state st = es_dtls_feed(d, junk, sizeof(junk));
    assert_true(st == ES_DTLS_HANDSHAKING || st == ES_DTLS_FAILED);
    es_dtls_destroy(d);
    es_dtls_identity_destroy(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtls_handshake_with_right_fingerprints_exports_matching_keys),
        cmocka_unit_test(test_dtls_handshake_with_wrong_fingerprint_fails),
        cmocka_unit_test(test_dtls_client_refuses_server_with_other_certificate),
        cmocka_unit_test(test_dtls_refuses_garbage_and_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
