/* RTSP over TCP: one byte stream carrying RTSP messages and, between them,
 * interleaved binary frames ('$', channel, 16-bit length, data: RFC 2326
 * section 10.12). The framer finds the next whole unit at the start of a
 * buffer without copying and without state of its own: the caller owns the
 * buffer, drops `consumed` bytes and calls again, so feeding bytes one at a
 * time or in any chunking gives the same units.
 *
 * It also parses an RTSP message (request or response, RFC 2326 sections 6
 * and 7) into a self-contained copy with its headers and body. */
#ifndef ES_SOURCE_RTP_FRAMER_H
#define ES_SOURCE_RTP_FRAMER_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds on what a camera may send: beyond them the connection is unusable. */
#define ES_RTP_FRAMER_MAX_HEADER 16384 /* start line + headers + blank line */
#define ES_RTP_FRAMER_MAX_BODY 65536   /* an SDP is a few hundred bytes */
#define ES_RTP_FRAMER_MAX_HEADERS 64

enum es_rtp_frame_kind {
    ES_RTP_FRAME_NONE = 0,    /* need more bytes; nothing consumed */
    ES_RTP_FRAME_INTERLEAVED, /* data/size: one RTP or RTCP packet on `channel` */
    ES_RTP_FRAME_MESSAGE,     /* data/size: a whole RTSP message, header_size of it headers */
    ES_RTP_FRAME_SKIPPED,     /* `consumed` bytes of noise skipped to resynchronise */
};

struct es_rtp_frame {
    enum es_rtp_frame_kind kind;
    size_t consumed;
    uint8_t channel;
    const uint8_t *data;
    size_t size;
    size_t header_size;
};

/* Finds the unit at the start of buf[0..len). Returns ES_ERR_INVALID when a
 * message breaks the bounds above (the caller should drop the connection),
 * else ES_OK with `out` filled (kind NONE when more bytes are needed). */
enum es_err es_rtp_framer_next(const uint8_t *buf, size_t len, struct es_rtp_frame *out);

struct es_rtp_header {
    const char *name;
    const char *value; /* trimmed; folded continuation lines joined by a space */
};

/* A parsed RTSP message. Owns its storage; release with es_rtp_framer_clear. */
struct es_rtp_message {
    bool is_response;
    int status;         /* responses: 100..999 */
    const char *method; /* requests: e.g. "ANNOUNCE" */
    const char *uri;    /* requests */
    int cseq;           /* -1 when missing or malformed */
    struct es_rtp_header headers[ES_RTP_FRAMER_MAX_HEADERS];
    size_t header_count; /* headers past the maximum are ignored */
    const uint8_t *body; /* NUL-terminated for convenience; body_size excludes it */
    size_t body_size;
    char *storage;
};

/* Parses a message returned by es_rtp_framer_next (`frame`) into `out`.
 * Returns ES_ERR_INVALID (and leaves `out` cleared) for a malformed one. */
enum es_err es_rtp_framer_parse(const struct es_rtp_frame *frame, struct es_rtp_message *out);
void es_rtp_framer_clear(struct es_rtp_message *m);

/* The `index`th header called `name` (case-insensitive), or NULL. */
const char *es_rtp_framer_header(const struct es_rtp_message *m, const char *name, size_t index);

#endif
