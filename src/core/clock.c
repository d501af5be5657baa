#include "core/clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t read_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t es_clock_wall_us(void)
{
    return read_clock(CLOCK_REALTIME);
}

int64_t es_clock_mono_us(void)
{
    return read_clock(CLOCK_MONOTONIC);
}

void es_clock_sleep_us(int64_t us)
{
    if (us <= 0)
        return;
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

void es_clock_format_iso8601(int64_t wall_us, char *out, size_t out_size)
{
    time_t secs = (time_t)(wall_us / 1000000);
    struct tm utc;
    gmtime_r(&secs, &utc);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(out, out_size, "%s.%03dZ", base, (int)((wall_us % 1000000) / 1000));
}

int es_clock_parse_iso8601(const char *text, int64_t *wall_us)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int consumed = 0;
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const char *rest = text + consumed;
    int64_t frac_us = 0;
    if (*rest == '.') {
        int64_t scale = 100000;
        for (rest++; *rest >= '0' && *rest <= '9'; rest++) {
            frac_us += (*rest - '0') * scale;
            scale /= 10;
        }
    }
    int64_t offset_s = 0;
    if (*rest == '+' || *rest == '-') {
        int hh = 0, mm = 0;
        if (sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2)
            return -1;
        offset_s = (hh * 3600 + mm * 60) * (*rest == '-' ? -1 : 1);
    } else if (*rest != 'Z') {
        return -1;
    }
    time_t secs = timegm(&tm);
    *wall_us = ((int64_t)secs - offset_s) * 1000000 + frac_us;
    return 0;
}
