/* A camera's RTP timeline for WebRTC viewers. The pipeline's 90 kHz media time
 * is continuous across a camera's reconnect but moves on by only about a second
 * there (app/camera.c: run_base), however long the camera was away. A WebRTC
 * receiver holds RTP time against its own arrival clock: libwebrtc's timestamp
 * extrapolator (the jitter buffer's render clock) and its RTP-to-NTP regression
 * over the last sender reports both take a 10 s pause that shows up as 1 s of
 * RTP time for a change of clock rate, so the browser then renders 15 fps
 * frames at 9-12 a second and its jitter buffer grows ~0.4 s every second.
 * RTP time here therefore advances by the gap in arrival time (webrtc-rules.md
 * §6.4: "ts = last + gap × 90"), which is what the receiver's clock sees, and
 * by media (capture) time everywhere else. Pipeline thread only. */
#ifndef ES_WEBRTC_TIMELINE_H
#define ES_WEBRTC_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>

/* A step of a stream's media time larger than this is a new run: forward, a
 * reconnect or a camera that paused; backward, a pipeline restarted by a
 * config reload (its timeline starts over). Frame steps within a run are a
 * frame interval. Each stream is judged against itself, so a camera whose
 * audio runs a second behind its video is no new run at every packet. */
#define ES_RTP_TIMELINE_GAP_TICKS 45000 /* 0.5 s at 90 kHz */

enum { ES_RTP_TIMELINE_VIDEO, ES_RTP_TIMELINE_AUDIO, ES_RTP_TIMELINE_STREAMS };

struct es_rtp_timeline {
    int64_t offset; /* RTP time = media time + offset, for every stream */
    uint64_t runs;  /* new runs seen after the first */
    struct es_rtp_timeline_stream {
        bool started;
        int64_t newest_pts;     /* its newest media time (90 kHz ticks) */
        int64_t newest_rtp;     /* ... and its RTP-timeline time */
        int64_t newest_mono_us; /* the monotonic clock when it arrived */
        uint64_t runs;          /* `runs` as of its newest packet */
    } stream[ES_RTP_TIMELINE_STREAMS];
};

/* The RTP-timeline time (90 kHz) of a packet of `stream` with media time
 * `pts`, arriving at `mono_us`. The first stream to step into a new run sets
 * the offset: its RTP time is its previous packet's plus the arrival time
 * elapsed since. Audio then follows; video, when audio stepped first (AAC is
 * out before the first picture), sets it again from its own previous frame,
 * so the picture's timeline is the one kept. `*new_run` (may be NULL) is set
 * for the packet that started the run. */
int64_t es_rtp_timeline_map(struct es_rtp_timeline *t, int stream, int64_t pts, int64_t mono_us,
                            bool *new_run);

#endif
