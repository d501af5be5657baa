/* The parts of an SDP session description (RFC 4566) that an RTSP client needs
 * to set up streams: per media its type, RTP payload format (rtpmap, fmtp),
 * control URL and frame rate, and the session-level control URL. Parsing is
 * lenient, as cameras' SDPs are: unknown or malformed lines are skipped. */
#ifndef ES_SOURCE_SDP_H
#define ES_SOURCE_SDP_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>

#define ES_SDP_MAX_SIZE 65536
#define ES_SDP_MAX_MEDIA 16

enum es_sdp_media_type {
    ES_SDP_OTHER = 0,
    ES_SDP_VIDEO,
    ES_SDP_AUDIO,
};

struct es_sdp_media {
    enum es_sdp_media_type type;
    char proto[32];    /* "RTP/AVP", "RTP/SAVP", ... */
    int payload_type;  /* the first format of the m= line; -1 if not an RTP payload type */
    char encoding[32]; /* from a=rtpmap, or the static type's name (RFC 3551); "" if unknown */
    unsigned clock_rate;
    unsigned channels; /* 0 when not given */
    char *fmtp;        /* parameters of the a=fmtp line for payload_type, or NULL */
    char *control;     /* a=control, or NULL */
    double framerate;  /* a=framerate, 0 when absent */
};

/* Owns its strings; release with es_sdp_clear. */
struct es_sdp {
    char *control; /* session-level a=control, or NULL */
    struct es_sdp_media media[ES_SDP_MAX_MEDIA];
    size_t media_count; /* m= lines past the maximum are ignored */
};

/* Parses `len` bytes of `text` (need not be NUL-terminated). Returns
 * ES_ERR_INVALID if it is too long or has no "v=" line; `out` is always left
 * initialised (es_sdp_clear is safe either way). */
enum es_err es_sdp_parse(const char *text, size_t len, struct es_sdp *out);
void es_sdp_clear(struct es_sdp *sdp);

/* Looks up `key` (case-insensitive) in fmtp parameters "a=1; b=2". Copies its
 * value, trimmed, into out (truncated to out_size - 1). */
bool es_sdp_fmtp_get(const char *fmtp, const char *key, char *out, size_t out_size);

/* Resolves a control attribute against the base URL (RFC 2326 appendix C.1.1):
 * "*" or NULL is the base itself, an absolute rtsp:// URL stands alone, and a
 * relative one is appended to the base with one '/' between them, as cameras'
 * Content-Base values (often with a query: "...?channel=1/") expect. Returns
 * false when the result does not fit. */
bool es_sdp_resolve_control(const char *base, const char *control, char *out, size_t out_size);

#endif
