/* The reference design's ffmpeg command line for a camera: what edgestream
 * replaces, printed so its output can be compared with the original's. */
#include "config/config.h"

#include "core/url.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct writer {
    char *out;
    size_t size, len;
};

static void put(struct writer *w, const char *s)
{
    for (; *s && w->len + 1 < w->size; s++)
        w->out[w->len++] = *s;
    w->out[w->len] = '\0';
}

static void putf(struct writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct writer *w, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    put(w, buf);
}

/* POSIX shell single quotes: everything literal, ' itself as '\''. */
static void put_quoted(struct writer *w, const char *s)
{
    put(w, "'");
    for (const char *c = s; *c; c++) {
        if (*c == '\'') {
            put(w, "'\\''");
        } else {
            char one[2] = {*c, '\0'};
            put(w, one);
        }
    }
    put(w, "'");
}

static void put_word(struct writer *w, const char *s)
{
    if (*s &&
        strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=,+@%-") ==
            strlen(s))
        put(w, s);
    else
        put_quoted(w, s);
}

void es_config_ffmpeg_command(const struct es_camera_config *camera, const char *output_dir,
                              bool reveal_secrets, char *out, size_t out_size)
{
    if (!out_size)
        return;
    struct writer w = {out, out_size, 0};
    out[0] = '\0';
    const char *dir = output_dir ? output_dir : ".";

    struct es_config_source source;
    char why[256];
    if (!es_config_source_parse(camera->rtsp_url, &source, why, sizeof(why)))
        source.kind = ES_CONFIG_SOURCE_RTSP; /* unvalidated input: print it as given */

    put(&w, "ffmpeg ");
    switch (source.kind) {
    case ES_CONFIG_SOURCE_RTSP: {
        char url[2048];
        if (reveal_secrets)
            snprintf(url, sizeof(url), "%s", camera->rtsp_url);
        else
            es_url_redact(camera->rtsp_url, url, sizeof(url));
        put(&w, "-rtsp_transport tcp -i ");
        put_quoted(&w, url);
        break;
    }
    case ES_CONFIG_SOURCE_V4L2:
        put(&w, "-f v4l2 -i ");
        put_word(&w, source.path);
        break;
    case ES_CONFIG_SOURCE_FILE:
        put(&w, "-re -stream_loop -1 -i ");
        put_quoted(&w, source.path);
        break;
    case ES_CONFIG_SOURCE_TEST:
        putf(&w, "-re -f lavfi -i testsrc2=size=%ux%u:rate=%u", source.width, source.height,
             source.fps);
        break;
    }

    if (camera->transcode == ES_TRANSCODE_COPY) {
        put(&w, camera->audio == ES_AUDIO_OFF ? " -c:v copy -an" : " -c copy");
    } else {
        /* GOP = fps x segment duration, so that a keyframe opens every segment. */
        long gop = lround(camera->target_fps * camera->segment_duration);
        putf(&w,
             " -c:v libx264 -preset ultrafast -tune zerolatency -vf scale=%u:-2 -r %u -g %ld "
             "-sc_threshold 0",
             camera->target_width, camera->target_fps, gop < 1 ? 1 : gop);
        if (camera->audio == ES_AUDIO_OFF)
            put(&w, " -an");
        else if (camera->audio_bitrate % 1000 == 0)
            putf(&w, " -c:a aac -b:a %uk", camera->audio_bitrate / 1000);
        else
            putf(&w, " -c:a aac -b:a %u", camera->audio_bitrate);
    }

    putf(&w,
         " -f hls -hls_time %g -hls_list_size %u -hls_flags delete_segments+append_list "
         "-hls_segment_filename ",
         camera->segment_duration, camera->segments_to_keep);
    char path[4200];
    snprintf(path, sizeof(path), "%s/segment_%%03d.ts", dir);
    put_quoted(&w, path);
    put(&w, " ");
    snprintf(path, sizeof(path), "%s/stream.m3u8", dir);
    put_quoted(&w, path);
}
