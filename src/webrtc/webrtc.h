/* WebRTC egress (WHEP): the service that owns every viewer session, the one
 * UDP port they all share (ICE-lite, RFC 8445 §2.5) and the thread that
 * serves it. Each camera's pipeline hands encoded access units in; each is
 * packetized once and sent to every session of that camera with the
 * session's own SRTP (docs/webrtc.md).
 *
 * Threads: es_webrtc_camera_video() runs on the camera's pipeline thread and
 * never blocks on viewers (it queues a bounded number of frames, dropping
 * when the service falls behind); session create/delete run on the origin's
 * thread; everything else on the service's own thread. One mutex guards the
 * sessions; crypto and sends happen under it on the service thread only.
 *
 * Lifecycle: create → add_camera (each) → start → ... → stop → destroy. */
#ifndef ES_WEBRTC_WEBRTC_H
#define ES_WEBRTC_WEBRTC_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct es_webrtc_config {
    const char *bind_host; /* numeric IP the UDP port binds to, e.g. "127.0.0.1" */
    uint16_t udp_port;     /* 8189 by default; 0 = any free port (tests) */
    /* ICE-TCP (RFC 6544 passive candidate, ice_tcp.h) on this TCP port, on
     * the same host; 0 = any free port (tests). Only when ice_tcp is set. */
    bool ice_tcp;
    uint16_t tcp_port;
    const char *const *hosts; /* addresses to advertise as candidates; none = bind_host,
                                 or every interface's IPv4 address when it is a wildcard */
    size_t host_count;
    unsigned max_sessions; /* in total */
    unsigned max_sessions_per_camera;
    /* STUN/TURN servers for browsers (RFC 9725 §4.6 Link headers): comma-
     * separated stun:/turn:/turns: URLs, already validated; NULL = none. */
    const char *ice_servers;
    const char *turn_username, *turn_credential; /* for turn(s): URLs; may be NULL */
};

struct es_webrtc;
struct es_webrtc_camera;

enum es_err es_webrtc_create(const struct es_webrtc_config *config, struct es_webrtc **out);
/* Before start, or while running (a reload's new camera; cameras are never
 * removed before destroy). `id` is copied. */
struct es_webrtc_camera *es_webrtc_add_camera(struct es_webrtc *w, const char *id);
/* Binds the UDP port (and the ICE-TCP port, which may fail alone: logged,
 * no TCP candidate) and starts the thread. ES_ERR_IO when the UDP port cannot
 * be bound: es_webrtc_session_create then answers ES_WEBRTC_NOT_RUNNING and
 * es_webrtc_failure says why. */
enum es_err es_webrtc_start(struct es_webrtc *w);
uint16_t es_webrtc_port(const struct es_webrtc *w);     /* after start */
uint16_t es_webrtc_tcp_port(const struct es_webrtc *w); /* after start; 0 = no ICE-TCP */
/* Why the service is not running ("" when it is, or was never started). */
const char *es_webrtc_failure(const struct es_webrtc *w);
/* Ends every session (close_notify) and joins the thread. Idempotent. */
void es_webrtc_stop(struct es_webrtc *w);
void es_webrtc_destroy(struct es_webrtc *w); /* NULL is fine; stops first */

/* The camera's pipeline thread: one H.264 access unit in Annex B (as the
 * transcoder emits it), its timestamp in 90 kHz ticks and the wall clock
 * (Unix µs) it was captured at. Returns at once; does nothing without
 * viewers. */
void es_webrtc_camera_video(struct es_webrtc_camera *c, const uint8_t *au, size_t size,
                            int64_t pts_ticks, int64_t wall_us);

/* The camera's pipeline thread: one AAC packet of the camera's audio (pts in
 * 90 kHz ticks, on the video's timeline; `wall_us` its capture wall clock),
 * `par` its codec parameters (a new
 * pointer means new parameters, e.g. after a reconnect). While the camera
 * has viewers it is transcoded to Opus (opus.h) and sent to every session
 * whose offer took Opus; without viewers it costs nothing. */
struct AVPacket;
struct AVCodecParameters;
void es_webrtc_camera_audio(struct es_webrtc_camera *c, const struct AVPacket *pkt,
                            const struct AVCodecParameters *par, int64_t wall_us);

/* Before start: the camera's H.264 is the camera's own (`transcode: copy`).
 * Offers are then answered with the camera's profile-level-id (from its SPS)
 * and refused when the browser offers no format that fits it. */
void es_webrtc_camera_set_passthrough(struct es_webrtc_camera *c, bool passthrough);

/* Called on the service thread when a viewer asks for a keyframe (PLI, FIR),
 * at most every 500 ms per camera. Must not block. Set before start. */
void es_webrtc_camera_on_keyframe_request(struct es_webrtc_camera *c, void (*fn)(void *opaque),
                                          void *opaque);

/* ---- signalling (WHEP) ---- */

enum es_webrtc_result {
    ES_WEBRTC_OK = 0,
    ES_WEBRTC_NO_CAMERA,   /* 404 */
    ES_WEBRTC_BAD_OFFER,   /* 400: not an SDP offer we can parse */
    ES_WEBRTC_NO_CODEC,    /* 422: no H.264 (packetization-mode 1) the stream fits */
    ES_WEBRTC_NOT_LIVE,    /* 409: passthrough camera whose SPS was not seen yet */
    ES_WEBRTC_FULL,        /* 503: session caps reached */
    ES_WEBRTC_NOT_RUNNING, /* 503: the service is not started or is stopping */
};

#define ES_WEBRTC_SESSION_ID 32 /* hex characters */

struct es_webrtc_answer {
    char *sdp; /* malloc'd; the caller frees it */
    char session_id[ES_WEBRTC_SESSION_ID + 1];
};

enum es_webrtc_result es_webrtc_session_create(struct es_webrtc *w, const char *camera_id,
                                               const char *offer, size_t offer_len,
                                               struct es_webrtc_answer *out);
/* Ends the session of `camera_id` with that id. ES_ERR_NOT_FOUND otherwise. */
enum es_err es_webrtc_session_delete(struct es_webrtc *w, const char *camera_id,
                                     const char *session_id);

/* The answer's Link header values (`<url>; rel="ice-server"...`), one per
 * configured ICE server; returns how many were written (at most `max`). */
size_t es_webrtc_ice_links(const struct es_webrtc *w, char out[][600], size_t max);

/* Why a session ended (/metrics counts each). */
enum es_webrtc_end_reason {
    ES_WEBRTC_END_ERROR = 0, /* SRTP keys could not be made, or unknown */
    ES_WEBRTC_END_DELETE,    /* WHEP DELETE */
    ES_WEBRTC_END_DTLS_CLOSED,
    ES_WEBRTC_END_DTLS_FAILED, /* handshake error, wrong fingerprint */
    ES_WEBRTC_END_DTLS_TIMEOUT,
    ES_WEBRTC_END_CONSENT_EXPIRED,
    ES_WEBRTC_END_TCP_CLOSED, /* its ICE-TCP connection, the path in use, closed */
    ES_WEBRTC_END_SHUTDOWN,
    ES_WEBRTC_END_REASONS
};
const char *es_webrtc_end_reason_name(enum es_webrtc_end_reason r);

/* STUN and ICE-TCP traffic refused before it reached a session. */
enum es_webrtc_reject {
    ES_WEBRTC_REJECT_STUN_MALFORMED = 0,  /* not a Binding request we can parse */
    ES_WEBRTC_REJECT_STUN_UNKNOWN_USER,   /* no live session has that ufrag pair */
    ES_WEBRTC_REJECT_STUN_INTEGRITY,      /* bad or missing MESSAGE-INTEGRITY */
    ES_WEBRTC_REJECT_TCP_CAP,             /* ICE-TCP: too many connections */
    ES_WEBRTC_REJECT_TCP_UNAUTHENTICATED, /* ICE-TCP: first frame not a valid check */
    ES_WEBRTC_REJECT_TCP_OVERSIZE,        /* ICE-TCP: frame length over the limit, or 0 */
    ES_WEBRTC_REJECT_TCP_TIMEOUT,         /* ICE-TCP: no valid check in time */
    ES_WEBRTC_REJECTS
};
const char *es_webrtc_reject_name(enum es_webrtc_reject r);

struct es_webrtc_stats {
    uint64_t sessions, sessions_connected;
    uint64_t sessions_created, sessions_ended;
    uint64_t stun_bad_integrity, packets_sent, packets_dropped, frames_dropped;
    uint64_t keyframe_requests;
    uint64_t bytes_sent;                            /* SRTP/SRTCP/DTLS/STUN bytes on both ports */
    uint64_t tcp_packets_sent, tcp_packets_dropped; /* the ICE-TCP share of the above */
    uint64_t sessions_tcp;                          /* sessions whose media path is ICE-TCP now */
    uint64_t ended_by[ES_WEBRTC_END_REASONS];
    uint64_t rejected[ES_WEBRTC_REJECTS];
};
void es_webrtc_stats(struct es_webrtc *w, struct es_webrtc_stats *out);

/* Each camera's current number of sessions, camera by camera. */
void es_webrtc_camera_sessions(struct es_webrtc *w,
                               void (*fn)(void *opaque, const char *camera, unsigned sessions),
                               void *opaque);

#endif
