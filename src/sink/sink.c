#include "sink/sink.h"

#include <inttypes.h>
#include <stdio.h>

void es_sink_segment_name(uint64_t msn, char *out, size_t out_size)
{
    snprintf(out, out_size, "segment_%03" PRIu64 ".ts", msn);
}
