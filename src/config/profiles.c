#include "config/config.h"

#include <string.h>

/* The reference design's "Latency vs Stability Tradeoffs" table, with the
 * rolling window it uses (5 segments, 6 for 1 s segments as in its "Option 1"),
 * plus `ll`: with Low-Latency HLS the player holds back by PART-HOLD-BACK, so
 * its segment counts are 0 ("let the playlist decide"). Its parts are the
 * whole frames that fit in 0.134 s: two at 15 fps, three at 25, four at 30,
 * each within the 85 % to 100 % of PART-TARGET the draft asks of a part even
 * when passthrough cuts by time; PART-HOLD-BACK is three of them, 0.4 s at
 * 15 fps (0.2 s parts held players 0.2 s further back: docs/origin.md). */
static const struct es_profile profiles[] = {
    {"ultra-low", 1.0, 6, 2, 4, 0.0}, {"low", 2.0, 5, 2, 4, 0.0},  {"balanced", 4.0, 5, 3, 5, 0.0},
    {"stable", 6.0, 5, 4, 6, 0.0},    {"ll", 1.0, 6, 0, 0, 0.134}, {NULL, 0.0, 0, 0, 0, 0.0},
};

const struct es_profile *es_profiles(void)
{
    return profiles;
}

const struct es_profile *es_profile_find(const char *name)
{
    if (!name)
        return NULL;
    for (const struct es_profile *p = profiles; p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}
