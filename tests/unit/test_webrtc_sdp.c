/* Unit tests for src/webrtc/sdp_whep.c: a Chrome-shaped WHEP offer parsed
 * (H.264 payload type with packetization-mode=1 in constrained baseline,
 * Opus, ICE credentials, fingerprint), the answer written per
 * reference/webrtc-rules.md §2, and malformed or codec-less offers refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "webrtc/sdp_whep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FP                                                                                         \
    "sha-256 "                                                                                     \
    "0a:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:"   \
    "E8:F9"

/* Abridged from Chromium 120's offer for recvonly video + audio transceivers. */
static const char chrome_offer[] =
    "v=0\r\n"
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=msid-semantic: WMS\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 127 125\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:Ab1+\r\n"
    "a=ice-pwd:abcdefghijklmnopqrstuv/+\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:" FP "\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:toffset\r\n"
    "a=recvonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rtcp-fb:96 nack pli\r\n"
    "a=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=96\r\n"
    "a=rtpmap:102 H264/90000\r\n"
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n"
    "a=rtpmap:103 rtx/90000\r\n"
    "a=fmtp:103 apt=102\r\n"
    "a=rtpmap:104 H264/90000\r\n"
    "a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f\r\n"
    "a=rtpmap:106 H264/90000\r\n"
    "a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
    "a=rtpmap:108 H264/90000\r\n"
    "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r\n"
    "a=rtpmap:127 H264/90000\r\n"
    "a=fmtp:127 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f\r\n"
    "a=rtpmap:125 H264/90000\r\n"
    "a=fmtp:125 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:Ab1+\r\n"
    "a=ice-pwd:abcdefghijklmnopqrstuv/+\r\n"
    "a=fingerprint:" FP "\r\n"
    "a=setup:actpass\r\n"
    "a=mid:1\r\n"
    "a=recvonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtpmap:0 PCMU/8000\r\n";

static char *replace(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return out;
}

static enum es_err parse(const char *sdp, struct es_sdp_offer *offer)
{
    return es_sdp_offer_parse(sdp, strlen(sdp), offer);
}

static void test_sdp_parses_chrome_offer_and_picks_constrained_baseline(void **state)
{
    (void)state;
    struct es_sdp_offer o;
    assert_int_equal(parse(chrome_offer, &o), ES_OK);
    assert_int_equal(o.media_count, 2);
    assert_int_equal(o.video, 0);
    assert_int_equal(o.audio, 1);
    assert_int_equal(o.media[0].h264_pt, 106); /* 42e01f, mode 1 (not 108: mode 0) */
    assert_string_equal(o.media[0].h264_profile_level_id, "42e01f");
    assert_true(o.media[0].rtcp_rsize);
    assert_int_equal(o.media[1].opus_pt, 111);
    assert_string_equal(o.media[0].mid, "0");
    assert_string_equal(o.ice_ufrag, "Ab1+");
    assert_string_equal(o.ice_pwd, "abcdefghijklmnopqrstuv/+");
    assert_string_equal(o.fingerprint, "0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:"
                                       "0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9");
}

static void test_sdp_takes_plain_baseline_when_no_constrained_one_is_offered(void **state)
{
    (void)state;
    char *a = replace(chrome_offer, "profile-level-id=42e01f\r\na=rtpmap:108",
                      "profile-level-id=640c1f\r\na=rtpmap:108");
    struct es_sdp_offer o;
    assert_int_equal(parse(a, &o), ES_OK);
    assert_int_equal(o.media[0].h264_pt, 102);
    assert_string_equal(o.media[0].h264_profile_level_id, "42001f");
    free(a);
}

static void test_sdp_answer_follows_the_rules(void **state)
{
    (void)state;
    struct es_sdp_offer o;
    assert_int_equal(parse(chrome_offer, &o), ES_OK);
    const char *hosts[] = {"127.0.0.1"};
    struct es_sdp_answer_params p = {
        .ice_ufrag = "UFRAG123",
        .ice_pwd = "abcdefghijklmnopqrstuvwx",
        .fingerprint = "AA:BB",
        .hosts = hosts,
        .host_count = 1,
        .port = 8189,
        .video_ssrc = 12345,
        .audio_ssrc = 67890,
        .cname = "edgestream",
        .stream_id = "cam1",
        .session_version = 1,
    };
    char *a = es_sdp_answer_write(&o, &p);
    assert_true(strncmp(a, "v=0\r\n", 5) == 0);
    assert_non_null(strstr(a, "\r\na=ice-lite\r\n"));
    assert_non_null(strstr(a, "a=group:BUNDLE 0 1\r\n"));
    /* m-lines in the offer's order, same mids, offered payload types. */
    const char *video = strstr(a, "m=video 9 UDP/TLS/RTP/SAVPF 106\r\n");
    const char *audio = strstr(a, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
    assert_non_null(video);
    assert_non_null(audio);
    assert_true(video < audio);
    assert_non_null(strstr(video, "a=mid:0\r\na=sendonly\r\na=rtcp-mux\r\na=rtcp-rsize\r\n"));
    assert_non_null(strstr(a, "a=setup:passive\r\n"));
    assert_non_null(strstr(a, "a=ice-ufrag:UFRAG123\r\n"));
    assert_non_null(strstr(a, "a=fingerprint:sha-256 AA:BB\r\n"));
    assert_non_null(strstr(a, "a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;"
                              "profile-level-id=42e01f\r\n"));
    assert_non_null(strstr(a, "a=rtcp-fb:106 nack pli\r\n"));
    assert_non_null(strstr(a, "a=rtcp-fb:106 ccm fir\r\n"));
    assert_non_null(strstr(a, "a=ssrc:12345 cname:edgestream\r\n"));
    assert_non_null(strstr(a, "a=msid:cam1 cam1-video\r\n"));
    assert_non_null(strstr(a, "a=candidate:1 1 udp 2130706431 127.0.0.1 8189 typ host\r\n"));
    assert_non_null(strstr(a, "a=end-of-candidates\r\n"));
    /* Opus (RFC 7587 §7): opus/48000/2, its own SSRC in the same stream. */
    assert_non_null(strstr(audio, "a=mid:1\r\na=sendonly\r\n"));
    assert_non_null(strstr(audio, "a=rtpmap:111 opus/48000/2\r\n"));
    assert_non_null(strstr(audio, "a=fmtp:111 minptime=10;useinbandfec=1\r\n"));
    assert_non_null(strstr(audio, "a=msid:cam1 cam1-audio\r\n"));
    assert_non_null(strstr(audio, "a=ssrc:67890 cname:edgestream\r\n"));
    /* No NACK without a resend ring. */
    assert_null(strstr(a, "nack\r\n"));
    free(a);
}

static void test_sdp_answer_rejects_data_channel_with_port_zero(void **state)
{
    (void)state;
    char *offer = replace(chrome_offer, "a=group:BUNDLE 0 1\r\n", "a=group:BUNDLE 0 1 2\r\n");
    size_t n = strlen(offer) + 256;
    offer = realloc(offer, n);
    strcat(offer, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n");
    struct es_sdp_offer o;
    assert_int_equal(parse(offer, &o), ES_OK);
    const char *hosts[] = {"10.0.0.1", "10.0.0.2"};
    struct es_sdp_answer_params p = {
        "ufra", "abcdefghijklmnopqrstuvwx", "AA", hosts, 2, 9, 1, 2, "c", "s", 1, 8189};
    char *a = es_sdp_answer_write(&o, &p);
    assert_non_null(strstr(a, "a=group:BUNDLE 0 1\r\n"));
    assert_non_null(strstr(a, "m=application 0 UDP/DTLS/SCTP 0\r\n"));
    assert_non_null(strstr(a, "a=candidate:2 1 udp 2130706430 10.0.0.2 9 typ host\r\n"));
    /* ICE-TCP (RFC 6544): a passive candidate per host, below every UDP one,
     * before a=end-of-candidates. */
    const char *tcp1 = strstr(a, "a=candidate:101 1 tcp 2124414975 10.0.0.1 8189 typ host "
                                 "tcptype passive\r\n");
    const char *tcp2 = strstr(a, "a=candidate:102 1 tcp 2124414974 10.0.0.2 8189 typ host "
                                 "tcptype passive\r\n");
    assert_non_null(tcp1);
    assert_non_null(tcp2);
    assert_true(strstr(a, "a=candidate:2 1 udp") < tcp1);
    assert_true(tcp2 < strstr(tcp2, "a=end-of-candidates\r\n"));
    free(a);
    free(offer);
}

static void expect_invalid(const char *from, const char *to)
{
    char *s = replace(chrome_offer, from, to);
    struct es_sdp_offer o;
    assert_int_equal(parse(s, &o), ES_ERR_INVALID);
    free(s);
}

static void test_sdp_refuses_malformed_offers(void **state)
{
    (void)state;
    struct es_sdp_offer o;
    assert_int_equal(es_sdp_offer_parse("", 0, &o), ES_ERR_INVALID);
    assert_int_equal(parse("hello world", &o), ES_ERR_INVALID);
    assert_int_equal(parse("v=0\r\n", &o), ES_ERR_INVALID); /* no m-line */
    expect_invalid("v=0\r\n", "v=1\r\n");
    expect_invalid("a=ice-ufrag:Ab1+\r\n", "a=ice-ufrag:A\r\n"); /* < 4 chars */
    expect_invalid("a=ice-pwd:abcdefghijklmnopqrstuv/+\r\na=ice-options",
                   "a=ice-pwd:short\r\na=ice-options"); /* < 22 chars */
    expect_invalid("a=mid:0\r\n", "");                  /* BUNDLE needs mids */
    expect_invalid("a=mid:1\r\n", "a=mid:0\r\n");       /* duplicate mid */
    expect_invalid("a=setup:actpass\r\na=mid:0", "a=setup:passive\r\na=mid:0");
    expect_invalid("s=-\r\n", "s=\x01\r\n"); /* control byte */
    expect_invalid("a=rtpmap:102 H264/90000", "a=rtpmap:999 H264/90000");
    expect_invalid("m=audio 9 UDP", "m=audio x UDP");
    /* No usable fingerprint anywhere. */
    char *s = replace(chrome_offer, "a=fingerprint:" FP "\r\na=setup:actpass\r\na=mid:0",
                      "a=setup:actpass\r\na=mid:0");
    char *t = replace(s, "a=fingerprint:" FP "\r\n", "a=fingerprint:sha-1 00:11\r\n");
    assert_int_equal(parse(t, &o), ES_ERR_INVALID);
    free(s);
    free(t);
    /* Too many m-lines. */
    size_t n = strlen(chrome_offer) + 64 * 16;
    char *many = malloc(n);
    snprintf(many, n, "%s", chrome_offer);
    for (int i = 0; i < 8; i++) {
        char line[64];
        snprintf(line, sizeof(line), "m=application 9 X Y\r\na=mid:x%d\r\n", i);
        strcat(many, line);
    }
    assert_int_equal(parse(many, &o), ES_ERR_INVALID);
    free(many);
}

/* Passthrough: the camera's own profile decides (RFC 6184 §8.1). */
static void test_sdp_passthrough_picks_the_format_the_camera_fits(void **state)
{
    (void)state;
    struct es_sdp_offer o;
    assert_int_equal(parse(chrome_offer, &o), ES_OK);
    struct es_sdp_media *v = &o.media[o.video];
    /* A High 4.0 camera: Chrome's 640c1f fits (no constraint flag the stream
     * lacks); the answer names the camera's own value. */
    assert_true(es_sdp_choose_h264(v, "640028"));
    assert_int_equal(v->h264_pt, 125);
    assert_string_equal(v->h264_profile_level_id, "640028");
    /* Main (4d0028): 127 (4d001f). */
    assert_true(es_sdp_choose_h264(v, "4D0028"));
    assert_int_equal(v->h264_pt, 127);
    assert_string_equal(v->h264_profile_level_id, "4d0028");
    /* Constrained baseline fits the first baseline format in mode 1 (102). */
    assert_true(es_sdp_choose_h264(v, "42e01e"));
    assert_int_equal(v->h264_pt, 102);
    /* High 10 (6e): nothing offered fits. */
    assert_false(es_sdp_choose_h264(v, "6e0028"));
    assert_false(es_sdp_choose_h264(v, "bad"));
}

static void test_sdp_offer_without_usable_h264_is_unsupported(void **state)
{
    (void)state;
    static const char vp8_only[] =
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
        "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
        "a=fingerprint:" FP "\r\na=setup:actpass\r\na=mid:0\r\na=recvonly\r\n"
        "a=rtpmap:96 VP8/90000\r\n";
    struct es_sdp_offer o;
    assert_int_equal(parse(vp8_only, &o), ES_ERR_UNSUPPORTED);
    /* H.264 in packetization-mode 0 only, or only High profile. */
    char *mode0 = replace(vp8_only, "a=rtpmap:96 VP8/90000\r\n",
                          "a=rtpmap:96 H264/90000\r\na=fmtp:96 profile-level-id=42e01f\r\n");
    assert_int_equal(parse(mode0, &o), ES_ERR_UNSUPPORTED);
    /* Only High: parsed (a passthrough camera may fit it), but nothing x264's
     * constrained baseline output could be sent as. */
    char *high = replace(vp8_only, "a=rtpmap:96 VP8/90000\r\n",
                         "a=rtpmap:96 H264/90000\r\n"
                         "a=fmtp:96 packetization-mode=1;profile-level-id=640c1f\r\n");
    assert_int_equal(parse(high, &o), ES_OK);
    assert_int_equal(o.video, 0);
    assert_int_equal(o.media[0].h264_pt, -1);
    char *good = replace(vp8_only, "a=rtpmap:96 VP8/90000\r\n",
                         "a=rtpmap:96 H264/90000\r\n"
                         "a=fmtp:96 packetization-mode=1;profile-level-id=42E01F\r\n");
    assert_int_equal(parse(good, &o), ES_OK);
    assert_string_equal(o.media[0].h264_profile_level_id, "42e01f");
    /* Audio only. */
    char *sendonly = replace(good, "a=recvonly", "a=sendonly");
    assert_int_equal(parse(sendonly, &o), ES_ERR_UNSUPPORTED);
    free(mode0);
    free(high);
    free(good);
    free(sendonly);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sdp_parses_chrome_offer_and_picks_constrained_baseline),
        cmocka_unit_test(test_sdp_takes_plain_baseline_when_no_constrained_one_is_offered),
        cmocka_unit_test(test_sdp_answer_follows_the_rules),
        cmocka_unit_test(test_sdp_answer_rejects_data_channel_with_port_zero),
        cmocka_unit_test(test_sdp_refuses_malformed_offers),
        cmocka_unit_test(test_sdp_offer_without_usable_h264_is_unsupported),
        cmocka_unit_test(test_sdp_passthrough_picks_the_format_the_camera_fits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
