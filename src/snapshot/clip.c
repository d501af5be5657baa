#include "snapshot/clip.h"

#include "core/clock.h"
#include "core/ffmpeg_compat.h"
#include "core/log.h"
#include "core/alloc.h"
#include "record/index.h"
#include "record/layout.h"
#include "record/recorder.h"

#include <libavformat/avformat.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Video and audio, as the pipeline records them; anything else is left out. */
#define MAX_STREAMS 2

struct clip_out {
    AVFormatContext *fmt;
    int index[MAX_STREAMS]; /* output stream per media type slot; -1 none */
    int64_t last_dts[MAX_STREAMS];
    bool header_written;
};

static void log_av(const char *camera_id, const char *what, int ret)
{
    char errbuf[AV_ERROR_MAX_STRING_SIZE];
    es_log(ES_LOG_WARN, "clip", "camera=%s event=%s error=\"%s\"", camera_id, what,
           es_av_err(ret, errbuf, sizeof(errbuf)));
}

static int slot_of(enum AVMediaType type)
{
    return type == AVMEDIA_TYPE_VIDEO ? 0 : type == AVMEDIA_TYPE_AUDIO ? 1 : -1;
}

/* The output's streams come from the first segment (every segment of a
 * camera carries the same codecs; one that differs is skipped). */
static enum es_err open_output(const char *camera_id, struct clip_out *o, AVFormatContext *in,
                               const char *out_path)
{
    int ret = avformat_alloc_output_context2(&o->fmt, NULL, "mp4", out_path);
    if (ret < 0) {
        log_av(camera_id, "clip_muxer_failed", ret);
        return ES_ERR_CODEC;
    }
    for (unsigned i = 0; i < in->nb_streams; i++) {
        int slot = slot_of(in->streams[i]->codecpar->codec_type);
        if (slot < 0 || o->index[slot] >= 0)
            continue;
        AVStream *st = avformat_new_stream(o->fmt, NULL);
        avcodec_parameters_copy(st->codecpar, in->streams[i]->codecpar);
        st->codecpar->codec_tag = 0;
        st->time_base = in->streams[i]->time_base;
        o->index[slot] = st->index;
    }
    if (o->index[0] < 0) {
        es_log(ES_LOG_WARN, "clip", "camera=%s event=clip_no_video", camera_id);
        return ES_ERR_CODEC;
    }
    ret = avio_open(&o->fmt->pb, out_path, AVIO_FLAG_WRITE);
    if (ret < 0) {
        log_av(camera_id, "clip_open_failed", ret);
        return ES_ERR_IO;
    }
    AVDictionary *opts = NULL;
    /* moov first: the muxer writes the file, then moves the index to the
     * front (a second pass over the file, hence a file and not a pipe). */
    av_dict_set(&opts, "movflags", "+faststart", 0);
    ret = avformat_write_header(o->fmt, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        log_av(camera_id, "clip_header_failed", ret);
        return ES_ERR_CODEC;
    }
    o->header_written = true;
    return ES_OK;
}

enum es_err es_clip_remux(const char *camera_id, const struct es_clip_input *inputs, size_t count,
                          int64_t end_ms, const char *out_path, struct es_clip_result *result)
{
    memset(result, 0, sizeof(*result));
    struct clip_out o = {.fmt = NULL, .index = {-1, -1}, .last_dts = {INT64_MIN, INT64_MIN}};
    enum es_err err = count ? ES_OK : ES_ERR_NOT_FOUND;
    AVPacket *pkt = av_packet_alloc();
    int64_t first_wall_ms = count ? inputs[0].start_ms : 0;
    int64_t video_end_us = 0;
    /* Each segment's timestamps move by an offset: the previous one's while
     * the run goes on (the files' own timestamps continue), or one from the
     * segment's wall-clock place after a hole or a restart. */
    int64_t offset_us = 0;
    bool have_offset = false;
    int64_t expected_next_us = 0;
    for (size_t i = 0; i < count && err == ES_OK; i++) {
        AVFormatContext *in = NULL;
        int ret = avformat_open_input(&in, inputs[i].path, NULL, NULL);
        if (ret < 0) {
            log_av(camera_id, "clip_read_failed", ret);
            err = ES_ERR_IO;
            break;
        }
        if ((ret = avformat_find_stream_info(in, NULL)) < 0) {
            log_av(camera_id, "clip_probe_failed", ret);
            avformat_close_input(&in);
            err = ES_ERR_IO;
            break;
        }
        if (!o.fmt && (err = open_output(camera_id, &o, in, out_path)) != ES_OK) {
            avformat_close_input(&in);
            break;
        }
        int64_t place_us = (inputs[i].start_ms - first_wall_ms) * 1000;
        /* The segment's first video frame (a keyframe) is where it sits:
         * audio may begin a little before it. */
        int vi = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        int64_t video_start = vi >= 0 ? in->streams[vi]->start_time : AV_NOPTS_VALUE;
        bool first_packet = true;
        while (av_read_frame(in, pkt) >= 0) {
            AVStream *ist = in->streams[pkt->stream_index];
            int slot = slot_of(ist->codecpar->codec_type);
            if (slot < 0 || o.index[slot] < 0 || pkt->dts == AV_NOPTS_VALUE ||
                ist->codecpar->codec_id != o.fmt->streams[o.index[slot]]->codecpar->codec_id) {
                av_packet_unref(pkt);
                continue;
            }
            int64_t dts_us = av_rescale_q(pkt->dts, ist->time_base, (AVRational){1, 1000000});
            if (first_packet) {
                first_packet = false;
                int64_t start_us = video_start != AV_NOPTS_VALUE
                                       ? av_rescale_q(video_start, in->streams[vi]->time_base,
                                                      (AVRational){1, 1000000})
                                       : dts_us;
                int64_t continued = start_us + offset_us;
                /* Continue the run unless this segment does not follow on
                 * (its own clock jumped: a restart, a reconnect) by more than
                 * half a second. */
                if (!have_offset || continued < expected_next_us - 500000 ||
                    continued > expected_next_us + 500000)
                    offset_us = place_us - start_us;
                have_offset = true;
            }
            int64_t out_us = dts_us + offset_us;
            if (out_us >= (end_ms - first_wall_ms) * 1000 || out_us < 0) {
                av_packet_unref(pkt);
                continue; /* past the end, or audio before the first keyframe */
            }
            AVStream *ost = o.fmt->streams[o.index[slot]];
            int64_t shift = av_rescale_q(offset_us, (AVRational){1, 1000000}, ist->time_base);
            pkt->dts += shift;
            if (pkt->pts != AV_NOPTS_VALUE)
                pkt->pts += shift;
            av_packet_rescale_ts(pkt, ist->time_base, ost->time_base);
            if (o.last_dts[slot] != INT64_MIN && pkt->dts <= o.last_dts[slot]) {
                av_packet_unref(pkt); /* overlaps what was written */
                continue;
            }
            o.last_dts[slot] = pkt->dts;
            pkt->stream_index = ost->index;
            pkt->pos = -1;
            if (slot == 0) {
                int64_t end = av_rescale_q(pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts,
                                           ost->time_base, (AVRational){1, 1000000}) +
                              av_rescale_q(pkt->duration, ost->time_base, (AVRational){1, 1000000});
                if (end > video_end_us)
                    video_end_us = end;
            }
            ret = av_interleaved_write_frame(o.fmt, pkt);
            av_packet_unref(pkt);
            if (ret < 0) {
                log_av(camera_id, "clip_write_failed", ret);
                err = ES_ERR_IO;
                break;
            }
            result->packets++;
        }
        expected_next_us = (inputs[i].start_ms - first_wall_ms + inputs[i].duration_ms) * 1000;
        avformat_close_input(&in);
    }
    if (o.header_written) {
        int ret = av_write_trailer(o.fmt);
        if (ret < 0 && err == ES_OK) {
            log_av(camera_id, "clip_trailer_failed", ret);
            err = ES_ERR_IO;
        }
    }
    if (o.fmt) {
        avio_closep(&o.fmt->pb);
        avformat_free_context(o.fmt);
    }
    av_packet_free(&pkt);
    if (err == ES_OK && result->packets == 0)
        err = ES_ERR_NOT_FOUND;
    result->first_ms = first_wall_ms;
    result->duration_s = (double)video_end_us / 1e6;
    return err;
}

void es_clip_base_name(const char *camera_id, int64_t first_ms, char *out, size_t size)
{
    char when[48];
    es_clock_format_iso8601(first_ms * 1000, when, sizeof(when));
    for (char *c = when; *c; c++)
        if (*c == ':')
            *c = '-';
    snprintf(out, size, "%s_%s", camera_id, when);
}

void es_clip_object_name(const char *location, const char *camera_id,
                         const struct es_clip_result *result, char *out, size_t size)
{
    char base[128];
    es_clip_base_name(camera_id, result->first_ms, base, sizeof(base));
    snprintf(out, size, "%s/%s/clips/%s_%.0fs.mp4", location, camera_id, base,
             result->duration_s);
}

/* The index holds segments of at least ~0.5 s: five minutes is ~600. */
#define MAX_CLIP_SEGMENTS 2000

enum es_err es_clip_find_segments(const char *record_dir, int64_t start_ms, int64_t end_ms,
                                  struct es_record_entry **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s", record_dir, ES_RECORDER_INDEX_NAME);
    struct es_record_index *index = NULL;
    if (n < 0 || (size_t)n >= sizeof(path) || es_record_index_open(path, true, &index) != ES_OK)
        return ES_ERR_NOT_FOUND;
    bool truncated;
    enum es_err err = es_record_index_collect(index, start_ms, end_ms, MAX_CLIP_SEGMENTS, out,
                                              count, &truncated);
    es_record_index_close(index);
    if (err != ES_OK || truncated || *count == 0) {
        free(*out);
        *out = NULL;
        *count = 0;
        return err != ES_OK || truncated ? ES_ERR_IO : ES_ERR_NOT_FOUND;
    }
    return ES_OK;
}

enum es_err es_clip_build(const char *camera_id, const char *record_dir,
                          const struct es_record_entry *segments, size_t count, int64_t end_ms,
                          const char *out_path, struct es_clip_result *result)
{
    struct es_clip_input *inputs = es_calloc(count, sizeof(*inputs));
    char(*paths)[PATH_MAX] = es_calloc(count, sizeof(*paths));
    for (size_t i = 0; i < count; i++) {
        char rel[ES_RECORD_REL_MAX];
        es_record_rel_path(&segments[i], rel, sizeof(rel));
        int n = snprintf(paths[i], sizeof(paths[i]), "%s/%s", record_dir, rel);
        if (n < 0 || (size_t)n >= sizeof(paths[i]))
            paths[i][0] = '\0'; /* cannot be opened: the clip fails, named in the log */
        inputs[i].path = paths[i];
        inputs[i].start_ms = segments[i].start_ms;
        inputs[i].duration_ms = segments[i].duration_ms;
    }
    enum es_err err = es_clip_remux(camera_id, inputs, count, end_ms, out_path, result);
    free(inputs);
    free(paths);
    return err;
}

uint8_t *es_clip_read(const char *path, size_t *size)
{
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *data = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && len <= (long)ES_CLIP_MAX_BYTES &&
        fseek(f, 0, SEEK_SET) == 0) {
        data = es_malloc((size_t)len);
        if (fread(data, 1, (size_t)len, f) != (size_t)len) {
            free(data);
            data = NULL;
        }
    }
    fclose(f);
    if (data)
        *size = (size_t)len;
    return data;
}
