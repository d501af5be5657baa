#include "source/sdp.h"

#include "core/alloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest attribute value kept: a sprop-parameter-sets with a large VUI is a
 * few hundred characters. */
#define MAX_VALUE 4096

struct line {
    const char *p;
    size_t n;
};

static bool starts_with(struct line l, const char *prefix)
{
    size_t n = strlen(prefix);
    return l.n >= n && strncasecmp(l.p, prefix, n) == 0;
}

static char *copy_value(const char *p, size_t n)
{
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return es_strndup(p, n > MAX_VALUE ? MAX_VALUE : n);
}

static void copy_field(char *dst, size_t size, const char *p, size_t n)
{
    if (n >= size)
        n = size - 1;
    memcpy(dst, p, n);
    dst[n] = '\0';
}

/* Reads an unsigned decimal; returns false if there is none or it overflows. */
static bool parse_uint(const char **p, const char *end, unsigned long max, unsigned long *out)
{
    const char *s = *p;
    unsigned long v = 0;
    if (s >= end || !isdigit((unsigned char)*s))
        return false;
    while (s < end && isdigit((unsigned char)*s)) {
        v = v * 10 + (unsigned long)(*s++ - '0');
        if (v > max)
            return false;
    }
    *p = s;
    *out = v;
    return true;
}

/* RFC 3551 section 6: the static payload types a camera may use without rtpmap. */
static void apply_static_type(struct es_sdp_media *m)
{
    static const struct {
        int pt;
        const char *name;
        unsigned rate, channels;
    } types[] = {
        {0, "PCMU", 8000, 1},   {8, "PCMA", 8000, 1},  {14, "MPA", 90000, 0},
        {26, "JPEG", 90000, 0}, {32, "MPV", 90000, 0}, {33, "MP2T", 90000, 0},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (types[i].pt == m->payload_type) {
            snprintf(m->encoding, sizeof(m->encoding), "%s", types[i].name);
            m->clock_rate = types[i].rate;
            m->channels = types[i].channels;
        }
}

/* m=<media> <port>[/<n>] <proto> <fmt> ... */
static void parse_media_line(struct line l, struct es_sdp_media *m)
{
    const char *p = l.p + 2, *end = l.p + l.n;
    const char *word[4];
    size_t len[4];
    for (int i = 0; i < 4; i++) {
        while (p < end && *p == ' ')
            p++;
        word[i] = p;
        while (p < end && *p != ' ')
            p++;
        len[i] = (size_t)(p - word[i]);
    }
    if (len[0] == 5 && strncasecmp(word[0], "video", 5) == 0)
        m->type = ES_SDP_VIDEO;
    else if (len[0] == 5 && strncasecmp(word[0], "audio", 5) == 0)
        m->type = ES_SDP_AUDIO;
    copy_field(m->proto, sizeof(m->proto), word[2], len[2]);
    unsigned long pt;
    const char *q = word[3];
    if (parse_uint(&q, word[3] + len[3], 127, &pt) && q == word[3] + len[3]) {
        m->payload_type = (int)pt;
        apply_static_type(m);
    }
}

/* a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>] for the media's format. */
static void parse_rtpmap(const char *p, const char *end, struct es_sdp_media *m)
{
    unsigned long pt, rate, channels = 0;
    if (!parse_uint(&p, end, 127, &pt) || (int)pt != m->payload_type || p >= end || *p != ' ')
        return;
    while (p < end && *p == ' ')
        p++;
    const char *name = p;
    while (p < end && *p != '/' && *p != ' ')
        p++;
    size_t name_len = (size_t)(p - name);
    if (p >= end || *p != '/')
        return;
    p++;
    if (!parse_uint(&p, end, 10000000, &rate) || rate == 0)
        return;
    if (p < end && *p == '/') {
        p++;
        if (!parse_uint(&p, end, 255, &channels))
            channels = 0;
    }
    copy_field(m->encoding, sizeof(m->encoding), name, name_len);
    m->clock_rate = (unsigned)rate;
    m->channels = (unsigned)channels;
}

static void parse_attribute(struct line l, struct es_sdp *sdp, struct es_sdp_media *m)
{
    const char *end = l.p + l.n;
    if (starts_with(l, "a=control:")) {
        char **slot = m ? &m->control : &sdp->control;
        free(*slot);
        *slot = copy_value(l.p + 10, l.n - 10);
    } else if (m && starts_with(l, "a=rtpmap:")) {
        parse_rtpmap(l.p + 9, end, m);
    } else if (m && starts_with(l, "a=fmtp:")) {
        const char *p = l.p + 7;
        unsigned long pt;
        if (parse_uint(&p, end, 127, &pt) && (int)pt == m->payload_type) {
            free(m->fmtp);
            m->fmtp = copy_value(p, (size_t)(end - p));
        }
    } else if (m && starts_with(l, "a=framerate:")) {
        char buf[32];
        copy_field(buf, sizeof(buf), l.p + 12, l.n - 12);
        double fps = strtod(buf, NULL);
        if (fps > 0 && fps <= 1000)
            m->framerate = fps;
    }
}

enum es_err es_sdp_parse(const char *text, size_t len, struct es_sdp *out)
{
    memset(out, 0, sizeof(*out));
    if (len > ES_SDP_MAX_SIZE)
        return ES_ERR_INVALID;
    bool have_version = false;
    struct es_sdp_media *m = NULL;
    bool ignoring = false; /* inside an m= section past the maximum */
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        struct line l = {p, (size_t)((eol ? eol : end) - p)};
        p = eol ? eol + 1 : end;
        if (l.n > 0 && l.p[l.n - 1] == '\r')
            l.n--;
        /* A NUL ends the usable part of a line. */
        const char *nul = memchr(l.p, '\0', l.n);
        if (nul)
            l.n = (size_t)(nul - l.p);
        if (l.n < 2 || l.p[1] != '=')
            continue;
        if (l.p[0] == 'v') {
            have_version = true;
        } else if (l.p[0] == 'm') {
            ignoring = out->media_count == ES_SDP_MAX_MEDIA;
            if (ignoring)
                continue;
            m = &out->media[out->media_count++];
            m->payload_type = -1;
            parse_media_line(l, m);
        } else if (l.p[0] == 'a' && !ignoring) {
            parse_attribute(l, out, m);
        }
    }
    if (!have_version) {
        es_sdp_clear(out);
        return ES_ERR_INVALID;
    }
    return ES_OK;
}

void es_sdp_clear(struct es_sdp *sdp)
{
    free(sdp->control);
    for (size_t i = 0; i < sdp->media_count; i++) {
        free(sdp->media[i].fmtp);
        free(sdp->media[i].control);
    }
    memset(sdp, 0, sizeof(*sdp));
}

bool es_sdp_fmtp_get(const char *fmtp, const char *key, char *out, size_t out_size)
{
    size_t key_len = strlen(key);
    const char *p = fmtp;
    while (p && *p) {
        while (*p == ' ' || *p == ';' || *p == '\t')
            p++;
        size_t field = strcspn(p, ";");
        const char *eq = memchr(p, '=', field);
        size_t name_len = eq ? (size_t)(eq - p) : field;
        while (name_len > 0 && (p[name_len - 1] == ' ' || p[name_len - 1] == '\t'))
            name_len--;
        if (eq && name_len == key_len && strncasecmp(p, key, key_len) == 0) {
            const char *v = eq + 1;
            size_t n = field - (size_t)(v - p);
            while (n > 0 && (*v == ' ' || *v == '\t')) {
                v++;
                n--;
            }
            while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
                n--;
            if (out_size > 0)
                copy_field(out, out_size, v, n);
            return true;
        }
        p += field;
    }
    return false;
}

static bool is_absolute(const char *url)
{
    return strncasecmp(url, "rtsp://", 7) == 0 || strncasecmp(url, "rtsps://", 8) == 0 ||
           strncasecmp(url, "rtspu://", 8) == 0;
}

bool es_sdp_resolve_control(const char *base, const char *control, char *out, size_t out_size)
{
    int n;
    if (!control || !*control || strcmp(control, "*") == 0)
        n = snprintf(out, out_size, "%s", base);
    else if (is_absolute(control))
        n = snprintf(out, out_size, "%s", control);
    else {
        size_t base_len = strlen(base);
        bool slash = (base_len > 0 && base[base_len - 1] == '/') || control[0] == '/';
        if (base_len > 0 && base[base_len - 1] == '/' && control[0] == '/')
            control++;
        n = snprintf(out, out_size, "%s%s%s", base, slash ? "" : "/", control);
    }
    return n >= 0 && (size_t)n < out_size;
}
