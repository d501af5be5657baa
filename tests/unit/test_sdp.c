/* Unit tests for src/source/sdp.c: session descriptions as cameras write them
 * (gst-rtsp-server verbatim; Hikvision, Axis and Dahua in their usual shape),
 * static payload types, fmtp lookup, control URL resolution, and hostile or
 * sloppy input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "source/sdp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What tests/tools/testcam.c (gst-rtsp-server 1.22) answers to DESCRIBE. */
static const char gst_sdp[] =
    "v=0\r\n"
    "o=- 2287815476789164139 1 IN IP4 127.0.0.1\r\n"
    "s=Session streamed with GStreamer\r\n"
    "i=rtsp-server\r\n"
    "t=0 0\r\n"
    "a=tool:GStreamer\r\n"
    "a=type:broadcast\r\n"
    "a=control:*\r\n"
    "a=range:npt=now-\r\n"
    "m=video 0 RTP/AVP 96\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "b=AS:2048\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=framerate:25\r\n"
    "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAH9oBQBbsBagICAoAAAMAAgAAAwBlHjBlQA=="
    ",aM48gA==;profile-level-id=42c01f;level-asymmetry-allowed=1\r\n"
    "a=control:stream=0\r\n"
    "a=ts-refclk:local\r\n"
    "a=mediaclk:sender\r\n"
    "a=ssrc:1580793708 cname:user2584088175@host-c7f2c908\r\n"
    "m=audio 0 RTP/AVP 97\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtpmap:97 MPEG4-GENERIC/48000/2\r\n"
    "a=fmtp:97 streamtype=5;profile-level-id=2;mode=AAC-hbr;config=119056e500;sizelength=13;"
    "indexlength=3;indexdeltalength=3\r\n"
    "a=control:stream=1\r\n"
    "a=ts-refclk:local\r\n"
    "a=mediaclk:sender\r\n"
    "a=ssrc:1620985798 cname:user2584088175@host-c7f2c908\r\n";

/* Hikvision: absolute control URLs with a query, G.711 A-law by static type. */
static const char hikvision_sdp[] =
    "v=0\r\n"
    "o=- 1109162014219182 1109162014219192 IN IP4 192.168.1.64\r\n"
    "s=Media Presentation\r\n"
    "e=NONE\r\n"
    "b=AS:5050\r\n"
    "t=0 0\r\n"
    "a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/?transportmode=unicast\r\n"
    "m=video 0 RTP/AVP 96\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "b=AS:5000\r\n"
    "a=recvonly\r\n"
    "a=x-dimensions:1920,1080\r\n"
    "a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 profile-level-id=420029; packetization-mode=1; "
    "sprop-parameter-sets=Z2QAKKzZQHgCJ+XARAAAAwAEAAADAMg8YMZY,aO48gA==\r\n"
    "m=audio 0 RTP/AVP 8\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "b=AS:50\r\n"
    "a=recvonly\r\n"
    "a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=2?transportmode=unicast\r\n"
    "a=Media_header:MEDIAINFO=494D4B48010100000400010010710110401F000000FA000000000000000000;\r\n"
    "a=appversion:1.0\r\n";

/* Axis: LF line ends, 16 kHz mono AAC, fractional frame rate. */
static const char axis_sdp[] =
    "v=0\n"
    "o=- 1234567890 1 IN IP4 192.168.0.90\n"
    "s=Session streamed with GStreamer\n"
    "t=0 0\n"
    "a=range:npt=now-\n"
    "a=control:rtsp://192.168.0.90/axis-media/media.amp?videocodec=h264\n"
    "m=video 0 RTP/AVP 96\n"
    "c=IN IP4 0.0.0.0\n"
    "a=rtpmap:96 H264/90000\n"
    "a=fmtp:96 packetization-mode=1;profile-level-id=4d0029;"
    "sprop-parameter-sets=Z01AHuygUBf8uAiAAAADAIAAABkHixbL,aO48gA==\n"
    "a=control:rtsp://192.168.0.90/axis-media/media.amp/stream=0?videocodec=h264\n"
    "a=framerate:29.970000\n"
    "a=transform:1,0,0;0,1,0;0,0,1\n"
    "m=audio 0 RTP/AVP 97\n"
    "c=IN IP4 0.0.0.0\n"
    "a=rtpmap:97 MPEG4-GENERIC/16000/1\n"
    "a=fmtp:97 streamtype=5; profile-level-id=15; mode=AAC-hbr; config=1408; sizeLength=13; "
    "indexLength=3; indexDeltaLength=3; profile=1; bitrate=32000;\n"
    "a=control:rtsp://192.168.0.90/axis-media/media.amp/stream=1?videocodec=h264\n"
    "m=application 0 RTP/AVP 98\n"
    "a=rtpmap:98 vnd.onvif.metadata/90000\n"
    "a=control:rtsp://192.168.0.90/axis-media/media.amp/stream=2?videocodec=h264\n";

/* Dahua: relative controls to be appended to a Content-Base with a query. */
static const char dahua_sdp[] = "v=0\r\n"
                                "o=- 2251938203 2251938203 IN IP4 0.0.0.0\r\n"
                                "s=Media Server\r\n"
                                "c=IN IP4 0.0.0.0\r\n"
                                "t=0 0\r\n"
                                "a=control:*\r\n"
                                "a=packetization-supported:DH\r\n"
                                "a=rtppayload-supported:DH\r\n"
                                "a=range:npt=now-\r\n"
                                "m=video 0 RTP/AVP 96\r\n"
                                "a=control:trackID=0\r\n"
                                "a=framerate:25.000000\r\n"
                                "a=rtpmap:96 H264/90000\r\n"
                                "a=fmtp:96 packetization-mode=1;profile-level-id=4D002A;"
                                "sprop-parameter-sets=Z01AHuygUBf8uAiAAAADAIAAABkHixbL,aO48gA==\r\n"
                                "a=recvonly\r\n"
                                "m=audio 0 RTP/AVP 0\r\n"
                                "a=control:trackID=1\r\n"
                                "a=recvonly\r\n";

static void parse_ok(const char *text, struct es_sdp *sdp)
{
    assert_int_equal(es_sdp_parse(text, strlen(text), sdp), ES_OK);
}

static void test_sdp_of_gst_rtsp_server_gives_h264_and_aac(void **state)
{
    (void)state;
    struct es_sdp sdp;
    parse_ok(gst_sdp, &sdp);
    assert_string_equal(sdp.control, "*");
    assert_int_equal(sdp.media_count, 2);
    const struct es_sdp_media *v = &sdp.media[0], *a = &sdp.media[1];
    assert_int_equal(v->type, ES_SDP_VIDEO);
    assert_string_equal(v->proto, "RTP/AVP");
    assert_int_equal(v->payload_type, 96);
    assert_string_equal(v->encoding, "H264");
    assert_int_equal(v->clock_rate, 90000);
    assert_string_equal(v->control, "stream=0");
    assert_true(v->framerate == 25.0);
    char value[256];
    assert_true(es_sdp_fmtp_get(v->fmtp, "sprop-parameter-sets", value, sizeof(value)));
    assert_string_equal(value, "Z0LAH9oBQBbsBagICAoAAAMAAgAAAwBlHjBlQA==,aM48gA==");
    assert_true(es_sdp_fmtp_get(v->fmtp, "packetization-mode", value, sizeof(value)));
    assert_string_equal(value, "1");
    assert_int_equal(a->type, ES_SDP_AUDIO);
    assert_string_equal(a->encoding, "MPEG4-GENERIC");
    assert_int_equal(a->clock_rate, 48000);
    assert_int_equal(a->channels, 2);
    assert_true(es_sdp_fmtp_get(a->fmtp, "config", value, sizeof(value)));
    assert_string_equal(value, "119056e500");
    es_sdp_clear(&sdp);
}

static void test_sdp_of_hikvision_gives_absolute_controls_and_static_pcma(void **state)
{
    (void)state;
    struct es_sdp sdp;
    parse_ok(hikvision_sdp, &sdp);
    assert_string_equal(sdp.control,
                        "rtsp://192.168.1.64:554/Streaming/Channels/101/?transportmode=unicast");
    assert_int_equal(sdp.media_count, 2);
    char url[512];
    assert_true(es_sdp_resolve_control("rtsp://192.168.1.64:554/Streaming/Channels/101/",
                                       sdp.media[0].control, url, sizeof(url)));
    assert_string_equal(
        url, "rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast");
    char value[64];
    /* Parameters separated by "; " still match. */
    assert_true(es_sdp_fmtp_get(sdp.media[0].fmtp, "packetization-mode", value, sizeof(value)));
    assert_string_equal(value, "1");
    const struct es_sdp_media *a = &sdp.media[1];
    assert_int_equal(a->payload_type, 8);
    assert_string_equal(a->encoding, "PCMA"); /* no rtpmap: RFC 3551 static type */
    assert_int_equal(a->clock_rate, 8000);
    assert_int_equal(a->channels, 1);
    assert_null(a->fmtp);
    es_sdp_clear(&sdp);
}

static void test_sdp_of_axis_reads_lf_lines_mixed_case_fmtp_and_ignores_metadata(void **state)
{
    (void)state;
    struct es_sdp sdp;
    parse_ok(axis_sdp, &sdp);
    assert_int_equal(sdp.media_count, 3);
    assert_true(sdp.media[0].framerate > 29.96 && sdp.media[0].framerate < 29.98);
    assert_int_equal(sdp.media[1].clock_rate, 16000);
    assert_int_equal(sdp.media[1].channels, 1);
    char value[64];
    assert_true(es_sdp_fmtp_get(sdp.media[1].fmtp, "sizelength", value, sizeof(value)));
    assert_string_equal(value, "13");
    assert_true(es_sdp_fmtp_get(sdp.media[1].fmtp, "bitrate", value, sizeof(value)));
    assert_string_equal(value, "32000");
    assert_int_equal(sdp.media[2].type, ES_SDP_OTHER);
    assert_string_equal(sdp.media[2].encoding, "vnd.onvif.metadata");
    es_sdp_clear(&sdp);
}

static void test_sdp_of_dahua_resolves_relative_controls_after_a_query_base(void **state)
{
    (void)state;
    struct es_sdp sdp;
    parse_ok(dahua_sdp, &sdp);
    const char *base = "rtsp://10.0.0.8:554/cam/realmonitor?channel=1&subtype=0/";
    char url[512];
    assert_true(es_sdp_resolve_control(base, sdp.control, url, sizeof(url)));
    assert_string_equal(url, base);
    assert_true(es_sdp_resolve_control(base, sdp.media[0].control, url, sizeof(url)));
    assert_string_equal(url, "rtsp://10.0.0.8:554/cam/realmonitor?channel=1&subtype=0/trackID=0");
    assert_string_equal(sdp.media[1].encoding, "PCMU");
    es_sdp_clear(&sdp);
}

static void test_control_urls_resolve_against_bases_with_and_without_a_slash(void **state)
{
    (void)state;
    char url[64];
    assert_true(es_sdp_resolve_control("rtsp://h/live", "track1", url, sizeof(url)));
    assert_string_equal(url, "rtsp://h/live/track1");
    assert_true(es_sdp_resolve_control("rtsp://h/live/", "/track1", url, sizeof(url)));
    assert_string_equal(url, "rtsp://h/live/track1");
    assert_true(es_sdp_resolve_control("rtsp://h/live", NULL, url, sizeof(url)));
    assert_string_equal(url, "rtsp://h/live");
    assert_true(es_sdp_resolve_control("rtsp://h/live", "RTSP://other/x", url, sizeof(url)));
    assert_string_equal(url, "RTSP://other/x");
    assert_false(es_sdp_resolve_control("rtsp://h/live",
                                        "a-very-long-control-that-cannot-fit-"
                                        "into-the-buffer",
                                        url, sizeof(url)));
}

static void test_sdp_without_a_version_line_is_rejected(void **state)
{
    (void)state;
    struct es_sdp sdp;
    const char *text = "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
    assert_int_equal(es_sdp_parse(text, strlen(text), &sdp), ES_ERR_INVALID);
    assert_int_equal(sdp.media_count, 0);
    assert_int_equal(es_sdp_parse(text, ES_SDP_MAX_SIZE + 1, &sdp), ES_ERR_INVALID);
    es_sdp_clear(&sdp);
}

static void test_sdp_tolerates_sloppy_lines_and_keeps_the_first_rtpmap_of_its_type(void **state)
{
    (void)state;
    const char text[] = "v=0\r\n"
                        "garbage without equals\r\n"
                        "m=video\r\n"                /* no port, proto or format */
                        "a=rtpmap:96 H264/90000\r\n" /* no payload type to match */
                        "m=video 0 RTP/AVP 96 97\r\n"
                        "a=rtpmap:97 H265/90000\r\n"   /* another format: ignored */
                        "a=rtpmap:96 H264/0\r\n"       /* zero clock: ignored */
                        "a=rtpmap:96 H264\r\n"         /* no clock: ignored */
                        "a=rtpmap:96 h264/90000/x\r\n" /* bad channels: 0 */
                        "a=fmtp:97 profile=1\r\n"      /* other format's fmtp */
                        "a=framerate:-5\r\n"
                        "a=control:\r\n"
                        "m=audio 0 RTP/AVP 300\r\n" /* not a payload type */
                        "a=x\0y=1\r\n";
    struct es_sdp sdp;
    assert_int_equal(es_sdp_parse(text, sizeof(text) - 1, &sdp), ES_OK);
    assert_int_equal(sdp.media_count, 3);
    assert_int_equal(sdp.media[0].payload_type, -1);
    const struct es_sdp_media *v = &sdp.media[1];
    assert_string_equal(v->encoding, "h264");
    assert_int_equal(v->clock_rate, 90000);
    assert_int_equal(v->channels, 0);
    assert_null(v->fmtp);
    assert_true(v->framerate == 0);
    assert_string_equal(v->control, "");
    assert_int_equal(sdp.media[2].payload_type, -1);
    es_sdp_clear(&sdp);
}

static void test_sdp_keeps_the_first_sixteen_media(void **state)
{
    (void)state;
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof(text), "v=0\r\n");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n,
                              "m=audio 0 RTP/AVP 0\r\na=control:track%d\r\n", i);
    struct es_sdp sdp;
    assert_int_equal(es_sdp_parse(text, n, &sdp), ES_OK);
    assert_int_equal(sdp.media_count, ES_SDP_MAX_MEDIA);
    assert_string_equal(sdp.media[ES_SDP_MAX_MEDIA - 1].control, "track15");
    es_sdp_clear(&sdp);
}

static void test_fmtp_lookup_matches_whole_keys_only(void **state)
{
    (void)state;
    char value[8];
    const char *fmtp = "xconfig=1; config = 12 ;mode=AAC-hbr;flag";
    assert_true(es_sdp_fmtp_get(fmtp, "CONFIG", value, sizeof(value)));
    assert_string_equal(value, "12");
    assert_false(es_sdp_fmtp_get(fmtp, "flag", value, sizeof(value)));
    assert_false(es_sdp_fmtp_get(fmtp, "conf", value, sizeof(value)));
    assert_true(es_sdp_fmtp_get("mode=AAC-hbr-long-value", "mode", value, sizeof(value)));
    assert_string_equal(value, "AAC-hbr"); /* truncated to the buffer */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sdp_of_gst_rtsp_server_gives_h264_and_aac),
        cmocka_unit_test(test_sdp_of_hikvision_gives_absolute_controls_and_static_pcma),
        cmocka_unit_test(test_sdp_of_axis_reads_lf_lines_mixed_case_fmtp_and_ignores_metadata),
        cmocka_unit_test(test_sdp_of_dahua_resolves_relative_controls_after_a_query_base),
        cmocka_unit_test(test_control_urls_resolve_against_bases_with_and_without_a_slash),
        cmocka_unit_test(test_sdp_without_a_version_line_is_rejected),
        cmocka_unit_test(test_sdp_tolerates_sloppy_lines_and_keeps_the_first_rtpmap_of_its_type),
        cmocka_unit_test(test_sdp_keeps_the_first_sixteen_media),
        cmocka_unit_test(test_fmtp_lookup_matches_whole_keys_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
