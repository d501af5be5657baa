/* Unit tests for src/source/rtsp_client.c against a scripted camera on
 * 127.0.0.1 (a thread of this test): the request sequence, Basic and Digest
 * authentication (and RFC 2617's worked example), what the AVStreams and
 * packets hold, RTP-Info alignment, sender-report clock, keepalives, server
 * requests, SSRC changes, the cases left to libavformat, timeouts, the stop
 * flag, TEARDOWN, and that no password reaches a log or the wire. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/clock.h"
#include "core/log.h"
#include "source/rtsp_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libavutil/base64.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- The scripted camera ---- */

#define VIDEO_TS0 0xfffff000u /* wraps during the stream */
#define AUDIO_TS0 123456u
#define VIDEO_SSRC 0x11111111u
#define AUDIO_SSRC 0x22222222u
/* RTP-Info says PLAY started 1 frame before the first video packet. */
#define VIDEO_RTPTIME (VIDEO_TS0 - 3600u)
#define AUDIO_RTPTIME (AUDIO_TS0 - 480u)
/* 2026-11-24T14:35:00Z */
#define SR_UNIX_S 1795530900u

enum fake_auth {
    FAKE_AUTH_OFF = 0,
    FAKE_AUTH_BASIC,
    FAKE_AUTH_DIGEST,
};

struct fake_camera {
    /* Script */
    const char *sdp;          /* default: H.264 + AAC with relative controls */
    const char *content_base; /* default: "rtsp://127.0.0.1:PORT/cam/"; "" for none */
    const char *public_methods;
    enum fake_auth auth;
    const char *user, *pass;
    int describe_status, setup_status;
    const char *transport_reply; /* default: the request's Transport echoed */
    const char *location;        /* for a 3xx DESCRIBE */
    int session_timeout;         /* 0: no timeout parameter */
    bool rtp_info;
    int frames; /* video frames after PLAY (IDR every 10) */
    int frame_ms;
    bool audio;
    int sr_at_frame; /* send sender reports before this frame; 0: never */
    int announce_at_frame;
    int ssrc_change_at_frame;
    bool never_answer;
    bool no_keepalive_reply;
    bool omit_cseq; /* in replies before PLAY */
    int frames_before_play_reply; /* sent at once after PLAY, before its reply */

    /* Observations */
    pthread_mutex_t lock;
    char requests[32][600]; /* "METHOD url" */
    int request_count;
    int keepalives;
    bool teardown;
    bool got_501;
    char wire[16384]; /* every byte the client sent */
    size_t wire_len;

    /* Plumbing */
    int listen_fd, port;
    pthread_t thread;
    atomic_bool quit;
    char url[128];
};

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void send_all(int fd, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void send_interleaved(int fd, int channel, const uint8_t *data, size_t n)
{
    uint8_t head[4] = {'$', (uint8_t)channel, (uint8_t)(n >> 8), (uint8_t)n};
    uint8_t buf[4 + 2048];
    memcpy(buf, head, 4);
    memcpy(buf + 4, data, n);
    send_all(fd, buf, 4 + n); /* one write, as a camera does */
}

static void send_rtp(int fd, int channel, uint16_t seq, uint32_t ts, uint32_t ssrc, bool marker,
                     int pt, const uint8_t *payload, size_t n)
{
    uint8_t pkt[2048] = {0x80, (uint8_t)((marker ? 0x80 : 0) | pt), (uint8_t)(seq >> 8),
                         (uint8_t)seq};
    put32(pkt + 4, ts);
    put32(pkt + 8, ssrc);
    memcpy(pkt + 12, payload, n);
    send_interleaved(fd, channel, pkt, 12 + n);
}

static const char *header_value(const char *req, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    for (const char *line = req; line && *line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r\n");
            snprintf(out, size, "%.*s", (int)len, v);
            return out;
        }
    }
    return NULL;
}

/* One auth-param of a Digest Authorization value. */
static void digest_param(const char *auth, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    char key[32];
    snprintf(key, sizeof(key), "%s=", name);
    const char *p = auth;
    while ((p = strstr(p, key)) != NULL) {
        if (p == auth || p[-1] == ' ' || p[-1] == ',')
            break;
        p++;
    }
    if (!p)
        return;
    p += strlen(key);
    if (*p == '"') {
        p++;
        snprintf(out, size, "%.*s", (int)strcspn(p, "\""), p);
    } else {
        snprintf(out, size, "%.*s", (int)strcspn(p, ", \r\n"), p);
    }
}

static bool authorized(struct fake_camera *cam, const char *req, const char *method)
{
    char auth[8192];
    if (cam->auth == FAKE_AUTH_OFF)
        return true;
    if (!header_value(req, "Authorization", auth, sizeof(auth)))
        return false;
    if (cam->auth == FAKE_AUTH_BASIC) {
        char plain[256], expected[512];
        snprintf(plain, sizeof(plain), "%s:%s", cam->user, cam->pass);
        char encoded[AV_BASE64_SIZE(256)];
        av_base64_encode(encoded, sizeof(encoded), (const uint8_t *)plain, (int)strlen(plain));
        snprintf(expected, sizeof(expected), "Basic %s", encoded);
        return strcmp(auth, expected) == 0;
    }
    char user[128], realm[128], nonce[128], uri[4096], response[64], qop[16], nc[16], cnonce[64];
    digest_param(auth, "username", user, sizeof(user));
    digest_param(auth, "realm", realm, sizeof(realm));
    digest_param(auth, "nonce", nonce, sizeof(nonce));
    digest_param(auth, "uri", uri, sizeof(uri));
    digest_param(auth, "response", response, sizeof(response));
    digest_param(auth, "qop", qop, sizeof(qop));
    digest_param(auth, "nc", nc, sizeof(nc));
    digest_param(auth, "cnonce", cnonce, sizeof(cnonce));
    struct es_rtsp_client_digest d = {cam->user, cam->pass, "fake camera",       "4f1c2d",
                                      method,    uri,       qop[0] ? qop : NULL, nc,
                                      cnonce,    false};
    char expected[33];
    es_rtsp_client_digest_response(&d, expected);
    return strcmp(user, cam->user) == 0 && strcmp(realm, "fake camera") == 0 &&
           strcmp(nonce, "4f1c2d") == 0 && strcmp(qop, "auth") == 0 &&
           strcmp(response, expected) == 0;
}

static const char default_sdp[] =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=fake\r\nt=0 0\r\na=control:*\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=framerate:25\r\n"
    "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAH9oBQBbsBagICAoAAAMAAgAAAwBlHjBlQA=="
    ",aM48gA==\r\na=control:stream=0\r\n"
    "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r\n"
    "a=fmtp:97 streamtype=5;mode=AAC-hbr;config=1190;sizelength=13;indexlength=3;"
    "indexdeltalength=3\r\na=control:stream=1\r\n";

struct stream_state {
    bool playing;
    int video_channel, audio_channel;
    int frame;
    uint16_t vseq, aseq;
    uint32_t vssrc;
    int64_t next_frame_us;
};

static void send_frame(struct fake_camera *cam, int fd, struct stream_state *s)
{
    int i = s->frame++;
    if (cam->ssrc_change_at_frame && i == cam->ssrc_change_at_frame)
        s->vssrc = 0x33333333u;
    uint32_t ts = VIDEO_TS0 + (uint32_t)i * 3600u;
    if (cam->sr_at_frame && i == cam->sr_at_frame) {
        /* The video clock's frame 0 was captured at SR_UNIX_S. */
        uint8_t sr[28] = {0x80, 200, 0, 6};
        put32(sr + 4, s->vssrc);
        put32(sr + 8, SR_UNIX_S + 2208988800u);
        put32(sr + 12, 0);
        put32(sr + 16, VIDEO_TS0);
        send_interleaved(fd, s->video_channel + 1, sr, sizeof(sr));
    }
    if (cam->announce_at_frame && i == cam->announce_at_frame) {
        const char *announce = "ANNOUNCE rtsp://127.0.0.1/cam RTSP/1.0\r\nCSeq: 77\r\n"
                               "Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n";
        send_all(fd, announce, strlen(announce));
    }
    if (i % 10 == 0) {
        const uint8_t stap[] = {0x18, 0, 4, 0x67, 0x42, 0xc0, 0x1f, 0, 4, 0x68, 0xce, 0x3c, 0x80};
        send_rtp(fd, s->video_channel, s->vseq++, ts, s->vssrc, false, 96, stap, sizeof(stap));
        uint8_t fu[1000];
        memset(fu, 0x11, sizeof(fu));
        fu[0] = 0x7c;
        for (int part = 0; part < 3; part++) {
            fu[1] = (uint8_t)(0x05 | (part == 0 ? 0x80 : 0) | (part == 2 ? 0x40 : 0));
            send_rtp(fd, s->video_channel, s->vseq++, ts, s->vssrc, part == 2, 96, fu, sizeof(fu));
        }
    } else {
        uint8_t slice[300];
        memset(slice, 0x22, sizeof(slice));
        slice[0] = 0x41;
        send_rtp(fd, s->video_channel, s->vseq++, ts, s->vssrc, true, 96, slice, sizeof(slice));
    }
    if (cam->audio && s->audio_channel >= 0) {
        uint8_t aac[4 + 6] = {0x00, 0x10, 0x00, 6 << 3, 1, 2, 3, 4, 5, 6};
        send_rtp(fd, s->audio_channel, s->aseq++, AUDIO_TS0 + (uint32_t)i * 3600u * 48 / 90,
                 AUDIO_SSRC, true, 97, aac, sizeof(aac));
    }
}

static void reply(int fd, int status, int cseq, const char *extra, const char *body)
{
    char text[8192];
    int n = cseq >= 0 ? snprintf(text, sizeof(text), "RTSP/1.0 %d Whatever\r\nCSeq: %d\r\n%s",
                                 status, cseq, extra ? extra : "")
                      : snprintf(text, sizeof(text), "RTSP/1.0 %d Whatever\r\n%s", status,
                                 extra ? extra : "");
    if (body)
        n += snprintf(text + n, sizeof(text) - (size_t)n, "Content-Length: %zu\r\n\r\n%s",
                      strlen(body), body);
    else
        n += snprintf(text + n, sizeof(text) - (size_t)n, "\r\n");
    send_all(fd, text, (size_t)n);
}

static void handle_request(struct fake_camera *cam, int fd, const char *req, struct stream_state *s)
{
    char method[32] = "", url[4096] = "", value[512];
    sscanf(req, "%31s %4095s", method, url);
    if (strncmp(method, "RTSP/", 5) == 0) {
        pthread_mutex_lock(&cam->lock);
        cam->got_501 = cam->got_501 || strstr(req, "501") != NULL;
        pthread_mutex_unlock(&cam->lock);
        return;
    }
    int cseq = header_value(req, "CSeq", value, sizeof(value)) ? atoi(value) : -1;
    pthread_mutex_lock(&cam->lock);
    if (cam->request_count < 32)
        snprintf(cam->requests[cam->request_count++], sizeof(cam->requests[0]), "%s %.500s", method,
                 url);
    if (s->playing && (strcmp(method, "GET_PARAMETER") == 0 || strcmp(method, "OPTIONS") == 0))
        cam->keepalives++;
    if (strcmp(method, "TEARDOWN") == 0)
        cam->teardown = true;
    pthread_mutex_unlock(&cam->lock);
    if (cam->never_answer || (s->playing && cam->no_keepalive_reply))
        return;
    if (cam->omit_cseq && !s->playing)
        cseq = -1;

    if (!authorized(cam, req, method)) {
        reply(fd, 401, cseq,
              cam->auth == FAKE_AUTH_BASIC
                  ? "WWW-Authenticate: Basic realm=\"fake camera\"\r\n"
                  : "WWW-Authenticate: Basic realm=\"fake camera\"\r\n"
                    "WWW-Authenticate: Digest realm=\"fake camera\", nonce=\"4f1c2d\", "
                    "qop=\"auth,auth-int\", opaque=\"xyz\"\r\n",
              NULL);
        return;
    }
    char extra[1024];
    if (strcmp(method, "OPTIONS") == 0) {
        snprintf(extra, sizeof(extra), "Public: %s\r\n",
                 cam->public_methods ? cam->public_methods
                                     : "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER");
        reply(fd, 200, cseq, extra, NULL);
    } else if (strcmp(method, "DESCRIBE") == 0) {
        if (cam->location) {
            snprintf(extra, sizeof(extra), "Location: %s\r\n", cam->location);
            reply(fd, cam->describe_status, cseq, extra, NULL);
            return;
        }
        if (cam->content_base && !cam->content_base[0])
            snprintf(extra, sizeof(extra), "Content-Type: application/sdp\r\n");
        else
            snprintf(extra, sizeof(extra), "Content-Type: application/sdp\r\nContent-Base: %s\r\n",
                     cam->content_base ? cam->content_base : "rtsp://127.0.0.1/cam/");
        reply(fd, cam->describe_status ? cam->describe_status : 200, cseq, extra,
              cam->sdp ? cam->sdp : default_sdp);
    } else if (strcmp(method, "SETUP") == 0) {
        char transport[256] = "";
        header_value(req, "Transport", transport, sizeof(transport));
        const char *t = cam->transport_reply ? cam->transport_reply : transport;
        const char *il = strstr(t, "interleaved=");
        int channel = il ? atoi(il + 12) : -1;
        if (strstr(url, "stream=1") || strstr(url, "trackID=2"))
            s->audio_channel = channel;
        else
            s->video_channel = channel;
        char session[64] = "12345678";
        if (cam->session_timeout)
            snprintf(session, sizeof(session), "12345678;timeout=%d", cam->session_timeout);
        snprintf(extra, sizeof(extra), "Transport: %s\r\nSession: %s\r\n", t, session);
        reply(fd, cam->setup_status ? cam->setup_status : 200, cseq, extra, NULL);
    } else if (strcmp(method, "PLAY") == 0) {
        /* RFC 2326 section 10.5 lets a server start sending at once. */
        s->video_channel = s->video_channel < 0 ? 0 : s->video_channel;
        for (int i = 0; i < cam->frames_before_play_reply && !atomic_load(&cam->quit); i++)
            send_frame(cam, fd, s);
        extra[0] = '\0';
        if (cam->rtp_info)
            snprintf(extra, sizeof(extra),
                     "RTP-Info: url=rtsp://127.0.0.1/cam/stream=0;seq=0;rtptime=%u, "
                     "url=rtsp://127.0.0.1/cam/stream=1;seq=0;rtptime=%u\r\n",
                     VIDEO_RTPTIME, AUDIO_RTPTIME);
        reply(fd, 200, cseq, extra, NULL);
        s->playing = true;
        s->next_frame_us = es_clock_mono_us();
    } else {
        reply(fd, 200, cseq, "Session: 12345678\r\n", NULL);
    }
}

static void serve(struct fake_camera *cam, int fd)
{
    struct stream_state s = {.video_channel = -1, .audio_channel = -1, .vssrc = VIDEO_SSRC};
    char buf[16384];
    size_t len = 0;
    while (!atomic_load(&cam->quit)) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 1) > 0) {
            ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
            if (n <= 0)
                return;
            pthread_mutex_lock(&cam->lock);
            size_t room = sizeof(cam->wire) - cam->wire_len;
            size_t take = (size_t)n < room ? (size_t)n : room;
            memcpy(cam->wire + cam->wire_len, buf + len, take);
            cam->wire_len += take;
            pthread_mutex_unlock(&cam->lock);
            len += (size_t)n;
            buf[len] = '\0';
            char *end;
            while ((end = strstr(buf, "\r\n\r\n")) != NULL) {
                *end = '\0';
                handle_request(cam, fd, buf, &s);
                size_t used = (size_t)(end + 4 - buf);
                memmove(buf, end + 4, len - used + 1);
                len -= used;
            }
        }
        if (s.playing && s.frame < cam->frames && es_clock_mono_us() >= s.next_frame_us) {
            send_frame(cam, fd, &s);
            s.next_frame_us += (cam->frame_ms ? cam->frame_ms : 2) * 1000;
        }
    }
}

static void *camera_thread(void *arg)
{
    struct fake_camera *cam = arg;
    while (!atomic_load(&cam->quit)) {
        struct pollfd pfd = {.fd = cam->listen_fd, .events = POLLIN};
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        int fd = accept(cam->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        serve(cam, fd);
        close(fd);
    }
    return NULL;
}

static void camera_start(struct fake_camera *cam, const char *userinfo)
{
    pthread_mutex_init(&cam->lock, NULL);
    cam->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(cam->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    getsockname(cam->listen_fd, (struct sockaddr *)&addr, &len);
    cam->port = ntohs(addr.sin_port);
    assert_int_equal(listen(cam->listen_fd, 4), 0);
    snprintf(cam->url, sizeof(cam->url), "rtsp://%s127.0.0.1:%d/cam", userinfo ? userinfo : "",
             cam->port);
    atomic_store(&cam->quit, false);
    pthread_create(&cam->thread, NULL, camera_thread, cam);
}

static void camera_stop(struct fake_camera *cam)
{
    atomic_store(&cam->quit, true);
    pthread_join(cam->thread, NULL);
    close(cam->listen_fd);
    pthread_mutex_destroy(&cam->lock);
}

static struct es_rtsp_client_config config_for(const struct fake_camera *cam)
{
    return (struct es_rtsp_client_config){.camera_id = "test",
                                          .url = cam->url,
                                          .connect_timeout_ms = 2000,
                                          .read_timeout_ms = 1000,
                                          .want_audio = true};
}

static bool wire_contains(struct fake_camera *cam, const char *text)
{
    pthread_mutex_lock(&cam->lock);
    bool found = false;
    size_t n = strlen(text);
    for (size_t i = 0; i + n <= cam->wire_len && !found; i++)
        found = memcmp(cam->wire + i, text, n) == 0;
    pthread_mutex_unlock(&cam->lock);
    return found;
}

/* Reads packets until `count` video units arrived (audio collected too). */
struct session {
    int video, audio, keys;
    int64_t first_video_pts, first_audio_pts, last_video_pts;
    bool camera_clock_seen;
    int64_t first_camera_capture_us, camera_capture_pts;
    enum es_err err;
};

static struct session read_units(struct es_rtsp_client *c, int video_units)
{
    struct session s = {.first_video_pts = -1, .first_audio_pts = -1};
    AVPacket *pkt = av_packet_alloc();
    while (s.video < video_units) {
        int64_t capture;
        bool camera;
        s.err = es_rtsp_client_read(c, pkt, &capture, &camera);
        if (s.err != ES_OK)
            break;
        if (pkt->stream_index == 0) {
            if (s.video == 0) {
                s.first_video_pts = pkt->pts;
                /* Annex B with 4-byte start codes. */
                assert_memory_equal(pkt->data, "\0\0\0\1", 4);
            } else {
                assert_true(pkt->pts > s.last_video_pts);
            }
            s.last_video_pts = pkt->pts;
            s.video++;
            if (pkt->flags & AV_PKT_FLAG_KEY)
                s.keys++;
            if (camera && !s.camera_clock_seen) {
                s.camera_clock_seen = true;
                s.first_camera_capture_us = capture;
                s.camera_capture_pts = pkt->pts;
            }
        } else {
            if (s.audio == 0)
                s.first_audio_pts = pkt->pts;
            assert_int_equal(pkt->duration, 1024);
            s.audio++;
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    return s;
}

/* ---- Digest ---- */

static void test_digest_response_matches_the_rfc_2617_example(void **state)
{
    (void)state;
    /* RFC 2617 section 3.5. */
    struct es_rtsp_client_digest d = {
        .username = "Mufasa",
        .password = "Circle Of Life",
        .realm = "testrealm@host.com",
        .nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        .method = "GET",
        .uri = "/dir/index.html",
        .qop = "auth",
        .nc = "00000001",
        .cnonce = "0a4f113b",
    };
    char out[33];
    es_rtsp_client_digest_response(&d, out);
    assert_string_equal(out, "6629fae49393a05397450978507c4ef1");
    /* Without qop (RFC 2069): MD5(HA1:nonce:HA2). */
    d.qop = NULL;
    es_rtsp_client_digest_response(&d, out);
    assert_string_equal(out, "670fd8c2df070c60b045671b8b24ff02");
    /* MD5-sess: HA1 = MD5(MD5(user:realm:pass):nonce:cnonce). */
    d.qop = "auth";
    d.md5_sess = true;
    es_rtsp_client_digest_response(&d, out);
    assert_string_equal(out, "8e3825c57e897f5a0dec6c2d4e5059d0");
}

/* ---- Sessions ---- */

static void test_client_plays_h264_and_aac_from_a_camera(void **state)
{
    (void)state;
    struct fake_camera cam = {.frames = 25, .audio = true, .rtp_info = true};
    camera_start(&cam, NULL);
    struct es_rtsp_client_config cfg = config_for(&cam);
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);

    const AVStream *v = es_rtsp_client_video(c), *a = es_rtsp_client_audio(c);
    assert_int_equal(v->index, 0);
    assert_int_equal(v->codecpar->codec_id, AV_CODEC_ID_H264);
    assert_int_equal(v->time_base.num, 1);
    assert_int_equal(v->time_base.den, 90000);
    assert_int_equal(v->codecpar->width, 1280);
    assert_int_equal(v->codecpar->height, 720);
    assert_int_equal(v->codecpar->extradata_size, 40);
    assert_memory_equal(v->codecpar->extradata, "\0\0\0\1\x67", 5);
    assert_int_equal(v->avg_frame_rate.num / v->avg_frame_rate.den, 25);
    assert_non_null(a);
    assert_int_equal(a->index, 1);
    assert_int_equal(a->codecpar->codec_id, AV_CODEC_ID_AAC);
    assert_int_equal(a->codecpar->sample_rate, 48000);
    assert_int_equal(a->codecpar->ch_layout.nb_channels, 2);
    assert_int_equal(a->codecpar->extradata_size, 2);
    assert_int_equal(a->time_base.den, 48000);

    struct session s = read_units(c, 20);
    assert_int_equal(s.err, ES_OK);
    assert_int_equal(s.keys, 2);
    /* RTP-Info put the start one frame (3600) before the first packet, on
     * both streams' own clocks (480 ticks = 10 ms at 48 kHz). */
    assert_int_equal(s.first_video_pts, 3600);
    assert_int_equal(s.last_video_pts, 3600 + 19 * 3600); /* across the 32-bit wrap */
    assert_int_equal(s.first_audio_pts, 480);
    assert_true(s.audio >= 19);
    es_rtsp_client_close(c);

    pthread_mutex_lock(&cam.lock);
    char expected[5][96];
    snprintf(expected[0], 96, "OPTIONS rtsp://127.0.0.1:%d/cam", cam.port);
    snprintf(expected[1], 96, "DESCRIBE rtsp://127.0.0.1:%d/cam", cam.port);
    snprintf(expected[2], 96, "SETUP rtsp://127.0.0.1/cam/stream=0");
    snprintf(expected[3], 96, "SETUP rtsp://127.0.0.1/cam/stream=1");
    snprintf(expected[4], 96, "PLAY rtsp://127.0.0.1/cam/");
    for (int i = 0; i < 5; i++)
        assert_string_equal(cam.requests[i], expected[i]);
    pthread_mutex_unlock(&cam.lock);
    assert_true(wire_contains(&cam, "Accept: application/sdp\r\n"));
    assert_true(wire_contains(&cam, "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"));
    assert_true(wire_contains(&cam, "Transport: RTP/AVP/TCP;unicast;interleaved=2-3\r\n"
                                    "Session: 12345678\r\n") ||
                wire_contains(&cam, "Session: 12345678\r\nTransport: RTP/AVP/TCP;unicast;"
                                    "interleaved=2-3\r\n"));
    assert_true(wire_contains(&cam, "Range: npt=0.000-\r\n"));
    camera_stop(&cam);
    pthread_mutex_lock(&cam.lock);
    assert_true(cam.teardown);
    pthread_mutex_unlock(&cam.lock);
}

static void test_client_without_audio_sets_up_only_the_video(void **state)
{
    (void)state;
    struct fake_camera cam = {.frames = 5, .audio = true};
    camera_start(&cam, NULL);
    struct es_rtsp_client_config cfg = config_for(&cam);
    cfg.want_audio = false;
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);
    assert_null(es_rtsp_client_audio(c));
    struct session s = read_units(c, 3);
    assert_int_equal(s.err, ES_OK);
    assert_int_equal(s.audio, 0);
    /* Without RTP-Info the first packet is time 0. */
    assert_int_equal(s.first_video_pts, 0);
    es_rtsp_client_close(c);
    camera_stop(&cam);
    assert_false(wire_contains(&cam, "stream=1"));
}

static void test_client_answers_a_digest_challenge_without_sending_the_password(void **state)
{
    (void)state;
    struct fake_camera cam = {
        .frames = 3, .auth = FAKE_AUTH_DIGEST, .user = "admin", .pass = "s3cr3t/p@ss"};
    camera_start(&cam, "admin:s3cr3t%2Fp%40ss@");
    struct es_rtsp_client_config cfg = config_for(&cam);
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);
    struct session s = read_units(c, 2);
    assert_int_equal(s.err, ES_OK);
    es_rtsp_client_close(c);
    camera_stop(&cam);
    assert_true(wire_contains(&cam, "Authorization: Digest username=\"admin\""));
    assert_true(wire_contains(&cam, "opaque=\"xyz\""));
    assert_false(wire_contains(&cam, "s3cr3t"));
    /* The request URL never carries the credentials either. */
    assert_false(wire_contains(&cam, "admin:"));
}

static void test_client_answers_a_basic_challenge_when_allowed(void **state)
{
    (void)state;
    struct fake_camera cam = {.frames = 3, .auth = FAKE_AUTH_BASIC, .user = "viewer", .pass = "pw"};
    camera_start(&cam, "viewer:pw@");
    struct es_rtsp_client_config cfg = config_for(&cam);
    cfg.allow_basic = true; /* settings.rtsp_allow_basic */
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);
    es_rtsp_client_close(c);
    camera_stop(&cam);
    assert_true(wire_contains(&cam, "Authorization: Basic dmlld2VyOnB3\r\n"));
}

static void test_client_fails_on_a_wrong_password_without_logging_it(void **state)
{
    (void)state;
    struct fake_camera cam = {.auth = FAKE_AUTH_DIGEST, .user = "admin", .pass = "right"};
    camera_start(&cam, "admin:Wr0ngPassw0rd@");
    struct es_rtsp_client_config cfg = config_for(&cam);
    struct es_rtsp_client *c;

    fflush(stderr);
    int saved = dup(2);
    FILE *log = tmpfile();
    dup2(fileno(log), 2);
    es_log_set_level(ES_LOG_DEBUG);
    enum es_err err = es_rtsp_client_open(&cfg, &c);
    es_log_set_level(ES_LOG_INFO);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);

    /* An error of its own, so the caller backs off for minutes (issue 11). */
    assert_int_equal(err, ES_ERR_AUTH);
    assert_null(c);
    char text[8192] = "";
    rewind(log);
    size_t n = fread(text, 1, sizeof(text) - 1, log);
    text[n] = '\0';
    fclose(log);
    assert_non_null(strstr(text, "event=auth_failed"));
    assert_non_null(strstr(text, "admin:***@"));
    assert_null(strstr(text, "Wr0ngPassw0rd"));
    assert_null(strstr(text, "Authorization"));
    camera_stop(&cam);
    pthread_mutex_lock(&cam.lock);
    assert_int_equal(cam.request_count, 2); /* one try, one answer to the challenge */
    pthread_mutex_unlock(&cam.lock);
}

/* Issue 11, defect 13: a server (or a man in the middle that strips the
 * camera's Digest offer) that offers only Basic over plain TCP would get the
 * password in clear. By default the client refuses, as an auth error, and never
 * sends it; settings.rtsp_allow_basic allows it (the test above). */
static void test_client_refuses_basic_only_over_plain_tcp_by_default(void **state)
{
    (void)state;
    struct fake_camera cam = {.frames = 3, .auth = FAKE_AUTH_BASIC, .user = "viewer", .pass = "pw"};
    camera_start(&cam, "viewer:pw@");
    struct es_rtsp_client_config cfg = config_for(&cam);
    struct es_rtsp_client *c = NULL;
    enum es_err err = es_rtsp_client_open(&cfg, &c);
    camera_stop(&cam);
    assert_int_equal(err, ES_ERR_AUTH);
    assert_null(c);
    assert_false(wire_contains(&cam, "Authorization"));
    assert_false(wire_contains(&cam, "dmlld2VyOnB3")); /* viewer:pw */
}

static void test_client_without_credentials_fails_on_a_challenge(void **state)
{
    (void)state;
    struct fake_camera cam = {.auth = FAKE_AUTH_BASIC, .user = "a", .pass = "b"};
    camera_start(&cam, NULL);
    struct es_rtsp_client_config cfg = config_for(&cam);
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_ERR_AUTH);
    camera_stop(&cam);
}

/* Issue 11, defect 13: units that arrive before the PLAY reply wait in the
 * client until open returns. A few are normal (and kept); a server that
 * streams on and on without answering PLAY must not make the client queue
 * without bound: the open fails instead. */
static void test_client_bounds_units_received_before_the_play_reply(void **state)
{
    (void)state;
    struct fake_camera few = {.frames = 3, .frames_before_play_reply = 3};
    camera_start(&few, NULL);
    struct es_rtsp_client_config cfg = config_for(&few);
    cfg.want_audio = false;
    struct es_rtsp_client *c = NULL;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);
    struct session s = read_units(c, 3);
    assert_int_equal(s.err, ES_OK);
    assert_int_equal(s.video, 3);
    es_rtsp_client_close(c);
    camera_stop(&few);

    struct fake_camera flood = {.frames = 20000, .frames_before_play_reply = 20000};
    camera_start(&flood, NULL);
    cfg = config_for(&flood);
    cfg.want_audio = false;
    cfg.connect_timeout_ms = 10000;
    c = NULL;
    enum es_err err = es_rtsp_client_open(&cfg, &c);
    if (c)
        es_rtsp_client_close(c);
    camera_stop(&flood);
    assert_int_equal(err, ES_ERR_SOURCE);
    assert_null(c);
}

static void test_client_follows_the_servers_interleaved_channels(void **state)
{
    (void)state;
    struct fake_camera cam = {.frames = 5,
                              .transport_reply = "RTP/AVP/TCP;unicast;interleaved=6-7;ssrc=1"};
    camera_start(&cam, NULL);
    struct es_rtsp_client_config cfg = config_for(&cam);
    cfg.want_audio = false;
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);
    struct session s = read_units(c, 3);
    assert_int_equal(s.err, ES_OK);
    es_rtsp_client_close(c);
    camera_stop(&cam);
}

static void test_client_maps_capture_times_by_the_cameras_sender_reports(void **state)
{
    (void)state;
    struct fake_camera cam = {.frames = 12, .sr_at_frame = 4};
    camera_start(&cam, NULL);
    struct es_rtsp_client_config cfg = config_for(&cam);
    cfg.want_audio = false;
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);
    AVPacket *pkt = av_packet_alloc();
    int64_t capture;
    bool camera;
    assert_int_equal(es_rtsp_client_read(c, pkt, &capture, &camera), ES_OK);
    assert_false(camera); /* no sender report yet: arrival time */
    assert_true(llabs(capture - es_clock_wall_us()) < 5000000);
    av_packet_unref(pkt);
    struct session s = read_units(c, 10);
    assert_int_equal(s.err, ES_OK);
    assert_true(s.camera_clock_seen);
    /* Frame n was captured n * 40 ms after SR_UNIX_S. */
    assert_int_equal(s.first_camera_capture_us,
                     (int64_t)SR_UNIX_S * 1000000 + s.camera_capture_pts / 90 * 1000);
    av_packet_free(&pkt);
    es_rtsp_client_close(c);
    camera_stop(&cam);
}

static void test_client_continues_the_timeline_and_waits_for_an_idr_on_a_new_ssrc(void **state)
{
    (void)state;
    struct fake_camera cam = {.frames = 30, .ssrc_change_at_frame = 15};
    camera_start(&cam, NULL);
    struct es_rtsp_client_config cfg = config_for(&cam);
    cfg.want_audio = false;
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);
    AVPacket *pkt = av_packet_alloc();
    int64_t last = -1, capture;
    bool camera;
    int count = 0, keys = 0;
    /* Frames 0-14, then (15-19 are P frames of the new source: dropped) 20-29. */
    while (count < 25) {
        assert_int_equal(es_rtsp_client_read(c, pkt, &capture, &camera), ES_OK);
        assert_true(pkt->pts > last);
        if (count == 15) {
            assert_true(pkt->flags & AV_PKT_FLAG_KEY);
            /* The new source's first packet (frame 15) continues one frame
             * after the last unit; its first IDR is frame 20. */
            assert_int_equal(pkt->pts, last + 6 * 3600);
        }
        keys += (pkt->flags & AV_PKT_FLAG_KEY) != 0;
        last = pkt->pts;
        count++;
        av_packet_unref(pkt);
    }
    assert_int_equal(keys, 3);
    av_packet_free(&pkt);
    es_rtsp_client_close(c);
    camera_stop(&cam);
}

static void test_client_answers_server_requests_with_not_implemented(void **state)
{
    (void)state;
    struct fake_camera cam = {.frames = 10, .announce_at_frame = 3};
    camera_start(&cam, NULL);
    struct es_rtsp_client_config cfg = config_for(&cam);
    cfg.want_audio = false;
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);
    struct session s = read_units(c, 8);
    assert_int_equal(s.err, ES_OK);
    es_rtsp_client_close(c);
    camera_stop(&cam);
    assert_true(cam.got_501);
    assert_true(wire_contains(&cam, "RTSP/1.0 501 Not Implemented\r\nCSeq: 77\r\n\r\n"));
}

static void test_client_keeps_the_session_alive_at_half_its_timeout(void **state)
{
    (void)state;
    struct fake_camera cam = {.frames = 1000, .frame_ms = 10, .session_timeout = 1};
    camera_start(&cam, NULL);
    struct es_rtsp_client_config cfg = config_for(&cam);
    cfg.want_audio = false;
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);
    struct session s = read_units(c, 120); /* about 1.2 s */
    assert_int_equal(s.err, ES_OK);
    assert_true(es_rtsp_client_stats(c).keepalives >= 2);
    es_rtsp_client_close(c);
    camera_stop(&cam);
    assert_true(cam.keepalives >= 2);
    assert_true(wire_contains(&cam, "GET_PARAMETER rtsp://127.0.0.1/cam/ RTSP/1.0"));
}

static void test_client_keeps_alive_with_options_when_get_parameter_is_not_public(void **state)
{
    (void)state;
    struct fake_camera cam = {.frames = 1000,
                              .frame_ms = 10,
                              .session_timeout = 1,
                              .public_methods = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN"};
    camera_start(&cam, NULL);
    struct es_rtsp_client_config cfg = config_for(&cam);
    cfg.want_audio = false;
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);
    struct session s = read_units(c, 70);
    assert_int_equal(s.err, ES_OK);
    es_rtsp_client_close(c);
    camera_stop(&cam);
    assert_true(cam.keepalives >= 1);
    assert_false(wire_contains(&cam, "GET_PARAMETER"));
}

static void test_client_answers_digest_for_a_long_request_uri(void **state)
{
    (void)state;
    struct fake_camera cam = {.frames = 2, .auth = FAKE_AUTH_DIGEST, .user = "u", .pass = "p"};
    char userinfo[2048] = "u:p@";
    camera_start(&cam, userinfo);
    /* camera_start built the URL; make its path 1800 characters long. */
    size_t n = strlen(cam.url);
    char *url = malloc(n + 1801);
    memcpy(url, cam.url, n);
    memset(url + n, 'x', 1800);
    url[n + 1800] = '\0';
    struct es_rtsp_client_config cfg = config_for(&cam);
    cfg.url = url;
    cfg.want_audio = false;
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);
    es_rtsp_client_close(c);
    camera_stop(&cam);
    free(url);
}

static void test_client_takes_replies_without_cseq(void **state)
{
    (void)state;
    struct fake_camera cam = {.frames = 3, .omit_cseq = true};
    camera_start(&cam, NULL);
    struct es_rtsp_client_config cfg = config_for(&cam);
    cfg.want_audio = false;
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);
    struct session s = read_units(c, 2);
    assert_int_equal(s.err, ES_OK);
    es_rtsp_client_close(c);
    camera_stop(&cam);
}

/* ---- Left to libavformat ---- */

static enum es_err open_with(struct fake_camera *cam)
{
    camera_start(cam, NULL);
    struct es_rtsp_client_config cfg = config_for(cam);
    struct es_rtsp_client *c = NULL;
    enum es_err err = es_rtsp_client_open(&cfg, &c);
    es_rtsp_client_close(c);
    camera_stop(cam);
    return err;
}

static void test_client_leaves_rtsps_and_other_schemes_to_libavformat(void **state)
{
    (void)state;
    struct es_rtsp_client *c;
    struct es_rtsp_client_config cfg = {.camera_id = "t",
                                        .url = "rtsps://u:p@127.0.0.1:1/x",
                                        .connect_timeout_ms = 100,
                                        .read_timeout_ms = 100};
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_ERR_UNSUPPORTED);
    assert_null(c);
    cfg.url = "http://127.0.0.1:1/x";
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_ERR_UNSUPPORTED);
    cfg.url = "rtsp://127.0.0.1:99999/x";
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_ERR_SOURCE);
    cfg.url = "rtsp://u:%0d%0aX-Injected:1@127.0.0.1/x";
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_ERR_SOURCE);
}

static void test_client_leaves_other_video_codecs_to_libavformat(void **state)
{
    (void)state;
    struct fake_camera cam = {.sdp = "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\n"};
    assert_int_equal(open_with(&cam), ES_ERR_UNSUPPORTED);
    struct fake_camera interleaved = {
        .sdp = "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
               "a=fmtp:96 packetization-mode=2\r\n"};
    assert_int_equal(open_with(&interleaved), ES_ERR_UNSUPPORTED);
    struct fake_camera srtp = {.sdp = "v=0\r\nm=video 0 RTP/SAVP 96\r\na=rtpmap:96 H264/90000\r\n"};
    assert_int_equal(open_with(&srtp), ES_ERR_UNSUPPORTED);
}

static void test_client_leaves_unknown_audio_to_libavformat_only_when_audio_is_wanted(void **state)
{
    (void)state;
    const char *sdp = "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
                      "a=control:stream=0\r\n"
                      "m=audio 0 RTP/AVP 98\r\na=rtpmap:98 G726-32/8000\r\na=control:stream=1\r\n";
    struct fake_camera cam = {.sdp = sdp};
    assert_int_equal(open_with(&cam), ES_ERR_UNSUPPORTED);
    struct fake_camera video_only = {.sdp = sdp};
    camera_start(&video_only, NULL);
    struct es_rtsp_client_config cfg = config_for(&video_only);
    cfg.want_audio = false;
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);
    /* Without sprop-parameter-sets the stream has no extradata or size. */
    assert_int_equal(es_rtsp_client_video(c)->codecpar->extradata_size, 0);
    assert_int_equal(es_rtsp_client_video(c)->codecpar->width, 0);
    es_rtsp_client_close(c);
    camera_stop(&video_only);
}

static void test_client_leaves_udp_only_cameras_and_redirects_to_libavformat(void **state)
{
    (void)state;
    struct fake_camera udp = {.transport_reply = "RTP/AVP;unicast;client_port=5000-5001"};
    assert_int_equal(open_with(&udp), ES_ERR_UNSUPPORTED);
    struct fake_camera refused = {.setup_status = 461};
    assert_int_equal(open_with(&refused), ES_ERR_UNSUPPORTED);
    struct fake_camera moved = {.describe_status = 302, .location = "rtsp://elsewhere/cam"};
    assert_int_equal(open_with(&moved), ES_ERR_UNSUPPORTED);
}

static void test_client_reports_refusals_and_missing_video_as_source_errors(void **state)
{
    (void)state;
    struct fake_camera missing = {.describe_status = 404};
    assert_int_equal(open_with(&missing), ES_ERR_SOURCE);
    struct fake_camera audio_only = {.sdp = "v=0\r\nm=audio 0 RTP/AVP 0\r\na=control:track1\r\n"};
    assert_int_equal(open_with(&audio_only), ES_ERR_SOURCE);
    struct fake_camera setup_fails = {.setup_status = 500};
    assert_int_equal(open_with(&setup_fails), ES_ERR_SOURCE);
}

static void test_client_uses_the_request_url_as_base_without_content_base(void **state)
{
    (void)state;
    struct fake_camera cam = {.content_base = "", .frames = 2};
    camera_start(&cam, NULL);
    struct es_rtsp_client_config cfg = config_for(&cam);
    cfg.want_audio = false;
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);
    es_rtsp_client_close(c);
    camera_stop(&cam);
    char expected[128];
    snprintf(expected, sizeof(expected), "SETUP rtsp://127.0.0.1:%d/cam/stream=0 RTSP/1.0",
             cam.port);
    assert_true(wire_contains(&cam, expected));
}

/* ---- Bounds: timeouts, stop, failures ---- */

static void test_client_times_out_when_media_stops(void **state)
{
    (void)state;
    struct fake_camera cam = {.frames = 3};
    camera_start(&cam, NULL);
    struct es_rtsp_client_config cfg = config_for(&cam);
    cfg.want_audio = false;
    cfg.read_timeout_ms = 300;
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);
    struct session s = read_units(c, 3);
    assert_int_equal(s.err, ES_OK);
    int64_t start = es_clock_mono_us();
    AVPacket *pkt = av_packet_alloc();
    int64_t capture;
    bool camera;
    assert_int_equal(es_rtsp_client_read(c, pkt, &capture, &camera), ES_ERR_TIMEOUT);
    int64_t elapsed_ms = (es_clock_mono_us() - start) / 1000;
    assert_true(elapsed_ms >= 200 && elapsed_ms < 800);
    /* Once failed, a client keeps failing the same way. */
    assert_int_equal(es_rtsp_client_read(c, pkt, &capture, &camera), ES_ERR_TIMEOUT);
    av_packet_free(&pkt);
    es_rtsp_client_close(c);
    camera_stop(&cam);
}

static void test_client_times_out_when_the_camera_never_answers(void **state)
{
    (void)state;
    struct fake_camera cam = {.never_answer = true};
    camera_start(&cam, NULL);
    struct es_rtsp_client_config cfg = config_for(&cam);
    cfg.connect_timeout_ms = 300;
    struct es_rtsp_client *c;
    int64_t start = es_clock_mono_us();
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_ERR_TIMEOUT);
    assert_true((es_clock_mono_us() - start) / 1000 < 800);
    camera_stop(&cam);
}

struct stopper {
    atomic_bool *flag;
    int after_ms;
};

static void *stop_later(void *arg)
{
    struct stopper *s = arg;
    es_clock_sleep_us(s->after_ms * 1000);
    atomic_store(s->flag, true);
    return NULL;
}

static void test_client_stops_promptly_while_opening_and_while_reading(void **state)
{
    (void)state;
    atomic_bool stop = false;
    struct stopper stopper = {&stop, 150};
    pthread_t thread;

    struct fake_camera silent = {.never_answer = true};
    camera_start(&silent, NULL);
    struct es_rtsp_client_config cfg = config_for(&silent);
    cfg.connect_timeout_ms = 10000;
    cfg.stop = &stop;
    struct es_rtsp_client *c;
    int64_t start = es_clock_mono_us();
    pthread_create(&thread, NULL, stop_later, &stopper);
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_ERR_STOPPED);
    assert_true((es_clock_mono_us() - start) / 1000 < 150 + 150);
    pthread_join(thread, NULL);
    camera_stop(&silent);

    atomic_store(&stop, false);
    struct fake_camera idle = {.frames = 1};
    camera_start(&idle, NULL);
    cfg = config_for(&idle);
    cfg.read_timeout_ms = 10000;
    cfg.stop = &stop;
    cfg.want_audio = false;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);
    struct session s = read_units(c, 1);
    assert_int_equal(s.err, ES_OK);
    start = es_clock_mono_us();
    pthread_create(&thread, NULL, stop_later, &stopper);
    AVPacket *pkt = av_packet_alloc();
    int64_t capture;
    bool camera;
    assert_int_equal(es_rtsp_client_read(c, pkt, &capture, &camera), ES_ERR_STOPPED);
    assert_true((es_clock_mono_us() - start) / 1000 < 150 + 150);
    pthread_join(thread, NULL);
    av_packet_free(&pkt);
    es_rtsp_client_close(c);
    camera_stop(&idle);
}

static void test_client_reports_a_refused_connection_as_a_source_error(void **state)
{
    (void)state;
    /* A port that was just free: bind, note it, close. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&addr, sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);
    char url[64];
    snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/x", ntohs(addr.sin_port));
    struct es_rtsp_client_config cfg = {
        .camera_id = "t", .url = url, .connect_timeout_ms = 1000, .read_timeout_ms = 1000};
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_ERR_SOURCE);
}

static void test_client_reports_a_closed_connection_while_reading(void **state)
{
    (void)state;
    struct fake_camera cam = {.frames = 3};
    camera_start(&cam, NULL);
    struct es_rtsp_client_config cfg = config_for(&cam);
    cfg.want_audio = false;
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);
    struct session s = read_units(c, 3);
    assert_int_equal(s.err, ES_OK);
    camera_stop(&cam); /* closes the connection */
    AVPacket *pkt = av_packet_alloc();
    int64_t capture;
    bool camera;
    assert_int_equal(es_rtsp_client_read(c, pkt, &capture, &camera), ES_ERR_SOURCE);
    av_packet_free(&pkt);
    es_rtsp_client_close(c);
}

static void test_client_batches_reads_without_losing_units(void **state)
{
    (void)state;
    struct fake_camera cam = {.frames = 40, .frame_ms = 5, .audio = true};
    camera_start(&cam, NULL);
    struct es_rtsp_client_config cfg = config_for(&cam);
    cfg.batch_ms = 40;
    struct es_rtsp_client *c;
    assert_int_equal(es_rtsp_client_open(&cfg, &c), ES_OK);
    struct session s = read_units(c, 40);
    assert_int_equal(s.err, ES_OK);
    assert_int_equal(s.keys, 4);
    struct es_rtsp_client_stats st = es_rtsp_client_stats(c);
    /* 40 frames over 200 ms: a handful of reads, not one per packet. */
    assert_true(st.recv_calls < 20);
    assert_int_equal(st.lost_packets, 0);
    es_rtsp_client_close(c);
    camera_stop(&cam);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest_response_matches_the_rfc_2617_example),
        cmocka_unit_test(test_client_plays_h264_and_aac_from_a_camera),
        cmocka_unit_test(test_client_without_audio_sets_up_only_the_video),
        cmocka_unit_test(test_client_answers_a_digest_challenge_without_sending_the_password),
        cmocka_unit_test(test_client_answers_a_basic_challenge_when_allowed),
        cmocka_unit_test(test_client_refuses_basic_only_over_plain_tcp_by_default),
        cmocka_unit_test(test_client_bounds_units_received_before_the_play_reply),
        cmocka_unit_test(test_client_fails_on_a_wrong_password_without_logging_it),
        cmocka_unit_test(test_client_without_credentials_fails_on_a_challenge),
        cmocka_unit_test(test_client_follows_the_servers_interleaved_channels),
        cmocka_unit_test(test_client_maps_capture_times_by_the_cameras_sender_reports),
        cmocka_unit_test(test_client_continues_the_timeline_and_waits_for_an_idr_on_a_new_ssrc),
        cmocka_unit_test(test_client_answers_server_requests_with_not_implemented),
        cmocka_unit_test(test_client_keeps_the_session_alive_at_half_its_timeout),
        cmocka_unit_test(test_client_keeps_alive_with_options_when_get_parameter_is_not_public),
        cmocka_unit_test(test_client_answers_digest_for_a_long_request_uri),
        cmocka_unit_test(test_client_takes_replies_without_cseq),
        cmocka_unit_test(test_client_leaves_rtsps_and_other_schemes_to_libavformat),
        cmocka_unit_test(test_client_leaves_other_video_codecs_to_libavformat),
        cmocka_unit_test(test_client_leaves_unknown_audio_to_libavformat_only_when_audio_is_wanted),
        cmocka_unit_test(test_client_leaves_udp_only_cameras_and_redirects_to_libavformat),
        cmocka_unit_test(test_client_reports_refusals_and_missing_video_as_source_errors),
        cmocka_unit_test(test_client_uses_the_request_url_as_base_without_content_base),
        cmocka_unit_test(test_client_times_out_when_media_stops),
        cmocka_unit_test(test_client_times_out_when_the_camera_never_answers),
        cmocka_unit_test(test_client_stops_promptly_while_opening_and_while_reading),
        cmocka_unit_test(test_client_reports_a_refused_connection_as_a_source_error),
        cmocka_unit_test(test_client_reports_a_closed_connection_while_reading),
        cmocka_unit_test(test_client_batches_reads_without_losing_units),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
