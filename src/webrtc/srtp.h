/* SRTP and SRTCP for one session on libsrtp2 (RFC 3711, RFC 7714): one
 * context to protect what we send, one to unprotect what the peer sends, each
 * keyed from DTLS-SRTP. A session is used by one thread at a time
 * (libsrtp contexts are not thread-safe: cisco/libsrtp#609). */
#ifndef ES_WEBRTC_SRTP_H
#define ES_WEBRTC_SRTP_H

#include "core/error.h"
#include "webrtc/dtls.h"

#include <stddef.h>
#include <stdint.h>

/* Tail room a protected packet needs beyond its plain length
 * (SRTP_MAX_TRAILER_LEN, plus the SRTCP index). */
#define ES_SRTP_TRAILER 148

/* Once per process, before any thread uses SRTP; later calls do nothing. */
enum es_err es_srtp_init(void);

struct es_srtp;
enum es_err es_srtp_create(const struct es_dtls_srtp *keys, struct es_srtp **out);
void es_srtp_destroy(struct es_srtp *s); /* NULL is fine */

/* In place: `buf` holds `*len` bytes and has room for *len + ES_SRTP_TRAILER. */
enum es_err es_srtp_protect(struct es_srtp *s, uint8_t *buf, size_t *len);
enum es_err es_srtp_protect_rtcp(struct es_srtp *s, uint8_t *buf, size_t *len);
/* In place, shrinking *len. ES_ERR_INVALID on authentication or replay failure. */
enum es_err es_srtp_unprotect(struct es_srtp *s, uint8_t *buf, size_t *len);
enum es_err es_srtp_unprotect_rtcp(struct es_srtp *s, uint8_t *buf, size_t *len);

#endif
