/* es-whep-client: N WHEP viewers of one camera in one process, without a
 * browser, built from the daemon's own parts (STUN, DTLS client, libsrtp):
 * for the protocol tests (a client whose certificate does not match its SDP
 * fingerprint must be refused) and for the fan-out benchmark (viewers that
 * complete real DTLS-SRTP and count every frame; no decoding).
 *
 *   es-whep-client --base http://127.0.0.1:8080/ --camera cam1 [--sessions N]
 *                  [--seconds S] [--token T] [--wrong-fingerprint] [--checks-for S]
 *                  [--warmup S] [--held-ms MS]
 *
 * Each viewer POSTs a recvonly H.264 offer, sends STUN checks with
 * USE-CANDIDATE to the answer's candidate (and every second after, for
 * consent), runs the DTLS handshake as the client, then unprotects RTP and
 * RTCP. A frame is the set of video packets up to a marker bit; its delay is
 * its last packet's arrival minus its capture time, from the RTP timestamp
 * mapped through the newest sender report. --checks-for stops the consent
 * checks that many seconds after start (the server must then end the session,
 * RFC 7675). Prints one JSON object.
 *
 * For the fan-out benchmark (bench/webrtc_fanout.py): a packet's arrival is
 * the kernel's receive timestamp (SO_TIMESTAMPNS, wall clock), so that this
 * client's own scheduling delay on shared cores is not charged to the server
 * (read_delay_ms is the same figure at the moment the client read it). Frames
 * completed in the first --warmup seconds are not judged. A viewer is *held*
 * when it is connected, judged at least all but one of the frames the best
 * viewer judged, lost no video packet (RTP sequence gaps) after the warm-up,
 * and every judged frame arrived within --held-ms (100) of its capture.
 * held_after_first counts the same with the delay taken from the frame's
 * first arrival at any viewer instead of its capture (the moment the server
 * had it, as near as a client can tell): the fan-out's own delay, without the
 * camera's and the transcoder's. Frames of different sessions are matched by
 * their capture time (each session's own sender-report mapping; frames are
 * >= 33 ms apart, a match is within 10 ms). */
#include "core/clock.h"
#include "webrtc/dtls.h"
#include "webrtc/srtp.h"
#include "webrtc/stun.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SESSIONS 1024
#define MAX_DELAYS (1 << 20)
#define MAX_FRAMES 8192 /* distinct frames judged, all viewers together */

struct viewer {
    int fd;
    char ufrag[16], pwd[32];
    char their_ufrag[64], their_pwd[64], their_fp[96], location[256];
    int video_pt;
    struct es_dtls *dtls;
    struct es_srtp *srtp;
    bool stun_ok, connected, failed;
    int64_t next_check_us;
    uint64_t packets, frames, rtp_before_dtls;
    bool have_sr;
    uint32_t sr_rtp;
    int64_t sr_wall_us;
    /* After the warm-up: frames judged, those over --held-ms, the worst delay,
     * video packets missing from the sequence. */
    uint64_t judged, late, lost;
    int64_t worst_us;
    bool have_seq;
    uint16_t last_seq;
    uint64_t late_after_first;
};

/* Every judged frame: its capture time and its first arrival at any viewer. */
struct frame_seen {
    int64_t capture_us, first_us;
};
static struct frame_seen frames_seen[MAX_FRAMES];
static size_t frames_seen_count;
/* Every judged (viewer, frame) arrival, to compare with the frame's first one after the run. */
struct arrival {
    int viewer;
    int frame;
    int64_t at_us;
};
static struct arrival *arrivals;
static size_t arrival_count;

static int frame_index(int64_t capture_us, int64_t at_us)
{
    size_t from = frames_seen_count > 64 ? frames_seen_count - 64 : 0;
    for (size_t i = frames_seen_count; i-- > from;) {
        int64_t d = frames_seen[i].capture_us - capture_us;
        if (d < 10000 && d > -10000) {
            if (at_us < frames_seen[i].first_us)
                frames_seen[i].first_us = at_us;
            return (int)i;
        }
    }
    if (frames_seen_count == MAX_FRAMES)
        return -1;
    frames_seen[frames_seen_count] = (struct frame_seen){capture_us, at_us};
    return (int)frames_seen_count++;
}

static struct viewer viewers[MAX_SESSIONS];
static int64_t *delays, *read_delays;
static int64_t last_packet_us; /* monotonic, of the newest RTP packet of any viewer */
static size_t delay_count, read_delay_count;
static int64_t judge_from_us; /* monotonic: frames completed before this are not judged */
static int64_t held_us = 100000;

struct body {
    char *data;
    size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *opaque)
{
    struct body *b = opaque;
    size_t add = size * n;
    b->data = realloc(b->data, b->len + add + 1);
    memcpy(b->data + b->len, p, add);
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

static size_t on_header(char *p, size_t size, size_t n, void *opaque)
{
    struct viewer *v = opaque;
    size_t len = size * n;
    if (len > 10 && strncasecmp(p, "location:", 9) == 0) {
        const char *s = p + 9;
        while (*s == ' ')
            s++;
        size_t l = strcspn(s, "\r\n");
        snprintf(v->location, sizeof(v->location), "%.*s", (int)l, s);
    }
    return len;
}

static bool attr(const char *sdp, const char *name, char *out, size_t cap)
{
    const char *at = strstr(sdp, name);
    if (!at)
        return false;
    at += strlen(name);
    size_t l = strcspn(at, "\r\n");
    if (l >= cap)
        return false;
    memcpy(out, at, l);
    out[l] = '\0';
    return true;
}

static void random_ice(char *out, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char r[64];
    RAND_bytes(r, (int)n);
    for (size_t i = 0; i < n; i++)
        out[i] = a[r[i] % 62];
    out[n] = '\0';
}

static void send_datagram(void *opaque, const uint8_t *data, size_t len)
{
    struct viewer *v = opaque;
    send(v->fd, data, len, MSG_DONTWAIT);
}

/* POSTs the offer; on 201 fills the viewer from the answer and connects its
 * UDP socket to the first candidate. Returns the HTTP status. */
static long post_offer(struct viewer *v, const char *base, const char *camera, const char *token,
                       const char *fingerprint)
{
    random_ice(v->ufrag, 8);
    random_ice(v->pwd, 24);
    char offer[2048];
    snprintf(offer, sizeof(offer),
             "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
             "m=video 9 UDP/TLS/RTP/SAVPF 102\r\nc=IN IP4 0.0.0.0\r\n"
             "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:sha-256 %s\r\n"
             "a=setup:actpass\r\na=mid:0\r\na=recvonly\r\na=rtcp-mux\r\na=rtcp-rsize\r\n"
             "a=rtpmap:102 H264/90000\r\na=rtcp-fb:102 nack pli\r\n"
             "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;"
             "profile-level-id=42e01f\r\n",
             v->ufrag, v->pwd, fingerprint);
    char url[512], auth[300];
    snprintf(url, sizeof(url), "%swhep/%s", base, camera);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/sdp");
    if (token && token[0]) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    struct body b = {NULL, 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, offer);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, v);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    char cand[256], m[64];
    if (status == 201 && b.data && attr(b.data, "a=ice-ufrag:", v->their_ufrag, 64) &&
        attr(b.data, "a=ice-pwd:", v->their_pwd, 64) &&
        attr(b.data, "a=fingerprint:sha-256 ", v->their_fp, 96) &&
        attr(b.data, "a=candidate:", cand, sizeof(cand)) &&
        attr(b.data, "m=video 9 UDP/TLS/RTP/SAVPF ", m, sizeof(m))) {
        v->video_pt = atoi(m);
        char ip[64];
        unsigned port;
        if (sscanf(cand, "%*s %*s %*s %*s %63s %u", ip, &port) == 2) {
            struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
            inet_pton(AF_INET, ip, &sa.sin_addr);
            v->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
            int size = 1 << 20, on = 1;
            setsockopt(v->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
            setsockopt(v->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
            connect(v->fd, (struct sockaddr *)&sa, sizeof(sa));
        }
    } else if (status == 201) {
        status = -1;
    }
    free(b.data);
    return status;
}

static void delete_session(const char *base, const char *location, const char *token)
{
    char url[512], auth[300];
    snprintf(url, sizeof(url), "%s%s", base, location[0] == '/' ? location + 1 : location);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    if (token && token[0]) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_perform(c);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static void send_check(struct viewer *v)
{
    uint8_t txid[ES_STUN_TXID], buf[512];
    RAND_bytes(txid, sizeof(txid));
    char user[160];
    snprintf(user, sizeof(user), "%s:%s", v->their_ufrag, v->ufrag);
    size_t n = es_stun_write_request(txid, user, v->their_pwd, true, buf, sizeof(buf));
    if (n)
        send(v->fd, buf, n, MSG_DONTWAIT);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* arrival_wall_us: when the kernel received the datagram (wall clock). */
static void on_packet(struct viewer *v, const struct es_dtls_identity *id, uint8_t *buf, size_t n,
                      int64_t arrival_wall_us)
{
    int64_t now_wall = es_clock_wall_us();
    if (n == 0)
        return;
    if (buf[0] < 4) {
        if (!v->stun_ok) {
            v->stun_ok = true;
            struct es_dtls_config dc = {id, ES_DTLS_CLIENT, v->their_fp, send_datagram, v};
            if (es_dtls_create(&dc, &v->dtls) != ES_OK)
                v->failed = true;
            else
                es_dtls_start(v->dtls);
        }
        return;
    }
    if (buf[0] >= 20 && buf[0] <= 63) {
        if (!v->dtls)
            return;
        enum es_dtls_state st = es_dtls_feed(v->dtls, buf, n);
        if (st == ES_DTLS_CONNECTED && !v->connected) {
            struct es_dtls_srtp keys;
            if (es_dtls_srtp_keys(v->dtls, &keys) == ES_OK &&
                es_srtp_create(&keys, &v->srtp) == ES_OK)
                v->connected = true;
            else
                v->failed = true;
        } else if (st == ES_DTLS_FAILED || st == ES_DTLS_CLOSED) {
            v->failed = true;
        }
        return;
    }
    if (buf[0] < 128 || buf[0] > 191)
        return;
    if (!v->srtp) {
        v->rtp_before_dtls++;
        return;
    }
    if (n >= 8 && buf[1] >= 192 && buf[1] <= 223) {
        if (es_srtp_unprotect_rtcp(v->srtp, buf, &n) == ES_OK && buf[1] == 200 && n >= 20) {
            /* SR: NTP (1900) → Unix µs, against its RTP time. */
            uint64_t secs = rd32(buf + 8), frac = rd32(buf + 12);
            v->sr_wall_us =
                (int64_t)(secs - 2208988800ull) * 1000000 + (int64_t)((frac * 1000000) >> 32);
            v->sr_rtp = rd32(buf + 16);
            v->have_sr = true;
        }
        return;
    }
    if (es_srtp_unprotect(v->srtp, buf, &n) != ES_OK || n < 12)
        return;
    if ((buf[1] & 0x7f) != v->video_pt)
        return;
    v->packets++;
    last_packet_us = es_clock_mono_us();
    bool judging = last_packet_us >= judge_from_us;
    uint16_t seq = (uint16_t)(buf[2] << 8 | buf[3]);
    if (v->have_seq && judging) {
        uint16_t gap = (uint16_t)(seq - v->last_seq - 1);
        if (gap < 1000)
            v->lost += gap;
    }
    if (!v->have_seq || (uint16_t)(seq - v->last_seq) < 1000) {
        v->last_seq = seq;
        v->have_seq = true;
    }
    if (buf[1] & 0x80) {
        v->frames++;
        if (v->have_sr && judging && delays && delay_count < MAX_DELAYS) {
            int32_t dt = (int32_t)(rd32(buf + 4) - v->sr_rtp);
            int64_t capture = v->sr_wall_us + (int64_t)dt * 1000 / 90;
            int64_t delay = arrival_wall_us - capture;
            delays[delay_count++] = delay;
            read_delays[read_delay_count++] = now_wall - capture;
            v->judged++;
            v->late += delay > held_us;
            int f = frame_index(capture, arrival_wall_us);
            if (f >= 0 && arrivals && arrival_count < MAX_DELAYS)
                arrivals[arrival_count++] = (struct arrival){(int)(v - viewers), f, arrival_wall_us};
            if (delay > v->worst_us)
                v->worst_us = delay;
        }
    }
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static const char *arg(int argc, char **argv, const char *name, const char *dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return dflt;
}

static bool flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    const char *base = arg(argc, argv, "--base", "http://127.0.0.1:8080/");
    const char *camera = arg(argc, argv, "--camera", "cam1");
    const char *token = arg(argc, argv, "--token", "");
    int sessions = atoi(arg(argc, argv, "--sessions", "1"));
    double seconds = atof(arg(argc, argv, "--seconds", "5"));
    bool wrong = flag(argc, argv, "--wrong-fingerprint");
    double checks_for = atof(arg(argc, argv, "--checks-for", "0"));
    double warmup = atof(arg(argc, argv, "--warmup", "0"));
    held_us = (int64_t)(atof(arg(argc, argv, "--held-ms", "100")) * 1000);
    if (sessions < 1 || sessions > MAX_SESSIONS)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    es_srtp_init();
    struct es_dtls_identity *id, *other = NULL;
    if (es_dtls_identity_create(&id) != ES_OK)
        return 1;
    /* --wrong-fingerprint: the offer names another certificate than ours. */
    if (wrong && es_dtls_identity_create(&other) != ES_OK)
        return 1;
    const char *fp = es_dtls_identity_fingerprint(wrong ? other : id);
    delays = malloc(MAX_DELAYS * sizeof(*delays));
    read_delays = malloc(MAX_DELAYS * sizeof(*read_delays));
    arrivals = malloc(MAX_DELAYS * sizeof(*arrivals));
    int posted = 0;
    long last_status = 0;
    for (int i = 0; i < sessions; i++) {
        viewers[i].fd = -1;
        last_status = post_offer(&viewers[i], base, camera, token, fp);
        if (last_status == 201 && viewers[i].fd >= 0)
            posted++;
        else
            viewers[i].failed = true;
    }
    int64_t start = es_clock_mono_us(), end = start + (int64_t)(seconds * 1e6);
    judge_from_us = start + (int64_t)(warmup * 1e6);
    int64_t connected_by = 0;
    struct pollfd *fds = calloc((size_t)sessions, sizeof(*fds));
    static uint8_t buf[4096];
    while (es_clock_mono_us() < end) {
        int64_t now = es_clock_mono_us();
        for (int i = 0; i < sessions; i++) {
            struct viewer *v = &viewers[i];
            fds[i] = (struct pollfd){v->fd, POLLIN, 0};
            if (v->fd < 0 || v->failed)
                fds[i].fd = -1;
            else if (now >= v->next_check_us &&
                     (checks_for <= 0 || now - start < (int64_t)(checks_for * 1e6))) {
                send_check(v);
                /* Until the answer: every 100 ms; then consent every second. */
                v->next_check_us = now + (v->stun_ok ? 1000000 : 100000);
            }
            if (v->dtls && !v->connected && !v->failed) {
                int64_t t = es_dtls_timeout_us(v->dtls);
                if (t == 0 && es_dtls_on_timer(v->dtls) == ES_DTLS_FAILED)
                    v->failed = true;
            }
        }
        if (poll(fds, (nfds_t)sessions, 20) <= 0)
            continue;
        for (int i = 0; i < sessions; i++) {
            if (!(fds[i].revents & POLLIN))
                continue;
            for (int k = 0; k < 64; k++) {
                union {
                    struct cmsghdr align;
                    char space[CMSG_SPACE(sizeof(struct timespec))];
                } control;
                struct iovec iov = {buf, sizeof(buf)};
                struct msghdr msg = {.msg_iov = &iov,
                                     .msg_iovlen = 1,
                                     .msg_control = control.space,
                                     .msg_controllen = sizeof(control.space)};
                ssize_t n = recvmsg(viewers[i].fd, &msg, MSG_DONTWAIT);
                if (n <= 0)
                    break;
                int64_t arrival = es_clock_wall_us();
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                        struct timespec ts;
                        memcpy(&ts, CMSG_DATA(c), sizeof(ts));
                        arrival = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
                    }
                }
                bool was = viewers[i].connected;
                on_packet(&viewers[i], id, buf, (size_t)n, arrival);
                if (!was && viewers[i].connected)
                    connected_by = es_clock_mono_us() - start;
            }
        }
    }
    /* Delay after the frame's first arrival anywhere (the fan-out's own). */
    int64_t *after_first = malloc((arrival_count + 1) * sizeof(*after_first));
    for (size_t i = 0; i < arrival_count; i++) {
        int64_t d = arrivals[i].at_us - frames_seen[arrivals[i].frame].first_us;
        after_first[i] = d;
        viewers[arrivals[i].viewer].late_after_first += d > held_us;
    }
    qsort(after_first, arrival_count, sizeof(*after_first), cmp64);
    int held_after_first = 0;
    int connected = 0, failed = 0, held = 0;
    uint64_t frames_min = UINT64_MAX, frames_total = 0, before_dtls = 0;
    uint64_t judged_max = 0, late_total = 0, lost_total = 0, viewers_late = 0;
    for (int i = 0; i < sessions; i++)
        if (viewers[i].judged > judged_max)
            judged_max = viewers[i].judged;
    for (int i = 0; i < sessions; i++) {
        struct viewer *v = &viewers[i];
        late_total += v->late;
        lost_total += v->lost;
        viewers_late += v->late > 0;
        bool complete = v->connected && !v->failed && v->lost == 0 && v->judged > 0 &&
                        v->judged + 1 >= judged_max;
        held += complete && v->late == 0;
        held_after_first += complete && v->late_after_first == 0;
        connected += v->connected;
        failed += v->failed;
        before_dtls += v->rtp_before_dtls;
        frames_total += v->frames;
        if (v->frames < frames_min)
            frames_min = v->frames;
        if (v->location[0])
            delete_session(base, v->location, token);
        es_srtp_destroy(v->srtp);
        es_dtls_destroy(v->dtls);
        if (v->fd >= 0)
            close(v->fd);
    }
    qsort(delays, delay_count, sizeof(*delays), cmp64);
    qsort(read_delays, read_delay_count, sizeof(*read_delays), cmp64);
#define PCT_OF(a, n, p) ((n) ? (double)(a)[(size_t)((double)((n) - 1) * (p))] / 1000.0 : -1.0)
#define PCT(p) PCT_OF(delays, delay_count, p)
    size_t late = 0;
    for (size_t i = 0; i < delay_count; i++)
        late += delays[i] > 100000;
    printf("{\"sessions\": %d, \"posted\": %d, \"last_status\": %ld, \"connected\": %d, "
           "\"failed\": %d, \"rtp_before_dtls\": %llu, \"frames_total\": %llu, "
           "\"frames_min\": %llu, \"seconds\": %.1f, \"connected_after_ms\": %.0f, "
           "\"last_packet_ms\": %.0f, "
           "\"delay_ms\": {\"count\": %zu, \"p50\": %.1f, \"p95\": %.1f, \"p99\": %.1f, "
           "\"max\": %.1f, \"over_100ms\": %zu}, "
           "\"read_delay_ms\": {\"p50\": %.1f, \"p95\": %.1f, \"max\": %.1f}, "
           "\"warmup\": %.1f, \"held_ms\": %.0f, \"held\": %d, \"judged_max\": %llu, "
           "\"late_frames\": %llu, \"viewers_late\": %llu, \"lost_packets\": %llu, "
           "\"held_after_first\": %d, \"after_first_ms\": {\"p50\": %.1f, \"p95\": %.1f, "
           "\"p99\": %.1f, \"max\": %.1f}}\n",
           sessions, posted, last_status, connected, failed, (unsigned long long)before_dtls,
           (unsigned long long)frames_total,
           (unsigned long long)(frames_min == UINT64_MAX ? 0 : frames_min), seconds,
           (double)connected_by / 1000.0,
           last_packet_us ? (double)(last_packet_us - start) / 1000.0 : -1.0, delay_count,
           PCT(0.50), PCT(0.95), PCT(0.99), PCT(1.0), late,
           PCT_OF(read_delays, read_delay_count, 0.50), PCT_OF(read_delays, read_delay_count, 0.95),
           PCT_OF(read_delays, read_delay_count, 1.0), warmup, (double)held_us / 1000.0, held,
           (unsigned long long)judged_max, (unsigned long long)late_total,
           (unsigned long long)viewers_late, (unsigned long long)lost_total, held_after_first,
           PCT_OF(after_first, arrival_count, 0.50), PCT_OF(after_first, arrival_count, 0.95),
           PCT_OF(after_first, arrival_count, 0.99), PCT_OF(after_first, arrival_count, 1.0));
    es_dtls_identity_destroy(id);
    es_dtls_identity_destroy(other);
    free(fds);
    free(delays);
    free(read_delays);
    free(arrivals);
    free(after_first);
    curl_global_cleanup();
    return 0;
}
