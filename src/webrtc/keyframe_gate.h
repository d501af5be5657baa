/* Whether a viewer's video may go out: closed until the next keyframe when
 * the viewer cannot decode what comes before it. A viewer starts closed (its
 * first frame must be an IDR with SPS/PPS, webrtc-rules.md §6.3); the service
 * closes it when it dropped frames for everyone (queue overflow) or the
 * camera's timeline restarted; in passthrough (`transcode: copy`, where no IDR
 * can be forced) the session also closes it on a PLI or FIR and when the
 * viewer lost packets: a receiver report's cumulative loss grew, or a packet
 * could not be sent to it. Frames sent after a lost one would only be decoded
 * from a broken reference (issue 12: "after a packet-loss burst drop
 * everything up to it"). One per session; the caller serializes access. */
#ifndef ES_WEBRTC_KEYFRAME_GATE_H
#define ES_WEBRTC_KEYFRAME_GATE_H

#include <stdbool.h>
#include <stdint.h>

struct es_keyframe_gate {
    bool closed;
    bool have_lost;          /* a receiver report was seen */
    int32_t lost;            /* its cumulative number of packets lost */
    uint64_t frames_dropped; /* frames held back while closed */
    uint64_t closings;       /* times an open gate was closed */
};

void es_keyframe_gate_init(struct es_keyframe_gate *g); /* closed */
void es_keyframe_gate_close(struct es_keyframe_gate *g);
/* A receiver report block for the video SSRC (RFC 3550 §6.4.1: cumulative
 * number of packets lost, 24-bit signed). Closes the gate when the count grew
 * since the previous report; returns whether it did. The first report only
 * sets the reference. */
bool es_keyframe_gate_on_lost(struct es_keyframe_gate *g, int32_t cumulative_lost);
/* One access unit: true when it may be sent. A keyframe opens the gate. */
bool es_keyframe_gate_pass(struct es_keyframe_gate *g, bool keyframe);

#endif
