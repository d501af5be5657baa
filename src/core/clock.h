/* Clocks. Wall time is for PROGRAM-DATE-TIME and logs; monotonic time is for
 * every timeout and interval. Media timestamps are int64 90 kHz ticks. */
#ifndef ES_CORE_CLOCK_H
#define ES_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define ES_TICKS_PER_SECOND 90000

int64_t es_clock_wall_us(void);
int64_t es_clock_mono_us(void);
/* Sleeps up to `us`; returns early only on signal. */
void es_clock_sleep_us(int64_t us);
/* Writes an ISO 8601 UTC time with milliseconds, e.g. 2026-11-24T14:35:00.123Z. */
void es_clock_format_iso8601(int64_t wall_us, char *out, size_t out_size);
/* Parses the format above (also +00:00 offsets); returns 0 on success. */
int es_clock_parse_iso8601(const char *text, int64_t *wall_us);

#endif
