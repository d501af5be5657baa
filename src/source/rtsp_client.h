/* A small RTSP/1.0 client for the common camera: RTP/AVP/TCP interleaved
 * (RFC 2326 section 10.12), H.264 video (RFC 6184) and optional AAC (RFC 3640)
 * or G.711 audio. It reads the socket in large chunks (one recv per poll
 * wake-up), where libavformat's reader makes about three syscalls per RTP
 * packet, and it exposes the camera's RTCP sender-report clock.
 *
 * Anything else a camera may offer (rtsps, UDP only, other codecs, redirects)
 * makes es_rtsp_client_open return ES_ERR_UNSUPPORTED, and the caller falls
 * back to libavformat.
 *
 * Streams are described as libavformat streams so the rest of the pipeline
 * needs no change. The client keeps an AVFormatContext that is only a
 * container (no I/O): streams[0] is the video, streams[1] the audio if any.
 *   video: AVMEDIA_TYPE_VIDEO, AV_CODEC_ID_H264, time_base 1/90000,
 *          extradata = Annex B SPS/PPS from sprop-parameter-sets (none if the
 *          camera sends them only in band), width/height/profile/level from
 *          the SPS, avg_frame_rate from a=framerate when present.
 *   audio: AV_CODEC_ID_AAC (extradata = AudioSpecificConfig from config=,
 *          frame_size 1024 or 960) or AV_CODEC_ID_PCM_MULAW / PCM_ALAW (8000
 *          Hz mono); sample_rate, ch_layout; time_base 1/RTP clock rate.
 *
 * Every blocking step is bounded: open by connect_timeout_ms in total, each
 * read by read_timeout_ms without a media packet, and both return
 * ES_ERR_STOPPED within about 100 ms of *stop becoming true. One client is
 * used by one thread. Passwords never reach the logs. */
#ifndef ES_SOURCE_RTSP_CLIENT_H
#define ES_SOURCE_RTSP_CLIENT_H

#include "core/error.h"

#include <libavformat/avformat.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct es_rtsp_client_config {
    const char *camera_id; /* for logs */
    const char *url;       /* rtsp://[user:pass@]host[:port]/path[?query], user/pass %-encoded */
    unsigned connect_timeout_ms;
    unsigned read_timeout_ms;
    bool want_audio;
    const atomic_bool *stop; /* may be NULL */
    /* Read the socket at most once per batch_ms (capped at 100; 0 reads as
     * soon as bytes arrive). Each wake-up costs a context switch, and a
     * camera writes each audio frame and each video frame apart: 40 (one
     * frame at 25 fps) halves the reader's CPU for at most 40 ms of latency. */
    unsigned batch_ms;
    /* Answer a challenge that offers only Basic (the password in base64, in
     * clear on a plain TCP connection). False: refused, as ES_ERR_AUTH, since a
     * man in the middle can strip a camera's Digest offer to get the password. */
    bool allow_basic;
};

#define ES_RTSP_MAX_EARLY_UNITS 512
#define ES_RTSP_MAX_EARLY_BYTES ((size_t)16 << 20)

struct es_rtsp_client;

/* Connects and runs OPTIONS, DESCRIBE, SETUP (each track), PLAY, with Digest
 * (or, if allow_basic, Basic) authentication from the URL's credentials. Units
 * a camera sends before its PLAY reply are kept (RFC 2326 section 10.5), up to
 * ES_RTSP_MAX_EARLY_UNITS / ES_RTSP_MAX_EARLY_BYTES; past that the open fails.
 * Returns ES_OK, or:
 *   ES_ERR_UNSUPPORTED  a camera this client does not handle: use libavformat
 *   ES_ERR_AUTH         credentials refused (401), missing, or only Basic offered
 *                       while allow_basic is false
 *   ES_ERR_SOURCE       unreachable, refused, bad stream
 *   ES_ERR_TIMEOUT      connect_timeout_ms passed
 *   ES_ERR_STOPPED      *stop became true */
enum es_err es_rtsp_client_open(const struct es_rtsp_client_config *config,
                                struct es_rtsp_client **out);

/* Sends TEARDOWN (best effort, without waiting) and frees everything. NULL is
 * fine. */
void es_rtsp_client_close(struct es_rtsp_client *client);

/* The streams, valid until close; audio is NULL when the camera has none or
 * want_audio was false. */
const AVStream *es_rtsp_client_video(const struct es_rtsp_client *client);
const AVStream *es_rtsp_client_audio(const struct es_rtsp_client *client);

/* Reads the next access unit into `pkt` (caller-owned, unreferenced on entry):
 * stream_index 0 video / 1 audio, pts = dts in that stream's time base,
 * continuous over 64 bits and starting near 0 (streams aligned by the PLAY
 * reply's RTP-Info when the camera sends it). Video is one whole access unit
 * in Annex B with 4-byte start codes, AV_PKT_FLAG_KEY when it holds an IDR;
 * the first is always a keyframe, and units damaged by loss are dropped along
 * with everything up to the next IDR. Audio packets carry their duration.
 *
 * `capture_us` is the wall clock (Unix µs) of the unit's capture from the
 * camera's RTCP sender reports for that stream once one has arrived
 * (*from_camera_clock = true), else the time it arrived here.
 *
 * Errors: ES_ERR_TIMEOUT (no media for read_timeout_ms), ES_ERR_SOURCE
 * (connection closed or broken, session lost), ES_ERR_STOPPED. After an error
 * the client is only good for close. */
enum es_err es_rtsp_client_read(struct es_rtsp_client *client, AVPacket *pkt, int64_t *capture_us,
                                bool *from_camera_clock);

/* Counters for logs and benchmarks. */
struct es_rtsp_client_stats {
    uint64_t recv_calls, bytes;
    uint64_t rtp_packets, rtcp_packets, lost_packets;
    uint64_t video_units, audio_units, dropped_units;
    uint64_t keepalives;
};

struct es_rtsp_client_stats es_rtsp_client_stats(const struct es_rtsp_client *client);

/* RFC 2617 section 3.2.2 request-digest, as 32 lowercase hex digits. qop is
 * "auth" or NULL (RFC 2069 compatibility: nc and cnonce unused); md5_sess
 * selects algorithm MD5-sess. Exposed for tests. */
struct es_rtsp_client_digest {
    const char *username, *password, *realm, *nonce;
    const char *method, *uri;
    const char *qop, *nc, *cnonce;
    bool md5_sess;
};

void es_rtsp_client_digest_response(const struct es_rtsp_client_digest *d, char out[33]);

#endif
