#include "app/app.h"

#include "app/camera.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "sink/local.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATUS_INTERVAL_TTY_US 1000000
#define STATUS_INTERVAL_PLAIN_US 10000000

static unsigned target_duration_of(const struct es_camera_config *c)
{
    /* RFC 8216 §4.3.3.1: EXTINF rounded to the nearest integer must not exceed
     * it; segments are cut at segment_duration, so its ceiling always holds. */
    return (unsigned)ceil(c->segment_duration);
}

static enum es_err build_camera(const struct es_config *config,
                                const struct es_camera_config *cam,
                                const struct es_app_options *options, struct es_camera **out)
{
    struct es_sink *sinks[1];
    size_t sink_count = 0;
    if (config->local.enabled) {
        struct es_local_sink_config lc = {
            .camera_id = cam->id,
            .root = options->root ? options->root : config->local.root,
            .location = cam->location,
            .target_duration = target_duration_of(cam),
            .segments_to_keep = cam->segments_to_keep,
            .delete_grace = cam->delete_grace,
        };
        enum es_err err = es_local_sink_create(&lc, &sinks[sink_count]);
        if (err != ES_OK)
            return err;
        sink_count++;
    }
    return es_camera_create(cam, sinks, sink_count, out);
}

struct status_sample {
    uint64_t frames_in, frames_out, bytes_out;
};

static void print_status(struct es_camera **cameras, size_t count, struct status_sample *prev,
                         double seconds, bool tty)
{
    char line[4096];
    size_t len = 0;
    for (size_t i = 0; i < count; i++) {
        struct es_camera_stats st;
        es_camera_stats(cameras[i], &st);
        double fps_in = (double)(st.frames_in - prev[i].frames_in) / seconds;
        double fps_out = (double)(st.frames_out - prev[i].frames_out) / seconds;
        double kbps = (double)(st.bytes_out - prev[i].bytes_out) * 8 / 1000 / seconds;
        prev[i] = (struct status_sample){st.frames_in, st.frames_out, st.bytes_out};
        int n = snprintf(line + len, sizeof(line) - len,
                         "%s%s %s in=%.1ffps out=%.1ffps %.0fkb/s segments=%" PRIu64
                         " reconnects=%" PRIu64,
                         len ? (tty ? " | " : "\n") : "", es_camera_config(cameras[i])->id,
                         es_camera_state_name(st.state), fps_in, fps_out, kbps, st.segments,
                         st.reconnects);
        if (n < 0 || (size_t)n >= sizeof(line) - len)
            break;
        len += (size_t)n;
    }
    if (tty)
        fprintf(stdout, "\r\033[K%s", line);
    else
        fprintf(stdout, "%s\n", line);
    fflush(stdout);
}

enum es_err es_app_run(const struct es_config *config, const struct es_app_options *options)
{
    struct es_camera **cameras = es_calloc(config->camera_count, sizeof(*cameras));
    size_t count = 0;
    enum es_err err = ES_OK;
    for (size_t i = 0; i < config->camera_count && err == ES_OK; i++) {
        const struct es_camera_config *cam = &config->cameras[i];
        bool selected = options->all_cameras ? cam->enabled
                                             : strcmp(cam->id, options->camera_id) == 0;
        if (!selected)
            continue;
        err = build_camera(config, cam, options, &cameras[count]);
        if (err == ES_OK)
            count++;
    }
    if (err == ES_OK && count == 0)
        err = ES_ERR_NOT_FOUND;
    for (size_t i = 0; i < count && err == ES_OK; i++)
        err = es_camera_start(cameras[i]);

    if (err == ES_OK) {
        es_log(ES_LOG_INFO, "app", "event=started cameras=%zu", count);
        bool tty = options->status_line && isatty(STDOUT_FILENO);
        int64_t interval = tty ? STATUS_INTERVAL_TTY_US : STATUS_INTERVAL_PLAIN_US;
        struct status_sample *prev = es_calloc(count, sizeof(*prev));
        int64_t start = es_clock_mono_us();
        int64_t last_status = start;
        while (!atomic_load(options->stop)) {
            int64_t now = es_clock_mono_us();
            if (options->duration > 0 && now - start >= (int64_t)(options->duration * 1e6))
                break;
            if (options->status_line && now - last_status >= interval) {
                print_status(cameras, count, prev, (double)(now - last_status) / 1e6, tty);
                last_status = now;
            }
            es_clock_sleep_us(100000);
        }
        if (tty)
            fputc('\n', stdout);
        free(prev);
        es_log(ES_LOG_INFO, "app", "event=stopping");
    }
    for (size_t i = 0; i < count; i++)
        es_camera_request_stop(cameras[i]);
    for (size_t i = 0; i < count; i++)
        es_camera_destroy(cameras[i]);
    free(cameras);
    return err;
}
