#include "source/rtsp_client.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/url.h"
#include "source/rtp_framer.h"
#include "source/rtp_stream.h"
#include "source/sdp.h"

#include <errno.h>
#include <libavutil/base64.h>
#include <libavutil/md5.h>
#include <libavutil/random_seed.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef ES_VERSION
#define ES_VERSION "dev"
#endif

#define COMPONENT "rtsp"
#define MAX_URL 2048
#define MAX_TOKEN 256
/* An Authorization line: the URI plus four bounded tokens, quoted. */
#define MAX_AUTH (MAX_URL + 8 * MAX_TOKEN)
/* One recv asks for this much: a whole frame's worth of packets per wake-up. */
#define RECV_CHUNK 65536
/* Full chunks read back to back before the caller gets its packets: a flood
 * cannot keep a read from returning, nor queue without bound. */
#define MAX_CHUNKS_PER_WAKEUP 8
/* Room for the largest unit the framer accepts plus one more chunk. */
#define RECV_BUFFER (ES_RTP_FRAMER_MAX_HEADER + ES_RTP_FRAMER_MAX_BODY + RECV_CHUNK)
#define MAX_AU_SIZE ((size_t)8 << 20)
#define POLL_SLICE_MS 100
#define DEFAULT_SESSION_TIMEOUT_S 60

/* A camera that is down, hung or talking garbage fails the same way at every
 * reconnect (every second at most). Its failure is logged at WARN when it
 * differs from the one before, and at DEBUG while it repeats, so the log names
 * the camera and the reason once per change, not once per attempt. The last
 * failure is per thread: each camera has its own thread, and a client lives
 * for one connection. Media delivered (es_rtsp_client_read) ends the run of
 * failures: the next one is news again. */
static _Thread_local char last_failure[256];
static _Thread_local unsigned failure_repeats;
/* PLAY was answered on this thread and no media came since: a server that
 * answers the handshake and then sends nothing usable says `playing` once. */
static _Thread_local bool played_without_media;

static void log_failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_failure(const char *fmt, ...)
{
    char text[sizeof(last_failure)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (strcmp(text, last_failure) == 0) {
        failure_repeats++;
        es_log(ES_LOG_DEBUG, COMPONENT, "%s repeats=%u", text, failure_repeats);
        return;
    }
    if (failure_repeats)
        es_log(ES_LOG_WARN, COMPONENT, "%s previous_repeats=%u", text, failure_repeats);
    else
        es_log(ES_LOG_WARN, COMPONENT, "%s", text);
    snprintf(last_failure, sizeof(last_failure), "%s", text);
    failure_repeats = 0;
}

/* The connection delivered media: a later failure is logged again. */
static void failures_over(void)
{
    last_failure[0] = '\0';
    failure_repeats = 0;
    played_without_media = false;
}

enum auth_scheme {
    AUTH_NONE = 0,
    AUTH_BASIC,
    AUTH_DIGEST,
};

struct track {
    struct es_rtp_stream *stream;
    AVStream *st;
    char control[MAX_URL];
    uint8_t rtp_channel, rtcp_channel;
};

struct queued {
    AVPacket *pkt;
    int64_t capture_us;
    bool from_camera;
};

struct es_rtsp_client {
    char *camera_id;
    char safe_url[512];
    const atomic_bool *stop;
    unsigned read_timeout_ms;
    int64_t batch_us;
    int64_t next_read_us; /* monotonic: when batching, no read before this */
    int fd;

    char host[MAX_TOKEN], port[8];
    char request_url[MAX_URL]; /* the URL without credentials */
    char user[MAX_TOKEN], pass[MAX_TOKEN];
    bool have_credentials;

    enum auth_scheme auth;
    bool allow_basic;
    char realm[MAX_TOKEN], nonce[MAX_TOKEN], opaque[MAX_TOKEN];
    bool qop_auth, md5_sess, have_opaque;
    unsigned nc;

    int cseq;
    char session[MAX_TOKEN];
    unsigned session_timeout_s;
    bool keepalive_get_parameter;
    char aggregate_url[MAX_URL];
    int64_t next_keepalive_us;
    int keepalive_cseq;
    bool keepalive_retried;
    bool playing;

    uint8_t *buf;
    size_t len;
    int64_t arrival_us;        /* wall clock of the latest recv */
    int64_t recv_mono_us;      /* monotonic time of the latest recv */
    int64_t media_deadline_us; /* monotonic: no media unit by then is a timeout */

    int wait_cseq;
    bool have_response;
    struct es_rtp_message response;
    enum es_err failed;

    AVFormatContext *container;
    struct track tracks[2];
    size_t track_count;
    struct track *video, *audio;

    struct queued *queue;
    size_t q_head, q_count, q_cap;
    size_t q_bytes;    /* while waiting for the PLAY reply */
    bool play_replied; /* units before it are bounded */
    struct es_rtsp_client_stats stats;
};

/* ---- Small helpers ---- */

static bool stopped(const struct es_rtsp_client *c)
{
    return c->stop && atomic_load(c->stop);
}

static bool copy_str(char *dst, size_t size, const char *src, size_t n)
{
    if (n >= size)
        return false;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return true;
}

/* Case-insensitive strstr (strcasestr is a GNU extension). */
static const char *find_ci(const char *haystack, const char *needle)
{
    size_t n = strlen(needle);
    for (; *haystack; haystack++)
        if (strncasecmp(haystack, needle, n) == 0)
            return haystack;
    return NULL;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes userinfo; false if it does not fit or decodes to a control
 * character (which would let a URL inject header lines). */
static bool decode_userinfo(const char *p, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)p[i];
        if (c == '%' && i + 2 < n && hex_digit(p[i + 1]) >= 0 && hex_digit(p[i + 2]) >= 0) {
            c = hex_digit(p[i + 1]) << 4 | hex_digit(p[i + 2]);
            i += 2;
        }
        if (c < 32 || c == 127 || o + 1 >= size)
            return false;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return true;
}

/* rtsp://[user[:pass]@]host[:port][/path][?query]. The userinfo ends at the
 * last '@' before the query, as in es_url_redact, so a password with a raw
 * '/' or '@' still parses the way it is hidden in logs. */
static enum es_err parse_url(struct es_rtsp_client *c, const char *url)
{
    if (strncasecmp(url, "rtsp://", 7) != 0)
        return ES_ERR_UNSUPPORTED; /* rtsps:// (TLS) and anything else: libavformat */
    const char *authority = url + 7;
    const char *limit = authority + strcspn(authority, "?#");
    const char *at = NULL;
    for (const char *p = authority; p < limit; p++)
        if (*p == '@')
            at = p;
    const char *host = authority;
    if (at) {
        const char *colon = memchr(authority, ':', (size_t)(at - authority));
        const char *user_end = colon ? colon : at;
        if (!decode_userinfo(authority, (size_t)(user_end - authority), c->user, sizeof(c->user)) ||
            (colon &&
             !decode_userinfo(colon + 1, (size_t)(at - colon - 1), c->pass, sizeof(c->pass))))
            return ES_ERR_INVALID;
        c->have_credentials = true;
        host = at + 1;
    }
    const char *host_end, *after;
    if (*host == '[') {
        host_end = strchr(host, ']');
        if (!host_end)
            return ES_ERR_INVALID;
        if (!copy_str(c->host, sizeof(c->host), host + 1, (size_t)(host_end - host - 1)))
            return ES_ERR_INVALID;
        after = host_end + 1;
    } else {
        host_end = host + strcspn(host, ":/?#");
        if (!copy_str(c->host, sizeof(c->host), host, (size_t)(host_end - host)))
            return ES_ERR_INVALID;
        after = host_end;
    }
    if (!c->host[0])
        return ES_ERR_INVALID;
    snprintf(c->port, sizeof(c->port), "554");
    if (*after == ':') {
        const char *digits = after + 1;
        size_t n = strspn(digits, "0123456789");
        if (n == 0 || n > 5 || atoi(digits) < 1 || atoi(digits) > 65535 ||
            !strchr("/?#", digits[n]))
            return ES_ERR_INVALID;
        copy_str(c->port, sizeof(c->port), digits, n);
        after = digits + n;
    }
    const char *path = after;
    size_t path_len = strcspn(path, "#");
    for (size_t i = 0; i < path_len; i++)
        if ((unsigned char)path[i] <= 32 || path[i] == 127)
            return ES_ERR_INVALID; /* would break the request line */
    int n =
        snprintf(c->request_url, sizeof(c->request_url), "rtsp://%.*s%s%.*s", (int)(after - host),
                 host, path_len && path[0] == '/' ? "" : "/", (int)path_len, path);
    if (n < 0 || (size_t)n >= sizeof(c->request_url))
        return ES_ERR_INVALID;
    return ES_OK;
}

/* ---- Authentication (RFC 2617 as used by RFC 2326 section 12.5) ---- */

static void md5_hex(const char *const parts[], size_t count, char out[33])
{
    struct AVMD5 *md5 = av_md5_alloc();
    if (!md5)
        abort();
    av_md5_init(md5);
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            av_md5_update(md5, (const uint8_t *)":", 1);
        av_md5_update(md5, (const uint8_t *)parts[i], strlen(parts[i]));
    }
    uint8_t digest[16];
    av_md5_final(md5, digest);
    av_free(md5);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

void es_rtsp_client_digest_response(const struct es_rtsp_client_digest *d, char out[33])
{
    char ha1[33], ha2[33];
    md5_hex((const char *[]){d->username, d->realm, d->password}, 3, ha1);
    if (d->md5_sess) {
        char base[33];
        memcpy(base, ha1, sizeof(base));
        md5_hex((const char *[]){base, d->nonce, d->cnonce}, 3, ha1);
    }
    md5_hex((const char *[]){d->method, d->uri}, 2, ha2);
    if (d->qop)
        md5_hex((const char *[]){ha1, d->nonce, d->nc, d->cnonce, d->qop, ha2}, 6, out);
    else
        md5_hex((const char *[]){ha1, d->nonce, ha2}, 3, out);
}

/* Reads one auth-param (token = token | quoted-string) from *p. */
static bool next_param(const char **p, char *name, size_t name_size, char *value, size_t value_size)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    size_t n = strcspn(s, "= \t,");
    if (n == 0 || s[n] != '=' || !copy_str(name, name_size, s, n))
        return false;
    s += n + 1;
    size_t o = 0;
    if (*s == '"') {
        for (s++; *s && *s != '"'; s++) {
            if (*s == '\\' && s[1])
                s++;
            if (o + 1 < value_size)
                value[o++] = *s;
        }
        if (*s == '"')
            s++;
    } else {
        for (; *s && *s != ',' && *s != ' ' && *s != '\t'; s++)
            if (o + 1 < value_size)
                value[o++] = *s;
    }
    value[o] = '\0';
    *p = s;
    return true;
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 32 || *s == 127)
            return false;
    return true;
}

/* A URL from the camera that goes into a request line: no spaces or
 * control characters, which would break (or add to) the request. */
static bool request_uri_ok(const char *s)
{
    return *s && printable(s) && !strchr(s, ' ');
}

/* Takes the best challenge of a 401 reply (Digest over Basic). Returns false
 * if none can be answered. `stale` says the server only renewed its nonce. */
static bool take_challenge(struct es_rtsp_client *c, const struct es_rtp_message *m, bool *stale)
{
    *stale = false;
    const char *basic = NULL, *digest = NULL;
    for (size_t i = 0;; i++) {
        const char *h = es_rtp_framer_header(m, "WWW-Authenticate", i);
        if (!h)
            break;
        if (strncasecmp(h, "Digest", 6) == 0 && (h[6] == ' ' || h[6] == '\t') && !digest)
            digest = h + 6;
        else if (strncasecmp(h, "Basic", 5) == 0 && (h[5] == ' ' || h[5] == '\t' || !h[5]))
            basic = h;
    }
    if (digest) {
        char name[32], value[MAX_TOKEN];
        char realm[MAX_TOKEN] = "", nonce[MAX_TOKEN] = "", opaque[MAX_TOKEN] = "";
        bool qop_auth = false, md5_sess = false, have_opaque = false, known_algorithm = true;
        const char *p = digest;
        while (next_param(&p, name, sizeof(name), value, sizeof(value))) {
            if (strcasecmp(name, "realm") == 0)
                snprintf(realm, sizeof(realm), "%s", value);
            else if (strcasecmp(name, "nonce") == 0)
                snprintf(nonce, sizeof(nonce), "%s", value);
            else if (strcasecmp(name, "opaque") == 0) {
                snprintf(opaque, sizeof(opaque), "%s", value);
                have_opaque = true;
            } else if (strcasecmp(name, "stale") == 0)
                *stale = strcasecmp(value, "true") == 0;
            else if (strcasecmp(name, "algorithm") == 0) {
                md5_sess = strcasecmp(value, "MD5-sess") == 0;
                known_algorithm = md5_sess || strcasecmp(value, "MD5") == 0;
            } else if (strcasecmp(name, "qop") == 0) {
                /* A list such as "auth,auth-int": only auth is offered. */
                char *save = NULL;
                for (char *t = strtok_r(value, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save))
                    if (strcasecmp(t, "auth") == 0)
                        qop_auth = true;
            }
        }
        if (known_algorithm && nonce[0] && printable(realm) && printable(nonce) &&
            printable(opaque)) {
            c->auth = AUTH_DIGEST;
            memcpy(c->realm, realm, sizeof(c->realm));
            memcpy(c->nonce, nonce, sizeof(c->nonce));
            memcpy(c->opaque, opaque, sizeof(c->opaque));
            c->have_opaque = have_opaque;
            c->qop_auth = qop_auth;
            c->md5_sess = md5_sess;
            c->nc = 0;
            return true;
        }
    }
    if (basic && c->allow_basic) {
        c->auth = AUTH_BASIC;
        return true;
    }
    if (basic)
        /* Over plain TCP, Basic hands the password to anyone on the path, and
         * a man in the middle can strip a camera's Digest offer to get it. */
        es_log(ES_LOG_DEBUG, COMPONENT,
               "camera=%s event=basic_auth_refused url=%s hint=\"the server offers only Basic "
               "authentication over plain TCP; set settings.rtsp_allow_basic: true to send the "
               "password anyway\"",
               c->camera_id, c->safe_url);
    return false;
}

/* Bounded text building: once something does not fit, the text is marked
 * overflowed and stays as it was. */
struct text {
    char *p;
    size_t size, len;
    bool overflow;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
    if (t->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->p + t->len, t->size - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->size - t->len) {
        t->overflow = true;
        t->p[t->len] = '\0';
        return;
    }
    t->len += (size_t)n;
}

/* A quoted-string (RFC 2616 section 2.2), escaping '"' and '\'. */
static void text_quoted(struct text *t, const char *s)
{
    text_add(t, "\"");
    for (; *s && !t->overflow; s++)
        text_add(t, *s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
    text_add(t, "\"");
}

/* The Authorization header line for a request, or "" (never logged). */
static void authorization(struct es_rtsp_client *c, const char *method, const char *uri, char *out,
                          size_t size)
{
    struct text t = {out, size, 0, false};
    out[0] = '\0';
    if (c->auth == AUTH_BASIC) {
        char plain[2 * MAX_TOKEN + 2];
        snprintf(plain, sizeof(plain), "%s:%s", c->user, c->pass);
        char encoded[AV_BASE64_SIZE(sizeof(plain))];
        av_base64_encode(encoded, sizeof(encoded), (const uint8_t *)plain, (int)strlen(plain));
        text_add(&t, "Authorization: Basic %s\r\n", encoded);
        memset(plain, 0, sizeof(plain));
        memset(encoded, 0, sizeof(encoded));
    } else if (c->auth == AUTH_DIGEST) {
        char nc[9], cnonce[17], response[33];
        snprintf(nc, sizeof(nc), "%08x", ++c->nc);
        snprintf(cnonce, sizeof(cnonce), "%08x%08x", av_get_random_seed(), av_get_random_seed());
        struct es_rtsp_client_digest d = {
            .username = c->user,
            .password = c->pass,
            .realm = c->realm,
            .nonce = c->nonce,
            .method = method,
            .uri = uri,
            .qop = c->qop_auth ? "auth" : NULL,
            .nc = nc,
            .cnonce = cnonce,
            .md5_sess = c->md5_sess,
        };
        es_rtsp_client_digest_response(&d, response);
        text_add(&t, "Authorization: Digest username=");
        text_quoted(&t, c->user);
        text_add(&t, ", realm=");
        text_quoted(&t, c->realm);
        text_add(&t, ", nonce=");
        text_quoted(&t, c->nonce);
        text_add(&t, ", uri=");
        text_quoted(&t, uri);
        text_add(&t, ", response=\"%s\"", response);
        if (c->md5_sess)
            text_add(&t, ", algorithm=MD5-sess");
        if (c->have_opaque) {
            text_add(&t, ", opaque=");
            text_quoted(&t, c->opaque);
        }
        if (c->qop_auth)
            text_add(&t, ", qop=auth, nc=%s, cnonce=\"%s\"", nc, cnonce);
        text_add(&t, "\r\n");
    }
    if (t.overflow)
        out[0] = '\0'; /* the server will challenge, and the request fail */
}

/* ---- Socket ---- */

static enum es_err wait_fd(struct es_rtsp_client *c, short events, int64_t deadline_us)
{
    for (;;) {
        if (stopped(c))
            return ES_ERR_STOPPED;
        int64_t left_ms = (deadline_us - es_clock_mono_us()) / 1000;
        if (left_ms <= 0)
            return ES_ERR_TIMEOUT;
        struct pollfd pfd = {.fd = c->fd, .events = events};
        int n = poll(&pfd, 1, (int)(left_ms < POLL_SLICE_MS ? left_ms : POLL_SLICE_MS));
        if (n > 0)
            return ES_OK;
        if (n < 0 && errno != EINTR)
            return ES_ERR_SOURCE;
    }
}

static enum es_err connect_to(struct es_rtsp_client *c, int64_t deadline_us)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *list = NULL;
    /* getaddrinfo cannot be bounded; cameras are nearly always addressed by IP. */
    int gai = getaddrinfo(c->host, c->port, &hints, &list);
    if (gai != 0) {
        log_failure("camera=%s event=resolve_failed url=%s error=\"%s\"", c->camera_id, c->safe_url,
                    gai_strerror(gai));
        return ES_ERR_SOURCE;
    }
    enum es_err err = ES_ERR_SOURCE;
    int last_errno = 0;
    for (struct addrinfo *ai = list; ai && err != ES_OK; ai = ai->ai_next) {
        c->fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (c->fd < 0) {
            last_errno = errno;
            continue;
        }
        if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            err = ES_OK;
            break;
        }
        if (errno == EINPROGRESS) {
            err = wait_fd(c, POLLOUT, deadline_us);
            int so_error = 0;
            socklen_t len = sizeof(so_error);
            if (err == ES_OK && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 &&
                so_error == 0)
                break;
            last_errno = so_error;
            if (err == ES_OK)
                err = ES_ERR_SOURCE;
        } else {
            last_errno = errno;
        }
        close(c->fd);
        c->fd = -1;
        if (err == ES_ERR_STOPPED || err == ES_ERR_TIMEOUT)
            break;
    }
    freeaddrinfo(list);
    if (err != ES_OK) {
        log_failure("camera=%s event=connect_failed url=%s error=\"%s\"", c->camera_id, c->safe_url,
                    err == ES_ERR_SOURCE ? strerror(last_errno) : es_strerror(err));
        return err;
    }
    /* Requests are single small writes; do not let Nagle hold them. */
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return ES_OK;
}

static enum es_err send_all(struct es_rtsp_client *c, const char *data, size_t len,
                            int64_t deadline_us)
{
    while (len > 0) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            enum es_err err = wait_fd(c, POLLOUT, deadline_us);
            if (err != ES_OK)
                return err;
            continue;
        }
        return ES_ERR_SOURCE;
    }
    return ES_OK;
}

/* ---- Output queue ---- */

/* es_rtp_stream_emit_fn: units wait here until es_rtsp_client_read. */
static void enqueue(void *opaque, AVPacket *pkt, int64_t capture_us, bool from_camera)
{
    struct es_rtsp_client *c = opaque;
    if (!c->play_replied && c->failed != ES_OK) {
        av_packet_free(&pkt); /* the open is failing: keep nothing more */
        return;
    }
    if (c->q_count == c->q_cap) {
        size_t cap = c->q_cap ? c->q_cap * 2 : 64;
        struct queued *q = es_malloc(cap * sizeof(*q));
        for (size_t i = 0; i < c->q_count; i++)
            q[i] = c->queue[(c->q_head + i) % c->q_cap];
        free(c->queue);
        c->queue = q;
        c->q_cap = cap;
        c->q_head = 0;
    }
    c->queue[(c->q_head + c->q_count++) % c->q_cap] = (struct queued){pkt, capture_us, from_camera};
    if (!c->play_replied) {
        c->q_bytes += (size_t)pkt->size;
        /* Before the PLAY reply nothing reads the queue: bound it, and fail
         * the open (a camera that streams on without answering is broken). */
        if ((c->q_count > ES_RTSP_MAX_EARLY_UNITS || c->q_bytes > ES_RTSP_MAX_EARLY_BYTES) &&
            c->failed == ES_OK) {
            log_failure("camera=%s event=play_reply_missing queued_units=%zu queued_bytes=%zu "
                        "hint=\"the camera streams without answering PLAY\"",
                        c->camera_id, c->q_count, c->q_bytes);
            c->failed = ES_ERR_SOURCE;
        }
    }
}

/* ---- RTSP messages ---- */

static void apply_rtp_info(struct es_rtsp_client *c, const struct es_rtp_message *m);

static void handle_keepalive_reply(struct es_rtsp_client *c, const struct es_rtp_message *m)
{
    c->keepalive_cseq = -1;
    if (m->status / 100 == 2) {
        c->keepalive_retried = false;
        return;
    }
    bool stale;
    if (m->status == 401 && !c->keepalive_retried && take_challenge(c, m, &stale)) {
        /* The nonce expired; the next keepalive answers the new challenge
         * at once, before the session times out. */
        c->keepalive_retried = true;
        c->next_keepalive_us = es_clock_mono_us();
        return;
    }
    if (m->status == 454 || m->status == 401) {
        log_failure("camera=%s event=session_lost status=%d", c->camera_id, m->status);
        c->failed = ES_ERR_SOURCE;
        return;
    }
    if (c->keepalive_get_parameter) {
        /* GET_PARAMETER is optional (RFC 2326 section 10.8); OPTIONS will do. */
        c->keepalive_get_parameter = false;
        c->next_keepalive_us = es_clock_mono_us();
    }
}

static void handle_message(struct es_rtsp_client *c, const struct es_rtp_frame *f)
{
    struct es_rtp_message m;
    if (es_rtp_framer_parse(f, &m) != ES_OK)
        return;
    if (!m.is_response) {
        /* A server's own requests (ANNOUNCE, GET_PARAMETER, ...) are not
         * implemented here; answering keeps the server from waiting. */
        if (m.cseq >= 0) {
            char reply[128];
            int n = snprintf(reply, sizeof(reply),
                             "RTSP/1.0 501 Not Implemented\r\nCSeq: %d\r\n\r\n", m.cseq);
            if (send(c->fd, reply, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
                es_log(ES_LOG_DEBUG, COMPONENT, "camera=%s event=reply_failed", c->camera_id);
        }
        es_rtp_framer_clear(&m);
        return;
    }
    /* Only PLAY replies carry RTP-Info; it is applied before the packets
     * that follow it in the same read. */
    apply_rtp_info(c, &m);
    /* A reply without CSeq is taken for the awaited one, as libavformat
     * does; some cameras leave it out. */
    bool awaited = c->wait_cseq >= 0 && (m.cseq == c->wait_cseq || m.cseq < 0);
    if (awaited && !c->have_response) {
        c->response = m;
        c->have_response = true;
        return;
    }
    if (m.cseq >= 0 && m.cseq == c->keepalive_cseq)
        handle_keepalive_reply(c, &m);
    es_rtp_framer_clear(&m);
}

static void dispatch(struct es_rtsp_client *c, const struct es_rtp_frame *f)
{
    if (f->kind == ES_RTP_FRAME_MESSAGE) {
        handle_message(c, f);
        return;
    }
    if (f->kind != ES_RTP_FRAME_INTERLEAVED || !c->playing)
        return;
    for (size_t i = 0; i < c->track_count; i++) {
        struct track *t = &c->tracks[i];
        if (f->channel == t->rtp_channel) {
            /* The read timeout is renewed by whole units (es_rtsp_client_read),
             * not by packets: a camera whose RTP parses but never makes a
             * frame (garbage payloads) times out and is named, instead of
             * staying "connected" with nothing to show. */
            es_rtp_stream_push_rtp(t->stream, f->data, f->size, c->arrival_us);
        } else if (f->channel == t->rtcp_channel) {
            es_rtp_stream_push_rtcp(t->stream, f->data, f->size);
        }
    }
}

/* Waits up to timeout_ms for bytes, reads them with as few calls as the
 * kernel allows and handles every whole unit. */
static enum es_err pump(struct es_rtsp_client *c, int timeout_ms)
{
    if (c->batch_us && c->playing) {
        /* Let the kernel gather a batch's worth of packets: one wake-up per
         * batch instead of one per TCP write of the camera. */
        int64_t wait_us = c->next_read_us - es_clock_mono_us();
        if (wait_us > 0) {
            es_clock_sleep_us(wait_us < timeout_ms * 1000 ? wait_us : timeout_ms * 1000);
            if (es_clock_mono_us() < c->next_read_us)
                return ES_OK;
        }
    }
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int n = poll(&pfd, 1, timeout_ms);
    if (n < 0)
        return errno == EINTR ? ES_OK : ES_ERR_SOURCE;
    if (n == 0)
        return ES_OK;
    c->next_read_us = es_clock_mono_us() + c->batch_us;
    for (int chunk = 0; chunk < MAX_CHUNKS_PER_WAKEUP; chunk++) {
        size_t room = RECV_BUFFER - c->len;
        ssize_t got = recv(c->fd, c->buf + c->len, room < RECV_CHUNK ? room : RECV_CHUNK, 0);
        c->stats.recv_calls++;
        if (got == 0) {
            log_failure("camera=%s event=connection_closed", c->camera_id);
            return ES_ERR_SOURCE;
        }
        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return ES_OK;
            log_failure("camera=%s event=recv_failed error=\"%s\"", c->camera_id, strerror(errno));
            return ES_ERR_SOURCE;
        }
        c->stats.bytes += (uint64_t)got;
        c->len += (size_t)got;
        c->arrival_us = es_clock_wall_us();
        c->recv_mono_us = es_clock_mono_us();

        size_t off = 0;
        for (;;) {
            struct es_rtp_frame f;
            if (es_rtp_framer_next(c->buf + off, c->len - off, &f) != ES_OK) {
                log_failure("camera=%s event=protocol_error", c->camera_id);
                return ES_ERR_SOURCE;
            }
            if (f.kind == ES_RTP_FRAME_NONE)
                break;
            dispatch(c, &f);
            off += f.consumed;
        }
        if (c->failed != ES_OK && !c->play_replied)
            return c->failed;
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
        /* A full chunk means more is probably waiting: read on without a poll. */
        if ((size_t)got < RECV_CHUNK)
            break;
    }
    return ES_OK;
}

/* Sends a request; returns its CSeq through *cseq. */
static enum es_err send_request(struct es_rtsp_client *c, const char *method, const char *url,
                                const char *extra, int64_t deadline_us, int *cseq)
{
    char auth[MAX_AUTH];
    authorization(c, method, url, auth, sizeof(auth));
    char session[MAX_TOKEN + 16] = "";
    if (c->session[0])
        snprintf(session, sizeof(session), "Session: %s\r\n", c->session);
    *cseq = ++c->cseq;
    size_t size = strlen(url) + strlen(extra) + sizeof(auth) + sizeof(session) + 256;
    char *text = es_malloc(size);
    int n = snprintf(text, size,
                     "%s %s RTSP/1.0\r\nCSeq: %d\r\nUser-Agent: edgestream/" ES_VERSION
                     "\r\n%s%s%s\r\n",
                     method, url, *cseq, auth, session, extra);
    enum es_err err = send_all(c, text, (size_t)n, deadline_us);
    memset(text, 0, (size_t)n); /* it held credentials */
    free(text);
    memset(auth, 0, sizeof(auth));
    return err;
}

static enum es_err wait_response(struct es_rtsp_client *c, int cseq, int64_t deadline_us,
                                 struct es_rtp_message *out)
{
    c->wait_cseq = cseq;
    c->have_response = false;
    for (;;) {
        if (c->have_response) {
            *out = c->response;
            memset(&c->response, 0, sizeof(c->response));
            c->have_response = false;
            c->wait_cseq = -1;
            return ES_OK;
        }
        if (stopped(c))
            return ES_ERR_STOPPED;
        int64_t left_ms = (deadline_us - es_clock_mono_us()) / 1000;
        if (left_ms <= 0)
            return ES_ERR_TIMEOUT;
        enum es_err err = pump(c, (int)(left_ms < POLL_SLICE_MS ? left_ms : POLL_SLICE_MS));
        if (err != ES_OK)
            return err;
    }
}

/* Sends a request and waits for its reply, answering authentication
 * challenges (RFC 2326 section 12.5) with the URL's credentials. */
static enum es_err request(struct es_rtsp_client *c, const char *method, const char *url,
                           const char *extra, int64_t deadline_us, struct es_rtp_message *reply)
{
    int challenges = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        int cseq;
        enum es_err err = send_request(c, method, url, extra, deadline_us, &cseq);
        if (err == ES_OK)
            err = wait_response(c, cseq, deadline_us, reply);
        if (err != ES_OK) {
            if (err != ES_ERR_STOPPED)
                log_failure("camera=%s event=request_failed method=%s error=%s", c->camera_id,
                            method, es_strerror(err));
            return err;
        }
        if (reply->status != 401)
            return ES_OK;
        /* The first challenge is answered (or, when already authenticated,
         * the nonce expired); another one only if it says the nonce was stale. */
        bool stale;
        /* Logged at debug: the camera's loop backs off for minutes and says
         * so once per change (es_source_backoff), not once per attempt. */
        if (!c->have_credentials || !take_challenge(c, reply, &stale) ||
            (challenges++ > 0 && !stale)) {
            es_log(ES_LOG_DEBUG, COMPONENT, "camera=%s event=auth_failed url=%s method=%s%s",
                   c->camera_id, c->safe_url, method,
                   c->have_credentials ? "" : " reason=no_credentials");
            es_rtp_framer_clear(reply);
            return ES_ERR_AUTH;
        }
        es_rtp_framer_clear(reply);
    }
    es_log(ES_LOG_DEBUG, COMPONENT, "camera=%s event=auth_failed url=%s method=%s", c->camera_id,
           c->safe_url, method);
    return ES_ERR_AUTH;
}

/* Maps a failed reply to an error; 3xx redirects are left to libavformat. */
static enum es_err reply_error(struct es_rtsp_client *c, const char *method,
                               const struct es_rtp_message *m)
{
    if (m->status / 100 == 3 || m->status == 461) {
        es_log(ES_LOG_INFO, COMPONENT, "camera=%s event=unsupported method=%s status=%d",
               c->camera_id, method, m->status);
        return ES_ERR_UNSUPPORTED;
    }
    log_failure("camera=%s event=request_refused url=%s method=%s status=%d", c->camera_id,
                c->safe_url, method, m->status);
    return ES_ERR_SOURCE;
}

/* ---- Setup ---- */

static enum es_err unsupported(struct es_rtsp_client *c, const char *reason)
{
    es_log(ES_LOG_INFO, COMPONENT, "camera=%s event=unsupported url=%s reason=%s", c->camera_id,
           c->safe_url, reason);
    return ES_ERR_UNSUPPORTED;
}

/* A media section becomes a track: its AVStream, its RTP stream and the URL
 * to SETUP. */
static enum es_err add_track(struct es_rtsp_client *c, const struct es_sdp_media *m,
                             const char *base)
{
    struct track *t = &c->tracks[c->track_count];
    t->st = avformat_new_stream(c->container, NULL);
    if (!t->st)
        abort();
    t->st->id = t->st->index;
    struct es_rtp_stream_config config = {.camera_id = c->camera_id,
                                          .stream_index = t->st->index,
                                          .max_video_unit = MAX_AU_SIZE,
                                          .emit = enqueue,
                                          .opaque = c};
    const char *reason;
    if (es_rtp_stream_create(&config, m, t->st, &reason, &t->stream) != ES_OK)
        return unsupported(c, reason);
    c->track_count++;
    if (!es_sdp_resolve_control(base, m->control, t->control, sizeof(t->control)) ||
        !request_uri_ok(t->control))
        return ES_ERR_SOURCE;
    return ES_OK;
}

/* Session: <id>[;timeout=<seconds>] (RFC 2326 section 12.37). */
static enum es_err take_session(struct es_rtsp_client *c, const struct es_rtp_message *m)
{
    const char *h = es_rtp_framer_header(m, "Session", 0);
    if (!h) {
        if (c->session[0])
            return ES_OK;
        log_failure("camera=%s event=no_session", c->camera_id);
        return ES_ERR_SOURCE;
    }
    size_t n = strcspn(h, "; \t");
    if (n == 0 || n >= sizeof(c->session))
        return ES_ERR_SOURCE;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)h[i] < 33 || h[i] == 127)
            return ES_ERR_SOURCE; /* it goes back into every request */
    if (!c->session[0]) {
        copy_str(c->session, sizeof(c->session), h, n);
        c->session_timeout_s = DEFAULT_SESSION_TIMEOUT_S;
        const char *t = find_ci(h + n, "timeout=");
        if (t) {
            long s = strtol(t + 8, NULL, 10);
            if (s >= 1 && s <= 86400)
                c->session_timeout_s = (unsigned)s;
        }
    }
    return ES_OK;
}

/* Transport reply (RFC 2326 section 12.39): the server may pick other
 * interleaved channels; it must have agreed to TCP. */
static enum es_err take_transport(struct es_rtsp_client *c, struct track *t,
                                  const struct es_rtp_message *m)
{
    const char *h = es_rtp_framer_header(m, "Transport", 0);
    if (!h)
        return ES_OK;
    size_t spec = strcspn(h, ";,");
    if (spec < 11 || strncasecmp(h, "RTP/AVP/TCP", 11) != 0)
        return unsupported(c, "no_tcp_transport");
    const char *p = find_ci(h, "interleaved=");
    if (p) {
        char *end;
        long a = strtol(p + 12, &end, 10);
        long b = *end == '-' ? strtol(end + 1, NULL, 10) : a + 1;
        if (a < 0 || a > 255 || b < 0 || b > 255)
            return ES_ERR_SOURCE;
        t->rtp_channel = (uint8_t)a;
        t->rtcp_channel = (uint8_t)b;
    }
    for (struct track *o = c->tracks; o < t; o++)
        if (o->rtp_channel == t->rtp_channel || o->rtp_channel == t->rtcp_channel) {
            log_failure("camera=%s event=channel_conflict", c->camera_id);
            return ES_ERR_SOURCE;
        }
    return ES_OK;
}

static enum es_err setup_track(struct es_rtsp_client *c, struct track *t, int index,
                               int64_t deadline_us)
{
    t->rtp_channel = (uint8_t)(2 * index);
    t->rtcp_channel = (uint8_t)(2 * index + 1);
    char transport[96];
    snprintf(transport, sizeof(transport), "Transport: RTP/AVP/TCP;unicast;interleaved=%d-%d\r\n",
             2 * index, 2 * index + 1);
    struct es_rtp_message reply;
    enum es_err err = request(c, "SETUP", t->control, transport, deadline_us, &reply);
    if (err != ES_OK)
        return err;
    if (reply.status / 100 != 2)
        err = reply_error(c, "SETUP", &reply);
    if (err == ES_OK)
        err = take_transport(c, t, &reply);
    if (err == ES_OK)
        err = take_session(c, &reply);
    es_rtp_framer_clear(&reply);
    return err;
}

/* Does an RTP-Info url name this track's control URL? Servers echo it
 * absolute, relative, or with another host spelling. */
static bool same_track(const char *info_url, size_t n, const struct track *t)
{
    if (strlen(t->control) == n && strncmp(info_url, t->control, n) == 0)
        return true;
    const char *slash = strrchr(t->control, '/');
    const char *tail = slash ? slash + 1 : t->control;
    size_t tail_len = strlen(tail);
    return tail_len > 0 && n >= tail_len && strncmp(info_url + n - tail_len, tail, tail_len) == 0 &&
           (n == tail_len || info_url[n - tail_len - 1] == '/');
}

/* RTP-Info (RFC 2326 section 12.33): per stream, the RTP time at which PLAY
 * started, which lines the streams up on one timeline. */
static void apply_rtp_info(struct es_rtsp_client *c, const struct es_rtp_message *m)
{
    const char *h = es_rtp_framer_header(m, "RTP-Info", 0);
    while (h && *h) {
        while (*h == ' ' || *h == ',')
            h++;
        size_t entry = strcspn(h, ",");
        /* A comma inside an URL: the entry runs on to the next ",url=". */
        while (h[entry] == ',' &&
               strncasecmp(h + entry + 1 + strspn(h + entry + 1, " "), "url=", 4) != 0)
            entry += 1 + strcspn(h + entry + 1, ",");
        if (strncasecmp(h, "url=", 4) == 0) {
            const char *url = h + 4;
            size_t url_len = strcspn(url, ";");
            if (url_len > entry - 4)
                url_len = entry - 4;
            const char *rt = find_ci(h, "rtptime=");
            if (rt && rt < h + entry) {
                uint32_t rtptime = (uint32_t)strtoul(rt + 8, NULL, 10);
                for (size_t i = 0; i < c->track_count; i++)
                    if (same_track(url, url_len, &c->tracks[i]))
                        es_rtp_stream_set_start(c->tracks[i].stream, rtptime);
            }
        }
        h += entry;
    }
}

static enum es_err describe(struct es_rtsp_client *c, int64_t deadline_us, struct es_sdp *sdp,
                            char *base, size_t base_size)
{
    struct es_rtp_message reply;
    enum es_err err =
        request(c, "DESCRIBE", c->request_url, "Accept: application/sdp\r\n", deadline_us, &reply);
    if (err != ES_OK)
        return err;
    if (reply.status / 100 != 2) {
        err = reply_error(c, "DESCRIBE", &reply);
        es_rtp_framer_clear(&reply);
        return err;
    }
    /* RFC 2326 appendix C.1.1: relative control URLs are resolved against
     * Content-Base, else Content-Location, else the request URL. */
    const char *b = es_rtp_framer_header(&reply, "Content-Base", 0);
    if (!b || !*b)
        b = es_rtp_framer_header(&reply, "Content-Location", 0);
    if (!b || !request_uri_ok(b))
        b = c->request_url;
    snprintf(base, base_size, "%s", b);
    const char *type = es_rtp_framer_header(&reply, "Content-Type", 0);
    if (type && strncasecmp(type, "application/sdp", 15) != 0) {
        es_rtp_framer_clear(&reply);
        return unsupported(c, "not_sdp");
    }
    err = es_sdp_parse((const char *)reply.body, reply.body_size, sdp);
    es_rtp_framer_clear(&reply);
    if (err != ES_OK)
        return unsupported(c, "bad_sdp");
    /* The session-level control URL is the aggregate one PLAY goes to. */
    if (!es_sdp_resolve_control(base, sdp->control, c->aggregate_url, sizeof(c->aggregate_url)) ||
        !request_uri_ok(c->aggregate_url))
        return ES_ERR_SOURCE;
    return ES_OK;
}

static enum es_err choose_tracks(struct es_rtsp_client *c, const struct es_sdp *sdp,
                                 const char *base, bool want_audio)
{
    const struct es_sdp_media *video = NULL, *audio = NULL;
    for (size_t i = 0; i < sdp->media_count; i++) {
        const struct es_sdp_media *m = &sdp->media[i];
        if (m->type == ES_SDP_VIDEO && !video)
            video = m;
        else if (m->type == ES_SDP_AUDIO && !audio)
            audio = m;
    }
    if (!video) {
        log_failure("camera=%s event=no_video url=%s", c->camera_id, c->safe_url);
        return ES_ERR_SOURCE;
    }
    enum es_err err = add_track(c, video, base);
    if (err == ES_OK) {
        c->video = &c->tracks[0];
        if (audio && want_audio) {
            err = add_track(c, audio, base);
            c->audio = err == ES_OK ? &c->tracks[1] : NULL;
        }
    }
    return err;
}

static enum es_err play(struct es_rtsp_client *c, int64_t deadline_us)
{
    /* Packets may follow the PLAY request before its reply (RFC 2326 section
     * 10.5 lets the server start at once), so they are taken from now on. */
    c->playing = true;
    struct es_rtp_message reply;
    enum es_err err =
        request(c, "PLAY", c->aggregate_url, "Range: npt=0.000-\r\n", deadline_us, &reply);
    if (err == ES_OK && c->failed != ES_OK) {
        es_rtp_framer_clear(&reply);
        err = c->failed;
    }
    c->play_replied = true;
    if (err != ES_OK)
        return err;
    if (reply.status / 100 != 2)
        err = reply_error(c, "PLAY", &reply);
    es_rtp_framer_clear(&reply);
    return err;
}

static enum es_err options(struct es_rtsp_client *c, int64_t deadline_us)
{
    struct es_rtp_message reply;
    enum es_err err = request(c, "OPTIONS", c->request_url, "", deadline_us, &reply);
    if (err != ES_OK)
        return err;
    /* Some cameras refuse OPTIONS and still stream: only a redirect matters. */
    if (reply.status / 100 == 3)
        err = reply_error(c, "OPTIONS", &reply);
    const char *public = es_rtp_framer_header(&reply, "Public", 0);
    c->keepalive_get_parameter = public && strstr(public, "GET_PARAMETER");
    es_rtp_framer_clear(&reply);
    return err;
}

static enum es_err run_setup(struct es_rtsp_client *c, const struct es_rtsp_client_config *cfg)
{
    int64_t deadline = es_clock_mono_us() + (int64_t)cfg->connect_timeout_ms * 1000;
    enum es_err err = connect_to(c, deadline);
    if (err == ES_OK)
        err = options(c, deadline);
    struct es_sdp sdp;
    memset(&sdp, 0, sizeof(sdp));
    char base[MAX_URL];
    if (err == ES_OK)
        err = describe(c, deadline, &sdp, base, sizeof(base));
    if (err == ES_OK)
        err = choose_tracks(c, &sdp, base, cfg->want_audio);
    es_sdp_clear(&sdp);
    for (size_t i = 0; err == ES_OK && i < c->track_count; i++)
        err = setup_track(c, &c->tracks[i], (int)i, deadline);
    if (err == ES_OK)
        err = play(c, deadline);
    return err;
}

/* ---- Public API ---- */

enum es_err es_rtsp_client_open(const struct es_rtsp_client_config *config,
                                struct es_rtsp_client **out)
{
    *out = NULL;
    struct es_rtsp_client *c = es_calloc(1, sizeof(*c));
    c->camera_id = es_strdup(config->camera_id ? config->camera_id : "-");
    es_url_redact(config->url, c->safe_url, sizeof(c->safe_url));
    c->stop = config->stop;
    c->allow_basic = config->allow_basic;
    c->read_timeout_ms = config->read_timeout_ms;
    c->batch_us =
        (int64_t)(config->batch_ms < POLL_SLICE_MS ? config->batch_ms : POLL_SLICE_MS) * 1000;
    c->fd = -1;
    c->wait_cseq = c->keepalive_cseq = -1;

    enum es_err err = parse_url(c, config->url);
    if (err != ES_OK) {
        if (err == ES_ERR_UNSUPPORTED)
            unsupported(c, "scheme");
        else
            log_failure("camera=%s event=bad_url url=%s", c->camera_id, c->safe_url);
        es_rtsp_client_close(c);
        return err == ES_ERR_UNSUPPORTED ? err : ES_ERR_SOURCE;
    }
    c->buf = es_malloc(RECV_BUFFER);
    c->container = avformat_alloc_context();
    if (!c->container)
        abort();

    err = run_setup(c, config);
    if (err != ES_OK) {
        es_rtsp_client_close(c);
        return err;
    }
    int64_t now = es_clock_mono_us();
    c->media_deadline_us = now + (int64_t)c->read_timeout_ms * 1000;
    /* RFC 2326 section 12.37: the session lives `timeout` seconds after the
     * last request; refresh it at half that. */
    c->next_keepalive_us = now + (int64_t)c->session_timeout_s * 500000;

    const AVCodecParameters *v = c->video->st->codecpar;
    const char *audio = !c->audio                                             ? "none"
                        : c->audio->st->codecpar->codec_id == AV_CODEC_ID_AAC ? "aac"
                                                                              : "g711";
    es_log(played_without_media ? ES_LOG_DEBUG : ES_LOG_INFO, COMPONENT,
           "camera=%s event=playing url=%s video=h264 width=%d height=%d audio=%s "
           "session_timeout_s=%u keepalive=%s",
           c->camera_id, c->safe_url, v->width, v->height, audio, c->session_timeout_s,
           c->keepalive_get_parameter ? "GET_PARAMETER" : "OPTIONS");
    played_without_media = true;
    *out = c;
    return ES_OK;
}

static enum es_err send_keepalive(struct es_rtsp_client *c)
{
    int64_t now = es_clock_mono_us();
    c->next_keepalive_us = now + (int64_t)c->session_timeout_s * 500000;
    c->stats.keepalives++;
    return send_request(c, c->keepalive_get_parameter ? "GET_PARAMETER" : "OPTIONS",
                        c->aggregate_url, "", now + 1000000, &c->keepalive_cseq);
}

enum es_err es_rtsp_client_read(struct es_rtsp_client *c, AVPacket *pkt, int64_t *capture_us,
                                bool *from_camera_clock)
{
    for (;;) {
        if (stopped(c))
            return ES_ERR_STOPPED;
        if (c->q_count > 0) {
            struct queued *q = &c->queue[c->q_head];
            av_packet_move_ref(pkt, q->pkt);
            av_packet_free(&q->pkt);
            *capture_us = q->capture_us;
            *from_camera_clock = q->from_camera;
            c->media_deadline_us = es_clock_mono_us() + (int64_t)c->read_timeout_ms * 1000;
            if (last_failure[0] || played_without_media)
                failures_over();
            c->q_head = (c->q_head + 1) % c->q_cap;
            c->q_count--;
            return ES_OK;
        }
        if (c->failed)
            return c->failed;
        int64_t now = es_clock_mono_us();
        if (now >= c->media_deadline_us) {
            log_failure("camera=%s event=read_timeout timeout_ms=%u", c->camera_id,
                        c->read_timeout_ms);
            c->failed = ES_ERR_TIMEOUT;
            continue;
        }
        if (now >= c->next_keepalive_us) {
            enum es_err err = send_keepalive(c);
            if (err != ES_OK) {
                c->failed = err == ES_ERR_STOPPED ? err : ES_ERR_SOURCE;
                continue;
            }
        }
        int64_t wait_us = c->media_deadline_us - now;
        if (c->next_keepalive_us - now < wait_us)
            wait_us = c->next_keepalive_us - now;
        int wait_ms = (int)(wait_us / 1000) + 1;
        enum es_err err = pump(c, wait_ms < POLL_SLICE_MS ? wait_ms : POLL_SLICE_MS);
        if (err != ES_OK)
            c->failed = err;
    }
}

void es_rtsp_client_close(struct es_rtsp_client *c)
{
    if (!c)
        return;
    if (c->fd >= 0 && c->session[0]) {
        /* Best effort: a TEARDOWN frees the camera's session at once instead
         * of after its timeout (RFC 2326 section 10.7). */
        char auth[MAX_AUTH];
        authorization(c, "TEARDOWN", c->aggregate_url, auth, sizeof(auth));
        char text[MAX_URL + MAX_AUTH + 512];
        int n = snprintf(text, sizeof(text),
                         "TEARDOWN %s RTSP/1.0\r\nCSeq: %d\r\nUser-Agent: edgestream/" ES_VERSION
                         "\r\n%sSession: %s\r\n\r\n",
                         c->aggregate_url, ++c->cseq, auth, c->session);
        if (n > 0 && (size_t)n < sizeof(text) &&
            send(c->fd, text, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
            es_log(ES_LOG_DEBUG, COMPONENT, "camera=%s event=teardown_failed", c->camera_id);
        memset(text, 0, sizeof(text));
        memset(auth, 0, sizeof(auth));
    }
    if (c->fd >= 0)
        close(c->fd);
    for (size_t i = 0; i < c->track_count; i++)
        es_rtp_stream_destroy(c->tracks[i].stream);
    while (c->q_count > 0) {
        av_packet_free(&c->queue[c->q_head].pkt);
        c->q_head = (c->q_head + 1) % c->q_cap;
        c->q_count--;
    }
    free(c->queue);
    es_rtp_framer_clear(&c->response);
    avformat_free_context(c->container);
    free(c->buf);
    free(c->camera_id);
    memset(c->pass, 0, sizeof(c->pass));
    free(c);
}

const AVStream *es_rtsp_client_video(const struct es_rtsp_client *c)
{
    return c->video->st;
}

const AVStream *es_rtsp_client_audio(const struct es_rtsp_client *c)
{
    return c->audio ? c->audio->st : NULL;
}

struct es_rtsp_client_stats es_rtsp_client_stats(const struct es_rtsp_client *c)
{
    struct es_rtsp_client_stats s = c->stats;
    for (size_t i = 0; i < c->track_count; i++) {
        struct es_rtp_stream_stats t = es_rtp_stream_stats(c->tracks[i].stream);
        s.rtp_packets += t.rtp_packets;
        s.rtcp_packets += t.rtcp_packets;
        s.lost_packets += t.lost_packets;
        s.dropped_units += t.dropped_units;
        if (&c->tracks[i] == c->video)
            s.video_units += t.units;
        else
            s.audio_units += t.units;
    }
    return s;
}
