#include "playlist/ll_playlist.h"

#include "core/clock.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DECIMALS 100000 /* five decimals, as Apple's examples print */

struct text_out {
    char *buf;
    size_t size, len;
};

static void out_printf(struct text_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void out_printf(struct text_out *o, const char *fmt, ...)
{
    char *dst = o->len < o->size ? o->buf + o->len : NULL;
    size_t room = o->len < o->size ? o->size - o->len : 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

enum rounding { ROUND_NEAREST, ROUND_UP, ROUND_DOWN };

/* Digits by hand, not "%f": the text must not depend on LC_NUMERIC. */
static size_t format_seconds(double seconds, enum rounding how, char *out, size_t out_size)
{
    if (!(seconds >= 0) || seconds > 1e9)
        seconds = 0;
    double scaled = seconds * DECIMALS;
    /* The 1e-6 keeps exact values (0.2 * 1e5 = 20000.000000000004) exact. */
    uint64_t v = how == ROUND_UP     ? (uint64_t)ceil(scaled - 1e-6)
                 : how == ROUND_DOWN ? (uint64_t)floor(scaled + 1e-6)
                                     : (uint64_t)llround(scaled);
    uint64_t whole = v / DECIMALS, frac = v % DECIMALS;
    if (frac == 0)
        return (size_t)snprintf(out, out_size, "%" PRIu64 ".0", whole);
    char digits[8];
    snprintf(digits, sizeof(digits), "%05" PRIu64, frac);
    size_t n = strlen(digits);
    while (n > 1 && digits[n - 1] == '0')
        digits[--n] = '\0';
    return (size_t)snprintf(out, out_size, "%" PRIu64 ".%s", whole, digits);
}

size_t es_ll_format_seconds(double seconds, char *out, size_t out_size)
{
    return format_seconds(seconds, ROUND_NEAREST, out, out_size);
}

double es_ll_round_up_seconds(double seconds)
{
    return ceil(seconds * DECIMALS - 1e-6) / DECIMALS;
}

static const char *secs(double seconds, enum rounding how, char *buf, size_t size)
{
    format_seconds(seconds, how, buf, size);
    return buf;
}

static void write_uri(struct text_out *o, const char *uri, const struct es_ll_write_options *opt)
{
    out_printf(o, "%.*s", (int)strnlen(uri, ES_LL_URI_MAX), uri);
    if (opt && opt->uri_query && opt->uri_query[0])
        out_printf(o, "?%s", opt->uri_query);
}

size_t es_ll_playlist_skippable(const struct es_ll_playlist *pl)
{
    if (pl->can_skip_until <= 0 || pl->count == 0)
        return 0;
    double total = 0;
    for (size_t i = 0; i < pl->count; i++) {
        const struct es_ll_segment *seg = &pl->segments[i];
        if (seg->complete) {
            total += seg->duration;
        } else {
            for (size_t p = 0; p < seg->part_count; p++)
                total += seg->parts[p].duration;
        }
    }
    /* draft §6.2.5.1: the Skip Boundary lies CAN-SKIP-UNTIL seconds before
     * the end of the playlist; segments entirely before it may be skipped. */
    double boundary = total - pl->can_skip_until;
    size_t n = 0;
    double end = 0;
    for (size_t i = 0; i < pl->count; i++) {
        const struct es_ll_segment *seg = &pl->segments[i];
        if (!seg->complete || seg->list_parts)
            break;
        end += seg->duration;
        if (end > boundary + 1e-9)
            break;
        n++;
    }
    return n;
}

static void write_parts(struct text_out *o, const struct es_ll_segment *seg,
                        const struct es_ll_write_options *opt)
{
    char d[32];
    for (size_t p = 0; p < seg->part_count; p++) {
        const struct es_ll_part *part = &seg->parts[p];
        /* Rounded down (never above PART-TARGET, which is rounded up):
         * draft §4.4.4.9 "MUST be less than or equal to the Part Target". */
        out_printf(o, "#EXT-X-PART:DURATION=%s,URI=\"",
                   secs(part->duration, ROUND_DOWN, d, sizeof(d)));
        write_uri(o, part->uri, opt);
        out_printf(o, "\"%s\n", part->independent ? ",INDEPENDENT=YES" : "");
    }
}

size_t es_ll_playlist_write(const struct es_ll_playlist *pl, const struct es_ll_write_options *opt,
                            char *out, size_t out_size)
{
    struct text_out o = {.buf = out, .size = out ? out_size : 0, .len = 0};
    if (o.size > 0)
        out[0] = '\0';
    char a[32], b[32], c[32];

    out_printf(&o, "#EXTM3U\n#EXT-X-VERSION:%d\n", ES_LL_PLAYLIST_VERSION);
    out_printf(&o, "#EXT-X-TARGETDURATION:%u\n", pl->target_duration);
    out_printf(&o, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=%s",
               pl->can_block_reload ? "YES" : "NO");
    if (pl->can_skip_until > 0)
        out_printf(&o, ",CAN-SKIP-UNTIL=%s", secs(pl->can_skip_until, ROUND_UP, a, sizeof(a)));
    out_printf(&o, ",PART-HOLD-BACK=%s", secs(pl->part_hold_back, ROUND_UP, b, sizeof(b)));
    if (pl->hold_back > 0)
        out_printf(&o, ",HOLD-BACK=%s", secs(pl->hold_back, ROUND_UP, c, sizeof(c)));
    out_printf(&o, "\n#EXT-X-PART-INF:PART-TARGET=%s\n",
               secs(pl->part_target, ROUND_UP, a, sizeof(a)));
    out_printf(&o, "#EXT-X-MEDIA-SEQUENCE:%" PRIu64 "\n", pl->media_sequence);
    /* RFC 8216 §4.3.3.3: absent means 0. */
    if (pl->discontinuity_sequence > 0)
        out_printf(&o, "#EXT-X-DISCONTINUITY-SEQUENCE:%" PRIu64 "\n", pl->discontinuity_sequence);
    if (pl->independent_segments)
        out_printf(&o, "#EXT-X-INDEPENDENT-SEGMENTS\n");
    if (pl->start_back > 0 && !pl->endlist)
        out_printf(&o, "#EXT-X-START:TIME-OFFSET=-%s,PRECISE=YES\n",
                   secs(pl->start_back, ROUND_UP, a, sizeof(a)));

    size_t first = 0;
    if (opt && opt->skip) {
        first = es_ll_playlist_skippable(pl);
        /* draft §4.4.5.2: EXT-X-SKIP stands for the first SKIPPED-SEGMENTS
         * segments; EXT-X-MEDIA-SEQUENCE still names the first of them. */
        if (first > 0)
            out_printf(&o, "#EXT-X-SKIP:SKIPPED-SEGMENTS=%zu\n", first);
    }

    const char *map = NULL;
    for (size_t i = first; i < pl->count; i++) {
        const struct es_ll_segment *seg = &pl->segments[i];
        if (seg->discontinuity)
            out_printf(&o, "#EXT-X-DISCONTINUITY\n");
        /* RFC 8216 §4.3.2.5: EXT-X-MAP applies to every segment after it until
         * the next; the first segment written (also after EXT-X-SKIP) names
         * its own, since a client cannot see the skipped ones. */
        if (seg->map_uri && (!map || strcmp(map, seg->map_uri) != 0)) {
            out_printf(&o, "#EXT-X-MAP:URI=\"");
            write_uri(&o, seg->map_uri, opt);
            out_printf(&o, "\"\n");
            map = seg->map_uri;
        }
        if (seg->program_date_time_us > 0) {
            char when[48];
            es_clock_format_iso8601(seg->program_date_time_us, when, sizeof(when));
            out_printf(&o, "#EXT-X-PROGRAM-DATE-TIME:%s\n", when);
        }
        if (seg->list_parts)
            write_parts(&o, seg, opt);
        if (seg->complete) {
            out_printf(&o, "#EXTINF:%s,\n", secs(seg->duration, ROUND_NEAREST, a, sizeof(a)));
            write_uri(&o, seg->uri, opt);
            out_printf(&o, "\n");
        }
    }
    if (pl->preload_hint_uri && !pl->endlist) {
        out_printf(&o, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"");
        write_uri(&o, pl->preload_hint_uri, opt);
        out_printf(&o, "\"\n");
    }
    if (pl->endlist)
        out_printf(&o, "#EXT-X-ENDLIST\n");
    return o.len;
}
