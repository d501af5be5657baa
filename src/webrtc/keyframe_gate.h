/* Whether a viewer's video may go out: closed until the next keyframe when
 * the viewer cannot decode what comes before it. A viewer starts closed (its
 * first frame must be an IDR with SPS/PPS, webrtc-rules.md §6.3); the service
 * closes it when it dropped frames for everyone (queue overflow) or the
 * camera's timeline restarted; in passthrough (`transcode: copy`, where no IDR
 * can be forced) the session also closes it on a PLI or FIR and when the
 * viewer lost packets: a receiver report's cumulative loss grew, or a packet
 * could not be sent to it. Frames sent after a lost one would only be decoded
 * from a broken reference (issue 12: "after a packet-loss burst drop
 * everything up to it"). One per session; the caller serializes access.
 *
 * A receiver counts a packet lost only when a later one arrives. When the
 * last packets before the gate closed were lost, the keyframe that opens it
 * again is what reveals them, and the next report shows the count grown for
 * packets sent before that keyframe: that must not close the gate again (it
 * cost Chromium a whole GOP after a loss burst, test_webrtc_loss.py). So the
 * gate notes the keyframe's first sequence number and judges a report by the
 * highest sequence number it covers. */
#ifndef ES_WEBRTC_KEYFRAME_GATE_H
#define ES_WEBRTC_KEYFRAME_GATE_H

#include <stdbool.h>
#include <stdint.h>

struct es_keyframe_gate {
    bool closed;
    bool have_lost;          /* a receiver report was seen */
    int32_t lost;            /* its cumulative number of packets lost */
    uint16_t highest;        /* its highest sequence number received */
    bool reopened;           /* opened at a keyframe no report has covered yet */
    uint16_t reopened_seq;   /* that keyframe's first sequence number */
    uint64_t frames_dropped; /* frames held back while closed */
    uint64_t closings;       /* times an open gate was closed */
};

void es_keyframe_gate_init(struct es_keyframe_gate *g); /* closed */
void es_keyframe_gate_close(struct es_keyframe_gate *g);
/* A receiver report block for the video SSRC (RFC 3550 §6.4.1: cumulative
 * number of packets lost, 24-bit signed; extended highest sequence number
 * received). Closes the gate when the count grew since the previous report
 * by more than the packets sent before the keyframe that last opened it can
 * explain; returns whether it did. The first report only sets the
 * reference. */
bool es_keyframe_gate_on_lost(struct es_keyframe_gate *g, int32_t cumulative_lost,
                              uint32_t highest_seq);
/* One access unit, whose first packet will carry `first_seq`: true when it
 * may be sent. A keyframe opens the gate. */
bool es_keyframe_gate_pass(struct es_keyframe_gate *g, bool keyframe, uint16_t first_seq);

#endif
