#include "webrtc/timeline.h"

/* The arrival time from a stream's newest packet to this one, in 90 kHz
 * ticks: what the receiver's own clock will see between the two (its jitter
 * buffer extrapolates RTP time against arrival). Capture times are no better
 * here: the camera's clock is learnt (RTCP) a second or two into each
 * connection, so the last frame before a gap and the first after it are often
 * on different mappings, and a step that disagrees with arrival by even half a
 * second made Chromium's jitter buffer drift again (~80 ms/s). */
static int64_t elapsed_ticks(const struct es_rtp_timeline_stream *s, int64_t mono_us)
{
    int64_t ticks = (mono_us - s->newest_mono_us) * 90 / 1000;
    return ticks < 1 ? 1 : ticks; /* RTP time only moves on */
}

int64_t es_rtp_timeline_map(struct es_rtp_timeline *t, int stream, int64_t pts, int64_t mono_us,
                            bool *new_run)
{
    if (stream < 0 || stream >= ES_RTP_TIMELINE_STREAMS)
        stream = ES_RTP_TIMELINE_VIDEO;
    struct es_rtp_timeline_stream *s = &t->stream[stream];
    bool jumped = false, fresh = !s->started || s->runs != t->runs;
    int64_t step = pts - s->newest_pts;
    bool stepped =
        s->started && (step > ES_RTP_TIMELINE_GAP_TICKS || -step > ES_RTP_TIMELINE_GAP_TICKS);
    if (stepped && s->runs == t->runs) {
        /* This stream is first into a new run. */
        t->offset = s->newest_rtp + elapsed_ticks(s, mono_us) - pts;
        t->runs++;
        jumped = fresh = true;
    } else if (stepped && stream == ES_RTP_TIMELINE_VIDEO) {
        /* Audio opened this run; the picture's own gap decides. */
        t->offset = s->newest_rtp + elapsed_ticks(s, mono_us) - pts;
    }
    if (fresh || pts > s->newest_pts) {
        s->newest_pts = pts;
        s->newest_rtp = pts + t->offset;
        s->newest_mono_us = mono_us;
    }
    s->started = true;
    s->runs = t->runs;
    if (new_run)
        *new_run = jumped;
    return pts + t->offset;
}
