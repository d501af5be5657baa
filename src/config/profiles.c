#include "config/config.h"

#include <string.h>

/* The reference design's "Latency vs Stability Tradeoffs" table, with the
 * rolling window it uses (5 segments, 6 for 1 s segments as in its "Option 1"),
 * plus `ll`: with Low-Latency HLS the player holds back by PART-HOLD-BACK, so
 * its segment counts are 0 ("let the playlist decide"). */
static const struct es_profile profiles[] = {
    {"ultra-low", 1.0, 6, 2, 4, 0.0}, {"low", 2.0, 5, 2, 4, 0.0}, {"balanced", 4.0, 5, 3, 5, 0.0},
    {"stable", 6.0, 5, 4, 6, 0.0},    {"ll", 1.0, 6, 0, 0, 0.2},  {NULL, 0.0, 0, 0, 0, 0.0},
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
