/* Unit tests for src/webrtc/ice_tcp.c on real loopback sockets: frames come
 * out of RFC 4571 framing whole (also when split across writes), a pending
 * connection that does not authenticate is closed, and a viewer that reads
 * nothing costs bounded memory and no blocking: past the limit whole packets
 * are dropped, and the stream it finally reads is still framed, packet by
 * packet, in order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "webrtc/ice_tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PACKET 1200

struct seen {
    size_t frames;
    uint8_t last[ES_ICE_TCP_MAX_FRAME];
    size_t last_len;
    bool authenticate;
    struct es_ice_tcp_conn *conn;
    size_t rejects;
};

static void on_frame(void *opaque, struct es_ice_tcp_conn *c, uint8_t *frame, size_t len)
{
    struct seen *s = opaque;
    s->frames++;
    memcpy(s->last, frame, len);
    s->last_len = len;
    s->conn = c;
    if (s->authenticate)
        es_ice_tcp_authenticate(c, s);
}

static void on_close(void *opaque, struct es_ice_tcp_conn *c, void *owner)
{
    (void)opaque;
    (void)c;
    (void)owner;
}

static void on_reject(void *opaque, const char *why)
{
    (void)why;
    ((struct seen *)opaque)->rejects++;
}

static struct es_ice_tcp *open_tcp(struct seen *s, int64_t pending_timeout_us)
{
    struct es_ice_tcp_config c = {
        .bind_host = "127.0.0.1",
        .port = 0,
        .max_pending = 4,
        .max_connections = 8,
        .pending_timeout_us = pending_timeout_us,
        .idle_timeout_us = 30000000,
        .cb = {on_frame, on_close, on_reject, s},
    };
    struct es_ice_tcp *t = NULL;
    assert_int_equal(es_ice_tcp_open(&c, &t), ES_OK);
    return t;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int connect_to(struct es_ice_tcp *t)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(es_ice_tcp_port(t))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* One turn of the service's loop: poll briefly, then handle. */
static void turn(struct es_ice_tcp *t, int64_t now)
{
    struct pollfd fds[16];
    size_t n = es_ice_tcp_pollfds(t, fds, 16);
    poll(fds, n, 20);
    es_ice_tcp_handle(t, fds, n, now);
}

static void test_ice_tcp_frames_are_delivered_whole_even_when_split(void **state)
{
    (void)state;
    struct seen s = {.authenticate = true};
    struct es_ice_tcp *t = open_tcp(&s, 5000000);
    int fd = connect_to(t);
    uint8_t frame[2 + 300];
    frame[0] = 300 >> 8;
    frame[1] = 300 & 0xff;
    for (int i = 0; i < 300; i++)
        frame[2 + i] = (uint8_t)i;
    assert_int_equal(write(fd, frame, 1), 1); /* half a length prefix */
    for (int i = 0; i < 5; i++)
        turn(t, now_us());
    assert_int_equal(s.frames, 0);
    assert_int_equal(write(fd, frame + 1, 150), 150);
    for (int i = 0; i < 5; i++)
        turn(t, now_us());
    assert_int_equal(s.frames, 0);
    assert_int_equal(write(fd, frame + 151, sizeof(frame) - 151), (ssize_t)sizeof(frame) - 151);
    for (int i = 0; i < 5 && s.frames == 0; i++)
        turn(t, now_us());
    assert_int_equal(s.frames, 1);
    assert_int_equal(s.last_len, 300);
    assert_memory_equal(s.last, frame + 2, 300);
    assert_true(es_ice_tcp_authenticated(s.conn));
    close(fd);
    es_ice_tcp_destroy(t);
}

static bool peer_closed(int fd)
{
    uint8_t b[64];
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 1000) != 1)
        return false;
    ssize_t n = recv(fd, b, sizeof(b), 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void test_ice_tcp_unauthenticated_and_oversize_are_closed(void **state)
{
    (void)state;
    struct seen s = {.authenticate = false};
    struct es_ice_tcp *t = open_tcp(&s, 5000000);
    /* A whole frame that the caller does not authenticate. */
    int fd = connect_to(t);
    uint8_t frame[2 + 4] = {0, 4, 1, 2, 3, 4};
    assert_int_equal(write(fd, frame, sizeof(frame)), (ssize_t)sizeof(frame));
    for (int i = 0; i < 5; i++)
        turn(t, now_us());
    assert_int_equal(s.frames, 1);
    assert_true(peer_closed(fd));
    close(fd);
    /* A length above the limit: closed before any frame. */
    fd = connect_to(t);
    uint8_t big[2] = {0xff, 0xff};
    assert_int_equal(write(fd, big, 2), 2);
    for (int i = 0; i < 5; i++)
        turn(t, now_us());
    assert_int_equal(s.frames, 1);
    assert_true(peer_closed(fd));
    close(fd);
    /* Silence: closed at the pending deadline. */
    fd = connect_to(t);
    turn(t, now_us());
    turn(t, now_us() + 6000000);
    assert_true(peer_closed(fd));
    close(fd);
    assert_int_equal(s.rejects, 3);
    es_ice_tcp_destroy(t);
}

static void test_ice_tcp_slow_viewer_loses_whole_packets_and_keeps_framing(void **state)
{
    (void)state;
    struct seen s = {.authenticate = true};
    struct es_ice_tcp *t = open_tcp(&s, 5000000);
    int fd = connect_to(t);
    uint8_t hello[3] = {0, 1, 0};
    assert_int_equal(write(fd, hello, 3), 3);
    for (int i = 0; i < 5 && !s.conn; i++)
        turn(t, now_us());
    assert_non_null(s.conn);
    struct sockaddr_storage addr;
    es_ice_tcp_addr_of(s.conn, &addr);

    /* The viewer reads nothing: 4000 packets (4.8 MB) are offered. Every send
     * returns at once; most are refused; what was taken is bounded. */
    uint8_t pkt[PACKET];
    size_t taken = 0, refused = 0;
    int64_t t0 = now_us();
    for (uint32_t seq = 0; seq < 4000; seq++) {
        memset(pkt, (int)(seq & 0xff), sizeof(pkt));
        memcpy(pkt, &seq, sizeof(seq));
        if (es_ice_tcp_send(t, &addr, pkt, sizeof(pkt)))
            taken++;
        else
            refused++;
        if (seq % 100 == 0)
            turn(t, now_us());
    }
    assert_true(now_us() - t0 < 10000000);
    assert_true(refused > 3000);
    /* Our buffer (64 KiB) plus the kernel's (send and receive, a few hundred
     * KiB on loopback at most; the receiver's default buffer, since a tiny
     * one stalls loopback TCP, MSS 64 KiB, on zero-window probes): far below
     * what was offered. */
    assert_true(taken * (PACKET + 2) < 2 * 1024 * 1024);

    /* Now it reads: frames are whole packets, in order, with gaps only
     * between packets. */
    size_t frames = 0;
    uint32_t last_seq = 0;
    uint8_t buf[2 + PACKET];
    size_t have = 0;
    for (int idle = 0; idle < 20;) {
        turn(t, now_us()); /* flushes what our buffer holds */
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) != 1) {
            idle++;
            continue;
        }
        ssize_t n = recv(fd, buf + have, sizeof(buf) - have, 0);
        assert_true(n > 0);
        have += (size_t)n;
        if (have < sizeof(buf))
            continue;
        assert_int_equal(buf[0] << 8 | buf[1], PACKET);
        uint32_t seq;
        memcpy(&seq, buf + 2, sizeof(seq));
        if (frames)
            assert_true(seq > last_seq);
        assert_int_equal(buf[2 + PACKET - 1], (uint8_t)(seq & 0xff));
        last_seq = seq;
        frames++;
        have = 0;
    }
    print_message("offered 4000 packets: %zu taken, %zu refused; %zu read back whole\n", taken,
                  refused, frames);
    assert_int_equal(have, 0);
    assert_int_equal(frames, taken);
    close(fd);
    es_ice_tcp_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ice_tcp_frames_are_delivered_whole_even_when_split),
        cmocka_unit_test(test_ice_tcp_unauthenticated_and_oversize_are_closed),
        cmocka_unit_test(test_ice_tcp_slow_viewer_loses_whole_packets_and_keeps_framing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
