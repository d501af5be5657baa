/* The WebRTC service: the shared UDP port, its thread, the cameras' frame
 * queues and the session table (webrtc.h says who calls what from where).
 *
 * Why a thread of its own rather than the origin's h2o loop: SRTP for every
 * viewer is the bulk of WebRTC's CPU (OvenMediaEngine#468), and on two cores
 * it should not delay the LL-HLS blocking-reload fan-out on the origin's
 * loop; h2o 2.2's evloop has no datagram socket either. The origin only
 * calls es_webrtc_session_create/_delete, which take the lock briefly. */
#define _GNU_SOURCE /* pthread_setname_np, recvmmsg */
#include "webrtc/internal.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "webrtc/rtcp.h"

#include <libavcodec/avcodec.h>
#include "webrtc/sdp_whep.h"
#include "webrtc/stun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Frames waiting for the service thread per camera; past this the service is
 * behind and the newest frame is dropped (every viewer then waits for the
 * next IDR): the pipeline thread never waits for WebRTC. */
#define MAX_QUEUED_FRAMES 64
#define MAX_HOSTS 8
#define RECV_BATCH 32
#define DGRAM_MAX 2048
#define SOCKET_BUFFER (4 * 1024 * 1024)

/* ---- create / cameras ---- */

static void add_host(struct es_webrtc *w, const char *h)
{
    if (w->host_count == MAX_HOSTS)
        return;
    for (size_t i = 0; i < w->host_count; i++)
        if (strcmp(w->hosts[i], h) == 0)
            return; /* MediaMTX#3835: no duplicate candidates */
    w->hosts[w->host_count++] = es_strdup(h);
}

enum es_err es_webrtc_create(const struct es_webrtc_config *config, struct es_webrtc **out)
{
    struct es_webrtc *w = es_calloc(1, sizeof(*w));
    w->config = *config;
    w->config.bind_host = es_strdup(config->bind_host ? config->bind_host : "127.0.0.1");
    w->config.hosts = NULL;
    w->config.ice_servers = config->ice_servers ? es_strdup(config->ice_servers) : NULL;
    w->config.turn_username = config->turn_username ? es_strdup(config->turn_username) : NULL;
    w->config.turn_credential = config->turn_credential ? es_strdup(config->turn_credential) : NULL;
    w->hosts = es_calloc(MAX_HOSTS, sizeof(*w->hosts));
    /* Candidates are IP addresses only: a browser resolves no names there
     * (MediaMTX#4017). */
    for (size_t i = 0; i < config->host_count; i++) {
        unsigned char buf[sizeof(struct in6_addr)];
        if (inet_pton(AF_INET, config->hosts[i], buf) == 1 ||
            inet_pton(AF_INET6, config->hosts[i], buf) == 1)
            add_host(w, config->hosts[i]);
        else
            es_log(ES_LOG_WARN, "webrtc", "event=host_skipped host=%s reason=not_an_ip",
                   config->hosts[i]);
    }
    w->fd = w->wake_fd = -1;
    pthread_mutex_init(&w->lock, NULL);
    atomic_init(&w->stop, false);
    enum es_err err = es_srtp_init();
    if (err == ES_OK)
        err = es_dtls_identity_create(&w->identity);
    if (err != ES_OK) {
        es_webrtc_destroy(w);
        return err;
    }
    *out = w;
    return ES_OK;
}

struct es_webrtc_camera *es_webrtc_add_camera(struct es_webrtc *w, const char *id)
{
    struct wcamera *c = es_calloc(1, sizeof(*c));
    c->w = w;
    c->id = es_strdup(id);
    atomic_init(&c->viewers, 0);
    atomic_init(&c->audio_viewers, 0);
    es_h264_packetizer_init(&c->packetizer);
    c->queue_tail = &c->queue_head;
    /* Also while running (a reload's new camera): the list only grows at its
     * head, and the node is complete before it is published, so a reader
     * walking it without the lock sees the old list or the new one. */
    pthread_mutex_lock(&w->lock);
    c->next = w->cameras;
    __atomic_store_n(&w->cameras, c, __ATOMIC_RELEASE);
    w->camera_count++;
    pthread_mutex_unlock(&w->lock);
    return (struct es_webrtc_camera *)c;
}

void es_webrtc_camera_set_passthrough(struct es_webrtc_camera *camera, bool passthrough)
{
    ((struct wcamera *)camera)->passthrough = passthrough;
}

/* Passthrough: remembers the camera's profile-level-id from each SPS (even
 * without viewers: the next offer's answer needs it). */
static void note_sps(struct wcamera *c, const uint8_t *au, size_t size)
{
    for (size_t i = 0; i + 7 <= size; i++) {
        if (au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1 && (au[i + 3] & 0x1f) == 7) {
            unsigned plid = (unsigned)au[i + 4] << 16 | (unsigned)au[i + 5] << 8 | au[i + 6];
            atomic_store(&c->sps_plid, plid);
            return;
        }
    }
}

void es_webrtc_camera_on_keyframe_request(struct es_webrtc_camera *camera, void (*fn)(void *),
                                          void *opaque)
{
    struct wcamera *c = (struct wcamera *)camera;
    c->keyframe_fn = fn;
    c->keyframe_opaque = opaque;
}

static struct wcamera *camera_by_id(struct es_webrtc *w, const char *id)
{
    /* Without the lock, as es_webrtc_camera_sessions: the list only grows at
     * its head, published with a release store (es_webrtc_add_camera). */
    for (struct wcamera *c = __atomic_load_n(&w->cameras, __ATOMIC_ACQUIRE); c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

/* ---- the socket ---- */

void es_webrtc_send_to(struct es_webrtc *w, const struct sockaddr_storage *addr, socklen_t len,
                       const uint8_t *data, size_t size)
{
    /* A full socket buffer drops this packet for this viewer only: a slow
     * viewer loses packets, it never holds the others up. */
    if (addr->ss_family == ES_ICE_TCP_FAMILY) {
        /* An ICE-TCP connection (ice_tcp.h): the same rule, per connection. */
        bool ok = w->tcp && es_ice_tcp_send(w->tcp, addr, data, size);
        w->stats.packets_sent += ok;
        w->stats.tcp_packets_sent += ok;
        w->stats.packets_dropped += !ok;
        w->stats.tcp_packets_dropped += !ok;
        w->stats.bytes_sent += ok ? size : 0;
        return;
    }
    ssize_t n = sendto(w->fd, data, size, MSG_DONTWAIT, (const struct sockaddr *)addr, len);
    if (n < 0) {
        w->stats.packets_dropped++;
    } else {
        w->stats.packets_sent++;
        w->stats.bytes_sent += size;
    }
}

static struct wsession *session_by_addr(struct es_webrtc *w, const struct sockaddr *a,
                                        socklen_t len)
{
    for (struct wsession *s = w->sessions; s; s = s->next)
        if (s->have_addr && s->addr_len == len && memcmp(&s->addr, a, len) == 0)
            return s;
    return NULL;
}

/* ICE-TCP connections one session may hold (Chrome opens one per local
 * candidate it pairs with ours). */
#define MAX_TCP_PER_SESSION 4

/* A Binding request from UDP address `from`, or from ICE-TCP connection
 * `conn` (then `from` is the connection as an address, ice_tcp.h). */
static void on_stun(struct es_webrtc *w, const uint8_t *msg, size_t len,
                    const struct sockaddr *from, socklen_t from_len, struct es_ice_tcp_conn *conn)
{
    struct es_stun_request req;
    if (es_stun_parse_request(msg, len, &req) != ES_OK || !req.username) {
        w->stats.rejected[ES_WEBRTC_REJECT_STUN_MALFORMED]++;
        return;
    }
    /* RFC 8445 §7.2.2: USERNAME is "<our ufrag>:<their ufrag>". */
    const char *colon = memchr(req.username, ':', req.username_len);
    size_t ours = colon ? (size_t)(colon - req.username) : 0;
    struct wsession *s = colon ? w->sessions : NULL;
    while (s && !(strlen(s->ufrag) == ours && memcmp(s->ufrag, req.username, ours) == 0))
        s = s->next;
    size_t theirs = colon ? req.username_len - ours - 1 : 0;
    if (!s || s->ended || strlen(s->remote_ufrag) != theirs ||
        memcmp(s->remote_ufrag, colon + 1, theirs) != 0) {
        w->stats.rejected[ES_WEBRTC_REJECT_STUN_UNKNOWN_USER]++;
        return;
    }
    if (!es_stun_integrity_ok(msg, len, &req, s->pwd)) {
        w->stats.stun_bad_integrity++; /* dropped without an answer (RFC 8489 §9.1.3) */
        w->stats.rejected[ES_WEBRTC_REJECT_STUN_INTEGRITY]++;
        return;
    }
    const struct sockaddr *mapped = from;
    socklen_t mapped_len = from_len;
    if (conn) {
        /* The connection belongs to the session its first valid check
         * names, and to no other. */
        if (!es_ice_tcp_authenticated(conn)) {
            if (es_ice_tcp_owner_count(w->tcp, s) >= MAX_TCP_PER_SESSION)
                return; /* left pending: ice_tcp.c closes it */
            es_ice_tcp_authenticate(conn, s);
            es_log(ES_LOG_INFO, "webrtc", "camera=%s session=%.8s event=tcp_connected",
                   s->camera->id, s->id);
        } else if (es_ice_tcp_owner(conn) != s) {
            return;
        }
        mapped = es_ice_tcp_peer(conn, &mapped_len);
    }
    es_wsession_on_stun(s, msg, len, from, from_len, req.use_candidate);
    uint8_t out[256];
    size_t n = es_stun_write_success(req.txid, mapped, s->pwd, out, sizeof(out));
    if (n && conn)
        es_ice_tcp_send(w->tcp, (const struct sockaddr_storage *)(const void *)from, out, n);
    else if (n)
        sendto(w->fd, out, n, MSG_DONTWAIT, from, from_len);
}

/* DTLS and RTCP of a session, however they came. */
static void on_session_packet(struct wsession *s, uint8_t *data, size_t len)
{
    uint8_t b = data[0];
    if (b >= 20 && b <= 63)
        es_wsession_on_dtls(s, data, len);
    else if (b >= 128 && b <= 191 && es_rtcp_is(data, len))
        es_wsession_on_rtcp(s, data, len);
}

/* RFC 7983 §7: the first byte tells STUN, DTLS and RTP/RTCP apart. */
static void on_datagram(struct es_webrtc *w, uint8_t *data, size_t len, const struct sockaddr *from,
                        socklen_t from_len)
{
    if (len == 0)
        return;
    uint8_t b = data[0];
    if (b <= 3) {
        if (es_stun_is(data, len))
            on_stun(w, data, len, from, from_len, NULL);
        else
            w->stats.rejected[ES_WEBRTC_REJECT_STUN_MALFORMED]++;
        return;
    }
    /* Anything else only from an address a valid check bound to a session. */
    struct wsession *s = session_by_addr(w, from, from_len);
    if (!s || s->ended)
        return;
    on_session_packet(s, data, len);
}

/* ---- ICE-TCP (ice_tcp.h): frames are datagrams of the connection ---- */

static void on_tcp_frame(void *opaque, struct es_ice_tcp_conn *c, uint8_t *data, size_t len)
{
    struct es_webrtc *w = opaque;
    struct sockaddr_storage addr;
    socklen_t addr_len = es_ice_tcp_addr_of(c, &addr);
    if (data[0] <= 3) {
        /* A pending connection's first frame must be a valid check: one
         * that is not leaves it unauthenticated, and ice_tcp.c closes it. */
        if (es_stun_is(data, len))
            on_stun(w, data, len, (struct sockaddr *)&addr, addr_len, c);
        else
            w->stats.rejected[ES_WEBRTC_REJECT_STUN_MALFORMED]++;
        return;
    }
    struct wsession *s = es_ice_tcp_authenticated(c) ? es_ice_tcp_owner(c) : NULL;
    if (s && !s->ended)
        on_session_packet(s, data, len);
}

static void on_tcp_close(void *opaque, struct es_ice_tcp_conn *c, void *owner)
{
    (void)opaque;
    struct wsession *s = owner;
    struct sockaddr_storage addr;
    socklen_t addr_len = es_ice_tcp_addr_of(c, &addr);
    /* The path in use went: the browser's ICE fails it too (RFC 6544 §7.1).
     * Another connection, or UDP, leaves the session be. */
    if (s && !s->ended && s->have_addr && s->addr_len == addr_len &&
        memcmp(&s->addr, &addr, addr_len) == 0) {
        es_log(ES_LOG_INFO, "webrtc", "camera=%s session=%.8s event=tcp_closed", s->camera->id,
               s->id);
        s->ended = true;
        s->end_reason = ES_WEBRTC_END_TCP_CLOSED;
    }
}

static void on_tcp_reject(void *opaque, const char *why)
{
    struct es_webrtc *w = opaque;
    enum es_webrtc_reject r = ES_WEBRTC_REJECT_TCP_UNAUTHENTICATED;
    if (strcmp(why, "cap") == 0)
        r = ES_WEBRTC_REJECT_TCP_CAP;
    else if (strcmp(why, "oversize") == 0 || strcmp(why, "empty_frame") == 0)
        r = ES_WEBRTC_REJECT_TCP_OVERSIZE;
    else if (strcmp(why, "timeout") == 0)
        r = ES_WEBRTC_REJECT_TCP_TIMEOUT;
    w->stats.rejected[r]++;
    es_log(ES_LOG_DEBUG, "webrtc", "event=tcp_refused reason=%s", why);
}

static void receive_all(struct es_webrtc *w)
{
    static __thread uint8_t bufs[RECV_BATCH][DGRAM_MAX];
    struct mmsghdr msgs[RECV_BATCH];
    struct iovec iov[RECV_BATCH];
    struct sockaddr_storage addrs[RECV_BATCH];
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < RECV_BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], DGRAM_MAX};
            memset(&msgs[i], 0, sizeof(msgs[i]));
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &addrs[i];
            msgs[i].msg_hdr.msg_namelen = sizeof(addrs[i]);
        }
        int n = recvmmsg(w->fd, msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        for (int i = 0; i < n; i++)
            on_datagram(w, bufs[i], msgs[i].msg_len, (struct sockaddr *)&addrs[i],
                        msgs[i].msg_hdr.msg_namelen);
        if (n < RECV_BATCH)
            return;
    }
}

/* ---- media ---- */

/* Appends a frame to the camera's queue for the service thread; false when
 * the queue is full (the frame is the caller's to free then). */
static bool enqueue(struct wcamera *c, struct frame_msg *m)
{
    struct es_webrtc *w = c->w;
    bool queued = false;
    pthread_mutex_lock(&w->lock);
    if (c->queued < MAX_QUEUED_FRAMES) {
        *c->queue_tail = m;
        c->queue_tail = &m->next;
        c->queued++;
        queued = true;
    } else {
        if (!m->audio)
            c->broken = true; /* viewers wait for the next IDR */
        w->stats.frames_dropped++;
    }
    pthread_mutex_unlock(&w->lock);
    if (queued) {
        uint64_t one = 1;
        if (write(w->wake_fd, &one, sizeof(one)) < 0) {
            /* The counter is saturated: the thread is awake anyway. */
        }
    }
    return queued;
}

void es_webrtc_camera_video(struct es_webrtc_camera *camera, const uint8_t *au, size_t size,
                            int64_t pts_ticks, int64_t wall_us)
{
    struct wcamera *c = (struct wcamera *)camera;
    if (!c)
        return;
    if (c->passthrough)
        note_sps(c, au, size);
    /* RTP time follows the wall clock across a camera's reconnect (timeline.h). */
    uint64_t runs = c->timeline.stream[ES_RTP_TIMELINE_VIDEO].runs;
    int64_t rtp_ticks = es_rtp_timeline_map(&c->timeline, ES_RTP_TIMELINE_VIDEO, pts_ticks,
                                            es_clock_mono_us(), NULL);
    bool new_run = runs != c->timeline.runs; /* audio may have stepped into it first */
    if (atomic_load(&c->viewers) == 0)
        return;
    /* Packetized here, once, on the pipeline thread; sessions only add their
     * header and SRTP. */
    struct frame_msg *m = es_calloc(1, sizeof(*m));
    if (es_h264_packetize(&c->packetizer, au, size, &m->frame) != ES_OK) {
        es_rtp_frame_free(&m->frame);
        free(m);
        return;
    }
    m->pts_ticks = rtp_ticks;
    m->new_run = new_run;
    m->wall_us = wall_us;
    if (!enqueue(c, m)) {
        es_rtp_frame_free(&m->frame);
        free(m);
    }
}

static void on_opus(void *opaque, const uint8_t *data, size_t size, int64_t pts_ticks)
{
    struct wcamera *c = opaque;
    struct frame_msg *m = es_calloc(1, sizeof(*m));
    m->audio = true;
    m->frame.data = es_malloc(size);
    memcpy(m->frame.data, data, size);
    m->frame.size = m->frame.cap = size;
    m->frame.payloads = es_malloc(sizeof(*m->frame.payloads));
    m->frame.payloads[0] = (struct es_rtp_payload){0, size, false};
    m->frame.count = m->frame.payload_cap = 1;
    m->pts_ticks = pts_ticks + c->timeline.offset; /* the encoder is this run's (below) */
    /* The capture wall clock of this sample, on the video's mapping. */
    m->wall_us = c->audio_anchor_wall_us + (pts_ticks - c->audio_anchor_pts) * 1000 / 90;
    if (!enqueue(c, m)) {
        es_rtp_frame_free(&m->frame);
        free(m);
    }
}

void es_webrtc_camera_audio(struct es_webrtc_camera *camera, const struct AVPacket *pkt,
                            const struct AVCodecParameters *par, int64_t wall_us)
{
    struct wcamera *c = (struct wcamera *)camera;
    if (!c)
        return;
    c->audio_anchor_pts = pkt->pts;
    c->audio_anchor_wall_us = wall_us;
    uint64_t runs = c->timeline.stream[ES_RTP_TIMELINE_AUDIO].runs;
    es_rtp_timeline_map(&c->timeline, ES_RTP_TIMELINE_AUDIO, pkt->pts, es_clock_mono_us(), NULL);
    bool new_run = runs != c->timeline.runs;
    unsigned listeners = atomic_load(&c->audio_viewers);
    /* A new run (the camera reconnected) gets a new encoder too: the old one
     * would go on counting samples from the old run's start, and its
     * parameters may sit at the same address (freed and allocated again). */
    if (listeners == 0 || c->opus_par != par || new_run) {
        /* Nobody watches (or the camera reconnected with new parameters):
         * the encoder goes, and is made again when needed. */
        es_opus_destroy(c->opus);
        c->opus = NULL;
        c->opus_par = NULL;
        if (listeners == 0 || !par || c->opus_failed == par)
            return;
        if (es_opus_create(par, &c->opus) != ES_OK) {
            c->opus_failed = par; /* logged once per set of parameters */
            return;
        }
        c->opus_par = par;
        es_log(ES_LOG_INFO, "webrtc", "camera=%s event=opus_started from=%s", c->id,
               avcodec_get_name(par->codec_id));
    }
    es_opus_push(c->opus, pkt, on_opus, c);
}

static void fan_out(struct es_webrtc *w)
{
    for (struct wcamera *c = w->cameras; c; c = c->next) {
        struct frame_msg *m = c->queue_head;
        c->queue_head = NULL;
        c->queue_tail = &c->queue_head;
        c->queued = 0;
        bool broken = c->broken;
        c->broken = false;
        while (m) {
            struct frame_msg *next = m->next;
            for (struct wsession *s = w->sessions; s; s = s->next) {
                if (s->camera != c)
                    continue;
                if (m->audio) {
                    es_wsession_send_audio(s, m);
                    continue;
                }
                if (broken || m->new_run)
                    es_keyframe_gate_close(&s->gate);
                es_wsession_send_frame(s, m);
            }
            if (!m->audio)
                broken = false;
            es_rtp_frame_free(&m->frame);
            free(m);
            m = next;
        }
    }
}

/* ---- the thread ---- */

const char *es_webrtc_end_reason_name(enum es_webrtc_end_reason r)
{
    static const char *const names[ES_WEBRTC_END_REASONS] = {
        "error",        "delete",          "dtls_closed", "dtls_failed",
        "dtls_timeout", "consent_expired", "tcp_closed",  "shutdown"};
    return (unsigned)r < ES_WEBRTC_END_REASONS ? names[r] : "error";
}

const char *es_webrtc_reject_name(enum es_webrtc_reject r)
{
    static const char *const names[ES_WEBRTC_REJECTS] = {
        "stun_malformed",      "stun_unknown_user", "stun_integrity", "tcp_cap",
        "tcp_unauthenticated", "tcp_oversize",      "tcp_timeout"};
    return (unsigned)r < ES_WEBRTC_REJECTS ? names[r] : "stun_malformed";
}

/* Why a session ended that session.c ended itself (it logs the event; the
 * state it leaves tells which). Same limits as session.c's. */
static enum es_webrtc_end_reason end_reason_of(const struct wsession *s)
{
    if (s->end_reason)
        return (enum es_webrtc_end_reason)s->end_reason;
    enum es_dtls_state st = es_dtls_state(s->dtls);
    int64_t now = es_clock_mono_us();
    if (st == ES_DTLS_FAILED)
        return ES_WEBRTC_END_DTLS_FAILED;
    if (st == ES_DTLS_CLOSED)
        return ES_WEBRTC_END_DTLS_CLOSED;
    if (now - s->consent_us > 30000000)
        return ES_WEBRTC_END_CONSENT_EXPIRED;
    if (st == ES_DTLS_HANDSHAKING && now - s->created_us > 20000000)
        return ES_WEBRTC_END_DTLS_TIMEOUT;
    return ES_WEBRTC_END_ERROR;
}

static void reap(struct es_webrtc *w)
{
    struct wsession **at = &w->sessions;
    while (*at) {
        struct wsession *s = *at;
        if (!s->ended) {
            at = &s->next;
            continue;
        }
        *at = s->next;
        atomic_fetch_sub(&s->camera->viewers, 1);
        if (s->audio_pt >= 0)
            atomic_fetch_sub(&s->camera->audio_viewers, 1);
        w->session_count--;
        w->stats.sessions_ended++;
        enum es_webrtc_end_reason why = end_reason_of(s);
        w->stats.ended_by[why]++;
        es_log(ES_LOG_INFO, "webrtc", "camera=%s session=%.8s event=ended packets=%u reason=%s",
               s->camera->id, s->id, s->packets, es_webrtc_end_reason_name(why));
        /* Its connections close on the thread's next turn, after the
         * close_notify that destroy queues on them. */
        if (w->tcp)
            es_ice_tcp_forget_owner(w->tcp, s);
        es_wsession_destroy(s);
    }
}

static void *webrtc_main(void *arg)
{
    struct es_webrtc *w = arg;
    pthread_setname_np(pthread_self(), "es-webrtc");
    int64_t wait_us = 200000;
    while (!atomic_load(&w->stop)) {
        struct pollfd *fds = w->pollfds;
        fds[0] = (struct pollfd){w->fd, POLLIN, 0};
        fds[1] = (struct pollfd){w->wake_fd, POLLIN, 0};
        /* The ICE-TCP set is made under the lock (a DELETE on the origin's
         * thread may mark connections); only this thread frees them. */
        pthread_mutex_lock(&w->lock);
        size_t tcp_n = w->tcp ? es_ice_tcp_pollfds(w->tcp, fds + 2, w->pollfd_cap - 2) : 0;
        pthread_mutex_unlock(&w->lock);
        int timeout_ms = (int)((wait_us + 999) / 1000);
        int n = poll(fds, 2 + tcp_n, timeout_ms < 1 ? 1 : timeout_ms);
        if (n < 0 && errno != EINTR)
            break;
        if (fds[1].revents & POLLIN) {
            uint64_t v;
            if (read(w->wake_fd, &v, sizeof(v)) < 0) {
                /* EAGAIN: someone else drained it. */
            }
        }
        pthread_mutex_lock(&w->lock);
        if (fds[0].revents & POLLIN)
            receive_all(w);
        if (w->tcp)
            es_ice_tcp_handle(w->tcp, fds + 2, tcp_n, es_clock_mono_us());
        fan_out(w);
        int64_t now = es_clock_mono_us();
        wait_us = 200000;
        for (struct wsession *s = w->sessions; s; s = s->next) {
            int64_t t = es_wsession_tick(s, now);
            if (t > 0 && t < wait_us)
                wait_us = t;
        }
        reap(w);
        pthread_mutex_unlock(&w->lock);
    }
    return NULL;
}

static void add_interface_hosts(struct es_webrtc *w)
{
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0)
        return;
    for (struct ifaddrs *i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
            (i->ifa_flags & IFF_LOOPBACK))
            continue;
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, ip, sizeof(ip));
        add_host(w, ip);
    }
    freeifaddrs(list);
}

/* Unauthenticated ICE-TCP connections at once, and how long one may take to
 * send its first valid check (a browser sends it at once). */
#define TCP_MAX_PENDING 32
#define TCP_PENDING_TIMEOUT_US 5000000
#define TCP_IDLE_TIMEOUT_US 30000000 /* RFC 7675's consent expiry */

static size_t tcp_max_connections(const struct es_webrtc *w)
{
    size_t n = TCP_MAX_PENDING + (size_t)w->config.max_sessions * MAX_TCP_PER_SESSION;
    return n > 0xffff ? 0xffff : n; /* a connection id holds a 16-bit slot */
}

/* The ICE-TCP port, on the UDP port's host. Failing costs the TCP candidate
 * only (logged), as a taken UDP port costs WebRTC only. */
static void open_ice_tcp(struct es_webrtc *w)
{
    struct es_ice_tcp_config tc = {
        .bind_host = w->config.bind_host,
        .port = w->config.tcp_port,
        .max_pending = TCP_MAX_PENDING,
        .max_connections = tcp_max_connections(w),
        .pending_timeout_us = TCP_PENDING_TIMEOUT_US,
        .idle_timeout_us = TCP_IDLE_TIMEOUT_US,
        .cb = {on_tcp_frame, on_tcp_close, on_tcp_reject, w},
    };
    if (es_ice_tcp_open(&tc, &w->tcp) != ES_OK) {
        es_log(ES_LOG_WARN, "webrtc", "event=tcp_bind_failed host=%s port=%u error=\"%s\"",
               w->config.bind_host, w->config.tcp_port, strerror(errno));
        w->tcp = NULL;
    }
}

enum es_err es_webrtc_start(struct es_webrtc *w)
{
    /* The host may be a name when it comes from origin.listen ("localhost"):
     * it is resolved here, once, and the candidate is its numeric form. */
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *ai = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", w->config.udp_port);
    if (getaddrinfo(w->config.bind_host, port, &hints, &ai) != 0 || !ai) {
        es_log(ES_LOG_WARN, "webrtc", "event=bind_failed host=%s reason=unresolved",
               w->config.bind_host);
        return ES_ERR_INVALID;
    }
    w->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int size = SOCKET_BUFFER;
    if (w->fd >= 0) {
        setsockopt(w->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
        setsockopt(w->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    if (w->fd < 0 || bind(w->fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        /* Like the origin's listener: a port another process holds (a second
         * daemon on the box) costs this path, not the cameras, so WARN. */
        es_log(ES_LOG_WARN, "webrtc", "event=bind_failed host=%s port=%u error=\"%s\"",
               w->config.bind_host, w->config.udp_port, strerror(errno));
        snprintf(w->failure, sizeof(w->failure), "its UDP port %s:%u could not be bound (%s)",
                 w->config.bind_host, w->config.udp_port, strerror(errno));
        freeaddrinfo(ai);
        return ES_ERR_IO;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    getsockname(w->fd, (struct sockaddr *)&bound, &bound_len);
    w->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    if (w->host_count == 0) {
        bool wildcard =
            strcmp(w->config.bind_host, "0.0.0.0") == 0 || strcmp(w->config.bind_host, "::") == 0;
        char numeric[INET6_ADDRSTRLEN] = "";
        if (wildcard)
            add_interface_hosts(w);
        else if (getnameinfo((struct sockaddr *)&bound, bound_len, numeric, sizeof(numeric), NULL,
                             0, NI_NUMERICHOST) == 0)
            add_host(w, numeric);
    }
    if (w->config.ice_tcp)
        open_ice_tcp(w);
    w->pollfd_cap = 2 + (w->tcp ? 1 + tcp_max_connections(w) : 0);
    w->pollfds = es_calloc(w->pollfd_cap, sizeof(*w->pollfds));
    w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->wake_fd < 0 || pthread_create(&w->thread, NULL, webrtc_main, w) != 0) {
        snprintf(w->failure, sizeof(w->failure), "its thread could not start");
        return ES_ERR_IO;
    }
    w->running = true;
    es_log(ES_LOG_INFO, "webrtc", "event=listening host=%s udp_port=%u tcp_port=%u candidates=%zu",
           w->config.bind_host, w->port, w->tcp ? es_ice_tcp_port(w->tcp) : 0, w->host_count);
    return ES_OK;
}

uint16_t es_webrtc_port(const struct es_webrtc *w)
{
    return w->port;
}

uint16_t es_webrtc_tcp_port(const struct es_webrtc *w)
{
    return w->tcp ? es_ice_tcp_port(w->tcp) : 0;
}

const char *es_webrtc_failure(const struct es_webrtc *w)
{
    return w->failure;
}

void es_webrtc_stop(struct es_webrtc *w)
{
    if (!w || !w->running)
        return;
    atomic_store(&w->stop, true);
    uint64_t one = 1;
    if (write(w->wake_fd, &one, sizeof(one)) < 0) {
        /* saturated: awake anyway */
    }
    pthread_join(w->thread, NULL);
    pthread_mutex_lock(&w->lock);
    for (struct wsession *s = w->sessions; s; s = s->next) {
        s->ended = true;
        s->end_reason = ES_WEBRTC_END_SHUTDOWN;
    }
    reap(w);
    w->running = false;
    pthread_mutex_unlock(&w->lock);
}

void es_webrtc_destroy(struct es_webrtc *w)
{
    if (!w)
        return;
    es_webrtc_stop(w);
    while (w->cameras) {
        struct wcamera *c = w->cameras;
        w->cameras = c->next;
        for (struct frame_msg *m = c->queue_head, *next; m; m = next) {
            next = m->next;
            es_rtp_frame_free(&m->frame);
            free(m);
        }
        es_opus_destroy(c->opus);
        free(c->id);
        free(c);
    }
    if (w->fd >= 0)
        close(w->fd);
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    es_ice_tcp_destroy(w->tcp);
    free(w->pollfds);
    for (size_t i = 0; i < w->host_count; i++)
        free(w->hosts[i]);
    free(w->hosts);
    free((char *)w->config.bind_host);
    free((char *)w->config.ice_servers);
    free((char *)w->config.turn_username);
    free((char *)w->config.turn_credential);
    es_dtls_identity_destroy(w->identity);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* ---- signalling ---- */

enum es_webrtc_result es_webrtc_session_create(struct es_webrtc *w, const char *camera_id,
                                               const char *offer_sdp, size_t offer_len,
                                               struct es_webrtc_answer *out)
{
    memset(out, 0, sizeof(*out));
    struct wcamera *c = camera_by_id(w, camera_id);
    if (!c)
        return ES_WEBRTC_NO_CAMERA;
    struct es_sdp_offer *offer = es_malloc(sizeof(*offer));
    enum es_err err = es_sdp_offer_parse(offer_sdp, offer_len, offer);
    if (err != ES_OK) {
        free(offer);
        return err == ES_ERR_UNSUPPORTED ? ES_WEBRTC_NO_CODEC : ES_WEBRTC_BAD_OFFER;
    }
    /* The video format: x264's constrained baseline in transcode mode, the
     * camera's own profile in passthrough (RFC 6184 §8.1). */
    struct es_sdp_media *video = &offer->media[offer->video];
    if (c->passthrough) {
        unsigned plid = atomic_load(&c->sps_plid);
        char hex[8];
        snprintf(hex, sizeof(hex), "%06x", plid);
        if (!plid) {
            free(offer);
            return ES_WEBRTC_NOT_LIVE;
        }
        if (!es_sdp_choose_h264(video, hex)) {
            es_log(ES_LOG_INFO, "webrtc",
                   "camera=%s event=offer_refused reason=profile "
                   "camera_profile_level_id=%s",
                   c->id, hex);
            free(offer);
            return ES_WEBRTC_NO_CODEC;
        }
    } else if (video->h264_pt < 0) {
        free(offer);
        return ES_WEBRTC_NO_CODEC;
    }
    enum es_webrtc_result result = ES_WEBRTC_OK;
    pthread_mutex_lock(&w->lock);
    unsigned per_camera = atomic_load(&c->viewers);
    if (!w->running || atomic_load(&w->stop)) {
        result = ES_WEBRTC_NOT_RUNNING;
    } else if (w->session_count >= w->config.max_sessions ||
               per_camera >= w->config.max_sessions_per_camera) {
        result = ES_WEBRTC_FULL;
    } else {
        int audio_pt = offer->audio >= 0 ? offer->media[offer->audio].opus_pt : -1;
        struct wsession *s = es_wsession_create(w, c, offer->ice_ufrag, offer->fingerprint,
                                                (uint8_t)video->h264_pt, audio_pt);
        if (!s) {
            result = ES_WEBRTC_NOT_RUNNING;
        } else {
            struct es_sdp_answer_params p = {
                .ice_ufrag = s->ufrag,
                .ice_pwd = s->pwd,
                .fingerprint = es_dtls_identity_fingerprint(w->identity),
                .hosts = (const char *const *)w->hosts,
                .host_count = w->host_count,
                .port = w->port,
                .tcp_port = w->tcp ? es_ice_tcp_port(w->tcp) : 0,
                .video_ssrc = s->ssrc,
                .audio_ssrc = s->audio_ssrc,
                .cname = "edgestream",
                .stream_id = c->id,
                .session_version = (uint64_t)es_clock_wall_us(),
            };
            out->sdp = es_sdp_answer_write(offer, &p);
            memcpy(out->session_id, s->id, sizeof(out->session_id));
            s->next = w->sessions;
            w->sessions = s;
            w->session_count++;
            w->stats.sessions_created++;
            atomic_fetch_add(&c->viewers, 1);
            if (audio_pt >= 0)
                atomic_fetch_add(&c->audio_viewers, 1);
            es_log(ES_LOG_INFO, "webrtc", "camera=%s session=%.8s event=created sessions=%zu",
                   c->id, s->id, w->session_count);
        }
    }
    pthread_mutex_unlock(&w->lock);
    free(offer);
    return result;
}

enum es_err es_webrtc_session_delete(struct es_webrtc *w, const char *camera_id,
                                     const char *session_id)
{
    enum es_err err = ES_ERR_NOT_FOUND;
    pthread_mutex_lock(&w->lock);
    for (struct wsession *s = w->sessions; s; s = s->next) {
        if (!s->ended && strcmp(s->id, session_id) == 0 && strcmp(s->camera->id, camera_id) == 0) {
            s->ended = true;
            s->end_reason = ES_WEBRTC_END_DELETE;
            err = ES_OK;
            break;
        }
    }
    /* Reaped here, not on the thread's next turn: close_notify goes now. */
    reap(w);
    pthread_mutex_unlock(&w->lock);
    return err;
}

size_t es_webrtc_ice_links(const struct es_webrtc *w, char out[][600], size_t max)
{
    if (!w->config.ice_servers)
        return 0;
    char list[1024];
    snprintf(list, sizeof(list), "%s", w->config.ice_servers);
    size_t n = 0;
    char *save = NULL;
    for (char *u = strtok_r(list, ", ", &save); u && n < max; u = strtok_r(NULL, ", ", &save)) {
        /* RFC 9725 §4.6: TURN servers carry username and credential. */
        bool turn = strncmp(u, "turn", 4) == 0;
        if (turn && w->config.turn_username && w->config.turn_credential)
            snprintf(out[n++], 600,
                     "<%s>; rel=\"ice-server\"; username=\"%s\"; credential=\"%s\"; "
                     "credential-type=\"password\"",
                     u, w->config.turn_username, w->config.turn_credential);
        else
            snprintf(out[n++], 600, "<%s>; rel=\"ice-server\"", u);
    }
    return n;
}

void es_webrtc_stats(struct es_webrtc *w, struct es_webrtc_stats *out)
{
    pthread_mutex_lock(&w->lock);
    *out = w->stats;
    out->sessions = w->session_count;
    out->sessions_tcp = 0;
    for (struct wsession *s = w->sessions; s; s = s->next)
        out->sessions_tcp += s->have_addr && s->addr.ss_family == ES_ICE_TCP_FAMILY;
    pthread_mutex_unlock(&w->lock);
}

void es_webrtc_camera_sessions(struct es_webrtc *w,
                               void (*fn)(void *opaque, const char *camera, unsigned sessions),
                               void *opaque)
{
    /* The list only grows at its head (es_webrtc_add_camera); the counts
     * are atomics. */
    for (struct wcamera *c = __atomic_load_n(&w->cameras, __ATOMIC_ACQUIRE); c; c = c->next)
        fn(opaque, c->id, atomic_load(&c->viewers));
}
