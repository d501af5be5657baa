/* One WHEP viewer: its ICE-lite state, DTLS, SRTP and RTP numbering. Runs
 * with es_webrtc.lock held (webrtc.c). */
#include "webrtc/internal.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "webrtc/rtcp.h"
#include "webrtc/stun.h"

#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RFC 7675 §5.1: consent expires 30 s after the last successful check. */
#define CONSENT_EXPIRY_US 30000000
/* Janus gives a handshake 20 s; a viewer that never completes one goes. */
#define DTLS_DEADLINE_US 20000000
/* RFC 3550 §6.4.1 / libwebrtc rtcp_sender.cc: video every second, audio
 * every 5 s. A receiver maps RTP to the sender's clock only from its second
 * sender report of each stream on (a regression over the last ones), and
 * Chromium's estimatedPlayoutTimestamp (the player's latency figure) needs
 * both streams mapped: with audio every 5 s the figure came ~7 s after the
 * picture. So each stream's first SR follows its first packet at once, and
 * both go every half second for the first seconds after DTLS completes. */
#define SR_INTERVAL_US 1000000
#define AUDIO_SR_INTERVAL_US 5000000
#define SR_EARLY_INTERVAL_US 500000
#define SR_EARLY_PERIOD_US 5000000
#define KEYFRAME_REQUEST_GAP_US 500000
#define RTP_HEADER 12
#define IDLE_TICK_US 200000

static void random_chars(char *out, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char raw[64];
    RAND_bytes(raw, (int)n);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[raw[i] & 63];
    out[n] = '\0';
}

static uint32_t random32(void)
{
    uint32_t v = 0;
    RAND_bytes((unsigned char *)&v, sizeof(v));
    return v;
}

static void dtls_send(void *opaque, const uint8_t *data, size_t len)
{
    struct wsession *s = opaque;
    if (s->have_addr)
        es_webrtc_send_to(s->w, &s->addr, s->addr_len, data, len);
}

struct wsession *es_wsession_create(struct es_webrtc *w, struct wcamera *camera,
                                    const char *remote_ufrag, const char *remote_fingerprint,
                                    uint8_t pt, int audio_pt)
{
    struct wsession *s = es_calloc(1, sizeof(*s));
    s->w = w;
    s->camera = camera;
    unsigned char id[ES_WEBRTC_SESSION_ID / 2];
    RAND_bytes(id, sizeof(id));
    for (size_t i = 0; i < sizeof(id); i++)
        snprintf(s->id + 2 * i, 3, "%02x", id[i]);
    /* The ufrag names the session in every check (RFC 8445 §7.2.2): no '+'
     * or '/' in it keeps it usable in logs and lookups alike. */
    do
        random_chars(s->ufrag, ICE_UFRAG_LEN);
    while (strpbrk(s->ufrag, "+/"));
    random_chars(s->pwd, ICE_PWD_LEN);
    snprintf(s->remote_ufrag, sizeof(s->remote_ufrag), "%s", remote_ufrag);
    struct es_dtls_config dc = {
        .identity = w->identity,
        .role = ES_DTLS_SERVER, /* we answer a=setup:passive */
        .peer_fingerprint = remote_fingerprint,
        .send = dtls_send,
        .opaque = s,
    };
    if (es_dtls_create(&dc, &s->dtls) != ES_OK) {
        free(s);
        return NULL;
    }
    s->pt = pt;
    /* RFC 3550 §5.1: random initial SSRC, sequence number and timestamp. */
    s->ssrc = random32();
    s->seq = (uint16_t)random32();
    s->ts_offset = random32();
    s->audio_pt = audio_pt;
    s->audio_ssrc = random32();
    if (s->audio_ssrc == s->ssrc)
        s->audio_ssrc++;
    s->audio_seq = (uint16_t)random32();
    s->audio_ts_offset = random32();
    es_keyframe_gate_init(&s->gate); /* a viewer starts at an IDR */
    s->created_us = s->consent_us = es_clock_mono_us();
    return s;
}

void es_wsession_destroy(struct wsession *s)
{
    if (!s)
        return;
    es_dtls_close(s->dtls); /* close_notify when connected (RFC 7675 §5.2) */
    es_dtls_destroy(s->dtls);
    es_srtp_destroy(s->srtp);
    free(s);
}

static bool same_addr(const struct wsession *s, const struct sockaddr *a, socklen_t len)
{
    return s->have_addr && s->addr_len == len && memcmp(&s->addr, a, len) == 0;
}

void es_wsession_on_stun(struct wsession *s, const uint8_t *msg, size_t len,
                         const struct sockaddr *from, socklen_t from_len, bool use_candidate)
{
    (void)msg;
    (void)len;
    s->consent_us = es_clock_mono_us();
    /* RFC 8445 §7.3.1.5: media goes to the pair the browser nominated, the
     * latest one; before any nomination, to where checks come from. */
    if (!same_addr(s, from, from_len) && (use_candidate || !s->nominated)) {
        memcpy(&s->addr, from, from_len);
        s->addr_len = from_len;
        s->have_addr = true;
    }
    if (use_candidate)
        s->nominated = true;
}

void es_wsession_on_dtls(struct wsession *s, const uint8_t *data, size_t len)
{
    enum es_dtls_state before = es_dtls_state(s->dtls);
    enum es_dtls_state st = es_dtls_feed(s->dtls, data, len);
    if (st == before)
        return;
    if (st == ES_DTLS_CONNECTED) {
        struct es_dtls_srtp keys;
        if (es_dtls_srtp_keys(s->dtls, &keys) != ES_OK ||
            es_srtp_create(&keys, &s->srtp) != ES_OK) {
            s->ended = true;
            return;
        }
        int profile = (int)keys.profile;
        OPENSSL_cleanse(&keys, sizeof(keys));
        s->w->stats.sessions_connected++;
        s->connected_us = es_clock_mono_us();
        s->next_sr_us = s->next_audio_sr_us = s->connected_us; /* once media flows */
        es_log(ES_LOG_INFO, "webrtc", "camera=%s session=%.8s event=connected profile=%d",
               s->camera->id, s->id, profile);
        /* Ask for an IDR so the viewer need not wait for the next GOP. */
        if (s->camera->keyframe_fn)
            s->camera->keyframe_fn(s->camera->keyframe_opaque);
    } else if (st == ES_DTLS_FAILED || st == ES_DTLS_CLOSED) {
        es_log(ES_LOG_INFO, "webrtc", "camera=%s session=%.8s event=%s", s->camera->id, s->id,
               st == ES_DTLS_FAILED ? "dtls_failed" : "dtls_closed");
        s->ended = true;
    }
}

static void request_keyframe(struct wcamera *c)
{
    int64_t now = es_clock_mono_us();
    c->w->stats.keyframe_requests++;
    if (c->keyframe_fn && now - c->last_keyframe_request_us >= KEYFRAME_REQUEST_GAP_US) {
        c->last_keyframe_request_us = now;
        c->keyframe_fn(c->keyframe_opaque);
    }
}

void es_wsession_on_rtcp(struct wsession *s, uint8_t *data, size_t len)
{
    if (!s->srtp || es_srtp_unprotect_rtcp(s->srtp, data, &len) != ES_OK)
        return;
    struct es_rtcp_feedback fb = {0};
    if (!es_rtcp_parse(data, len, &fb))
        return;
    /* Receiver reports count as traffic, not as consent (RFC 7675 §5.1
     * wants STUN); PLI and FIR ask for an IDR (RFC 4585, RFC 5104). */
    if (fb.pli || fb.fir)
        request_keyframe(s->camera);
    if (!s->camera->passthrough)
        return;
    /* Passthrough cannot force an IDR: a viewer that asks for one, or whose
     * reports show lost video, gets nothing more until the camera's next
     * keyframe rather than frames that reference what it never had. */
    if (fb.pli || fb.fir)
        es_keyframe_gate_close(&s->gate);
    for (size_t i = 0; i < fb.block_count; i++)
        if (fb.blocks[i].ssrc == s->ssrc &&
            es_keyframe_gate_on_lost(&s->gate, fb.blocks[i].cumulative_lost,
                                     fb.blocks[i].highest_seq))
            es_log(ES_LOG_DEBUG, "webrtc",
                   "camera=%s session=%.8s event=loss_wait_keyframe lost=%" PRId32, s->camera->id,
                   s->id, fb.blocks[i].cumulative_lost);
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void send_sr(struct wsession *s);
static void send_audio_sr(struct wsession *s);

void es_wsession_send_frame(struct wsession *s, const struct frame_msg *m)
{
    /* RTP leaves only after DTLS has completed (and keys exist). */
    if (!s->srtp || !s->have_addr || s->ended)
        return;
    if (!es_keyframe_gate_pass(&s->gate, m->frame.idr, s->seq))
        return;
    bool first = s->packets == 0;
    uint32_t ts = s->ts_offset + (uint32_t)(uint64_t)m->pts_ticks;
    uint8_t buf[RTP_HEADER + ES_RTP_MAX_PAYLOAD + ES_SRTP_TRAILER];
    for (size_t i = 0; i < m->frame.count; i++) {
        const struct es_rtp_payload *p = &m->frame.payloads[i];
        if (p->size > ES_RTP_MAX_PAYLOAD)
            continue;
        /* RFC 3550 §5.1 header; RFC 6184 §5.1: one timestamp per access
         * unit, marker on its last packet. */
        buf[0] = 0x80;
        buf[1] = (uint8_t)((p->marker ? 0x80 : 0) | s->pt);
        wr16(buf + 2, s->seq++);
        wr32(buf + 4, ts);
        wr32(buf + 8, s->ssrc);
        memcpy(buf + RTP_HEADER, m->frame.data + p->offset, p->size);
        size_t len = RTP_HEADER + p->size;
        if (es_srtp_protect(s->srtp, buf, &len) != ES_OK)
            continue;
        /* The service counts a packet the socket would not take; in
         * passthrough that viewer's picture is broken until the next
         * keyframe, so the rest waits for it (keyframe_gate.h). */
        uint64_t dropped = s->w->stats.packets_dropped;
        es_webrtc_send_to(s->w, &s->addr, s->addr_len, buf, len);
        if (s->w->stats.packets_dropped != dropped && s->camera->passthrough)
            es_keyframe_gate_close(&s->gate);
        s->packets++;
        s->octets += (uint32_t)p->size;
    }
    s->last_rtp_ts = ts;
    s->last_wall_us = m->wall_us;
    s->last_pts_ticks = m->pts_ticks;
    if (first && s->packets)
        send_sr(s);
}

void es_wsession_send_audio(struct wsession *s, const struct frame_msg *m)
{
    if (!s->srtp || !s->have_addr || s->ended || s->audio_pt < 0 || m->frame.count != 1)
        return;
    const struct es_rtp_payload *p = &m->frame.payloads[0];
    if (p->size > ES_RTP_MAX_PAYLOAD)
        return;
    /* RFC 7587 §4.1: a 48 kHz clock, on the same timeline as the video. */
    uint32_t ts = s->audio_ts_offset + (uint32_t)(uint64_t)(m->pts_ticks * 8 / 15);
    uint8_t buf[RTP_HEADER + ES_RTP_MAX_PAYLOAD + ES_SRTP_TRAILER];
    buf[0] = 0x80;
    buf[1] = (uint8_t)s->audio_pt;
    wr16(buf + 2, s->audio_seq++);
    wr32(buf + 4, ts);
    wr32(buf + 8, s->audio_ssrc);
    memcpy(buf + RTP_HEADER, m->frame.data + p->offset, p->size);
    size_t len = RTP_HEADER + p->size;
    if (es_srtp_protect(s->srtp, buf, &len) != ES_OK)
        return;
    es_webrtc_send_to(s->w, &s->addr, s->addr_len, buf, len);
    s->audio_packets++;
    s->audio_octets += (uint32_t)p->size;
    s->audio_last_rtp_ts = ts;
    s->audio_last_wall_us = m->wall_us;
    if (s->audio_packets == 1)
        send_audio_sr(s);
}

/* The RTP time of "now" on the camera's clock for one stream: its newest
 * packet's timestamp moved on by the wall time since that was captured. */
static void send_sr_of(struct wsession *s, uint32_t ssrc, uint32_t last_rtp, int64_t last_wall,
                       uint32_t rate_khz, uint32_t packets, uint32_t octets)
{
    int64_t now = es_clock_wall_us();
    int64_t since = now - last_wall;
    if (since < 0 || since > 10000000)
        since = 0;
    uint32_t rtp = last_rtp + (uint32_t)(since * rate_khz / 1000);
    uint8_t buf[128 + ES_SRTP_TRAILER];
    size_t len = es_rtcp_write_sr(buf, 128, ssrc, now, rtp, packets, octets, "edgestream");
    if (len && es_srtp_protect_rtcp(s->srtp, buf, &len) == ES_OK)
        es_webrtc_send_to(s->w, &s->addr, s->addr_len, buf, len);
}

static void send_sr(struct wsession *s)
{
    /* Maps RTP to capture time, so rVFC captureTime means the camera's clock. */
    if (s->packets)
        send_sr_of(s, s->ssrc, s->last_rtp_ts, s->last_wall_us, 90, s->packets, s->octets);
}

static void send_audio_sr(struct wsession *s)
{
    if (!s->audio_packets)
        return;
    if (!s->packets) {
        send_sr_of(s, s->audio_ssrc, s->audio_last_rtp_ts, s->audio_last_wall_us, 48,
                   s->audio_packets, s->audio_octets);
        return;
    }
    /* Both streams share the camera's RTP timeline, so the audio report is
     * the video's mapping in 48 kHz units: lip sync is exact, and an audio
     * packet whose capture time came from a stale clock mapping (read before
     * its connection's first picture) cannot skew it. */
    uint32_t audio_rtp = s->audio_ts_offset + (uint32_t)(uint64_t)(s->last_pts_ticks * 8 / 15);
    send_sr_of(s, s->audio_ssrc, audio_rtp, s->last_wall_us, 48, s->audio_packets, s->audio_octets);
}

int64_t es_wsession_tick(struct wsession *s, int64_t now)
{
    if (s->ended)
        return 0;
    if (now - s->consent_us > CONSENT_EXPIRY_US) {
        es_log(ES_LOG_INFO, "webrtc", "camera=%s session=%.8s event=consent_expired", s->camera->id,
               s->id);
        s->ended = true;
        return 0;
    }
    int64_t wait = IDLE_TICK_US;
    if (es_dtls_state(s->dtls) == ES_DTLS_HANDSHAKING) {
        if (now - s->created_us > DTLS_DEADLINE_US) {
            es_log(ES_LOG_INFO, "webrtc", "camera=%s session=%.8s event=dtls_timeout",
                   s->camera->id, s->id);
            s->ended = true;
            return 0;
        }
        int64_t t = es_dtls_timeout_us(s->dtls);
        if (t == 0) {
            es_dtls_on_timer(s->dtls);
            t = es_dtls_timeout_us(s->dtls);
        }
        if (es_dtls_state(s->dtls) == ES_DTLS_FAILED) {
            s->ended = true;
            return 0;
        }
        if (t > 0 && t < wait)
            wait = t;
    } else if (s->srtp) {
        bool early = now - s->connected_us < SR_EARLY_PERIOD_US;
        if (now >= s->next_sr_us) {
            send_sr(s);
            s->next_sr_us = now + (early ? SR_EARLY_INTERVAL_US : SR_INTERVAL_US);
        }
        if (s->audio_packets && now >= s->next_audio_sr_us) {
            send_audio_sr(s);
            s->next_audio_sr_us = now + (early ? SR_EARLY_INTERVAL_US : AUDIO_SR_INTERVAL_US);
        }
        if (s->next_sr_us - now < wait)
            wait = s->next_sr_us - now;
        if (s->audio_packets && s->next_audio_sr_us - now < wait)
            wait = s->next_audio_sr_us - now;
    }
    return wait;
}
