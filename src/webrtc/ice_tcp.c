/* ICE-TCP passive connections with RFC 4571 framing (ice_tcp.h). */
#define _GNU_SOURCE /* accept4 */
#include "webrtc/ice_tcp.h"

#include "core/alloc.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* What may wait in our own buffer when the socket's is full: an IDR of a
 * 480p stream fits, a second of backlog does not. Past it whole packets are
 * dropped. The kernel's send buffer is held small for the same reason. */
#define OUT_CAP (64 * 1024)
#define SOCKET_SNDBUF (64 * 1024)
/* Bytes read from one connection per turn, so one busy peer cannot starve
 * the others. */
#define READ_BUDGET (64 * 1024)
#define LENGTH_PREFIX 2

/* A session's address is compared byte for byte (session.c): every byte of
 * this one is set. */
_Static_assert(sizeof(struct es_ice_tcp_addr) ==
                   sizeof(sa_family_t) + sizeof(uint16_t) + sizeof(uint32_t),
               "es_ice_tcp_addr has padding");

struct es_ice_tcp_conn {
    struct es_ice_tcp *t;
    int fd; /* -1 = free slot */
    uint32_t id;
    bool authenticated, closing, quiet;
    void *owner;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    int64_t accepted_us, last_rx_us;
    uint8_t in[LENGTH_PREFIX + ES_ICE_TCP_MAX_FRAME];
    size_t in_len;
    uint8_t *out;
    size_t out_off, out_len; /* unsent bytes are out[out_off, out_len) */
};

struct es_ice_tcp {
    struct es_ice_tcp_config config;
    int fd;
    uint16_t port;
    struct es_ice_tcp_conn *conns; /* max_connections slots */
    size_t pending;
    uint16_t generation;
    /* poll slot i + 1 is conns[polled[i]] (slot 0 is the listener) */
    size_t *polled;
    size_t polled_count;
};

enum es_err es_ice_tcp_open(const struct es_ice_tcp_config *config, struct es_ice_tcp **out)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", config->port);
    if (getaddrinfo(config->bind_host, port, &hints, &ai) != 0 || !ai)
        return ES_ERR_INVALID;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        errno = saved;
        return ES_ERR_IO;
    }
    freeaddrinfo(ai);
    struct es_ice_tcp *t = es_calloc(1, sizeof(*t));
    t->config = *config;
    t->config.bind_host = NULL; /* not kept */
    if (t->config.max_connections == 0)
        t->config.max_connections = 1;
    t->fd = fd;
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    getsockname(fd, (struct sockaddr *)&bound, &bound_len);
    t->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    t->conns = es_calloc(t->config.max_connections, sizeof(*t->conns));
    for (size_t i = 0; i < t->config.max_connections; i++)
        t->conns[i].fd = -1;
    t->polled = es_calloc(t->config.max_connections, sizeof(*t->polled));
    *out = t;
    return ES_OK;
}

uint16_t es_ice_tcp_port(const struct es_ice_tcp *t)
{
    return t->port;
}

static void conn_free(struct es_ice_tcp_conn *c)
{
    struct es_ice_tcp *t = c->t;
    if (c->fd < 0)
        return;
    close(c->fd);
    if (!c->authenticated)
        t->pending--;
    else if (!c->quiet && t->config.cb.on_close)
        t->config.cb.on_close(t->config.cb.opaque, c, c->owner);
    free(c->out);
    c->out = NULL;
    c->fd = -1;
    c->owner = NULL;
}

void es_ice_tcp_destroy(struct es_ice_tcp *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->config.max_connections; i++) {
        t->conns[i].quiet = true;
        conn_free(&t->conns[i]);
    }
    close(t->fd);
    free(t->conns);
    free(t->polled);
    free(t);
}

static struct es_ice_tcp_conn *conn_by_id(struct es_ice_tcp *t, uint32_t id)
{
    size_t slot = id & 0xffff;
    if (slot >= t->config.max_connections)
        return NULL;
    struct es_ice_tcp_conn *c = &t->conns[slot];
    /* A forgotten connection (its session ending) still takes the
     * session's close_notify until the thread's next turn closes it. */
    return c->fd >= 0 && c->id == id && (!c->closing || c->quiet) ? c : NULL;
}

static void reject(struct es_ice_tcp *t, const char *why)
{
    if (t->config.cb.on_reject)
        t->config.cb.on_reject(t->config.cb.opaque, why);
}

static void accept_all(struct es_ice_tcp *t, int64_t now)
{
    for (int round = 0; round < 16; round++) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof(peer);
        int fd = accept4(t->fd, (struct sockaddr *)&peer, &peer_len, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return; /* EAGAIN, or out of descriptors: the backlog waits */
        struct es_ice_tcp_conn *c = NULL;
        if (t->pending < t->config.max_pending)
            for (size_t i = 0; i < t->config.max_connections && !c; i++)
                if (t->conns[i].fd < 0)
                    c = &t->conns[i];
        if (!c) {
            /* Full: closed at once rather than left in the backlog, where
             * it would hold a browser's attempt until it times out. */
            close(fd);
            reject(t, "cap");
            continue;
        }
        int one = 1, sndbuf = SOCKET_SNDBUF;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
        memset(c, 0, sizeof(*c));
        c->t = t;
        c->fd = fd;
        c->id = (uint32_t)++t->generation << 16 | (uint32_t)(c - t->conns);
        memcpy(&c->peer, &peer, peer_len);
        c->peer_len = peer_len;
        c->accepted_us = c->last_rx_us = now;
        c->out = es_malloc(OUT_CAP);
        t->pending++;
    }
}

size_t es_ice_tcp_pollfds(struct es_ice_tcp *t, struct pollfd *fds, size_t cap)
{
    size_t n = 0;
    t->polled_count = 0;
    if (cap == 0)
        return 0;
    fds[n++] = (struct pollfd){t->fd, POLLIN, 0};
    for (size_t i = 0; i < t->config.max_connections && n < cap; i++) {
        struct es_ice_tcp_conn *c = &t->conns[i];
        if (c->fd < 0)
            continue;
        short events = POLLIN;
        if (c->out_len > c->out_off)
            events |= POLLOUT;
        fds[n++] = (struct pollfd){c->fd, events, 0};
        t->polled[t->polled_count++] = i;
    }
    return n;
}

/* Writes what our buffer holds; false when the connection failed. */
static bool flush(struct es_ice_tcp_conn *c)
{
    while (c->out_len > c->out_off) {
        ssize_t n =
            send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    return true;
}

/* Frames in the input buffer, one callback each; the rest stays. */
static void deliver(struct es_ice_tcp *t, struct es_ice_tcp_conn *c)
{
    size_t at = 0;
    while (!c->closing && c->in_len - at >= LENGTH_PREFIX) {
        size_t len = (size_t)c->in[at] << 8 | c->in[at + 1];
        if (len == 0 || len > ES_ICE_TCP_MAX_FRAME) {
            es_ice_tcp_reject(c, len ? "oversize" : "empty_frame");
            return;
        }
        if (c->in_len - at < LENGTH_PREFIX + len)
            break;
        bool was_pending = !c->authenticated;
        t->config.cb.on_frame(t->config.cb.opaque, c, c->in + at + LENGTH_PREFIX, len);
        at += LENGTH_PREFIX + len;
        /* The first frame must have authenticated it. */
        if (was_pending && !c->authenticated && !c->closing)
            es_ice_tcp_reject(c, "unauthenticated");
    }
    memmove(c->in, c->in + at, c->in_len - at);
    c->in_len -= at;
}

static void read_conn(struct es_ice_tcp *t, struct es_ice_tcp_conn *c, int64_t now)
{
    size_t budget = READ_BUDGET;
    while (!c->closing && budget > 0) {
        ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            c->closing = true; /* the peer went */
            if (!c->authenticated)
                reject(t, "closed");
            return;
        }
        if (n < 0)
            return;
        c->last_rx_us = now;
        c->in_len += (size_t)n;
        budget = (size_t)n < budget ? budget - (size_t)n : 0;
        deliver(t, c);
    }
}

void es_ice_tcp_handle(struct es_ice_tcp *t, const struct pollfd *fds, size_t n, int64_t now)
{
    for (size_t i = 1; i < n && i - 1 < t->polled_count; i++) {
        struct es_ice_tcp_conn *c = &t->conns[t->polled[i - 1]];
        if (c->fd != fds[i].fd || c->closing)
            continue; /* closed (and maybe reused) since the poll set was made */
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR))
            read_conn(t, c, now);
        if (!c->closing && (fds[i].revents & POLLOUT) && !flush(c))
            c->closing = true;
    }
    for (size_t i = 0; i < t->config.max_connections; i++) {
        struct es_ice_tcp_conn *c = &t->conns[i];
        if (c->fd < 0)
            continue;
        if (!c->closing && !c->authenticated && now - c->accepted_us > t->config.pending_timeout_us)
            es_ice_tcp_reject(c, "timeout");
        if (!c->closing && c->authenticated && now - c->last_rx_us > t->config.idle_timeout_us)
            c->closing = true;
        if (c->closing) {
            flush(c); /* a last DTLS alert, if the socket takes it */
            conn_free(c);
        }
    }
    /* Last: the connections that just went no longer count against the
     * pending cap. */
    if (n > 0 && (fds[0].revents & POLLIN))
        accept_all(t, now);
}

void es_ice_tcp_authenticate(struct es_ice_tcp_conn *c, void *owner)
{
    if (!c->authenticated)
        c->t->pending--;
    c->authenticated = true;
    c->owner = owner;
}

bool es_ice_tcp_authenticated(const struct es_ice_tcp_conn *c)
{
    return c->authenticated;
}

void *es_ice_tcp_owner(const struct es_ice_tcp_conn *c)
{
    return c->owner;
}

void es_ice_tcp_reject(struct es_ice_tcp_conn *c, const char *why)
{
    if (c->closing)
        return;
    c->closing = true;
    if (!c->authenticated)
        reject(c->t, why);
}

socklen_t es_ice_tcp_addr_of(const struct es_ice_tcp_conn *c, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    struct es_ice_tcp_addr a = {.family = ES_ICE_TCP_FAMILY, .zero = 0, .id = c->id};
    memcpy(out, &a, sizeof(a));
    return (socklen_t)sizeof(a);
}

const struct sockaddr *es_ice_tcp_peer(const struct es_ice_tcp_conn *c, socklen_t *len)
{
    *len = c->peer_len;
    return (const struct sockaddr *)&c->peer;
}

size_t es_ice_tcp_owner_count(const struct es_ice_tcp *t, const void *owner)
{
    size_t n = 0;
    for (size_t i = 0; i < t->config.max_connections; i++)
        n += t->conns[i].fd >= 0 && !t->conns[i].closing && t->conns[i].owner == owner;
    return n;
}

void es_ice_tcp_forget_owner(struct es_ice_tcp *t, const void *owner)
{
    /* Marked only: the fds may be in the service thread's poll set right
     * now; its next turn closes them. */
    for (size_t i = 0; i < t->config.max_connections; i++) {
        struct es_ice_tcp_conn *c = &t->conns[i];
        if (c->fd >= 0 && c->owner == owner) {
            c->closing = true;
            c->quiet = true;
            c->owner = NULL;
        }
    }
}

bool es_ice_tcp_send(struct es_ice_tcp *t, const struct sockaddr_storage *addr, const uint8_t *data,
                     size_t len)
{
    struct es_ice_tcp_addr a;
    memcpy(&a, addr, sizeof(a));
    struct es_ice_tcp_conn *c = a.family == ES_ICE_TCP_FAMILY ? conn_by_id(t, a.id) : NULL;
    size_t total = LENGTH_PREFIX + len;
    if (!c || len == 0 || total > OUT_CAP)
        return false;
    uint8_t prefix[LENGTH_PREFIX] = {(uint8_t)(len >> 8), (uint8_t)len};
    size_t sent = 0;
    if (c->out_len == c->out_off) {
        /* Nothing waiting: straight to the socket. */
        struct iovec iov[2] = {{prefix, LENGTH_PREFIX}, {(void *)data, len}};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t n = sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            c->closing = true;
            return false;
        }
        sent = n > 0 ? (size_t)n : 0;
        if (sent == total)
            return true;
        c->out_off = c->out_len = 0;
    }
    /* A frame once begun must be finished (or the stream loses its framing);
     * a frame not begun is queued only when it fits whole. */
    if (sent == 0) {
        if (c->out_len + total > OUT_CAP && c->out_off > 0) {
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        if (c->out_len + total > OUT_CAP)
            return false; /* a slow viewer: this packet is lost, no delay is added */
    }
    if (sent < LENGTH_PREFIX) {
        memcpy(c->out + c->out_len, prefix + sent, LENGTH_PREFIX - sent);
        c->out_len += LENGTH_PREFIX - sent;
        sent = LENGTH_PREFIX;
    }
    memcpy(c->out + c->out_len, data + (sent - LENGTH_PREFIX), total - sent);
    c->out_len += total - sent;
    return true;
}
