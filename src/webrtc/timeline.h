/* A camera's RTP timeline for WebRTC viewers. The pipeline's 90 kHz media time
 * is continuous across a camera's reconnect but moves on by only about a second
 * there (app/camera.c: run_base), however long the camera was away. A WebRTC
 * receiver holds RTP time against its own arrival clock: libwebrtc's timestamp
 * extrapolator (the jitter buffer's render clock) and its RTP-to-NTP regression
 * over the last sender reports both take a 10 s pause that shows up as 1 s of
 * RTP time for a change of clock rate, so the browser then renders 15 fps
 * frames at 9-12 a second and its jitter buffer grows ~0.4 s every second.
 * RTP time here therefore advances by the wall-clock gap (webrtc-rules.md §6.4:
 * "ts = last + gap × 90"), measured on the arrival clock, and by media time
 * everywhere else. Pipeline thread only; no locking. */
#ifndef ES_WEBRTC_TIMELINE_H
#define ES_WEBRTC_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>

/* A forward step of media time larger than this is a new run (a reconnect or
 * a camera that paused); frame gaps within a run are a frame interval. */
#define ES_RTP_TIMELINE_GAP_TICKS 45000 /* 0.5 s at 90 kHz */

struct es_rtp_timeline {
    bool started;
    int64_t newest_pts;     /* the newest media time seen (90 kHz ticks) */
    int64_t newest_mono_us; /* the monotonic clock when it arrived */
    int64_t offset;         /* RTP time = media time + offset */
    uint64_t runs;          /* new runs seen after the first */
};

/* The RTP-timeline time (90 kHz) of a packet of media time `pts` that arrives
 * at `mono_us` (any stream of the camera: video and audio share the offset).
 * `*new_run` (may be NULL) is set when this packet starts a new run: the first
 * packet after a gap, whose RTP time is the previous newest one's plus the
 * arrival time elapsed since. */
int64_t es_rtp_timeline_map(struct es_rtp_timeline *t, int64_t pts, int64_t mono_us,
                            bool *new_run);

#endif
