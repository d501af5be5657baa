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

bool es_keyframe_gate_on_lost(struct es_keyframe_gate *g, int32_t cumulative_lost)
{
    bool grew = g->have_lost && cumulative_lost > g->lost;
    /* A count that went down (duplicates make it negative, RFC 3550 §6.4.1)
     * is a new reference, not a loss. */
    g->lost = cumulative_lost;
    g->have_lost = true;
    if (grew)
        es_keyframe_gate_close(g);
    return grew;
}

bool es_keyframe_gate_pass(struct es_keyframe_gate *g, bool keyframe)
{
    if (keyframe)
        g->closed = false;
    if (g->closed)
        g->frames_dropped++;
    return !g->closed;
}
