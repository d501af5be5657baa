#include "webrtc/timeline.h"

int64_t es_rtp_timeline_map(struct es_rtp_timeline *t, int stream, int64_t pts, int64_t mono_us,
                            bool *new_run)
{
    if (stream < 0 || stream >= ES_RTP_TIMELINE_STREAMS)
        stream = ES_RTP_TIMELINE_VIDEO;
    struct es_rtp_timeline_stream *s = &t->stream[stream];
    bool jumped = false, fresh = !s->started || s->runs != t->runs;
    int64_t step = pts - s->newest_pts;
    if (s->started && s->runs == t->runs &&
        (step > ES_RTP_TIMELINE_GAP_TICKS || -step > ES_RTP_TIMELINE_GAP_TICKS)) {
        /* This stream is first into a new run: it continues from its newest
         * packet by the time that really passed (at least one tick: RTP time
         * only moves on). A stream that steps after another one already did
         * keeps that run's offset. */
        int64_t elapsed = (mono_us - s->newest_mono_us) * 90 / 1000;
        if (elapsed < 1)
            elapsed = 1;
        t->offset = s->newest_pts + t->offset + elapsed - pts;
        t->runs++;
        jumped = fresh = true;
    }
    if (fresh || pts > s->newest_pts) {
        s->newest_pts = pts;
        s->newest_mono_us = mono_us;
    }
    s->started = true;
    s->runs = t->runs;
    if (new_run)
        *new_run = jumped;
    return pts + t->offset;
}
