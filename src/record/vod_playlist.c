#include "record/vod_playlist.h"

#include "core/alloc.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool es_record_is_break(const struct es_record_entry *prev, const struct es_record_entry *e)
{
    if (e->discontinuity || e->msn != prev->msn + 1)
        return true;
    int64_t gap = e->start_ms - (prev->start_ms + (int64_t)prev->duration_ms);
    return gap > ES_RECORD_GAP_MS || gap < -ES_RECORD_GAP_MS;
}

/* Per segment: PDT line (~50), EXTINF (~20), name (~45), query, breaks. */
#define LINE_BYTES 160

char *es_record_vod_playlist(const struct es_record_entry *entries, size_t count, const char *query,
                             size_t *len)
{
    size_t qlen = query ? strlen(query) + 1 : 0;
    size_t cap = 256 + count * (LINE_BYTES + qlen);
    char *out = es_malloc(cap);
    unsigned target = 1;
    for (size_t i = 0; i < count; i++) {
        /* RFC 8216 §4.3.3.1: every EXTINF, rounded to the nearest integer,
         * at most TARGETDURATION. */
        unsigned rounded = (entries[i].duration_ms + 500) / 1000;
        if (rounded > target)
            target = rounded;
    }
    size_t n = (size_t)snprintf(out, cap,
                                "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%u\n"
                                "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
                                "#EXT-X-INDEPENDENT-SEGMENTS\n",
                                target);
    for (size_t i = 0; i < count; i++) {
        const struct es_record_entry *e = &entries[i];
        /* RFC 8216 §4.3.2.3: EXT-X-DISCONTINUITY where timestamps or
         * encoding change; a hole in time is one (restart, reconnect). */
        if (i > 0 && es_record_is_break(&entries[i - 1], e))
            n += (size_t)snprintf(out + n, cap - n, "#EXT-X-DISCONTINUITY\n");
        char when[48], name[ES_RECORD_NAME_MAX];
        es_clock_format_iso8601(e->start_ms * 1000, when, sizeof(when));
        es_record_name(e, name, sizeof(name));
        n += (size_t)snprintf(out + n, cap - n,
                              "#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:%u.%03u,\n%s%s%s\n", when,
                              e->duration_ms / 1000, e->duration_ms % 1000, name, query ? "?" : "",
                              query ? query : "");
    }
    n += (size_t)snprintf(out + n, cap - n, "#EXT-X-ENDLIST\n");
    *len = n;
    return out;
}

static bool two(const char *p, int *v)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
        return false;
    *v = (p[0] - '0') * 10 + (p[1] - '0');
    return true;
}

bool es_record_parse_time(const char *t, int64_t *ms)
{
    int y1, y2, mo, d, h, mi, s;
    if (strlen(t) < 20 || !two(t, &y1) || !two(t + 2, &y2) || t[4] != '-' || !two(t + 5, &mo) ||
        t[7] != '-' || !two(t + 8, &d) || t[10] != 'T' || !two(t + 11, &h) || t[13] != ':' ||
        !two(t + 14, &mi) || t[16] != ':' || !two(t + 17, &s))
        return false;
    int year = y1 * 100 + y2;
    if (year < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
        return false;
    const char *p = t + 19;
    int64_t frac_ms = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        int64_t scale = 100;
        for (; *p >= '0' && *p <= '9'; p++, n++) {
            frac_ms += (*p - '0') * scale;
            scale /= 10;
        }
        if (n == 0 || n > 9)
            return false;
    }
    int64_t offset_s = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!two(p + 1, &oh) || p[3] != ':' || !two(p + 4, &om) || oh > 23 || om > 59)
            return false;
        offset_s = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p)
        return false;
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    time_t secs = timegm(&tm);
    struct tm back;
    gmtime_r(&secs, &back);
    if (back.tm_mday != d || back.tm_mon != mo - 1)
        return false; /* 31 February */
    *ms = ((int64_t)secs - offset_s) * 1000 + frac_ms;
    return true;
}
