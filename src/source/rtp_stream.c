#include "source/rtp_stream.h"

#include "core/alloc.h"
#include "core/log.h"
#include "source/rtp_audio.h"
#include "source/rtp_h264.h"
#include "source/rtp_packet.h"

#include <ctype.h>
#include <libavutil/channel_layout.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COMPONENT "rtsp"
/* RTP-Info's rtptime aligns the streams only if it is near the packets. */
#define MAX_RTPTIME_DISTANCE_S 10

struct es_rtp_stream {
    struct es_rtp_stream_config config;
    bool video;
    AVStream *st;
    int payload_type;
    unsigned clock_rate;
    struct es_rtp_h264 *h264;
    struct es_rtp_audio *audio;
    int64_t arrival_us; /* of the packet being pushed */

    bool have_ssrc;
    uint32_t ssrc;
    unsigned ssrc_changes; /* this connection's; logged at INFO only the first */
    struct es_rtp_seq seq;
    struct es_rtp_unwrap unwrap;
    bool have_base;
    int64_t base; /* unwrapped RTP time of pts 0 */
    bool have_start;
    uint32_t start; /* RTP-Info rtptime */
    bool have_last;
    int64_t last_pts, last_delta;
    bool have_sr;
    struct es_rtp_sender_report sr;
    struct es_rtp_stream_stats stats;
};

/* ---- Output ---- */

static void emit_unit(struct es_rtp_stream *s, const uint8_t *data, size_t size, uint32_t timestamp,
                      int64_t duration, bool key)
{
    int64_t pts = es_rtp_packet_unwrap(&s->unwrap, timestamp) - s->base;
    if (s->have_last && pts > s->last_pts)
        s->last_delta = pts - s->last_pts;
    s->have_last = true;
    s->last_pts = pts;

    AVPacket *pkt = av_packet_alloc();
    if (!pkt || av_new_packet(pkt, (int)size) < 0)
        abort();
    memcpy(pkt->data, data, size);
    pkt->pts = pkt->dts = pts;
    pkt->duration = duration;
    pkt->stream_index = s->config.stream_index;
    pkt->time_base = s->st->time_base;
    if (key)
        pkt->flags |= AV_PKT_FLAG_KEY;

    bool from_camera = s->have_sr && s->sr.ssrc == s->ssrc;
    int64_t capture_us =
        from_camera ? es_rtp_packet_wall_us(&s->sr, s->clock_rate, timestamp) : s->arrival_us;
    s->stats.units++;
    s->config.emit(s->config.opaque, pkt, capture_us, from_camera);
}

static void emit_video(void *opaque, const struct es_rtp_h264_au *au)
{
    emit_unit(opaque, au->data, au->size, au->timestamp, 0, au->key);
}

static void emit_audio(void *opaque, const struct es_rtp_audio_frame *f)
{
    emit_unit(opaque, f->data, f->size, f->timestamp, f->duration, false);
}

/* ---- Setup from SDP ---- */

static enum es_err setup_video(struct es_rtp_stream *s, const struct es_sdp_media *m,
                               const char **reason)
{
    if (strcasecmp(m->encoding, "H264") != 0) {
        *reason = "video_codec";
        return ES_ERR_UNSUPPORTED;
    }
    char value[64];
    if (m->fmtp && es_sdp_fmtp_get(m->fmtp, "packetization-mode", value, sizeof(value)) &&
        strtoul(value, NULL, 10) == 2) {
        *reason = "h264_interleaved_mode";
        return ES_ERR_UNSUPPORTED;
    }
    s->video = true;
    s->clock_rate = m->clock_rate ? m->clock_rate : 90000;
    s->h264 = es_rtp_h264_create(s->config.max_video_unit, emit_video, s);

    AVStream *st = s->st;
    st->time_base = (AVRational){1, (int)s->clock_rate};
    AVCodecParameters *par = st->codecpar;
    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->codec_id = AV_CODEC_ID_H264;
    if (m->framerate > 0)
        st->avg_frame_rate = av_d2q(m->framerate, 1000);
    char sprop[4096];
    uint8_t *extradata;
    size_t size;
    if (m->fmtp && es_sdp_fmtp_get(m->fmtp, "sprop-parameter-sets", sprop, sizeof(sprop)) &&
        es_rtp_h264_sprop_to_annexb(sprop, &extradata, &size) == ES_OK) {
        par->extradata = extradata;
        par->extradata_size = (int)size;
        struct es_rtp_h264_sps sps;
        if (es_rtp_h264_parse_sps(extradata, size, &sps) == ES_OK) {
            par->width = sps.width;
            par->height = sps.height;
            par->profile = sps.profile_idc;
            par->level = sps.level_idc;
        }
    }
    return ES_OK;
}

static enum es_err setup_aac(struct es_rtp_stream *s, const struct es_sdp_media *m,
                             const char **reason)
{
    uint8_t config[64];
    size_t config_size = 0;
    char hex[2 * sizeof(config) + 1];
    struct es_rtp_audio_asc asc;
    struct es_rtp_audio_aac_params params;
    if (!m->fmtp || !es_sdp_fmtp_get(m->fmtp, "config", hex, sizeof(hex)) ||
        es_rtp_audio_parse_config(hex, config, sizeof(config), &config_size, &asc) != ES_OK ||
        m->clock_rate == 0 ||
        es_rtp_audio_aac_params(m->fmtp, &asc, m->clock_rate, &params) != ES_OK) {
        *reason = "aac_parameters";
        return ES_ERR_UNSUPPORTED;
    }
    s->clock_rate = m->clock_rate;
    s->audio = es_rtp_audio_create(ES_RTP_AUDIO_AAC, &params, emit_audio, s);
    AVCodecParameters *par = s->st->codecpar;
    par->codec_id = AV_CODEC_ID_AAC;
    par->extradata = av_mallocz(config_size + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!par->extradata)
        abort();
    memcpy(par->extradata, config, config_size);
    par->extradata_size = (int)config_size;
    par->profile = asc.object_type - 1; /* FF_PROFILE_AAC_LOW is object type 2 */
    par->frame_size = asc.frame_length;
    /* Implicitly signalled SBR: the RTP clock runs at the output rate. */
    par->sample_rate =
        (int)m->clock_rate == 2 * asc.sample_rate ? (int)m->clock_rate : asc.sample_rate;
    int channels = asc.channels ? asc.channels : (m->channels ? (int)m->channels : 1);
    av_channel_layout_default(&par->ch_layout, channels);
    return ES_OK;
}

static enum es_err setup_audio(struct es_rtp_stream *s, const struct es_sdp_media *m,
                               const char **reason)
{
    AVCodecParameters *par = s->st->codecpar;
    par->codec_type = AVMEDIA_TYPE_AUDIO;
    if (strcasecmp(m->encoding, "MPEG4-GENERIC") == 0) {
        if (setup_aac(s, m, reason) != ES_OK)
            return ES_ERR_UNSUPPORTED;
    } else if (strcasecmp(m->encoding, "PCMU") == 0 || strcasecmp(m->encoding, "PCMA") == 0) {
        if (m->channels > 1) {
            *reason = "audio_channels";
            return ES_ERR_UNSUPPORTED;
        }
        bool mulaw = toupper((unsigned char)m->encoding[3]) == 'U';
        /* RFC 3551 section 4.5.14: 8000 Hz, one octet per sample. */
        s->clock_rate = 8000;
        s->audio =
            es_rtp_audio_create(mulaw ? ES_RTP_AUDIO_PCMU : ES_RTP_AUDIO_PCMA, NULL, emit_audio, s);
        par->codec_id = mulaw ? AV_CODEC_ID_PCM_MULAW : AV_CODEC_ID_PCM_ALAW;
        par->sample_rate = 8000;
        par->bits_per_coded_sample = 8;
        av_channel_layout_default(&par->ch_layout, 1);
    } else {
        *reason = "audio_codec";
        return ES_ERR_UNSUPPORTED;
    }
    s->st->time_base = (AVRational){1, (int)s->clock_rate};
    return ES_OK;
}

enum es_err es_rtp_stream_create(const struct es_rtp_stream_config *config,
                                 const struct es_sdp_media *m, AVStream *st, const char **reason,
                                 struct es_rtp_stream **out)
{
    *out = NULL;
    *reason = NULL;
    if (!strstr(m->proto, "RTP/AVP")) { /* RTP/SAVP (SRTP) and the like */
        *reason = "media_profile";
        return ES_ERR_UNSUPPORTED;
    }
    if (m->type != ES_SDP_VIDEO && m->type != ES_SDP_AUDIO) {
        *reason = "media_type";
        return ES_ERR_UNSUPPORTED;
    }
    struct es_rtp_stream *s = es_calloc(1, sizeof(*s));
    s->config = *config;
    s->st = st;
    s->payload_type = m->payload_type;
    enum es_err err =
        m->type == ES_SDP_VIDEO ? setup_video(s, m, reason) : setup_audio(s, m, reason);
    if (err != ES_OK) {
        es_rtp_stream_destroy(s);
        return err;
    }
    *out = s;
    return ES_OK;
}

void es_rtp_stream_destroy(struct es_rtp_stream *s)
{
    if (!s)
        return;
    es_rtp_h264_destroy(s->h264);
    es_rtp_audio_destroy(s->audio);
    free(s);
}

/* ---- Packets ---- */

void es_rtp_stream_set_start(struct es_rtp_stream *s, uint32_t rtptime)
{
    s->have_start = true;
    s->start = rtptime;
}

/* The first packet of a stream (or of a new SSRC) fixes where pts 0 lies. */
static void choose_base(struct es_rtp_stream *s, int64_t ts)
{
    if (s->have_last) {
        /* A new SSRC continues the timeline one frame after the last unit. */
        int64_t step = s->last_delta > 0 ? s->last_delta : (int64_t)s->clock_rate / 25;
        s->base = ts - (s->last_pts + step);
    } else if (s->have_start) {
        int64_t start = ts + (int32_t)(s->start - (uint32_t)ts);
        bool near = llabs(ts - start) <= (int64_t)s->clock_rate * MAX_RTPTIME_DISTANCE_S;
        s->base = near ? start : ts;
    } else {
        s->base = ts;
    }
    s->have_base = true;
}

static void restart(struct es_rtp_stream *s)
{
    if (s->h264)
        es_rtp_h264_reset(s->h264);
    else
        es_rtp_audio_reset(s->audio);
    memset(&s->seq, 0, sizeof(s->seq));
    memset(&s->unwrap, 0, sizeof(s->unwrap));
    s->have_base = false;
    s->have_sr = false;
}

bool es_rtp_stream_push_rtp(struct es_rtp_stream *s, const uint8_t *data, size_t size,
                            int64_t arrival_us)
{
    struct es_rtp_packet p;
    if (es_rtp_packet_parse(data, size, &p) != ES_OK || p.payload_type != s->payload_type)
        return false; /* e.g. comfort noise (payload type 13) beside G.711 */
    s->stats.rtp_packets++;
    s->arrival_us = arrival_us;
    if (s->have_ssrc && p.ssrc != s->ssrc) {
        /* RFC 3550 section 8.2: a new SSRC is a new source, whose timestamps
         * and sequence numbers have nothing to do with the old ones. */
        /* Said once per connection: garbage that happens to look like RTP
         * changes SSRC with nearly every packet. */
        s->ssrc_changes++;
        es_log(s->ssrc_changes == 1 ? ES_LOG_INFO : ES_LOG_DEBUG, COMPONENT,
               "camera=%s event=ssrc_changed stream=%s changes=%u", s->config.camera_id,
               s->video ? "video" : "audio", s->ssrc_changes);
        restart(s);
    }
    s->have_ssrc = true;
    s->ssrc = p.ssrc;
    enum es_rtp_seq_result seq = es_rtp_packet_check_seq(&s->seq, p.seq);
    if (seq == ES_RTP_SEQ_DUPLICATE)
        return true;
    bool lost = seq == ES_RTP_SEQ_GAP;
    if (lost) {
        s->stats.lost_packets++;
        es_log(ES_LOG_DEBUG, COMPONENT, "camera=%s event=rtp_loss stream=%s seq=%u",
               s->config.camera_id, s->video ? "video" : "audio", p.seq);
    }
    int64_t ts = es_rtp_packet_unwrap(&s->unwrap, p.timestamp);
    if (!s->have_base)
        choose_base(s, ts);
    if (s->h264)
        es_rtp_h264_push(s->h264, &p, lost);
    else
        es_rtp_audio_push(s->audio, &p, lost);
    return true;
}

void es_rtp_stream_push_rtcp(struct es_rtp_stream *s, const uint8_t *data, size_t size)
{
    struct es_rtp_sender_report sr;
    s->stats.rtcp_packets++;
    /* An NTP time of zero says the sender has no wall clock (RFC 3550 6.4.1). */
    if (es_rtp_packet_parse_sr(data, size, &sr) != ES_OK || sr.ntp == 0)
        return;
    if (!s->have_sr)
        es_log(ES_LOG_DEBUG, COMPONENT, "camera=%s event=first_sender_report stream=%s",
               s->config.camera_id, s->video ? "video" : "audio");
    s->sr = sr;
    s->have_sr = true;
}

struct es_rtp_stream_stats es_rtp_stream_stats(const struct es_rtp_stream *s)
{
    struct es_rtp_stream_stats st = s->stats;
    if (s->h264) {
        struct es_rtp_h264_stats h = es_rtp_h264_stats(s->h264);
        st.dropped_units = h.dropped_damaged + h.dropped_until_idr;
    } else {
        st.dropped_units = es_rtp_audio_dropped(s->audio);
    }
    return st;
}
