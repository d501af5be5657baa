/* ICE-TCP, the passive side (RFC 6544): one listening TCP port for every
 * WebRTC session, for viewers whose network blocks UDP. Each connection
 * carries STUN, DTLS and SRTP as RFC 4571 frames (a 2-byte big-endian length,
 * then one "datagram"), so the rest of the service treats a frame exactly as
 * it treats a UDP datagram.
 *
 * This module knows sockets and framing only. Which session a connection
 * belongs to is the caller's decision (webrtc.c): a new connection is
 * "pending" until the caller authenticates it (its first frame must be a
 * STUN Binding request with a valid MESSAGE-INTEGRITY); anything else closes
 * it. Everything is bounded: pending connections (count and age), the frame
 * length, and each connection's output (a slow viewer loses whole packets,
 * never gains delay).
 *
 * Not thread-safe: the WebRTC service calls it with its lock held. */
#ifndef ES_WEBRTC_ICE_TCP_H
#define ES_WEBRTC_ICE_TCP_H

#include "core/error.h"

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The largest frame accepted: the UDP side's datagram buffer. A length
 * above it closes the connection. */
#define ES_ICE_TCP_MAX_FRAME 2048

/* A session's transport address is a sockaddr_storage (the browser's UDP
 * address, learned from checks). A TCP connection takes that slot as this
 * address: a family no socket has, and the connection's id. */
#define ES_ICE_TCP_FAMILY 0xE7C4
struct es_ice_tcp_addr {
    sa_family_t family; /* ES_ICE_TCP_FAMILY */
    uint16_t zero;      /* no padding: addresses are compared with memcmp */
    uint32_t id;
};

struct es_ice_tcp;
struct es_ice_tcp_conn;

struct es_ice_tcp_callbacks {
    /* One whole frame. A pending connection must be authenticated
     * (es_ice_tcp_authenticate) by its first frame or it is closed. */
    void (*on_frame)(void *opaque, struct es_ice_tcp_conn *c, uint8_t *frame, size_t len);
    /* An authenticated connection closed (peer, error, idle); its owner
     * should forget it. Not called for es_ice_tcp_forget_owner's. */
    void (*on_close)(void *opaque, struct es_ice_tcp_conn *c, void *owner);
    /* A connection refused before authentication (cap, timeout, garbage,
     * oversize frame): counted by the caller. `why` is a log word. */
    void (*on_reject)(void *opaque, const char *why);
    void *opaque;
};

struct es_ice_tcp_config {
    const char *bind_host; /* numeric IP or name, as the UDP port's */
    uint16_t port;         /* 0 = any free port (tests) */
    size_t max_pending;    /* unauthenticated connections at once */
    size_t max_connections;
    int64_t pending_timeout_us; /* to authenticate */
    int64_t idle_timeout_us;    /* authenticated, without a frame received */
    struct es_ice_tcp_callbacks cb;
};

/* Binds and listens. ES_ERR_IO (logged by the caller) when it cannot. */
enum es_err es_ice_tcp_open(const struct es_ice_tcp_config *config, struct es_ice_tcp **out);
void es_ice_tcp_destroy(struct es_ice_tcp *t); /* NULL is fine; closes everything */
uint16_t es_ice_tcp_port(const struct es_ice_tcp *t);

/* Poll set: fills `fds` (at most `cap`) with the listener and the
 * connections; returns how many. The same `fds` go back to es_ice_tcp_handle
 * after poll(). */
size_t es_ice_tcp_pollfds(struct es_ice_tcp *t, struct pollfd *fds, size_t cap);
/* Accepts, reads frames (callbacks), writes pending output, closes what
 * timed out or failed. */
void es_ice_tcp_handle(struct es_ice_tcp *t, const struct pollfd *fds, size_t n, int64_t now_us);

/* Binds a pending connection to `owner` (a session): from now on its frames
 * are the owner's. */
void es_ice_tcp_authenticate(struct es_ice_tcp_conn *c, void *owner);
bool es_ice_tcp_authenticated(const struct es_ice_tcp_conn *c);
void *es_ice_tcp_owner(const struct es_ice_tcp_conn *c);
/* Closes it after this turn (rejecting it if pending: `why` is counted). */
void es_ice_tcp_reject(struct es_ice_tcp_conn *c, const char *why);
/* The connection as a transport address (es_ice_tcp_addr in the storage). */
socklen_t es_ice_tcp_addr_of(const struct es_ice_tcp_conn *c, struct sockaddr_storage *out);
/* The peer's real address (for XOR-MAPPED-ADDRESS). */
const struct sockaddr *es_ice_tcp_peer(const struct es_ice_tcp_conn *c, socklen_t *len);
/* The number of connections `owner` has. */
size_t es_ice_tcp_owner_count(const struct es_ice_tcp *t, const void *owner);
/* Closes every connection of `owner` (it is ending), quietly. */
void es_ice_tcp_forget_owner(struct es_ice_tcp *t, const void *owner);

/* One frame to the connection `addr` names. Never blocks: false when it was
 * dropped (no such connection, or its output is full). */
bool es_ice_tcp_send(struct es_ice_tcp *t, const struct sockaddr_storage *addr, const uint8_t *data,
                     size_t len);

#endif
