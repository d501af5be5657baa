#include "webrtc/timeline.h"

int64_t es_rtp_timeline_map(struct es_rtp_timeline *t, int64_t pts, int64_t mono_us,
                            bool *new_run)
{
    bool jumped = false;
    if (!t->started) {
        t->started = true;
        t->newest_pts = pts;
        t->newest_mono_us = mono_us;
    } else if (pts - t->newest_pts > ES_RTP_TIMELINE_GAP_TICKS) {
        /* The new run continues from the newest packet by the time that
         * really passed (never less than one tick: RTP time only moves on). */
        int64_t elapsed = (mono_us - t->newest_mono_us) * 90 / 1000;
        if (elapsed < 1)
            elapsed = 1;
        t->offset += elapsed - (pts - t->newest_pts);
        t->runs++;
        jumped = true;
    }
    if (pts > t->newest_pts) {
        t->newest_pts = pts;
        t->newest_mono_us = mono_us;
    }
    if (new_run)
        *new_run = jumped;
    return pts + t->offset;
}
