/* libFuzzer target for everything a camera's bytes reach in the RTSP client:
 * the SDP parser, the framer and RTSP message parser, the RTP/RTCP parsers,
 * the H.264 and audio depacketizers, sprop/SPS parsing, and whole client
 * sessions (the input served as the camera's side of the TCP connection by a
 * thread on 127.0.0.1). Besides "no crash, no leak, no hang", it checks
 * contracts: consumed bytes are in bounds, access units start with a start
 * code, fragmented output never exceeds its bounds.
 *
 * The first byte selects the target. Given a corpus directory that is empty,
 * the target writes its own seeds there first (no binary corpus committed);
 * ES_FUZZ_LOG=1 shows the client's logs when reproducing a finding.
 * Build from the repository root:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc src/core/[all .c] \
 *         src/source/rtsp_client.c src/source/rtp_[all .c] src/source/sdp.c \
 *         tests/fuzz/fuzz_rtsp_client.c \
 *         $(pkg-config --cflags --libs libavformat libavcodec libavutil) -lpthread -lm
 *   ./a.out -max_total_time=60 -max_len=65536 corpus_dir
 */
#define _GNU_SOURCE /* memmem */
#include "core/log.h"
#include "source/rtp_audio.h"
#include "source/rtp_framer.h"
#include "source/rtp_h264.h"
#include "source/rtp_packet.h"
#include "source/rtsp_client.h"
#include "source/sdp.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <libavutil/mem.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum mode {
    MODE_SDP = 0,
    MODE_STREAM,
    MODE_H264,
    MODE_AUDIO,
    MODE_SPS,
    MODE_SESSION,
    MODE_COUNT,
};

/* ---- Parsers ---- */

static void fuzz_sdp(const uint8_t *data, size_t size)
{
    struct es_sdp sdp;
    if (es_sdp_parse((const char *)data, size, &sdp) != ES_OK) {
        if (sdp.media_count != 0 || sdp.control)
            abort();
        return;
    }
    char url[256], value[256];
    es_sdp_resolve_control("rtsp://h/base/", sdp.control, url, sizeof(url));
    for (size_t i = 0; i < sdp.media_count; i++) {
        const struct es_sdp_media *m = &sdp.media[i];
        es_sdp_resolve_control("rtsp://h/base", m->control, url, sizeof(url));
        if (!m->fmtp)
            continue;
        uint8_t asc[64];
        size_t asc_size;
        struct es_rtp_audio_asc info;
        struct es_rtp_audio_aac_params params;
        if (es_sdp_fmtp_get(m->fmtp, "config", value, sizeof(value)) &&
            es_rtp_audio_parse_config(value, asc, sizeof(asc), &asc_size, &info) == ES_OK) {
            if (asc_size > sizeof(asc))
                abort();
            es_rtp_audio_aac_params(m->fmtp, &info, m->clock_rate ? m->clock_rate : 1, &params);
        }
        uint8_t *annexb;
        size_t annexb_size;
        char sprop[4096];
        if (es_sdp_fmtp_get(m->fmtp, "sprop-parameter-sets", sprop, sizeof(sprop)) &&
            es_rtp_h264_sprop_to_annexb(sprop, &annexb, &annexb_size) == ES_OK) {
            struct es_rtp_h264_sps sps;
            es_rtp_h264_parse_sps(annexb, annexb_size, &sps);
            av_free(annexb);
        }
    }
    es_sdp_clear(&sdp);
}

static void check_unit(void *opaque, const struct es_rtp_h264_au *au)
{
    (void)opaque;
    if (au->size < 5 || memcmp(au->data, "\0\0\0\1", 4) != 0)
        abort();
}

static void check_frame(void *opaque, const struct es_rtp_audio_frame *f)
{
    (void)opaque;
    if (f->size == 0 || f->size > 65536)
        abort();
    volatile uint8_t touch = f->data[f->size - 1];
    (void)touch;
}

static const struct es_rtp_audio_aac_params hbr = {13, 3, 3, 0, 0, false, 0, 0, 1024};

/* The framer over chunks whose sizes come from the data, with every unit
 * taken apart as the client would. */
static void fuzz_stream(const uint8_t *data, size_t size)
{
    struct es_rtp_h264 *h264 = es_rtp_h264_create(1 << 16, check_unit, NULL);
    struct es_rtp_audio *aac = es_rtp_audio_create(ES_RTP_AUDIO_AAC, &hbr, check_frame, NULL);
    struct es_rtp_seq seq[2] = {{0}};
    uint8_t *buf = malloc(size + 1);
    size_t len = 0, fed = 0;
    unsigned chunk_seed = size ? data[0] : 1;
    while (fed < size || len > 0) {
        size_t chunk = 1 + (chunk_seed = chunk_seed * 1103515245u + 12345u) % 1500;
        if (chunk > size - fed)
            chunk = size - fed;
        memcpy(buf + len, data + fed, chunk);
        len += chunk;
        fed += chunk;
        size_t off = 0;
        for (;;) {
            struct es_rtp_frame f;
            if (es_rtp_framer_next(buf + off, len - off, &f) != ES_OK) {
                fed = size; /* the connection would be dropped */
                len = off = 0;
                break;
            }
            if (f.kind == ES_RTP_FRAME_NONE)
                break;
            if (f.consumed == 0 || f.consumed > len - off)
                abort();
            if (f.kind == ES_RTP_FRAME_MESSAGE) {
                struct es_rtp_message m;
                if (es_rtp_framer_parse(&f, &m) == ES_OK) {
                    es_rtp_framer_header(&m, "CSeq", 0);
                    es_rtp_framer_header(&m, "WWW-Authenticate", 1);
                    es_rtp_framer_clear(&m);
                }
            } else if (f.kind == ES_RTP_FRAME_INTERLEAVED) {
                struct es_rtp_packet p;
                struct es_rtp_sender_report sr;
                if (f.channel & 1) {
                    if (es_rtp_packet_parse_sr(f.data, f.size, &sr) == ES_OK)
                        es_rtp_packet_wall_us(&sr, 90000, sr.rtp_timestamp + 1);
                } else if (es_rtp_packet_parse(f.data, f.size, &p) == ES_OK) {
                    int i = (f.channel >> 1) & 1;
                    bool lost = es_rtp_packet_check_seq(&seq[i], p.seq) == ES_RTP_SEQ_GAP;
                    if (i == 0)
                        es_rtp_h264_push(h264, &p, lost);
                    else
                        es_rtp_audio_push(aac, &p, lost);
                }
            }
            off += f.consumed;
        }
        memmove(buf, buf + off, len - off);
        len -= off;
        if (fed == size && off == 0)
            break;
    }
    free(buf);
    es_rtp_h264_destroy(h264);
    es_rtp_audio_destroy(aac);
}

/* Packets as [2-byte length][flags: marker, lost, reset][timestamp step] payload. */
static void fuzz_packets(const uint8_t *data, size_t size, bool video)
{
    struct es_rtp_h264 *h264 = video ? es_rtp_h264_create(4096, check_unit, NULL) : NULL;
    struct es_rtp_audio *audio = NULL;
    if (!video) {
        struct es_rtp_audio_aac_params p = hbr;
        if (size > 0) {
            /* Header layouts beyond AAC-hbr, from the first byte. */
            p.size_length = 1 + data[0] % 16;
            p.index_length = data[0] >> 6;
            p.index_delta_length = data[0] >> 6;
            p.cts_delta_length = (data[0] >> 4) & 1 ? 7 : 0;
            p.dts_delta_length = (data[0] >> 5) & 1 ? 5 : 0;
            p.random_access_indication = data[0] & 0x10;
            p.auxiliary_data_size_length = (data[0] & 0x30) == 0x30 ? 9 : 0;
            data++, size--;
        }
        audio = es_rtp_audio_create(size && data[0] & 1 ? ES_RTP_AUDIO_PCMU : ES_RTP_AUDIO_AAC, &p,
                                    check_frame, NULL);
    }
    uint32_t ts = 0;
    while (size >= 4) {
        size_t n = (size_t)data[0] << 8 | data[1];
        uint8_t flags = data[2];
        ts += data[3];
        data += 4;
        size -= 4;
        if (n > size)
            n = size;
        struct es_rtp_packet p = {
            .marker = flags & 1, .timestamp = ts, .payload = data, .payload_size = n};
        if (flags & 4) {
            if (h264)
                es_rtp_h264_reset(h264);
            else
                es_rtp_audio_reset(audio);
        }
        if (h264)
            es_rtp_h264_push(h264, &p, flags & 2);
        else
            es_rtp_audio_push(audio, &p, flags & 2);
        data += n;
        size -= n;
    }
    es_rtp_h264_destroy(h264);
    es_rtp_audio_destroy(audio);
}

static void fuzz_sps(const uint8_t *data, size_t size)
{
    struct es_rtp_h264_sps sps;
    if (es_rtp_h264_parse_sps(data, size, &sps) == ES_OK &&
        (sps.width <= 0 || sps.height <= 0 || sps.width > 16384 || sps.height > 16384 * 2))
        abort();
    char text[1024];
    size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    uint8_t *annexb;
    size_t annexb_size;
    if (es_rtp_h264_sprop_to_annexb(text, &annexb, &annexb_size) == ES_OK)
        av_free(annexb);
}

/* ---- Whole sessions ---- */

static int listen_fd = -1, listen_port;
static pthread_mutex_t serve_lock = PTHREAD_MUTEX_INITIALIZER;
static const uint8_t *serve_data;
static size_t serve_size;

/* Waits (20 ms at most) until the client has sent one more request, so
 * that replies follow requests as on a real connection. */
static void await_request(int fd, char *pending, size_t *len, size_t cap)
{
    for (;;) {
        char *end = memmem(pending, *len, "\r\n\r\n", 4);
        if (end) {
            size_t used = (size_t)(end + 4 - pending);
            memmove(pending, end + 4, *len - used);
            *len -= used;
            return;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (*len == cap || poll(&pfd, 1, 20) <= 0)
            return;
        ssize_t n = recv(fd, pending + *len, cap - *len, 0);
        if (n <= 0)
            return;
        *len += (size_t)n;
    }
}

/* Session inputs are records: [flags][16-bit length][bytes]; flag 1 sends the
 * bytes only after the client's next request. */
static void serve(int fd, const uint8_t *p, size_t n)
{
    char pending[8192];
    size_t pending_len = 0;
    while (n >= 3) {
        bool wait = p[0] & 1;
        size_t len = (size_t)p[1] << 8 | p[2];
        p += 3;
        n -= 3;
        if (len > n)
            len = n;
        if (wait)
            await_request(fd, pending, &pending_len, sizeof(pending));
        for (size_t off = 0; off < len;) {
            ssize_t w = send(fd, p + off, len - off, MSG_NOSIGNAL);
            if (w <= 0)
                return;
            off += (size_t)w;
        }
        p += len;
        n -= len;
    }
}

static void *camera_thread(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&serve_lock);
        serve(fd, serve_data, serve_size);
        pthread_mutex_unlock(&serve_lock);
        shutdown(fd, SHUT_WR);
        char sink[4096];
        while (recv(fd, sink, sizeof(sink), 0) > 0)
            ;
        close(fd);
    }
    return NULL;
}

static void start_camera(void)
{
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    if (bind(listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        getsockname(listen_fd, (struct sockaddr *)&addr, &len) != 0 || listen(listen_fd, 8) != 0)
        abort();
    listen_port = ntohs(addr.sin_port);
    pthread_t thread;
    pthread_create(&thread, NULL, camera_thread, NULL);
    pthread_detach(thread);
}

static void fuzz_session(const uint8_t *data, size_t size)
{
    /* The data is served from the camera's side; the lock makes the server
     * take it only once this input owns it. */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    pthread_mutex_lock(&serve_lock);
    serve_data = copy;
    serve_size = size;
    pthread_mutex_unlock(&serve_lock);

    char url[96];
    snprintf(url, sizeof(url), "rtsp://user:pass@127.0.0.1:%d/cam?x=1", listen_port);
    struct es_rtsp_client_config cfg = {.camera_id = "fuzz",
                                        .url = url,
                                        .connect_timeout_ms = 2000,
                                        .read_timeout_ms = 2000,
                                        .want_audio = true};
    struct es_rtsp_client *c = NULL;
    if (es_rtsp_client_open(&cfg, &c) == ES_OK) {
        if (!es_rtsp_client_video(c))
            abort();
        AVPacket *pkt = av_packet_alloc();
        int64_t capture;
        bool camera;
        while (es_rtsp_client_read(c, pkt, &capture, &camera) == ES_OK) {
            if (pkt->stream_index == 0 && (pkt->size < 5 || memcmp(pkt->data, "\0\0\0\1", 4)))
                abort();
            av_packet_unref(pkt);
        }
        av_packet_free(&pkt);
    }
    es_rtsp_client_close(c);

    pthread_mutex_lock(&serve_lock);
    serve_data = NULL;
    serve_size = 0;
    pthread_mutex_unlock(&serve_lock);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    switch (data[0] % MODE_COUNT) {
    case MODE_SDP:
        fuzz_sdp(rest, n);
        break;
    case MODE_STREAM:
        fuzz_stream(rest, n);
        break;
    case MODE_H264:
        fuzz_packets(rest, n, true);
        break;
    case MODE_AUDIO:
        fuzz_packets(rest, n, false);
        break;
    case MODE_SPS:
        fuzz_sps(rest, n);
        break;
    case MODE_SESSION:
        fuzz_session(rest, n);
        break;
    }
    return 0;
}

/* ---- Seeds ---- */

static size_t put_rtp(uint8_t *out, int channel, int pt, bool marker, uint16_t seq, uint32_t ts,
                      const uint8_t *payload, size_t n)
{
    size_t len = 12 + n;
    uint8_t head[16] = {'$',
                        (uint8_t)channel,
                        (uint8_t)(len >> 8),
                        (uint8_t)len,
                        0x80,
                        (uint8_t)((marker ? 0x80 : 0) | pt),
                        (uint8_t)(seq >> 8),
                        (uint8_t)seq,
                        (uint8_t)(ts >> 24),
                        (uint8_t)(ts >> 16),
                        (uint8_t)(ts >> 8),
                        (uint8_t)ts,
                        0x12,
                        0x34,
                        0x56,
                        0x78};
    memcpy(out, head, 16);
    memcpy(out + 16, payload, n);
    return 16 + n;
}

/* Closes the record opened at out[start] (flags and length before the bytes). */
static size_t close_record(uint8_t *out, size_t start, size_t end)
{
    size_t len = end - start - 3;
    out[start + 1] = (uint8_t)(len >> 8);
    out[start + 2] = (uint8_t)len;
    return end;
}

static size_t open_record(uint8_t *out, size_t n, bool wait)
{
    out[n] = wait;
    return n + 3;
}

/* A whole session as gst-rtsp-server answers it, one record per reply
 * (optionally a Digest challenge first), then RTP (STAP-A, FU-A, single NAL,
 * AAC) and RTCP in one record. Without records (`raw`), the same bytes as
 * one stream for the framer. */
static size_t session_seed(uint8_t *out, bool with_auth, bool raw)
{
    size_t start = 0;
#define RECORD_BEGIN(wait) (start = n, n = raw ? n : open_record(out, n, wait))
#define RECORD_END() (n = raw ? n : close_record(out, start, n))
    static const char sdp[] =
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\na=control:*\r\n"
        "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=framerate:25\r\n"
        "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAH9oBQBbsBagICAoAAAMAAgAAAwBlHjBl"
        "QA==,aM48gA==\r\na=control:stream=0\r\n"
        "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r\n"
        "a=fmtp:97 streamtype=5;mode=AAC-hbr;config=1190;sizelength=13;indexlength=3;"
        "indexdeltalength=3\r\na=control:stream=1\r\n";
    size_t n = 0;
    int cseq = 1;
    if (with_auth) {
        RECORD_BEGIN(true);
        n += (size_t)sprintf((char *)out + n,
                             "RTSP/1.0 401 Unauthorized\r\nCSeq: %d\r\nWWW-Authenticate: Digest "
                             "realm=\"r\", nonce=\"n\", qop=\"auth\"\r\n\r\n",
                             cseq++);
        RECORD_END();
    }
    RECORD_BEGIN(true);
    n += (size_t)sprintf((char *)out + n,
                         "RTSP/1.0 200 OK\r\nCSeq: %d\r\nPublic: OPTIONS, GET_PARAMETER\r\n\r\n",
                         cseq++);
    RECORD_END();
    RECORD_BEGIN(true);
    n += (size_t)sprintf((char *)out + n,
                         "RTSP/1.0 200 OK\r\nCSeq: %d\r\nContent-Type: application/sdp\r\n"
                         "Content-Base: rtsp://127.0.0.1/cam/\r\nContent-Length: %zu\r\n\r\n%s",
                         cseq, sizeof(sdp) - 1, sdp);
    cseq++;
    RECORD_END();
    RECORD_BEGIN(true);
    n += (size_t)sprintf((char *)out + n,
                         "RTSP/1.0 200 OK\r\nCSeq: %d\r\nTransport: RTP/AVP/TCP;unicast;"
                         "interleaved=0-1\r\nSession: s1;timeout=60\r\n\r\n",
                         cseq++);
    RECORD_END();
    RECORD_BEGIN(true);
    n += (size_t)sprintf((char *)out + n,
                         "RTSP/1.0 200 OK\r\nCSeq: %d\r\nTransport: RTP/AVP/TCP;unicast;"
                         "interleaved=2-3\r\nSession: s1\r\n\r\n",
                         cseq++);
    RECORD_END();
    RECORD_BEGIN(true);
    n += (size_t)sprintf((char *)out + n,
                         "RTSP/1.0 200 OK\r\nCSeq: %d\r\nRTP-Info: url=rtsp://127.0.0.1/cam/"
                         "stream=0;seq=1;rtptime=1000, url=stream=1;seq=1;rtptime=2000\r\n"
                         "Session: s1\r\n\r\n",
                         cseq++);
    RECORD_END();
    RECORD_BEGIN(false);
    const uint8_t stap[] = {0x18, 0, 4, 0x67, 0x42, 0xc0, 0x1f, 0, 4, 0x68, 0xce, 0x3c, 0x80};
    const uint8_t fu_start[] = {0x7c, 0x85, 0x88, 0x84, 0x00};
    const uint8_t fu_end[] = {0x7c, 0x45, 0x10, 0x20};
    const uint8_t p_slice[] = {0x41, 0x9a, 0x02};
    const uint8_t aac[] = {0x00, 0x10, 0x00, 0x18, 1, 2, 3};
    n += put_rtp(out + n, 0, 96, false, 1, 4600, stap, sizeof(stap));
    n += put_rtp(out + n, 0, 96, false, 2, 4600, fu_start, sizeof(fu_start));
    n += put_rtp(out + n, 0, 96, true, 3, 4600, fu_end, sizeof(fu_end));
    n += put_rtp(out + n, 2, 97, true, 1, 2100, aac, sizeof(aac));
    const uint8_t sr[] = {'$',  1,    0,    28,   0x80, 200, 0, 6, 0x12, 0x34, 0x56,
                          0x78, 0xeb, 0x00, 0x00, 0x00, 0,   0, 0, 0,    0,    0,
                          0x11, 0xf8, 0,    0,    0,    0,   0, 0, 0,    0};
    memcpy(out + n, sr, sizeof(sr));
    n += sizeof(sr);
    n += put_rtp(out + n, 0, 96, true, 4, 8200, p_slice, sizeof(p_slice));
    n += (size_t)sprintf((char *)out + n, "ANNOUNCE rtsp://x RTSP/1.0\r\nCSeq: 9\r\n\r\n");
    n += put_rtp(out + n, 0, 96, true, 5, 11800, p_slice, sizeof(p_slice));
    RECORD_END();
#undef RECORD_BEGIN
#undef RECORD_END
    return n;
}

static void write_seed(const char *dir, const char *name, uint8_t mode, const void *data,
                       size_t size)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/seed-%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fputc(mode, f);
    fwrite(data, 1, size, f);
    fclose(f);
}

static void write_seeds(const char *dir)
{
    static uint8_t buf[16384];
    size_t n = session_seed(buf, false, false);
    write_seed(dir, "session", MODE_SESSION, buf, n);
    n = session_seed(buf, true, false);
    write_seed(dir, "session-digest", MODE_SESSION, buf, n);
    n = session_seed(buf, true, true);
    write_seed(dir, "stream", MODE_STREAM, buf, n);
    const char *sdp = strstr((const char *)buf, "v=0");
    write_seed(dir, "sdp", MODE_SDP, sdp, strcspn(sdp, "$"));
    const uint8_t h264[] = {0,    13,   0,    0,    0x18, 0, 4, 0x67, 0x42, 0xc0, 0x1f, 0, 4, 0x68,
                            0xce, 0x3c, 0x80, 0,    4,    0, 0, 0x7c, 0x85, 0x88, 0x84, 0, 3, 1,
                            0,    0x7c, 0x45, 0x10, 0,    3, 1, 40,   0x41, 0x9a, 0x02, 0, 3, 3,
                            40,   0x41, 0x9a, 0x02, 0,    3, 5, 40,   0x65, 0x88, 0x84};
    write_seed(dir, "h264", MODE_H264, h264, sizeof(h264));
    const uint8_t aac[] = {0x00, 0, 10, 1, 0, 0x00, 0x20, 0x00, 0x08, 0x00, 0x10, 1, 2,
                           3,    0, 8,  1, 4, 0x00, 0x10, 0x01, 0x00, 9,    9,    9, 9};
    write_seed(dir, "aac", MODE_AUDIO, aac, sizeof(aac));
    const uint8_t sps[] = {0,    0,    0,    1,    0x67, 0x64, 0x00, 0x28, 0xac, 0xd9, 0x40,
                           0x78, 0x02, 0x27, 0xe5, 0xc0, 0x44, 0x00, 0x00, 0x03, 0x00, 0x04,
                           0x00, 0x00, 0x03, 0x00, 0xc8, 0x3c, 0x60, 0xc6, 0x58};
    write_seed(dir, "sps", MODE_SPS, sps, sizeof(sps));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* ES_FUZZ_LOG=1 shows the client's logs when reproducing a finding. */
    es_log_set_level(getenv("ES_FUZZ_LOG") ? ES_LOG_DEBUG : ES_LOG_ERROR);
    start_camera();
    for (int i = 1; i < *argc; i++) {
        const char *arg = (*argv)[i];
        if (arg[0] == '-')
            continue;
        DIR *d = opendir(arg);
        if (!d)
            continue;
        struct dirent *e;
        bool empty = true;
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                empty = false;
        closedir(d);
        if (empty)
            write_seeds(arg);
    }
    return 0;
}
