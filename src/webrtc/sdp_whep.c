/* WHEP offer parsing and answer writing. The parser is strict where a wrong
 * guess would break media (ICE credentials, fingerprint, setup, H.264
 * packetization) and lenient elsewhere: unknown lines are skipped, as RFC 4566
 * §5 asks of attributes. */
#include "webrtc/sdp_whep.h"

#include "core/alloc.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_LINE 2048
#define MAX_LINES 1024

/* One H.264 candidate of an m-line, before the choice. */
struct h264_fmt {
    int pt;
    bool mode1;
    char plid[7];
};

struct media_scan {
    struct h264_fmt h264[32];
    size_t h264_count;
};

static bool starts(const char *line, const char *prefix)
{
    return strncmp(line, prefix, strlen(prefix)) == 0;
}

/* ICE chars (RFC 8839 §5.4): ALPHA / DIGIT / "+" / "/". */
static bool ice_chars(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/')
            return false;
    return true;
}

static bool token_chars(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char)s[i]))
            return false;
    return true;
}

static bool copy_value(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

/* "AB:CD:..." with exactly 32 bytes, normalized to upper case. */
static bool parse_fingerprint(const char *value, char out[96])
{
    if (strncasecmp(value, "sha-256 ", 8) != 0)
        return false;
    const char *hex = value + 8;
    while (*hex == ' ')
        hex++;
    if (strlen(hex) != 32 * 3 - 1)
        return false;
    for (size_t i = 0; i < 95; i++) {
        char c = hex[i];
        if (i % 3 == 2) {
            if (c != ':')
                return false;
        } else if (!isxdigit((unsigned char)c)) {
            return false;
        }
        out[i] = (char)toupper((unsigned char)c);
    }
    out[95] = '\0';
    return true;
}

static struct h264_fmt *h264_fmt_of(struct media_scan *scan, int pt, bool create)
{
    for (size_t i = 0; i < scan->h264_count; i++)
        if (scan->h264[i].pt == pt)
            return &scan->h264[i];
    if (!create || scan->h264_count == sizeof(scan->h264) / sizeof(scan->h264[0]))
        return NULL;
    struct h264_fmt *f = &scan->h264[scan->h264_count++];
    memset(f, 0, sizeof(*f));
    f->pt = pt;
    return f;
}

/* fmtp parameters: "k=v;k=v". */
static void parse_h264_fmtp(struct h264_fmt *f, const char *params)
{
    char buf[MAX_LINE];
    snprintf(buf, sizeof(buf), "%s", params);
    char *save = NULL;
    for (char *kv = strtok_r(buf, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
        while (*kv == ' ')
            kv++;
        char *eq = strchr(kv, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *v = eq + 1;
        if (strcasecmp(kv, "packetization-mode") == 0)
            f->mode1 = strcmp(v, "1") == 0;
        else if (strcasecmp(kv, "profile-level-id") == 0 && strlen(v) == 6) {
            for (int i = 0; i < 6; i++)
                f->plid[i] = (char)tolower((unsigned char)v[i]);
            f->plid[6] = '\0';
        }
    }
}

/* What our encoder (x264, constrained baseline) can feed (RFC 6184 §8.1, level
 * ignored with level-asymmetry-allowed): profile_idc 66 with constraint_set1
 * (42e0, 42c0...) is constrained baseline; plain baseline (4200) also decodes
 * it. 0 = no, higher = better. */
static int h264_rank(const struct h264_fmt *f)
{
    if (!f->mode1 || f->plid[0] == '\0')
        return 0;
    unsigned long v = strtoul(f->plid, NULL, 16);
    unsigned profile_idc = (unsigned)(v >> 16) & 0xff, iop = (unsigned)(v >> 8) & 0xff;
    if (profile_idc == 0x42 && (iop & 0x40))
        return 3;
    if (profile_idc == 0x42)
        return 2;
    if (profile_idc == 0x4d && (iop & 0x80)) /* main with constraint_set0: baseline-compatible */
        return 1;
    return 0;
}

bool es_sdp_choose_h264(struct es_sdp_media *m, const char *camera_plid)
{
    if (strlen(camera_plid) != 6)
        return false;
    unsigned long cam = strtoul(camera_plid, NULL, 16);
    unsigned cam_idc = (unsigned)(cam >> 16) & 0xff, cam_iop = (unsigned)(cam >> 8) & 0xff;
    bool cam_cb = cam_idc == 0x42 && (cam_iop & 0x40);
    for (size_t i = 0; i < m->h264_count; i++) {
        const struct es_sdp_h264 *f = &m->h264[i];
        if (!f->mode1 || strlen(f->plid) != 6)
            continue;
        unsigned long v = strtoul(f->plid, NULL, 16);
        unsigned idc = (unsigned)(v >> 16) & 0xff;
        /* The same profile class (webrtc-rules.md §2.5): a constrained
         * baseline stream fits any baseline decoder; otherwise profile_idc
         * must match. Constraint flags are not compared: Chromium offers High
         * only as Constrained High (640c..), which a High camera without
         * B-frames decodes as (docs/webrtc.md: no B-frames). */
        bool fits = cam_cb ? idc == 0x42 : idc == cam_idc;
        if (fits) {
            m->h264_pt = f->pt;
            for (int k = 0; k < 6; k++)
                m->h264_profile_level_id[k] = (char)tolower((unsigned char)camera_plid[k]);
            m->h264_profile_level_id[6] = '\0';
            return true;
        }
    }
    return false;
}

static void choose_h264(struct es_sdp_media *m, const struct media_scan *scan)
{
    m->h264_count = 0;
    for (size_t i = 0; i < scan->h264_count && m->h264_count < 16; i++) {
        struct es_sdp_h264 *f = &m->h264[m->h264_count++];
        f->pt = scan->h264[i].pt;
        f->mode1 = scan->h264[i].mode1;
        memcpy(f->plid, scan->h264[i].plid, sizeof(f->plid));
    }
    int best = 0;
    for (size_t i = 0; i < scan->h264_count; i++) {
        int r = h264_rank(&scan->h264[i]);
        if (r > best) {
            best = r;
            m->h264_pt = scan->h264[i].pt;
            memcpy(m->h264_profile_level_id, scan->h264[i].plid, 7);
        }
    }
}

/* Splits at CRLF or LF; returns false on a line too long or a control byte. */
static bool next_line(const char **at, const char *end, char *line)
{
    const char *p = *at;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *stop = nl ? nl : end;
    const char *e = stop;
    if (e > p && e[-1] == '\r')
        e--;
    size_t n = (size_t)(e - p);
    if (n >= MAX_LINE)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 && p[i] != '\t')
            return false;
    memcpy(line, p, n);
    line[n] = '\0';
    *at = nl ? nl + 1 : end;
    return true;
}

enum es_err es_sdp_offer_parse(const char *sdp, size_t len, struct es_sdp_offer *out)
{
    memset(out, 0, sizeof(*out));
    out->video = out->audio = -1;
    if (!sdp || len == 0 || len > ES_SDP_MAX_BYTES)
        return ES_ERR_INVALID;
    const char *at = sdp, *end = sdp + len;
    char line[MAX_LINE];
    struct media_scan scans[ES_SDP_MAX_MEDIA];
    char session_ufrag[257] = "", session_pwd[257] = "", session_fp[96] = "";
    bool seen_v = false, bad_setup = false;
    size_t lines = 0;
    struct es_sdp_media *m = NULL;
    struct media_scan *scan = NULL;
    while (at < end) {
        if (!next_line(&at, end, line) || ++lines > MAX_LINES)
            return ES_ERR_INVALID;
        if (line[0] == '\0')
            continue;
        if (strlen(line) < 2 || line[1] != '=')
            return ES_ERR_INVALID;
        if (!seen_v) {
            if (strcmp(line, "v=0") != 0)
                return ES_ERR_INVALID; /* RFC 4566 §5: v= comes first */
            seen_v = true;
            continue;
        }
        if (line[0] == 'm') {
            if (out->media_count == ES_SDP_MAX_MEDIA)
                return ES_ERR_INVALID;
            m = &out->media[out->media_count];
            scan = &scans[out->media_count];
            out->media_count++;
            memset(scan, 0, sizeof(*scan));
            m->h264_pt = m->opus_pt = -1;
            m->recv = true; /* sendrecv unless said otherwise */
            unsigned port;
            char kind[16], proto[48];
            int used = 0;
            if (sscanf(line + 2, "%15s %u %47s %n", kind, &port, proto, &used) != 3 || used == 0 ||
                port > 65535)
                return ES_ERR_INVALID;
            copy_value(m->kind_name, sizeof(m->kind_name), kind);
            copy_value(m->proto, sizeof(m->proto), proto);
            m->kind = strcmp(kind, "video") == 0   ? ES_SDP_VIDEO
                      : strcmp(kind, "audio") == 0 ? ES_SDP_AUDIO
                                                   : ES_SDP_OTHER;
            continue;
        }
        if (line[0] != 'a')
            continue;
        const char *a = line + 2;
        if (starts(a, "ice-ufrag:")) {
            if (!copy_value(m ? out->ice_ufrag : session_ufrag, 257, a + 10) ||
                !ice_chars(a + 10, 4, 256))
                return ES_ERR_INVALID;
            if (m && out->ice_ufrag[0] && strcmp(out->ice_ufrag, a + 10) != 0)
                return ES_ERR_INVALID;
        } else if (starts(a, "ice-pwd:")) {
            if (!copy_value(m ? out->ice_pwd : session_pwd, 257, a + 8) ||
                !ice_chars(a + 8, 22, 256))
                return ES_ERR_INVALID;
        } else if (starts(a, "fingerprint:")) {
            char fp[96];
            if (parse_fingerprint(a + 12, fp))
                memcpy(m ? out->fingerprint : session_fp, fp, sizeof(fp));
        } else if (starts(a, "setup:")) {
            /* We are the DTLS server (passive): the browser must be able to be
             * the client (RFC 5763 §5). */
            if (strcmp(a + 6, "actpass") != 0 && strcmp(a + 6, "active") != 0)
                bad_setup = true;
        } else if (!m) {
            continue;
        } else if (starts(a, "mid:")) {
            if (!token_chars(a + 4, 32))
                return ES_ERR_INVALID;
            copy_value(m->mid, sizeof(m->mid), a + 4);
        } else if (strcmp(a, "rtcp-rsize") == 0) {
            m->rtcp_rsize = true;
        } else if (strcmp(a, "sendonly") == 0 || strcmp(a, "inactive") == 0) {
            m->recv = false;
        } else if (strcmp(a, "recvonly") == 0 || strcmp(a, "sendrecv") == 0) {
            m->recv = true;
        } else if (starts(a, "rtpmap:")) {
            int pt = -1, used = 0;
            char enc[64];
            if (sscanf(a + 7, "%d %63s%n", &pt, enc, &used) != 2 || pt < 0 || pt > 127)
                return ES_ERR_INVALID;
            if (m->kind == ES_SDP_VIDEO && strcasecmp(enc, "H264/90000") == 0)
                h264_fmt_of(scan, pt, true);
            else if (m->kind == ES_SDP_AUDIO && strcasecmp(enc, "opus/48000/2") == 0 &&
                     m->opus_pt < 0)
                m->opus_pt = pt;
        } else if (starts(a, "fmtp:")) {
            int pt = -1, used = 0;
            if (sscanf(a + 5, "%d %n", &pt, &used) != 1 || used == 0 || pt < 0 || pt > 127)
                return ES_ERR_INVALID;
            struct h264_fmt *f = h264_fmt_of(scan, pt, false);
            if (f)
                parse_h264_fmtp(f, a + 5 + used);
        }
    }
    if (!seen_v || out->media_count == 0 || bad_setup)
        return ES_ERR_INVALID;
    if (!out->ice_ufrag[0])
        memcpy(out->ice_ufrag, session_ufrag, sizeof(session_ufrag));
    if (!out->ice_pwd[0])
        memcpy(out->ice_pwd, session_pwd, sizeof(session_pwd));
    if (!out->fingerprint[0])
        memcpy(out->fingerprint, session_fp, sizeof(session_fp));
    if (!out->ice_ufrag[0] || !out->ice_pwd[0] || !out->fingerprint[0])
        return ES_ERR_INVALID;
    for (size_t i = 0; i < out->media_count; i++) {
        struct es_sdp_media *mi = &out->media[i];
        if (!mi->mid[0])
            return ES_ERR_INVALID; /* BUNDLE needs a mid on every m-line (RFC 8843) */
        for (size_t j = 0; j < i; j++)
            if (strcmp(out->media[j].mid, mi->mid) == 0)
                return ES_ERR_INVALID;
        if (mi->kind == ES_SDP_VIDEO) {
            choose_h264(mi, &scans[i]);
            bool any_mode1 = false;
            for (size_t k = 0; k < mi->h264_count; k++)
                any_mode1 |= mi->h264[k].mode1;
            if (any_mode1 && mi->recv && out->video < 0)
                out->video = (int)i;
        } else if (mi->kind == ES_SDP_AUDIO && mi->opus_pt >= 0 && mi->recv && out->audio < 0) {
            out->audio = (int)i;
        }
    }
    if (out->video < 0)
        return ES_ERR_UNSUPPORTED;
    return ES_OK;
}

/* ---- the answer ---- */

struct strbuf {
    char *s;
    size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void put(struct strbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (n > 0 ? (size_t)n : 0);
        b->s = es_realloc(b->s, b->cap);
    }
}

/* Media we answer with a format (the rest is rejected with port 0). */
static bool accepted(const struct es_sdp_media *m)
{
    return (m->kind == ES_SDP_VIDEO && m->h264_pt >= 0) ||
           (m->kind == ES_SDP_AUDIO && m->opus_pt >= 0);
}

static void put_transport(struct strbuf *b, const struct es_sdp_answer_params *p)
{
    put(b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", p->ice_ufrag, p->ice_pwd);
    put(b, "a=fingerprint:sha-256 %s\r\na=setup:passive\r\n", p->fingerprint);
}

static void put_candidates(struct strbuf *b, const struct es_sdp_answer_params *p)
{
    /* RFC 8839 §5.1; one foundation per address, host priority for component 1. */
    for (size_t i = 0; i < p->host_count; i++)
        put(b, "a=candidate:%zu 1 udp %u %s %u typ host\r\n", i + 1, 2130706431u - (unsigned)i,
            p->hosts[i], p->port);
    /* RFC 6544 §4.2: a passive TCP host candidate per address, below every
     * UDP one, so a browser that reaches both uses UDP: type preference 126,
     * local preference (direction 4 for passive << 13) | 8191 (other). A
     * foundation of its own: a different protocol (RFC 8445 §5.1.1.3). */
    for (size_t i = 0; p->tcp_port && i < p->host_count; i++)
        put(b, "a=candidate:%zu 1 tcp %u %s %u typ host tcptype passive\r\n", 101 + i,
            (126u << 24 | (4u << 13 | 8191u) << 8 | 255u) - (unsigned)i, p->hosts[i], p->tcp_port);
    put(b, "a=end-of-candidates\r\n");
}

char *es_sdp_answer_write(const struct es_sdp_offer *offer, const struct es_sdp_answer_params *p)
{
    struct strbuf b = {es_malloc(4096), 0, 4096};
    b.s[0] = '\0';
    put(&b, "v=0\r\no=- %" PRIu64 " 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", p->session_version);
    put(&b, "a=ice-lite\r\n");
    /* RFC 8843: the BUNDLE group lists every m-line we accept (not rejected). */
    put(&b, "a=group:BUNDLE");
    for (size_t i = 0; i < offer->media_count; i++)
        if (accepted(&offer->media[i]))
            put(&b, " %s", offer->media[i].mid);
    put(&b, "\r\na=msid-semantic: WMS %s\r\n", p->stream_id);
    for (size_t i = 0; i < offer->media_count; i++) {
        const struct es_sdp_media *m = &offer->media[i];
        if (!accepted(m)) {
            /* RFC 3264 §6: reject with port 0, echoing the first format. */
            put(&b, "m=%s 0 %s 0\r\nc=IN IP4 0.0.0.0\r\na=mid:%s\r\n", m->kind_name, m->proto,
                m->mid);
            continue;
        }
        if ((int)i == offer->video) {
            int pt = m->h264_pt;
            put(&b, "m=video 9 UDP/TLS/RTP/SAVPF %d\r\nc=IN IP4 0.0.0.0\r\n", pt);
            put(&b, "a=mid:%s\r\na=sendonly\r\na=rtcp-mux\r\n", m->mid);
            if (m->rtcp_rsize)
                put(&b, "a=rtcp-rsize\r\n");
            put_transport(&b, p);
            put(&b, "a=rtpmap:%d H264/90000\r\n", pt);
            put(&b, "a=rtcp-fb:%d nack pli\r\na=rtcp-fb:%d ccm fir\r\n", pt, pt);
            put(&b,
                "a=fmtp:%d level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=%s\r\n",
                pt, m->h264_profile_level_id);
            put(&b, "a=msid:%s %s-video\r\n", p->stream_id, p->stream_id);
            put(&b, "a=ssrc:%" PRIu32 " cname:%s\r\n", p->video_ssrc, p->cname);
        } else if ((int)i == offer->audio) {
            /* RFC 7587 §7: always opus/48000/2. */
            int pt = m->opus_pt;
            put(&b, "m=audio 9 UDP/TLS/RTP/SAVPF %d\r\nc=IN IP4 0.0.0.0\r\n", pt);
            put(&b, "a=mid:%s\r\na=sendonly\r\na=rtcp-mux\r\n", m->mid);
            if (m->rtcp_rsize)
                put(&b, "a=rtcp-rsize\r\n");
            put_transport(&b, p);
            put(&b, "a=rtpmap:%d opus/48000/2\r\na=fmtp:%d minptime=10;useinbandfec=1\r\n", pt, pt);
            put(&b, "a=msid:%s %s-audio\r\n", p->stream_id, p->stream_id);
            put(&b, "a=ssrc:%" PRIu32 " cname:%s\r\n", p->audio_ssrc, p->cname);
        } else {
            /* A second video or audio m-line: inactive, with a format offered. */
            int pt = m->kind == ES_SDP_AUDIO ? m->opus_pt : m->h264_pt;
            put(&b, "m=%s 9 UDP/TLS/RTP/SAVPF %d\r\nc=IN IP4 0.0.0.0\r\n", m->kind_name, pt);
            put(&b, "a=mid:%s\r\na=inactive\r\na=rtcp-mux\r\n", m->mid);
            if (m->rtcp_rsize)
                put(&b, "a=rtcp-rsize\r\n");
            put_transport(&b, p);
            if (m->kind == ES_SDP_AUDIO)
                put(&b, "a=rtpmap:%d opus/48000/2\r\na=fmtp:%d minptime=10;useinbandfec=1\r\n", pt,
                    pt);
            else
                put(&b,
                    "a=rtpmap:%d H264/90000\r\na=fmtp:%d "
                    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=%s\r\n",
                    pt, pt, m->h264_profile_level_id);
        }
        put_candidates(&b, p);
    }
    return b.s;
}
