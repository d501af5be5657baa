/* Shared by src/webrtc/webrtc.c (the service) and session.c (one viewer).
 * Everything here is touched with es_webrtc.lock held. */
#ifndef ES_WEBRTC_INTERNAL_H
#define ES_WEBRTC_INTERNAL_H

#include "webrtc/dtls.h"
#include "webrtc/keyframe_gate.h"
#include "webrtc/ice_tcp.h"
#include "webrtc/opus.h"
#include "webrtc/rtp_h264.h"
#include "webrtc/srtp.h"
#include "webrtc/timeline.h"
#include "webrtc/webrtc.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#define ICE_UFRAG_LEN 8
#define ICE_PWD_LEN 24

struct wcamera;

struct wsession {
    struct wsession *next;
    struct es_webrtc *w;
    struct wcamera *camera;
    char id[ES_WEBRTC_SESSION_ID + 1];
    char ufrag[ICE_UFRAG_LEN + 1], pwd[ICE_PWD_LEN + 1];
    char remote_ufrag[257];
    struct es_dtls *dtls;
    struct es_srtp *srtp;         /* once DTLS is connected */
    struct sockaddr_storage addr; /* the browser's address, learned from checks */
    socklen_t addr_len;
    bool have_addr, nominated;
    int64_t created_us, consent_us, next_sr_us; /* monotonic */
    uint8_t pt;
    uint32_t ssrc, ts_offset;
    uint16_t seq;
    struct es_keyframe_gate gate; /* video waits for a keyframe while closed */
    int64_t connected_us;         /* monotonic; 0 until DTLS completes */
    uint32_t packets, octets, last_rtp_ts;
    int64_t last_wall_us;
    int64_t last_pts_ticks; /* the newest video frame's camera RTP-timeline time */
    /* Opus (RFC 7587), when the offer took it: -1 = no audio */
    int audio_pt;
    uint32_t audio_ssrc, audio_ts_offset;
    uint16_t audio_seq;
    uint32_t audio_packets, audio_octets, audio_last_rtp_ts;
    int64_t audio_last_wall_us, next_audio_sr_us;
    bool ended;
    int end_reason; /* enum es_webrtc_end_reason when webrtc.c ends it; 0 = inferred at reap */
};

struct frame_msg {
    struct frame_msg *next;
    bool audio;   /* one Opus packet as the frame's only payload */
    bool new_run; /* the first video frame after the camera's timeline restarted */
    struct es_rtp_frame frame;
    int64_t pts_ticks, wall_us;
};

struct wcamera {
    struct wcamera *next;
    struct es_webrtc *w;
    char *id;
    atomic_uint viewers;       /* sessions, read without the lock by the pipeline thread */
    atomic_uint audio_viewers; /* those of them whose offer took Opus */
    bool passthrough;          /* set before start */
    atomic_uint sps_plid;      /* passthrough: SPS bytes 1-3 as seen last; 0 = not yet */
    struct es_h264_packetizer packetizer;           /* pipeline thread only */
    struct es_opus *opus;                           /* pipeline thread only; while watched */
    const void *opus_par;                           /* the parameters it was made for */
    const void *opus_failed;                        /* parameters Opus could not be made for */
    int64_t audio_anchor_pts, audio_anchor_wall_us; /* the newest AAC packet's times */
    struct es_rtp_timeline timeline;                /* pipeline thread only (timeline.h) */
    struct frame_msg *queue_head, **queue_tail;     /* under the lock */
    size_t queued;
    bool broken; /* a frame was dropped: sessions wait for the next IDR */
    void (*keyframe_fn)(void *opaque);
    void *keyframe_opaque;
    int64_t last_keyframe_request_us;
};

struct es_webrtc {
    struct es_webrtc_config config;
    char **hosts;
    size_t host_count;
    struct es_dtls_identity *identity;
    struct wcamera *cameras;
    size_t camera_count;

    pthread_mutex_t lock;
    struct wsession *sessions;
    size_t session_count;
    struct es_webrtc_stats stats;

    int fd, wake_fd;
    uint16_t port;
    struct es_ice_tcp *tcp; /* NULL = no ICE-TCP candidate */
    struct pollfd *pollfds; /* the thread's poll set: UDP, eventfd, ICE-TCP */
    size_t pollfd_cap;
    char failure[200]; /* why start failed, for the 503 body */
    pthread_t thread;
    bool running;
    atomic_bool stop;
};

/* session.c */
struct wsession *es_wsession_create(struct es_webrtc *w, struct wcamera *camera,
                                    const char *remote_ufrag, const char *remote_fingerprint,
                                    uint8_t pt, int audio_pt);
void es_wsession_destroy(struct wsession *s); /* sends close_notify if connected */
void es_wsession_on_stun(struct wsession *s, const uint8_t *msg, size_t len,
                         const struct sockaddr *from, socklen_t from_len, bool use_candidate);
void es_wsession_on_dtls(struct wsession *s, const uint8_t *data, size_t len);
void es_wsession_on_rtcp(struct wsession *s, uint8_t *data, size_t len);
void es_wsession_send_frame(struct wsession *s, const struct frame_msg *m);
void es_wsession_send_audio(struct wsession *s, const struct frame_msg *m);
/* Timers: DTLS retransmission, consent expiry, sender reports. Returns the
 * microseconds until it wants to run again. */
int64_t es_wsession_tick(struct wsession *s, int64_t now_us);
/* webrtc.c: one datagram to the session's address, never blocking. */
void es_webrtc_send_to(struct es_webrtc *w, const struct sockaddr_storage *addr, socklen_t len,
                       const uint8_t *data, size_t size);

#endif
