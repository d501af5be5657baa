#include "webrtc/timeline.h"

/* The time from a stream's newest packet to this one, in 90 kHz ticks. */
static int64_t elapsed_ticks(const struct es_rtp_timeline_stream *s, int64_t capture_us,
                             int64_t mono_us)
{
    int64_t captured = capture_us - s->newest_capture_us;
    int64_t arrived = mono_us - s->newest_mono_us;
    int64_t d = captured - arrived;
    int64_t us = d > ES_RTP_TIMELINE_CLOCK_SLACK_US || -d > ES_RTP_TIMELINE_CLOCK_SLACK_US
                     ? arrived
                     : captured;
    int64_t ticks = us * 90 / 1000;
    return ticks < 1 ? 1 : ticks; /* RTP time only moves on */
}

int64_t es_rtp_timeline_map(struct es_rtp_timeline *t, int stream, int64_t pts, int64_t capture_us,
                            int64_t mono_us, bool *new_run)
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
        t->offset = s->newest_rtp + elapsed_ticks(s, capture_us, mono_us) - pts;
        t->runs++;
        jumped = fresh = true;
    } else if (stepped && stream == ES_RTP_TIMELINE_VIDEO) {
        /* Audio opened this run; the picture's own gap decides. */
        t->offset = s->newest_rtp + elapsed_ticks(s, capture_us, mono_us) - pts;
    }
    if (fresh || pts > s->newest_pts) {
        s->newest_pts = pts;
        s->newest_rtp = pts + t->offset;
        s->newest_capture_us = capture_us;
        s->newest_mono_us = mono_us;
    }
    s->started = true;
    s->runs = t->runs;
    if (new_run)
        *new_run = jumped;
    return pts + t->offset;
}
