#include "sink/sink.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void es_sink_segment_name(uint64_t msn, char *out, size_t out_size)
{
    snprintf(out, out_size, "segment_%03" PRIu64 ".ts", msn);
}

bool es_sink_segment_msn(const char *name, uint64_t *msn)
{
    static const char prefix[] = "segment_";
    const size_t prefix_len = sizeof(prefix) - 1;
    if (strncmp(name, prefix, prefix_len) != 0)
        return false;
    uint64_t v = 0;
    const char *p = name + prefix_len;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (strcmp(p, ".ts") != 0)
        return false;
    /* The digits must be the ones we print: no extra leading zeros. */
    char own[40];
    es_sink_segment_name(v, own, sizeof(own));
    if (strcmp(own, name) != 0)
        return false;
    *msn = v;
    return true;
}
