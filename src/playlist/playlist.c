#include "playlist/playlist.h"

#include "core/alloc.h"
#include "core/clock.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Anything larger than this many seconds is a corrupt file, not a stream. */
#define MAX_SECONDS 1000000
#define US_PER_SECOND 1000000
/* 9999-12-31T23:59:59.999Z: the writer prints four-digit years, so later
 * times could not be read back. */
#define PDT_MAX_US INT64_C(253402300799999000)
/* The writer prints milliseconds; below one a PDT would print as the epoch,
 * which the model spells "no PDT" (0). */
#define PDT_MIN_US 1000
#define VERSION_MAX 100

/* --- validation shared by append and parse ------------------------------------ */

/* Durations are printed as whole microseconds (see write_duration); every check
 * is made on that printed value, so what is validated is what a player reads. */
static bool duration_to_us(double duration, uint64_t *us)
{
    if (!(duration >= 0.0 && duration <= MAX_SECONDS)) /* also rejects NaN */
        return false;
    *us = (uint64_t)llround(duration * US_PER_SECOND);
    return true;
}

/* "." or "..", also with dots spelled %2e: RFC 3986 §6.2.2.2 lets a
 * normaliser decode percent-encoded unreserved characters, and WHATWG URL
 * parsers treat "%2e" as a dot in path segments. */
static bool is_dot_segment(const char *seg, size_t len)
{
    size_t dots = 0;
    for (size_t i = 0; i < len;) {
        if (seg[i] == '.') {
            i++;
        } else if (i + 2 < len && seg[i] == '%' && seg[i + 1] == '2' &&
                   (seg[i + 2] == 'e' || seg[i + 2] == 'E')) {
            i += 3;
        } else {
            return false;
        }
        dots++;
    }
    return dots == 1 || dots == 2;
}

/* RFC 3986 §5.2.4: when a reference is resolved, "remove_dot_segments" lets
 * ".." climb one directory up. Every name a playlist of ours holds sits in the
 * playlist's own directory, and a playlist read back (an old stream.m3u8, a
 * stored one) is not trusted, so a path with a dot-segment is refused. Only the
 * path counts: a '?' or '#' ends it. */
static bool has_dot_segment(const char *uri, size_t len)
{
    size_t path_len = strcspn(uri, "?#");
    if (path_len > len)
        path_len = len;
    size_t start = 0;
    for (size_t i = 0; i <= path_len; i++) {
        if (i == path_len || uri[i] == '/') {
            if (is_dot_segment(uri + start, i - start))
                return true;
            start = i + 1;
        }
    }
    return false;
}

static bool uri_is_valid(const char *uri)
{
    size_t len = strnlen(uri, ES_PLAYLIST_URI_MAX);
    if (len == 0 || len == ES_PLAYLIST_URI_MAX)
        return false;
    /* RFC 8216 §4.1: a line starting with '#' is a tag or comment, not a URI. */
    if (uri[0] == '#')
        return false;
    /* No whitespace or control bytes: a CR/LF would end the line and inject a
     * line of its own; RFC 3986 URIs have no raw spaces. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (c <= 0x20 || c == 0x7f)
            return false;
        /* WHATWG URL parsers (every browser, hls.js) read '\\' as '/'. */
        if (c == '\\')
            return false;
    }
    return !has_dot_segment(uri, len);
}

static enum es_err segment_check(const struct es_playlist_segment *seg, unsigned target_duration)
{
    uint64_t us;
    if (!duration_to_us(seg->duration, &us))
        return ES_ERR_INVALID;
    /* RFC 8216 §4.3.3.1: "The EXTINF duration of each Media Segment in the
     * Playlist file, when rounded to the nearest integer, MUST be less than or
     * equal to the target duration" (lround: halves round up). */
    if ((us + US_PER_SECOND / 2) / US_PER_SECOND > target_duration)
        return ES_ERR_INVALID;
    if (seg->program_date_time_us != 0 &&
        (seg->program_date_time_us < PDT_MIN_US || seg->program_date_time_us > PDT_MAX_US))
        return ES_ERR_INVALID;
    if (!uri_is_valid(seg->uri))
        return ES_ERR_INVALID;
    return ES_OK;
}

static void push_segment(struct es_playlist *pl, const struct es_playlist_segment *seg)
{
    if (pl->count == pl->capacity) {
        size_t capacity = pl->capacity ? pl->capacity * 2 : 16;
        pl->segments = es_realloc(pl->segments, capacity * sizeof(*pl->segments));
        pl->capacity = capacity;
    }
    pl->segments[pl->count++] = *seg;
}

/* --- model ---------------------------------------------------------------------- */

void es_playlist_init(struct es_playlist *pl, unsigned target_duration)
{
    memset(pl, 0, sizeof(*pl));
    pl->version = 3;
    pl->target_duration = target_duration;
}

void es_playlist_clear(struct es_playlist *pl)
{
    if (!pl)
        return;
    free(pl->segments);
    memset(pl, 0, sizeof(*pl));
}

enum es_err es_playlist_append(struct es_playlist *pl, const struct es_playlist_segment *seg)
{
    if (pl->count > 0) {
        if (seg->msn != pl->media_sequence + pl->count)
            return ES_ERR_INVALID;
    } else if (seg->msn < pl->media_sequence) {
        /* RFC 8216 §6.2.2: EXT-X-MEDIA-SEQUENCE "MUST NOT decrease or wrap";
         * after a trim to empty, media_sequence is already the next number. */
        return ES_ERR_INVALID;
    }
    /* §6.2.2: nor wrap; media_sequence must still name the next segment. */
    if (seg->msn == UINT64_MAX)
        return ES_ERR_INVALID;
    enum es_err err = segment_check(seg, pl->target_duration);
    if (err != ES_OK)
        return err;
    if (pl->count == 0)
        pl->media_sequence = seg->msn;
    push_segment(pl, seg);
    return ES_OK;
}

size_t es_playlist_trim(struct es_playlist *pl, size_t keep, struct es_playlist_segment *removed,
                        size_t removed_cap)
{
    if (pl->count <= keep)
        return 0;
    size_t n = pl->count - keep;
    for (size_t i = 0; i < n; i++) {
        if (removed && i < removed_cap)
            removed[i] = pl->segments[i];
        /* RFC 8216 §6.2.2: "If the server removes an EXT-X-DISCONTINUITY tag
         * from the Media Playlist, it MUST increment the value of the
         * EXT-X-DISCONTINUITY-SEQUENCE tag". */
        if (pl->segments[i].discontinuity)
            pl->discontinuity_sequence++;
    }
    memmove(pl->segments, pl->segments + n, keep * sizeof(*pl->segments));
    pl->count = keep;
    pl->media_sequence += n;
    return n;
}

double es_playlist_duration(const struct es_playlist *pl)
{
    double total = 0.0;
    for (size_t i = 0; i < pl->count; i++)
        total += pl->segments[i].duration;
    return total;
}

/* --- writer --------------------------------------------------------------------- */

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

/* Digits are printed by hand rather than with "%f" so the text does not
 * depend on LC_NUMERIC (a library calling setlocale would turn the point
 * into a comma). Six decimals, as FFmpeg's hlsenc writes. */
static void write_duration(struct text_out *o, double duration)
{
    uint64_t us;
    if (!duration_to_us(duration, &us)) {
        /* Unreachable through es_playlist_append; print it as-is so a model
         * filled by hand shows its bug instead of hiding it. */
        out_printf(o, "#EXTINF:%f,\n", duration);
        return;
    }
    out_printf(o, "#EXTINF:%" PRIu64 ".%06" PRIu64 ",\n", us / US_PER_SECOND, us % US_PER_SECOND);
}

size_t es_playlist_write(const struct es_playlist *pl, char *out, size_t out_size)
{
    struct text_out o = {.buf = out, .size = out ? out_size : 0, .len = 0};
    if (o.size > 0)
        out[0] = '\0';

    out_printf(&o, "#EXTM3U\n#EXT-X-VERSION:%u\n", pl->version);
    out_printf(&o, "#EXT-X-TARGETDURATION:%u\n", pl->target_duration);
    out_printf(&o, "#EXT-X-MEDIA-SEQUENCE:%" PRIu64 "\n", pl->media_sequence);
    /* RFC 8216 §4.3.3.3: absent means 0, so only non-zero values are written. */
    if (pl->discontinuity_sequence > 0)
        out_printf(&o, "#EXT-X-DISCONTINUITY-SEQUENCE:%" PRIu64 "\n", pl->discontinuity_sequence);
    if (pl->independent_segments)
        out_printf(&o, "#EXT-X-INDEPENDENT-SEGMENTS\n");

    for (size_t i = 0; i < pl->count; i++) {
        const struct es_playlist_segment *seg = &pl->segments[i];
        if (seg->discontinuity)
            out_printf(&o, "#EXT-X-DISCONTINUITY\n");
        if (seg->program_date_time_us != 0) {
            char when[48];
            es_clock_format_iso8601(seg->program_date_time_us, when, sizeof(when));
            out_printf(&o, "#EXT-X-PROGRAM-DATE-TIME:%s\n", when);
        }
        write_duration(&o, seg->duration);
        out_printf(&o, "%.*s\n", (int)strnlen(seg->uri, ES_PLAYLIST_URI_MAX), seg->uri);
    }

    if (pl->endlist)
        out_printf(&o, "#EXT-X-ENDLIST\n");
    return o.len;
}

/* --- parser --------------------------------------------------------------------- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 8216 §4.2 decimal-integer: "an unquoted string of characters from the
 * set [0..9] expressing an integer in base-10 ... range 0 to 2^64-1". No sign,
 * no spaces, no empty string. */
static bool parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    if (len == 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i]))
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* RFC 8216 §4.2 decimal-floating-point: "[0..9] and '.'" — no sign, exponent,
 * "nan" or "inf". Read into whole microseconds (half up at the seventh
 * decimal), the precision the writer prints, so that a parsed model writes
 * back exactly and validates as written. Locale-independent, unlike strtod. */
static bool parse_duration_us(const char *s, size_t len, uint64_t *us)
{
    size_t i = 0;
    uint64_t whole = 0, frac = 0;
    while (i < len && is_digit(s[i])) {
        whole = whole * 10 + (uint64_t)(s[i] - '0');
        if (whole > MAX_SECONDS)
            return false;
        i++;
    }
    size_t int_digits = i;
    size_t frac_digits = 0;
    bool round_up = false;
    if (i < len && s[i] == '.') {
        for (i++; i < len && is_digit(s[i]); i++, frac_digits++) {
            if (frac_digits < 6)
                frac = frac * 10 + (uint64_t)(s[i] - '0');
            else if (frac_digits == 6)
                round_up = s[i] >= '5';
        }
    }
    if (i != len || int_digits + frac_digits == 0)
        return false;
    for (size_t k = frac_digits; k < 6; k++)
        frac *= 10;
    *us = whole * US_PER_SECOND + frac + (round_up ? 1 : 0);
    return *us <= (uint64_t)MAX_SECONDS * US_PER_SECOND;
}

static bool digits_in_range(const char *s, int n, int lo, int hi)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    return v >= lo && v <= hi;
}

/* RFC 8216 §4.3.2.6: an "ISO/IEC 8601:2004 date/time representation, such as
 * YYYY-MM-DDThh:mm:ss.SSSZ. It SHOULD indicate a time zone" (8216bis adds: "If
 * no time zone is indicated, the client SHOULD treat the time zone as UTC").
 * es_clock_parse_iso8601 is lenient (sscanf skips spaces, accepts signs,
 * ignores text after 'Z'), so the exact shape is checked here first:
 * YYYY-MM-DDThh:mm:ss[.f+][Z|±hh[[:]mm]]. */
static bool parse_pdt(const char *s, size_t len, int64_t *us)
{
    char buf[72]; /* room to append a zone or rewrite it as ±hh:mm */
    if (len < 19 || len >= 64)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (!digits_in_range(buf, 4, 0, 9999) || buf[4] != '-' || !digits_in_range(buf + 5, 2, 1, 12) ||
        buf[7] != '-' || !digits_in_range(buf + 8, 2, 1, 31) || buf[10] != 'T' ||
        !digits_in_range(buf + 11, 2, 0, 23) || buf[13] != ':' ||
        !digits_in_range(buf + 14, 2, 0, 59) || buf[16] != ':' ||
        !digits_in_range(buf + 17, 2, 0, 60))
        return false;
    size_t i = 19;
    if (buf[i] == '.') {
        size_t start = ++i;
        while (i < len && is_digit(buf[i]))
            i++;
        if (i == start)
            return false;
    }
    if (i == len) {
        buf[i] = 'Z'; /* no zone: UTC */
        buf[i + 1] = '\0';
    } else if (buf[i] == 'Z') {
        if (i + 1 != len)
            return false;
    } else if (buf[i] == '+' || buf[i] == '-') {
        /* ISO 8601 offsets: ±hh:mm, ±hhmm (FFmpeg 5.1 writes "+0000") or ±hh;
         * rewritten as ±hh:mm, the one form es_clock_parse_iso8601 reads. */
        const char *off = buf + i + 1;
        size_t off_len = len - i - 1;
        char mm[2] = {'0', '0'};
        if (off_len == 5 && off[2] == ':')
            memcpy(mm, off + 3, 2);
        else if (off_len == 4)
            memcpy(mm, off + 2, 2);
        else if (off_len != 2)
            return false;
        if (!digits_in_range(off, 2, 0, 23) || !digits_in_range(mm, 2, 0, 59))
            return false;
        buf[i + 3] = ':';
        memcpy(buf + i + 4, mm, 2);
        buf[i + 6] = '\0';
    } else {
        return false;
    }
    int64_t v;
    if (es_clock_parse_iso8601(buf, &v) != 0)
        return false;
    /* Kept to the millisecond the writer prints, so a parsed model writes back
     * exactly as it was read. */
    if (v > 0)
        v -= v % 1000;
    if (v < PDT_MIN_US || v > PDT_MAX_US)
        return false;
    *us = v;
    return true;
}

struct parse_state {
    struct es_playlist pl;
    struct es_playlist_segment next; /* tags gathered for the coming URI */
    bool have_extinf, have_segment_tags;
    bool seen_version, seen_target, seen_media_sequence, seen_discontinuity_sequence;
};

static bool tag_is(const char *name, size_t name_len, const char *want)
{
    return strlen(want) == name_len && memcmp(name, want, name_len) == 0;
}

/* One "#EXT..." line: name up to ':' and the value after it. */
static enum es_err parse_tag(struct parse_state *st, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    size_t name_len = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : NULL;
    size_t value_len = colon ? len - name_len - 1 : 0;
    uint64_t n;
    bool before_first_segment = st->pl.count == 0 && !st->have_extinf && !st->have_segment_tags;

    if (tag_is(line, name_len, "#EXTINF")) {
        /* RFC 8216 §4.3.2.1: "#EXTINF:<duration>,[<title>]"; the title is
         * ignored, and a missing comma is tolerated as players do. */
        if (!value || st->have_extinf)
            return ES_ERR_INVALID;
        const char *comma = memchr(value, ',', value_len);
        size_t dur_len = comma ? (size_t)(comma - value) : value_len;
        uint64_t us;
        if (!parse_duration_us(value, dur_len, &us))
            return ES_ERR_INVALID;
        st->next.duration = (double)us / US_PER_SECOND;
        st->have_extinf = true;
        return ES_OK;
    }
    if (tag_is(line, name_len, "#EXT-X-DISCONTINUITY")) {
        if (value)
            return ES_ERR_INVALID;
        st->next.discontinuity = true;
        st->have_segment_tags = true;
        return ES_OK;
    }
    if (tag_is(line, name_len, "#EXT-X-PROGRAM-DATE-TIME")) {
        if (!value || !parse_pdt(value, value_len, &st->next.program_date_time_us))
            return ES_ERR_INVALID;
        st->have_segment_tags = true;
        return ES_OK;
    }
    if (tag_is(line, name_len, "#EXT-X-TARGETDURATION")) {
        /* §4.3.3: "There MUST NOT be more than one Media Playlist tag of each
         * type in any Media Playlist." */
        if (!value || st->seen_target || !parse_uint(value, value_len, MAX_SECONDS, &n))
            return ES_ERR_INVALID;
        st->pl.target_duration = (unsigned)n;
        st->seen_target = true;
        return ES_OK;
    }
    if (tag_is(line, name_len, "#EXT-X-MEDIA-SEQUENCE")) {
        /* §4.3.3.2: "MUST appear before the first Media Segment". */
        if (!value || st->seen_media_sequence || !before_first_segment ||
            !parse_uint(value, value_len, UINT64_MAX, &n))
            return ES_ERR_INVALID;
        st->pl.media_sequence = n;
        st->seen_media_sequence = true;
        return ES_OK;
    }
    if (tag_is(line, name_len, "#EXT-X-DISCONTINUITY-SEQUENCE")) {
        /* §4.3.3.3: "MUST appear before the first Media Segment". */
        if (!value || st->seen_discontinuity_sequence || !before_first_segment ||
            !parse_uint(value, value_len, UINT64_MAX, &n))
            return ES_ERR_INVALID;
        st->pl.discontinuity_sequence = n;
        st->seen_discontinuity_sequence = true;
        return ES_OK;
    }
    if (tag_is(line, name_len, "#EXT-X-VERSION")) {
        if (!value || st->seen_version || !parse_uint(value, value_len, VERSION_MAX, &n) || n == 0)
            return ES_ERR_INVALID;
        /* §7: "A Media Playlist MUST indicate an EXT-X-VERSION of 3 or higher
         * if it contains: Floating-point EXTINF duration values." The writer
         * always prints those, so an older file is read as version 3. */
        st->pl.version = n < 3 ? 3 : (unsigned)n;
        st->seen_version = true;
        return ES_OK;
    }
    if (tag_is(line, name_len, "#EXT-X-INDEPENDENT-SEGMENTS")) {
        if (value)
            return ES_ERR_INVALID;
        st->pl.independent_segments = true;
        return ES_OK;
    }
    if (tag_is(line, name_len, "#EXT-X-ENDLIST")) {
        if (value)
            return ES_ERR_INVALID;
        st->pl.endlist = true;
        return ES_OK;
    }
    /* §6.3.1: "Clients MUST: ignore any unrecognized tags" (BYTERANGE, KEY,
     * MAP, ALLOW-CACHE, a second EXTM3U...). */
    return ES_OK;
}

static enum es_err parse_uri(struct parse_state *st, const char *line, size_t len)
{
    /* §4.3.2.1: EXTINF "is REQUIRED for each Media Segment". */
    if (!st->have_extinf || len >= ES_PLAYLIST_URI_MAX)
        return ES_ERR_INVALID;
    memcpy(st->next.uri, line, len);
    st->next.uri[len] = '\0';
    if (!uri_is_valid(st->next.uri))
        return ES_ERR_INVALID;
    push_segment(&st->pl, &st->next);
    memset(&st->next, 0, sizeof(st->next));
    st->have_extinf = false;
    st->have_segment_tags = false;
    return ES_OK;
}

static enum es_err parse_lines(struct parse_state *st, const char *text, size_t len)
{
    size_t pos = 0;
    bool first = true;
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - line) : len - pos;
        pos += line_len + (nl ? 1 : 0);

        /* §4.1: lines end in LF or CRLF. Trailing blanks are dropped too, so
         * hand-edited files still read. */
        while (line_len > 0 && (line[line_len - 1] == '\r' || line[line_len - 1] == ' ' ||
                                line[line_len - 1] == '\t'))
            line_len--;
        /* A NUL can never be part of a playlist line (§4.1: UTF-8 text, no
         * control characters); it also guards the C-string copies below. */
        if (memchr(line, '\0', line_len))
            return ES_ERR_INVALID;

        if (first) {
            /* §4.3.1.1: "It MUST be the first line of every Media Playlist". */
            if (!(line_len == 7 && memcmp(line, "#EXTM3U", 7) == 0))
                return ES_ERR_INVALID;
            first = false;
            continue;
        }
        /* §4.1: "Blank lines are ignored." */
        if (line_len == 0)
            continue;
        enum es_err err;
        if (line[0] != '#')
            err = parse_uri(st, line, line_len);
        else if (line_len >= 4 && memcmp(line, "#EXT", 4) == 0)
            err = parse_tag(st, line, line_len);
        else
            err = ES_OK; /* §4.1: other lines starting with '#' are comments. */
        if (err != ES_OK)
            return err;
    }
    if (first)
        return ES_ERR_INVALID;
    return ES_OK;
}

/* Everything the model promises of appended segments holds for parsed ones too,
 * so a parsed playlist is one the writer can print validly. */
static enum es_err parse_finish(struct parse_state *st)
{
    struct es_playlist *pl = &st->pl;
    /* Segment tags with no URI after them describe nothing the model holds. */
    if (st->have_extinf || st->have_segment_tags)
        return ES_ERR_INVALID;
    /* §4.3.3.1: "The EXT-X-TARGETDURATION tag is REQUIRED." */
    if (!st->seen_target)
        return ES_ERR_INVALID;
    /* §6.2.2: neither sequence may wrap, now or when trimmed later. */
    if (pl->count > 0 && pl->media_sequence > UINT64_MAX - pl->count)
        return ES_ERR_INVALID;
    uint64_t discontinuities = 0;
    for (size_t i = 0; i < pl->count; i++) {
        struct es_playlist_segment *seg = &pl->segments[i];
        seg->msn = pl->media_sequence + i;
        if (seg->discontinuity)
            discontinuities++;
        if (segment_check(seg, pl->target_duration) != ES_OK)
            return ES_ERR_INVALID;
    }
    if (pl->discontinuity_sequence > UINT64_MAX - discontinuities)
        return ES_ERR_INVALID;
    return ES_OK;
}

enum es_err es_playlist_parse(const char *text, size_t len, struct es_playlist *pl)
{
    unsigned previous_target = pl->target_duration;
    struct parse_state st;
    memset(&st, 0, sizeof(st));
    es_playlist_init(&st.pl, 0);

    enum es_err err = text ? parse_lines(&st, text, len) : ES_ERR_INVALID;
    if (err == ES_OK)
        err = parse_finish(&st);
    es_playlist_clear(pl);
    if (err != ES_OK) {
        es_playlist_clear(&st.pl);
        es_playlist_init(pl, previous_target);
        return err;
    }
    *pl = st.pl;
    return ES_OK;
}

size_t es_playlist_slide(struct es_playlist *pl, size_t keep, struct es_playlist_segment *removed,
                         size_t removed_cap)
{
    double min_duration = 3.0 * pl->target_duration;
    size_t n = 0;
    while (pl->count > keep && n < removed_cap) {
        if (es_playlist_duration(pl) - pl->segments[0].duration < min_duration)
            break;
        n += es_playlist_trim(pl, pl->count - 1, removed + n, removed_cap - n);
    }
    return n;
}
