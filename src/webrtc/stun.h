/* STUN (RFC 8489) for an ICE-lite agent (RFC 8445 §2.5): parse a Binding
 * request, check its MESSAGE-INTEGRITY and FINGERPRINT, write the success
 * response. HMAC-SHA1 comes from OpenSSL and CRC-32 from zlib; nothing here
 * is hand-written crypto. Pure functions: no sockets, no state. */
#ifndef ES_WEBRTC_STUN_H
#define ES_WEBRTC_STUN_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ES_STUN_HEADER 20
#define ES_STUN_TXID 12

struct es_stun_request {
    uint16_t type;
    uint8_t txid[ES_STUN_TXID];
    const char *username; /* points into the message; not terminated */
    size_t username_len;
    size_t integrity_at; /* offset of the MESSAGE-INTEGRITY attribute; 0 = none */
    bool has_fingerprint, use_candidate, ice_controlling;
    uint32_t priority;
};

/* True when the datagram is a STUN message by its first byte, length and
 * magic cookie (RFC 7983 §7, RFC 8489 §5). */
bool es_stun_is(const uint8_t *msg, size_t len);

/* Parses a Binding request. ES_ERR_INVALID for anything malformed, for a
 * FINGERPRINT that does not match, or for a message that is not a Binding
 * request. `out` points into `msg`. */
enum es_err es_stun_parse_request(const uint8_t *msg, size_t len, struct es_stun_request *out);

/* True when the request's MESSAGE-INTEGRITY is the HMAC-SHA1 of the message
 * up to it, keyed with `pwd` (short-term credentials, RFC 8489 §9.1). */
bool es_stun_integrity_ok(const uint8_t *msg, size_t len, const struct es_stun_request *req,
                          const char *pwd);

/* Writes a Binding success response to `txid` with XOR-MAPPED-ADDRESS `from`,
 * MESSAGE-INTEGRITY keyed with `pwd` and FINGERPRINT. Returns its length, or
 * 0 when `cap` is too small or the address family is unknown. */
size_t es_stun_write_success(const uint8_t txid[ES_STUN_TXID], const struct sockaddr *from,
                             const char *pwd, uint8_t *out, size_t cap);

/* Writes a Binding request (for tests and load clients): USERNAME, PRIORITY,
 * ICE-CONTROLLING, USE-CANDIDATE when asked, MESSAGE-INTEGRITY, FINGERPRINT. */
size_t es_stun_write_request(const uint8_t txid[ES_STUN_TXID], const char *username,
                             const char *pwd, bool use_candidate, uint8_t *out, size_t cap);

#endif
