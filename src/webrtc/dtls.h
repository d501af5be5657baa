/* DTLS 1.2 for DTLS-SRTP (RFC 5763, 5764) on OpenSSL, without sockets: the
 * caller feeds received datagrams in and gets datagrams to send through a
 * callback, one per call (a custom BIO, like Janus's dtls-bio.c). The peer's
 * certificate is accepted self-signed, then must match the fingerprint from
 * its SDP; otherwise the handshake fails. */
#ifndef ES_WEBRTC_DTLS_H
#define ES_WEBRTC_DTLS_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Our identity: an ECDSA P-256 key and a self-signed certificate made at
 * start (RFC 8827 §6.5), and the SSL_CTX both roles use. Shared by every
 * session; immutable after create, so any thread may use it. */
struct es_dtls_identity;
enum es_err es_dtls_identity_create(struct es_dtls_identity **out);
void es_dtls_identity_destroy(struct es_dtls_identity *id); /* NULL is fine */
/* "sha-256" value for the SDP: upper-case hex with colons. */
const char *es_dtls_identity_fingerprint(const struct es_dtls_identity *id);

enum es_dtls_role { ES_DTLS_SERVER = 0, ES_DTLS_CLIENT };

enum es_dtls_state {
    ES_DTLS_HANDSHAKING = 0,
    ES_DTLS_CONNECTED,
    ES_DTLS_FAILED, /* handshake error or wrong fingerprint */
    ES_DTLS_CLOSED, /* the peer sent close_notify */
};

typedef void (*es_dtls_send_fn)(void *opaque, const uint8_t *data, size_t len);

struct es_dtls_config {
    const struct es_dtls_identity *identity; /* must outlive the session */
    enum es_dtls_role role;
    const char *peer_fingerprint; /* sha-256, hex with colons (case ignored) */
    es_dtls_send_fn send;
    void *opaque;
};

struct es_dtls;
enum es_err es_dtls_create(const struct es_dtls_config *config, struct es_dtls **out);
void es_dtls_destroy(struct es_dtls *d); /* NULL is fine; sends nothing */

/* Client: sends the first flight. Server: nothing to do. */
enum es_dtls_state es_dtls_start(struct es_dtls *d);
/* One received datagram (first byte 20..63, RFC 7983). */
enum es_dtls_state es_dtls_feed(struct es_dtls *d, const uint8_t *data, size_t len);
/* Microseconds until es_dtls_on_timer() is due (retransmission); -1 = none. */
int64_t es_dtls_timeout_us(struct es_dtls *d);
enum es_dtls_state es_dtls_on_timer(struct es_dtls *d);
enum es_dtls_state es_dtls_state(const struct es_dtls *d);
/* Sends close_notify (RFC 7675 §5.2 / WHEP DELETE). */
void es_dtls_close(struct es_dtls *d);

/* The negotiated SRTP protection profile and keys (RFC 5764 §4.2), our send
 * key and the peer's, each master key followed by its salt. */
enum es_srtp_profile { ES_SRTP_AES128_CM_SHA1_80 = 1, ES_SRTP_AEAD_AES_128_GCM = 7 };
struct es_dtls_srtp {
    enum es_srtp_profile profile;
    uint8_t tx[32], rx[32];
    size_t key_len; /* key + salt: 30 (CM) or 28 (GCM) */
};
/* ES_ERR_INVALID before CONNECTED. */
enum es_err es_dtls_srtp_keys(struct es_dtls *d, struct es_dtls_srtp *out);

#endif
