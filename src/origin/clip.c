/* /vod/<camera>/clip.mp4?start=&end= (snapshot.h): the recorded range,
 * remuxed into one MP4 on the clip worker (snapshot/clip.h), no re-encode.
 * GET sends it; POST shares it: the MP4 goes to the remote store under
 * <location>/<camera>/clips/ (beside the live stream, where the uploader
 * never deletes: it deletes only its segment names) and the answer is JSON
 * with the URL to hand on.
 *
 * The MP4 is built in a temporary file under <record_root>/.clips/ (the
 * muxer moves its index to the front in a second pass, which needs a file),
 * read back into memory, deleted, and sent. A range is at most
 * ES_CLIP_MAX_RANGE_MS; at most MAX_CLIPS are built at once. */
#include "origin/snapshot.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "record/layout.h"
#include "record/vod_playlist.h"
#include "snapshot/clip.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Clips being built at once (each holds its MP4 in memory while sent). */
#define MAX_CLIPS 2
#define QUERY_VALUE_MAX 64

static atomic_int clips_running;
static atomic_uint_fast64_t clips_total, clip_failures, clip_us_total, clip_bytes_total,
    clips_shared;

struct clip_inputs {
    char camera[72];
    char record_dir[PATH_MAX];
    struct es_record_entry *entries;
    size_t count;
    int64_t start_ms, end_ms;
    /* Sharing (POST): put NULL when the clip is sent back instead. */
    struct es_clip_share share;
    char location[256];
    char answer_text[512]; /* a failed share's answer (job->text points here) */
};

static void free_clip_inputs(struct media_job *job)
{
    struct clip_inputs *in = job->inputs;
    if (in) {
        if (in->share.release)
            in->share.release(in->share.opaque);
        free(in->entries);
        free(in);
    }
}

static void fail(struct media_job *job, int status, const char *text)
{
    job->status = status;
    job->reason = status == 404 ? "Not Found" : "Internal Server Error";
    job->text = text;
    atomic_fetch_add(&clip_failures, 1);
}

static void free_buffer(void *p)
{
    free(p);
}

/* Stores the built clip; answers 201 with where it is, or 502 with why not.
 * Takes `data`. */
static void share_clip(struct media_job *job, uint8_t *data, size_t size,
                       const struct es_clip_result *result)
{
    struct clip_inputs *in = job->inputs;
    char name[512], url[1024], why[320];
    es_clip_object_name(in->location, in->camera, result, name, sizeof(name));
    int64_t started = es_clock_mono_us();
    bool stored = in->share.put(in->share.opaque, name, data, size, url, sizeof(url), why,
                                sizeof(why));
    double upload_s = (double)(es_clock_mono_us() - started) / 1e6;
    free(data);
    if (!stored) {
        es_log(ES_LOG_WARN, "clip", "camera=%s event=clip_share_failed name=%s reason=\"%s\"",
               in->camera, name, why);
        snprintf(in->answer_text, sizeof(in->answer_text),
                 "502 the clip was built but not stored: %s\n", why);
        job->status = 502;
        job->reason = "Bad Gateway";
        job->text = in->answer_text;
        atomic_fetch_add(&clip_failures, 1);
        return;
    }
    atomic_fetch_add(&clips_shared, 1);
    es_log(ES_LOG_INFO, "clip", "camera=%s event=clip_shared name=%s bytes=%zu upload_s=%.2f",
           in->camera, name, size, upload_s);
    char first[48];
    es_clock_format_iso8601(result->first_ms * 1000, first, sizeof(first));
    /* Ids and locations are checked path components (config/options.c) and
     * the URL is the configured store's base plus the name: no '"' or '\\'
     * to escape. */
    char *json = malloc(2048);
    if (!json)
        abort();
    int n = snprintf(json, 2048,
                     "{\"url\":\"%s\",\"name\":\"%s\",\"camera\":\"%s\",\"start\":\"%s\","
                     "\"duration_s\":%.3f,\"bytes\":%zu}\n",
                     url, name, in->camera, first, result->duration_s, size);
    job->status = 201;
    job->reason = "Created";
    job->content_type = "application/json";
    job->body = es_blob_take((uint8_t *)json, n > 0 && n < 2048 ? (size_t)n : 0, free_buffer);
}

/* <record_root>/.clips: next to the cameras' directories, never inside one
 * (the recorder's scans see only their own names anyway). */
static bool clip_dir(const char *record_dir, char *out, size_t size)
{
    const char *slash = strrchr(record_dir, '/');
    int n = slash ? snprintf(out, size, "%.*s/.clips", (int)(slash - record_dir), record_dir)
                  : snprintf(out, size, ".clips");
    if (n < 0 || (size_t)n >= size)
        return false;
    return mkdir(out, 0700) == 0 || errno == EEXIST;
}

static void run_clip(struct media_job *job)
{
    struct clip_inputs *in = job->inputs;
    int64_t started = es_clock_mono_us();
    char dir[PATH_MAX], tmp[PATH_MAX + 32];
    if (!clip_dir(in->record_dir, dir, sizeof(dir))) {
        fail(job, 500, "500 no room for the clip (state directory not writable)\n");
        atomic_fetch_sub(&clips_running, 1);
        return;
    }
    snprintf(tmp, sizeof(tmp), "%s/clip-XXXXXX.mp4", dir);
    int fd = mkstemps(tmp, 4);
    if (fd < 0) {
        fail(job, 500, "500 no room for the clip (cannot create a temporary file)\n");
        atomic_fetch_sub(&clips_running, 1);
        return;
    }
    close(fd);
    struct es_clip_result result;
    enum es_err err = es_clip_build(in->camera, in->record_dir, in->entries, in->count,
                                    in->end_ms, tmp, &result);
    uint8_t *data = NULL;
    size_t size = 0;
    if (err == ES_OK) {
        data = es_clip_read(tmp, &size);
    }
    unlink(tmp);
    atomic_fetch_sub(&clips_running, 1);
    if (err == ES_ERR_IO && !data) {
        fail(job, 404, "404 a recorded segment of the range is gone (retention) or unreadable\n");
        return;
    }
    if (!data) {
        fail(job, 500, "500 the clip could not be built\n");
        return;
    }
    int64_t us = es_clock_mono_us() - started;
    atomic_fetch_add(&clips_total, 1);
    atomic_fetch_add(&clip_us_total, (uint_fast64_t)us);
    atomic_fetch_add(&clip_bytes_total, size);
    es_log(ES_LOG_INFO, "clip",
           "camera=%s event=clip segments=%zu duration_s=%.2f bytes=%zu remux_ms=%.1f", in->camera,
           in->count, result.duration_s, size, (double)us / 1000.0);
    if (in->share.put) {
        share_clip(job, data, size, &result);
        return;
    }
    job->status = 200;
    job->reason = "OK";
    job->content_type = "video/mp4";
    job->body = es_blob_take(data, size, free_buffer);
    char base[128];
    es_clip_base_name(in->camera, result.first_ms, base, sizeof(base));
    snprintf(job->disposition, sizeof(job->disposition), "attachment; filename=\"%s.mp4\"",
             base);
    es_clock_format_iso8601(result.first_ms * 1000, job->capture_time, sizeof(job->capture_time));
}

static void bad_request(h2o_req_t *req, const char *body)
{
    es_origin_respond_text(req, 400, "Bad Request", body, ROUTE_OTHER);
}

static bool parse_time_param(h2o_req_t *req, const char *raw, size_t len, const char *key,
                             int64_t *ms)
{
    char text[QUERY_VALUE_MAX], body[256];
    const char *why = NULL;
    int got = es_query_value(raw, len, key, text, sizeof(text), &why);
    if (got < 0) {
        snprintf(body, sizeof(body), "400 %s= %s\n", key, why);
        bad_request(req, body);
        return false;
    }
    if (got == 0) {
        bad_request(req, "400 clip.mp4 needs start=<ISO 8601 time>&end=<ISO 8601 time>, e.g. "
                         "?start=2026-12-03T14:32:00Z&end=2026-12-03T14:33:00Z\n");
        return false;
    }
    if (!es_record_parse_time(text, ms)) {
        snprintf(body, sizeof(body),
                 "400 %s= is not an ISO 8601 time (YYYY-MM-DDTHH:MM:SS[.fff] with Z or "
                 "+HH:MM)\n",
                 key);
        bad_request(req, body);
        return false;
    }
    return true;
}

void es_origin_serve_clip(struct es_origin *o, h2o_req_t *req, const struct origin_stream *s,
                          const char *record_dir, const char *raw, size_t raw_len, bool share)
{
    if (share && !o->config.clip_share.put) {
        es_origin_respond_text(req, 409, "Conflict",
                               "409 no remote storage (supabase or s3) is configured to share "
                               "clips to; GET clip.mp4 downloads it\n",
                               ROUTE_OTHER);
        return;
    }
    /* Strict: only start, end (and token). */
    for (size_t i = 0; raw && i < raw_len;) {
        size_t amp = i;
        while (amp < raw_len && raw[amp] != '&')
            amp++;
        const char *k = raw + i;
        const char *eq = memchr(k, '=', amp - i);
        size_t klen = eq ? (size_t)(eq - k) : amp - i;
        bool ok = (klen == 5 && (memcmp(k, "start", 5) == 0 || memcmp(k, "token", 5) == 0)) ||
                  (klen == 3 && memcmp(k, "end", 3) == 0) || klen == 0;
        if (!ok) {
            bad_request(req, "400 unknown parameter: clip.mp4 takes only start= and end=\n");
            return;
        }
        i = amp + 1;
    }
    int64_t start_ms, end_ms;
    if (!parse_time_param(req, raw, raw_len, "start", &start_ms) ||
        !parse_time_param(req, raw, raw_len, "end", &end_ms))
        return;
    if (end_ms <= start_ms) {
        bad_request(req, "400 end= must be after start=\n");
        return;
    }
    if (end_ms - start_ms > ES_CLIP_MAX_RANGE_MS) {
        bad_request(req, "400 range too long: a clip is at most 5 minutes\n");
        return;
    }
    struct es_record_entry *segments;
    size_t count;
    enum es_err found = es_clip_find_segments(record_dir, start_ms, end_ms, &segments, &count);
    if (found == ES_ERR_IO) {
        es_origin_respond_text(req, 500, "Internal Server Error", "500 index query failed\n",
                               ROUTE_OTHER);
        return;
    }
    if (found != ES_OK) {
        es_origin_respond_text(req, 404, "Not Found", "404 nothing recorded in this range\n",
                               ROUTE_OTHER);
        return;
    }
    if (atomic_fetch_add(&clips_running, 1) >= MAX_CLIPS) {
        atomic_fetch_sub(&clips_running, 1);
        free(segments);
        es_origin_add_header(req, "retry-after", "2");
        es_origin_respond_text(req, 503, "Service Unavailable",
                               "503 two clips are being built: retry in a few seconds\n",
                               ROUTE_OTHER);
        return;
    }
    struct clip_inputs *in = es_calloc(1, sizeof(*in));
    snprintf(in->camera, sizeof(in->camera), "%s", s->id);
    if (share) {
        in->share = o->config.clip_share;
        in->share.hold(in->share.opaque);
        snprintf(in->location, sizeof(in->location), "%s", s->location);
    }
    snprintf(in->record_dir, sizeof(in->record_dir), "%s", record_dir);
    in->entries = segments;
    in->count = count;
    in->start_ms = start_ms;
    in->end_ms = end_ms;
    struct media_job *job = es_origin_media_job_new();
    job->inputs = in;
    job->free_inputs = free_clip_inputs;
    job->run = run_clip;
    job->clip = true;
    job->cache_control = o->config.token ? "private, no-store" : "no-store";
    if (!es_origin_media_job_submit(o, req, job))
        atomic_fetch_sub(&clips_running, 1); /* the job never ran */
}

void es_origin_clip_metrics(h2o_mem_pool_t *pool, h2o_iovec_vector_t *out)
{
    es_origin_vprintf(pool, out,
                      "# HELP edgestream_clip_exports_total clip.mp4 files built\n"
                      "# TYPE edgestream_clip_exports_total counter\n"
                      "edgestream_clip_exports_total %" PRIu64 "\n"
                      "# HELP edgestream_clip_failures_total clip.mp4 requests that failed after "
                      "the lookup\n"
                      "# TYPE edgestream_clip_failures_total counter\n"
                      "edgestream_clip_failures_total %" PRIu64 "\n"
                      "# HELP edgestream_clip_remux_seconds_total Time spent remuxing clips\n"
                      "# TYPE edgestream_clip_remux_seconds_total counter\n"
                      "edgestream_clip_remux_seconds_total %.6f\n"
                      "# HELP edgestream_clip_bytes_total Bytes of clips built\n"
                      "# TYPE edgestream_clip_bytes_total counter\n"
                      "edgestream_clip_bytes_total %" PRIu64 "\n"
                      "# HELP edgestream_clip_shares_total Clips stored in the remote store "
                      "(POST clip.mp4)\n"
                      "# TYPE edgestream_clip_shares_total counter\n"
                      "edgestream_clip_shares_total %" PRIu64 "\n",
                      (uint64_t)atomic_load(&clips_total), (uint64_t)atomic_load(&clip_failures),
                      (double)atomic_load(&clip_us_total) / 1e6,
                      (uint64_t)atomic_load(&clip_bytes_total),
                      (uint64_t)atomic_load(&clips_shared));
}
