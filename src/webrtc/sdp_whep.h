/* The SDP of WHEP (draft-ietf-wish-whep, RFC 9725 for the shared rules): the
 * browser's offer as far as a send-only ICE-lite server needs it, and our
 * answer (RFC 3264 §6, reference/webrtc-rules.md §2). Pure: strings in,
 * strings out. */
#ifndef ES_WEBRTC_SDP_WHEP_H
#define ES_WEBRTC_SDP_WHEP_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ES_SDP_MAX_MEDIA 8
#define ES_SDP_MAX_BYTES 32768

enum es_sdp_kind { ES_SDP_OTHER = 0, ES_SDP_VIDEO, ES_SDP_AUDIO };

struct es_sdp_h264 {
    int pt;
    bool mode1;   /* packetization-mode=1 */
    char plid[7]; /* profile-level-id, lower case; "" when not given */
};

struct es_sdp_media {
    enum es_sdp_kind kind;
    char kind_name[16]; /* as offered: "video", "audio", "application", ... */
    char proto[48];
    char mid[33];
    bool rtcp_rsize;
    bool recv;                     /* the browser receives on it (recvonly or sendrecv) */
    int h264_pt;                   /* video: the chosen H.264 payload type, -1 = none usable */
    char h264_profile_level_id[7]; /* for the answer: as offered, or the camera's */
    struct es_sdp_h264 h264[16];   /* every H.264 format offered */
    size_t h264_count;
    int opus_pt; /* audio: opus/48000/2, -1 = none */
};

struct es_sdp_offer {
    struct es_sdp_media media[ES_SDP_MAX_MEDIA];
    size_t media_count;
    char ice_ufrag[257], ice_pwd[257];
    char fingerprint[96]; /* sha-256, upper-case hex with colons (32 bytes) */
    /* index of the first video m-line with H.264 in packetization-mode 1; -1 =
     * none. Its h264_pt is a constrained-baseline-compatible format (what
     * x264 makes), or -1 when it offers none (es_sdp_choose_h264). */
    int video;
    int audio; /* index of the first audio m-line with Opus; -1 = none */
};

/* Parses `sdp` (`len` bytes, need not be terminated). ES_ERR_INVALID when it
 * is not a usable SDP offer (syntax, no ICE credentials, no sha-256
 * fingerprint, a setup we cannot take, more than ES_SDP_MAX_MEDIA m-lines);
 * ES_ERR_UNSUPPORTED when it is well formed but offers no H.264 with
 * packetization-mode=1 on a video m-line the browser receives on. */
enum es_err es_sdp_offer_parse(const char *sdp, size_t len, struct es_sdp_offer *out);

/* Passthrough: picks the offered H.264 format that can carry the camera's
 * stream as it is, `camera_plid` being its SPS bytes 1-3 ("640028"): same
 * profile_idc (any baseline for constrained baseline); constraint flags and
 * the level are not compared (the answer says
 * level-asymmetry-allowed=1 and names the camera's own profile-level-id, RFC
 * 6184 §8.1). False when the browser offers nothing that fits. */
bool es_sdp_choose_h264(struct es_sdp_media *video, const char *camera_plid);

struct es_sdp_answer_params {
    const char *ice_ufrag, *ice_pwd; /* ours */
    const char *fingerprint;         /* ours: sha-256, upper-case hex with colons */
    const char *const *hosts;        /* candidate addresses (numeric IPs only) */
    size_t host_count;
    uint16_t port; /* the shared UDP port */
    uint32_t video_ssrc;
    uint32_t audio_ssrc;   /* for the offer's Opus m-line, if it has one */
    const char *cname;     /* RTCP CNAME */
    const char *stream_id; /* msid stream */
    uint64_t session_version;
    uint16_t tcp_port; /* the shared ICE-TCP port (RFC 6544 passive); 0 = none */
};

/* Writes the answer: every offered m-line in order with its mid, video
 * sendonly with the chosen H.264 payload type, other m-lines inactive or
 * rejected. Returns a malloc'd string. */
char *es_sdp_answer_write(const struct es_sdp_offer *offer, const struct es_sdp_answer_params *p);

#endif
