#include "webrtc/keyframe_gate.h"

#include <string.h>

void es_keyframe_gate_init(struct es_keyframe_gate *g)
{
    memset(g, 0, sizeof(*g));
    g->closed = true;
}

void es_keyframe_gate_close(struct es_keyframe_gate *g)
{
    if (!g->closed)
        g->closings++;
    g->closed = true;
}

bool es_keyframe_gate_on_lost(struct es_keyframe_gate *g, int32_t cumulative_lost,
                              uint32_t highest_seq)
{
    uint16_t highest = (uint16_t)highest_seq;
    /* A count that went down (duplicates make it negative, RFC 3550 §6.4.1)
     * is a new reference, not a loss. */
    int32_t grown = g->have_lost ? cumulative_lost - g->lost : 0;
    if (g->reopened && g->have_lost) {
        if ((int16_t)(uint16_t)(highest - g->reopened_seq) < 0) {
            /* Short of the keyframe: all it counts was sent before it. */
            grown = 0;
        } else {
            /* Covers the keyframe: those lost among the packets after the
             * previous report's highest and before the keyframe were sent
             * before it (RFC 3550 serial arithmetic, 16 bits). */
            uint16_t before = (uint16_t)(g->reopened_seq - 1 - g->highest);
            if (before < 0x8000)
                grown -= before;
            g->reopened = false;
        }
    }
    g->lost = cumulative_lost;
    g->highest = highest;
    g->have_lost = true;
    bool grew = grown > 0;
    if (grew)
        es_keyframe_gate_close(g);
    return grew;
}

bool es_keyframe_gate_pass(struct es_keyframe_gate *g, bool keyframe, uint16_t first_seq)
{
    if (keyframe && g->closed) {
        g->closed = false;
        g->reopened = true;
        g->reopened_seq = first_seq;
    }
    if (g->closed)
        g->frames_dropped++;
    return !g->closed;
}
