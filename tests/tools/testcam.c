/*
 * es-testcam: a live RTSP test camera for edgestream's integration tests.
 *
 * Serves a live H.264 test pattern (moving SMPTE bars with the wall-clock time,
 * milliseconds included, burned in) plus an AAC sine tone at
 * rtsp://<bind>:<port><path>, built on gst-rtsp-server. The media is shared,
 * so any number of clients cost one encoder. Only RTP-over-RTSP (interleaved
 * TCP) is offered, so nothing listens beyond the bind address.
 *
 * The capture time is also burned in as a machine-readable block code, so
 * that a player's glass-to-glass delay can be read from the decoded frame
 * (web/e2e/lib/clock.mjs in a browser, tests/tools/clockcode.py for stills).
 * Layout (all decoders follow it; change them together):
 *   - The frame is divided into a grid of 32 columns x 18 rows of cells
 *     (40x40 px at 1280x720, ~26.7 px at 854x480: relative, so a scaled copy
 *     decodes with no knowledge of the source size). The code fills the two
 *     bottom rows (16 and 17): 64 cells, row 16 left to right, then row 17.
 *   - A cell is one flat luma level with neutral chroma: white (Y 235) is 1,
 *     black (Y 16) is 0. Read the mean of a cell's centre half and compare it
 *     with the midpoint of the reference cells.
 *   - cells 0..3: 1 0 1 0, the sync and the white/black references;
 *     cells 4..45: the capture time in ms since the Unix epoch, 42 bits, most
 *     significant first; cells 46..61: CRC-16/CCITT-FALSE (poly 0x1021, init
 *     0xFFFF) of that time as 6 bytes big-endian; cells 62..63: 0 1 (the end).
 *   - The time is the one the text shows (same g_get_real_time() call, taken
 *     as the frame passes the overlay, i.e. its capture within a ms or two).
 *
 * Prints exactly one line "ready rtsp://<bind>:<port><path>" on stdout once
 * the server socket is listening (with --port 0 the kernel picks the port and
 * the line names it), and exits with status 0 on SIGTERM or SIGINT; with
 * status 3 at once when a GStreamer element it needs is missing.
 * Each PLAY of a client's session is one stderr line, "session <id> play
 * <path>" (tests count a camera's RTSP sessions by them).
 */
#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <gst/video/video.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct testcam_options {
    int port;
    const char *path;
    const char *bind;
    int width;
    int height;
    int fps;
    int gop;
    int bitrate_kbps;
    gboolean audio;
    const char *audio_codec; /* "aac" (default), "pcmu" or "pcma" (G.711) */
    gboolean list_elements;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: es-testcam [--port N] [--path /cam1] [--bind 127.0.0.1]\n"
            "                  [--width 1280] [--height 720] [--fps 25] [--gop 50]\n"
            "                  [--bitrate KBPS] [--no-audio] [--audio-codec aac|pcmu|pcma]\n"
            "       es-testcam --list-elements\n"
            "Serves a live H.264 (+ AAC) test pattern over RTSP (TCP only).\n"
            "Prints 'ready rtsp://HOST:PORT/PATH' once listening; --port 0 picks a\n"
            "free port. Stops cleanly on SIGTERM/SIGINT. Exits 3 at once, naming the\n"
            "element and its Debian package, when a GStreamer element is missing.\n"
            "--list-elements prints each element it uses: name, package, plugin file.\n");
}

static int parse_int(const char *flag, const char *value, int min, int max, int *out)
{
    char *end = NULL;
    long v;

    if (value == NULL) {
        fprintf(stderr, "es-testcam: %s needs a value\n", flag);
        return -1;
    }
    v = strtol(value, &end, 10);
    if (end == value || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "es-testcam: %s must be an integer in [%d, %d], got '%s'\n", flag,
                min, max, value);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, struct testcam_options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--no-audio") == 0) {
            o->audio = FALSE;
            continue;
        } else if (strcmp(a, "--audio-codec") == 0) {
            /* G.711 as many cameras send it: 8 kHz mono, static payload
             * types 0 (PCMU) and 8 (PCMA), RFC 3551. */
            if (v == NULL ||
                (strcmp(v, "aac") != 0 && strcmp(v, "pcmu") != 0 && strcmp(v, "pcma") != 0)) {
                fprintf(stderr, "es-testcam: --audio-codec must be aac, pcmu or pcma\n");
                return -1;
            }
            o->audio_codec = v;
            i++;
            continue;
        } else if (strcmp(a, "--list-elements") == 0) {
            o->list_elements = TRUE;
            continue;
        } else if (strcmp(a, "--port") == 0) {
            rc = parse_int(a, v, 0, 65535, &o->port);
        } else if (strcmp(a, "--width") == 0) {
            rc = parse_int(a, v, 16, 7680, &o->width);
        } else if (strcmp(a, "--height") == 0) {
            rc = parse_int(a, v, 16, 4320, &o->height);
        } else if (strcmp(a, "--fps") == 0) {
            rc = parse_int(a, v, 1, 120, &o->fps);
        } else if (strcmp(a, "--gop") == 0) {
            rc = parse_int(a, v, 1, 1000, &o->gop);
        } else if (strcmp(a, "--bitrate") == 0) {
            rc = parse_int(a, v, 50, 100000, &o->bitrate_kbps);
        } else if (strcmp(a, "--path") == 0) {
            if (v == NULL || v[0] != '/' || strchr(v, ' ') != NULL) {
                fprintf(stderr, "es-testcam: --path must start with '/'\n");
                return -1;
            }
            o->path = v;
        } else if (strcmp(a, "--bind") == 0) {
            if (v == NULL) {
                fprintf(stderr, "es-testcam: --bind needs an address\n");
                return -1;
            }
            o->bind = v;
        } else {
            fprintf(stderr, "es-testcam: unknown argument '%s'\n", a);
            usage(stderr);
            return -1;
        }
        if (rc != 0)
            return -1;
        i++; /* consumed the value */
    }
    if (o->width % 2 != 0 || o->height % 2 != 0) {
        fprintf(stderr, "es-testcam: --width and --height must be even\n");
        return -1;
    }
    return 0;
}

/* Every GStreamer element the pipeline below names, with the Debian package
 * that ships it. They are looked up once at start, so a missing plugin is one
 * clear line and exit status 3 instead of a camera that answers DESCRIBE with
 * 503 and a test that times out a minute later. The AAC encoder may be any one
 * of its alternatives; the first is the one scripts/deps.sh installs. Keep the
 * packages in step with scripts/deps.sh: tests/integration/test_deps.py checks
 * both against dpkg. */
struct testcam_element {
    const char *name;
    const char *package;
    gboolean audio; /* needed only with audio on */
};

static const struct testcam_element video_elements[] = {
    {"videotestsrc", "gstreamer1.0-plugins-base", FALSE},
    {"textoverlay", "gstreamer1.0-x", FALSE},
    {"videoconvert", "gstreamer1.0-plugins-base", FALSE},
    {"x264enc", "gstreamer1.0-plugins-ugly", FALSE},
    {"h264parse", "gstreamer1.0-plugins-bad", FALSE},
    {"rtph264pay", "gstreamer1.0-plugins-good", FALSE},
    /* gst-rtsp-server builds its own rtpbin around the payloaders. */
    {"rtpbin", "gstreamer1.0-plugins-good", FALSE},
    {"audiotestsrc", "gstreamer1.0-plugins-base", TRUE},
    {"audioconvert", "gstreamer1.0-plugins-base", TRUE},
    {"audioresample", "gstreamer1.0-plugins-base", TRUE},
    {"aacparse", "gstreamer1.0-plugins-good", TRUE},
    {"rtpmp4gpay", "gstreamer1.0-plugins-good", TRUE},
};

static const struct testcam_element aac_encoders[] = {
    {"avenc_aac", "gstreamer1.0-libav", TRUE},
    {"voaacenc", "gstreamer1.0-plugins-bad", TRUE},
};

/* The file of the plugin that provides `name` (owned by GStreamer's
 * registry, valid while the process lives), or NULL when no plugin does. */
static const char *element_plugin_file(const char *name)
{
    GstElementFactory *f = gst_element_factory_find(name);
    const char *file = NULL;

    if (f != NULL) {
        GstPlugin *plugin = gst_plugin_feature_get_plugin(GST_PLUGIN_FEATURE(f));
        if (plugin != NULL) {
            file = gst_plugin_get_filename(plugin);
            gst_object_unref(plugin);
        }
        gst_object_unref(f);
        if (file == NULL)
            file = "(built in)";
    }
    return file;
}

static const char *pick_aac_encoder(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(aac_encoders); i++) {
        if (element_plugin_file(aac_encoders[i].name) != NULL)
            return aac_encoders[i].name;
    }
    return NULL;
}

/* Returns 0 when every element is there, else names the first missing one
 * with its package on stderr and returns -1. */
static int check_elements(gboolean audio)
{
    for (size_t i = 0; i < G_N_ELEMENTS(video_elements); i++) {
        const struct testcam_element *e = &video_elements[i];
        if ((e->audio && !audio) || element_plugin_file(e->name) != NULL)
            continue;
        fprintf(stderr,
                "es-testcam: GStreamer element '%s' not found: install the Debian package %s\n",
                e->name, e->package);
        return -1;
    }
    if (audio && pick_aac_encoder() == NULL) {
        fprintf(stderr,
                "es-testcam: no AAC encoder element found ('%s' or '%s'): install the "
                "Debian package %s\n",
                aac_encoders[0].name, aac_encoders[1].name, aac_encoders[0].package);
        return -1;
    }
    return 0;
}

/* --list-elements: one line per element, "name<TAB>package<TAB>plugin file or
 * -", for the dependency test. */
static void list_elements(void)
{
    const struct testcam_element *tables[] = {video_elements, aac_encoders};
    size_t counts[] = {G_N_ELEMENTS(video_elements), G_N_ELEMENTS(aac_encoders)};

    for (size_t t = 0; t < G_N_ELEMENTS(tables); t++) {
        for (size_t i = 0; i < counts[t]; i++) {
            const char *file = element_plugin_file(tables[t][i].name);
            printf("%s\t%s\t%s\n", tables[t][i].name, tables[t][i].package,
                   file != NULL ? file : "-");
        }
    }
}

static gchar *build_launch(const struct testcam_options *o)
{
    GString *s = g_string_new(NULL);

    /* scenecut=0: keyframes exactly every --gop frames, like a real camera's
     * fixed GOP. h264parse config-interval=-1: SPS/PPS inside every IDR access
     * unit (on the payloader instead they become a separate access unit). */
    g_string_append_printf(
        s,
        "( videotestsrc is-live=true pattern=smpte horizontal-speed=4 "
        "! video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1 "
        "! textoverlay name=clock valignment=top halignment=left font-desc=\"Monospace 36\" "
        "shaded-background=true "
        "! videoconvert ! video/x-raw,format=I420 "
        "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%d bitrate=%d "
        "option-string=scenecut=0 "
        "! video/x-h264,profile=constrained-baseline ! h264parse config-interval=-1 "
        "! rtph264pay name=pay0 pt=96 ",
        o->width, o->height, o->fps, o->gop, o->bitrate_kbps);
    if (o->audio && o->audio_codec && strcmp(o->audio_codec, "aac") != 0) {
        gboolean mulaw = strcmp(o->audio_codec, "pcmu") == 0;
        const char *enc = mulaw ? "mulawenc" : "alawenc";
        const char *pay = mulaw ? "rtppcmupay" : "rtppcmapay";
        if (element_plugin_file(enc) == NULL || element_plugin_file(pay) == NULL) {
            fprintf(stderr, "es-testcam: no '%s' or '%s' element: install the Debian package "
                            "gstreamer1.0-plugins-good\n", enc, pay);
            g_string_free(s, TRUE);
            return NULL;
        }
        g_string_append_printf(
            s,
            "audiotestsrc is-live=true wave=sine freq=440 volume=0.2 "
            "samplesperbuffer=160 "
            "! audioconvert ! audioresample ! audio/x-raw,rate=8000,channels=1 "
            "! %s ! %s name=pay1 pt=%d ",
            enc, pay, mulaw ? 0 : 8);
    } else if (o->audio) {
        const char *enc = pick_aac_encoder();
        if (enc == NULL) {
            fprintf(stderr, "es-testcam: no AAC encoder element found\n");
            g_string_free(s, TRUE);
            return NULL;
        }
        g_string_append_printf(
            s,
            "audiotestsrc is-live=true wave=sine freq=440 volume=0.2 "
            "samplesperbuffer=1024 "
            "! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 "
            "! %s bitrate=128000 ! aacparse "
            "! rtpmp4gpay name=pay1 pt=97 ",
            enc);
    }
    g_string_append(s, ")");
    return g_string_free(s, FALSE);
}

/* The block code's layout: see the header comment. */
enum {
    CLOCKCODE_COLS = 32,
    CLOCKCODE_ROWS = 18,
    CLOCKCODE_FIRST_ROW = 16,
    CLOCKCODE_CELLS = 64,
    CLOCKCODE_TIME_BITS = 42,
};

static uint16_t clockcode_crc16(uint64_t ms)
{
    uint16_t crc = 0xFFFF;

    for (int byte = 5; byte >= 0; byte--) {
        crc ^= (uint16_t)(((ms >> (8 * byte)) & 0xFF) << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

/* The 64 cells, 1 = white, in reading order. */
static void clockcode_cells(uint64_t ms, guint8 cells[CLOCKCODE_CELLS])
{
    static const guint8 sync[4] = {1, 0, 1, 0};
    uint16_t crc = clockcode_crc16(ms);

    memcpy(cells, sync, sizeof(sync));
    for (int i = 0; i < CLOCKCODE_TIME_BITS; i++)
        cells[4 + i] = (ms >> (CLOCKCODE_TIME_BITS - 1 - i)) & 1;
    for (int i = 0; i < 16; i++)
        cells[46 + i] = (crc >> (15 - i)) & 1;
    cells[62] = 0;
    cells[63] = 1;
}

/* Fills one plane's rectangle, given in luma pixels, with `value`. */
static void fill_plane(GstVideoFrame *frame, guint plane, int x0, int y0, int x1, int y1,
                       guint8 value)
{
    const GstVideoFormatInfo *fi = frame->info.finfo;
    guint comp = plane; /* I420: plane i holds component i */
    int sx0 = GST_VIDEO_SUB_SCALE(GST_VIDEO_FORMAT_INFO_W_SUB(fi, comp), x0);
    int sx1 = GST_VIDEO_SUB_SCALE(GST_VIDEO_FORMAT_INFO_W_SUB(fi, comp), x1);
    int sy0 = GST_VIDEO_SUB_SCALE(GST_VIDEO_FORMAT_INFO_H_SUB(fi, comp), y0);
    int sy1 = GST_VIDEO_SUB_SCALE(GST_VIDEO_FORMAT_INFO_H_SUB(fi, comp), y1);
    guint8 *data = GST_VIDEO_FRAME_PLANE_DATA(frame, plane);
    int stride = GST_VIDEO_FRAME_PLANE_STRIDE(frame, plane);

    for (int y = sy0; y < sy1; y++)
        memset(data + (gsize)y * stride + sx0, value, (size_t)(sx1 - sx0));
}

/* Draws the block code of `ms` into the raw I420 frame (before the text and
 * the encoder). Returns FALSE when the buffer cannot be mapped. */
static gboolean draw_clockcode(GstBuffer *buf, const GstVideoInfo *vinfo, uint64_t ms)
{
    GstVideoFrame frame;
    guint8 cells[CLOCKCODE_CELLS];
    int w = GST_VIDEO_INFO_WIDTH(vinfo), h = GST_VIDEO_INFO_HEIGHT(vinfo);

    if (!gst_video_frame_map(&frame, (GstVideoInfo *)vinfo, buf, GST_MAP_WRITE))
        return FALSE;
    clockcode_cells(ms, cells);
    for (int i = 0; i < CLOCKCODE_CELLS; i++) {
        int col = i % CLOCKCODE_COLS, row = CLOCKCODE_FIRST_ROW + i / CLOCKCODE_COLS;
        /* Even edges, so that the chroma planes (half size) line up. */
        int x0 = (col * w / CLOCKCODE_COLS) & ~1, x1 = ((col + 1) * w / CLOCKCODE_COLS) & ~1;
        int y0 = (row * h / CLOCKCODE_ROWS) & ~1, y1 = ((row + 1) * h / CLOCKCODE_ROWS) & ~1;

        fill_plane(&frame, 0, x0, y0, x1, y1, cells[i] ? 235 : 16);
        fill_plane(&frame, 1, x0, y0, x1, y1, 128);
        fill_plane(&frame, 2, x0, y0, x1, y1, 128);
    }
    gst_video_frame_unmap(&frame);
    return TRUE;
}

/* Burns the wall-clock time of each frame (HH:MM:SS.mmm, UTC) into the
 * picture, as text and as the block code: the live source stamps frames as
 * they are captured, so the time at this probe is the capture time within a
 * millisecond or two. */
static GstPadProbeReturn clock_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
    GstElement *overlay = GST_ELEMENT(user_data);
    gint64 now_us = g_get_real_time();
    time_t secs = (time_t)(now_us / G_USEC_PER_SEC);
    struct tm tm;
    char text[64];
    GstCaps *caps = gst_pad_get_current_caps(pad);
    GstVideoInfo vinfo;

    if (caps != NULL && gst_video_info_from_caps(&vinfo, caps) &&
        GST_VIDEO_INFO_FORMAT(&vinfo) == GST_VIDEO_FORMAT_I420) {
        /* The source's buffer is normally ours alone; make_writable copies otherwise. */
        GstBuffer *buf = gst_buffer_make_writable(GST_PAD_PROBE_INFO_BUFFER(info));

        GST_PAD_PROBE_INFO_DATA(info) = buf;
        if (!draw_clockcode(buf, &vinfo, (uint64_t)(now_us / 1000)))
            g_printerr("es-testcam: cannot map a frame to draw the clock code\n");
    }
    if (caps != NULL)
        gst_caps_unref(caps);
    gmtime_r(&secs, &tm);
    snprintf(text, sizeof(text), "%02d:%02d:%02d.%03d UTC", tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)((now_us / 1000) % 1000));
    g_object_set(overlay, "text", text, NULL);
    return GST_PAD_PROBE_OK;
}

/* Clients such as FFmpeg send "Range: npt=0.000-" with PLAY. On a shared media
 * gst-rtsp-server turns that into a flushing seek when the pipeline says it is
 * seekable (videotestsrc does), which restarts the timestamps of every client
 * already watching. A real camera's live stream cannot seek: say so, and the
 * server skips the seek (PLAY still succeeds). */
static GstPadProbeReturn not_seekable_probe(GstPad *pad, GstPadProbeInfo *info,
                                            gpointer user_data)
{
    GstQuery *query = GST_PAD_PROBE_INFO_QUERY(info);

    (void)pad;
    (void)user_data;
    if (GST_QUERY_TYPE(query) != GST_QUERY_SEEKING)
        return GST_PAD_PROBE_OK;
    gst_query_set_seeking(query, GST_FORMAT_TIME, FALSE, 0, -1);
    return GST_PAD_PROBE_HANDLED;
}

static void on_media_configure(GstRTSPMediaFactory *factory, GstRTSPMedia *media,
                               gpointer user_data)
{
    GstElement *bin = gst_rtsp_media_get_element(media);
    GstElement *overlay;

    (void)factory;
    (void)user_data;
    overlay = gst_bin_get_by_name(GST_BIN(bin), "clock");
    if (overlay != NULL) {
        GstPad *pad = gst_element_get_static_pad(overlay, "video_sink");
        if (pad != NULL) {
            /* The probe keeps its own reference to the overlay. */
            gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, clock_probe,
                              gst_object_ref(overlay), gst_object_unref);
            gst_object_unref(pad);
        }
        gst_object_unref(overlay);
    }
    for (int i = 0; i < 2; i++) {
        gchar name[8];
        GstElement *pay;

        g_snprintf(name, sizeof(name), "pay%d", i);
        pay = gst_bin_get_by_name(GST_BIN(bin), name);
        if (pay != NULL) {
            GstPad *pad = gst_element_get_static_pad(pay, "src");
            if (pad != NULL) {
                gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_QUERY_UPSTREAM, not_seekable_probe,
                                  NULL, NULL);
                gst_object_unref(pad);
            }
            gst_object_unref(pay);
        }
    }
    gst_object_unref(bin);
}

static gboolean on_signal(gpointer user_data)
{
    g_main_loop_quit((GMainLoop *)user_data);
    return G_SOURCE_CONTINUE;
}

static gboolean clean_sessions(gpointer user_data)
{
    GstRTSPSessionPool *pool = gst_rtsp_server_get_session_pool(GST_RTSP_SERVER(user_data));

    gst_rtsp_session_pool_cleanup(pool);
    g_object_unref(pool);
    return G_SOURCE_CONTINUE;
}

/* One line on stderr per PLAY a client's session makes, "session <id> play
 * <path>": the reload test counts a camera's sessions by them (an untouched
 * camera keeps its one session across a reload). */
static void on_play_request(GstRTSPClient *client, GstRTSPContext *ctx, gpointer user_data)
{
    (void)client;
    (void)user_data;
    if (ctx->session == NULL || ctx->uri == NULL)
        return;
    fprintf(stderr, "session %s play %s\n", gst_rtsp_session_get_sessionid(ctx->session),
            ctx->uri->abspath);
    fflush(stderr);
}

static void on_client_connected(GstRTSPServer *server, GstRTSPClient *client, gpointer user_data)
{
    (void)server;
    (void)user_data;
    g_signal_connect(client, "play-request", G_CALLBACK(on_play_request), NULL);
}

static GstRTSPFilterResult close_client(GstRTSPServer *server, GstRTSPClient *client,
                                        gpointer user_data)
{
    (void)server;
    (void)client;
    (void)user_data;
    return GST_RTSP_FILTER_REMOVE;
}

int main(int argc, char **argv)
{
    struct testcam_options o = {
        .port = 8554,
        .path = "/cam1",
        .bind = "127.0.0.1",
        .width = 1280,
        .height = 720,
        .fps = 25,
        .gop = 50,
        .bitrate_kbps = 2000,
        .audio = TRUE,
    };
    GMainLoop *loop;
    GstRTSPServer *server;
    GstRTSPMountPoints *mounts;
    GstRTSPMediaFactory *factory;
    gchar *launch;
    gchar *service;
    guint server_source;
    guint sigterm_source;
    guint sigint_source;
    guint cleanup_source;

    gst_init(&argc, &argv);
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    if (o.list_elements) {
        list_elements();
        return 0;
    }
    if (check_elements(o.audio) != 0)
        return 3;

    launch = build_launch(&o);
    if (launch == NULL)
        return 1;

    loop = g_main_loop_new(NULL, FALSE);
    server = gst_rtsp_server_new();
    service = g_strdup_printf("%d", o.port);
    gst_rtsp_server_set_address(server, o.bind);
    gst_rtsp_server_set_service(server, service);
    g_free(service);

    factory = gst_rtsp_media_factory_new();
    gst_rtsp_media_factory_set_launch(factory, launch);
    gst_rtsp_media_factory_set_shared(factory, TRUE);
    gst_rtsp_media_factory_set_protocols(factory, GST_RTSP_LOWER_TRANS_TCP);
    g_signal_connect(factory, "media-configure", G_CALLBACK(on_media_configure), NULL);
    g_free(launch);

    mounts = gst_rtsp_server_get_mount_points(server);
    gst_rtsp_mount_points_add_factory(mounts, o.path, factory); /* takes factory */
    g_object_unref(mounts);

    g_signal_connect(server, "client-connected", G_CALLBACK(on_client_connected), NULL);
    server_source = gst_rtsp_server_attach(server, NULL);
    if (server_source == 0) {
        fprintf(stderr, "es-testcam: cannot listen on %s:%d\n", o.bind, o.port);
        g_object_unref(server);
        g_main_loop_unref(loop);
        return 1;
    }

    sigterm_source = g_unix_signal_add(SIGTERM, on_signal, loop);
    sigint_source = g_unix_signal_add(SIGINT, on_signal, loop);
    cleanup_source = g_timeout_add_seconds(2, clean_sessions, server);

    /* attach() has bound and is listening: clients may connect from now on. */
    printf("ready rtsp://%s:%d%s\n", o.bind, gst_rtsp_server_get_bound_port(server), o.path);
    fflush(stdout);

    g_main_loop_run(loop);

    g_source_remove(cleanup_source);
    g_source_remove(sigint_source);
    g_source_remove(sigterm_source);
    g_source_remove(server_source);
    gst_rtsp_server_client_filter(server, close_client, NULL);
    g_object_unref(server);
    g_main_loop_unref(loop);
    return 0;
}
