#include "origin/vod.h"

#include "core/clock.h"
#include "core/log.h"
#include "record/index.h"
#include "record/layout.h"
#include "record/recorder.h"
#include "record/vod_playlist.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Far above a real segment (a few MB at most), far below memory trouble. */
#define MAX_SEGMENT_FILE (64u << 20)
/* A playlist never lists more than this, whatever the range. */
#define MAX_ENTRIES 200000
#define QUERY_VALUE_MAX 64
#define WHY_MAX 160

static void bad_request(h2o_req_t *req, const char *body)
{
    es_origin_respond_text(req, 400, "Bad Request", body, ROUTE_OTHER);
}

static void not_found(h2o_req_t *req, const char *body)
{
    es_origin_respond_text(req, 404, "Not Found", body, ROUTE_OTHER);
}

static struct origin_stream *find_stream(struct es_origin *o, const char *id)
{
    for (size_t i = 0; i < o->stream_count; i++)
        if (strcmp(o->streams[i]->id, id) == 0)
            return o->streams[i];
    return NULL;
}

/* start= and end=, each exactly once (es_query_value); other keys are left
 * to es_query_parse (token) or ignored. False with the 400's body in `why`. */
static bool parse_range_query(const char *raw, size_t len, char start[QUERY_VALUE_MAX],
                              char end[QUERY_VALUE_MAX], char why[WHY_MAX])
{
    const char *const keys[2] = {"start", "end"};
    char *const values[2] = {start, end};
    for (int i = 0; i < 2; i++) {
        const char *reason = NULL;
        int got = es_query_value(raw, len, keys[i], values[i], QUERY_VALUE_MAX, &reason);
        if (got < 0) {
            snprintf(why, WHY_MAX, "400 %s= %s\n", keys[i], reason);
            return false;
        }
        if (got == 0) {
            snprintf(why, WHY_MAX,
                     "400 index.m3u8 needs start=<ISO 8601 time>&end=<ISO 8601 "
                     "time>, e.g. ?start=2026-12-03T10:00:00Z&end=2026-12-03T11:00:00Z\n");
            return false;
        }
    }
    return true;
}

/* "token=<percent-encoded token>" for the URIs of a playlist asked for with
 * ?token= (players cannot add it themselves); never logged. */
static char *token_query(struct es_origin *o, h2o_mem_pool_t *pool)
{
    const char *t = o->config.token;
    char *q = h2o_mem_alloc_pool(pool, strlen(t) * 3 + 8);
    size_t n = (size_t)sprintf(q, "token=");
    for (const char *c = t; *c; c++) {
        bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                     (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.' || *c == '~';
        n += (size_t)sprintf(q + n, plain ? "%c" : "%%%02X", (unsigned char)*c);
    }
    return q;
}

static void serve_playlist(struct es_origin *o, h2o_req_t *req, const char *camera,
                           const char *record_dir, const char *raw_query, size_t raw_len,
                           bool token_in_query)
{
    char start_text[QUERY_VALUE_MAX], end_text[QUERY_VALUE_MAX];
    char why[WHY_MAX];
    if (!parse_range_query(raw_query, raw_len, start_text, end_text, why)) {
        bad_request(req, why);
        return;
    }
    int64_t start_ms, end_ms;
    if (!es_record_parse_time(start_text, &start_ms)) {
        bad_request(req, "400 start= is not an ISO 8601 time (YYYY-MM-DDTHH:MM:SS[.fff] with Z "
                         "or +HH:MM)\n");
        return;
    }
    if (!es_record_parse_time(end_text, &end_ms)) {
        bad_request(req, "400 end= is not an ISO 8601 time (YYYY-MM-DDTHH:MM:SS[.fff] with Z "
                         "or +HH:MM)\n");
        return;
    }
    if (end_ms <= start_ms) {
        bad_request(req, "400 end= must be after start=\n");
        return;
    }
    if (end_ms - start_ms > ES_VOD_MAX_RANGE_MS) {
        bad_request(req, "400 range too long: at most 48 hours per playlist\n");
        return;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", record_dir, ES_RECORDER_INDEX_NAME);
    struct es_record_index *index = NULL;
    if (es_record_index_open(path, true, &index) != ES_OK) {
        not_found(req, "404 no recordings for this camera yet\n");
        return;
    }
    struct es_record_entry *entries;
    size_t count;
    bool truncated;
    enum es_err err =
        es_record_index_collect(index, start_ms, end_ms, MAX_ENTRIES, &entries, &count, &truncated);
    es_record_index_close(index);
    if (err != ES_OK) {
        free(entries);
        es_origin_respond_text(req, 500, "Internal Server Error", "500 index query failed\n",
                               ROUTE_OTHER);
        return;
    }
    if (truncated) {
        /* Only very short segments get here (48 h of 0.86 s ones): a cut
         * playlist would look complete, so say so instead. */
        free(entries);
        es_log(ES_LOG_DEBUG, "origin", "camera=%s event=vod_too_many entries=%zu", camera, count);
        bad_request(req, "400 range holds more than 200000 segments: ask for a shorter range\n");
        return;
    }
    if (count == 0) {
        free(entries);
        not_found(req, "404 nothing recorded in this range\n");
        return;
    }
    const char *query = token_in_query && o->config.token ? token_query(o, &req->pool) : NULL;
    size_t len;
    char *text = es_record_vod_playlist(entries, count, query, &len);
    free(entries);
    struct es_blob *blob = es_blob_take((uint8_t *)text, len, free);
    struct respond r = {
        .status = 200,
        .reason = "OK",
        .content_type = "application/vnd.apple.mpegurl",
        /* The newest end of a range may still be recorded: a reload may
         * find more. */
        .cache_control = "no-cache",
        .route = ROUTE_PLAYLIST,
    };
    h2o_iovec_t body = h2o_iovec_init(es_blob_data(blob), es_blob_size(blob));
    es_origin_respond(req, &r, &body, 1, &blob, 1);
    es_blob_unref(blob); /* the response holds its own reference */
}

struct span_json {
    h2o_mem_pool_t *pool;
    h2o_iovec_vector_t *out;
    size_t count;
};

static void span_json(void *opaque, int64_t start_ms, int64_t end_ms)
{
    struct span_json *j = opaque;
    char a[48], b[48];
    es_clock_format_iso8601(start_ms * 1000, a, sizeof(a));
    es_clock_format_iso8601(end_ms * 1000, b, sizeof(b));
    es_origin_vprintf(j->pool, j->out, "%s{\"start\":\"%s\",\"end\":\"%s\"}", j->count++ ? "," : "",
                      a, b);
}

/* /vod/<camera>/spans.json?start=&end=: what is recorded in the range, as
 * runs of continuous recording (es_record_index_spans): the timeline's
 * question, a few lookups whatever the range. */
static void serve_spans(h2o_req_t *req, const char *camera, const char *record_dir,
                        const char *raw_query, size_t raw_len)
{
    char start_text[QUERY_VALUE_MAX], end_text[QUERY_VALUE_MAX];
    char why[WHY_MAX];
    int64_t start_ms, end_ms;
    if (!parse_range_query(raw_query, raw_len, start_text, end_text, why)) {
        bad_request(req, why);
        return;
    }
    if (!es_record_parse_time(start_text, &start_ms) || !es_record_parse_time(end_text, &end_ms)) {
        bad_request(req, "400 start= or end= is not an ISO 8601 time (YYYY-MM-DDTHH:MM:SS[.fff] "
                         "with Z or +HH:MM)\n");
        return;
    }
    if (end_ms <= start_ms) {
        bad_request(req, "400 end= must be after start=\n");
        return;
    }
    h2o_iovec_vector_t out = {NULL, 0, 0};
    es_origin_vprintf(&req->pool, &out, "{\"camera\":\"%s\",\"spans\":[", camera);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", record_dir, ES_RECORDER_INDEX_NAME);
    struct es_record_index *index = NULL;
    struct span_json j = {&req->pool, &out, 0};
    if (es_record_index_open(path, true, &index) == ES_OK) {
        size_t n;
        enum es_err err = es_record_index_spans(index, start_ms, end_ms, span_json, &j, &n);
        es_record_index_close(index);
        if (err != ES_OK) {
            es_origin_respond_text(req, 500, "Internal Server Error", "500 index query failed\n",
                                   ROUTE_OTHER);
            return;
        }
    }
    es_origin_vprintf(&req->pool, &out, "]}\n");
    struct respond r = {
        .status = 200,
        .reason = "OK",
        .content_type = "application/json",
        .cache_control = "no-cache",
        .route = ROUTE_API,
    };
    es_origin_respond(req, &r, out.entries, out.size, NULL, 0);
}

/* RFC 9110 §14: one "bytes=a-b", "bytes=a-" or "bytes=-n" range. Returns 1
 * with [*first, *last] for a satisfiable one, 0 to answer the whole file
 * (no Range, several ranges, another unit: the header may be ignored), -1
 * for an unsatisfiable one (416). */
static int parse_range(h2o_req_t *req, size_t size, size_t *first, size_t *last)
{
    ssize_t at = h2o_find_header(&req->headers, H2O_TOKEN_RANGE, -1);
    if (at < 0)
        return 0;
    h2o_iovec_t v = req->headers.entries[at].value;
    char text[64];
    if (v.len >= sizeof(text) || v.len < 7 || memcmp(v.base, "bytes=", 6) != 0 ||
        memchr(v.base, ',', v.len))
        return 0;
    memcpy(text, v.base + 6, v.len - 6);
    text[v.len - 6] = '\0';
    char *dash = strchr(text, '-');
    if (!dash)
        return 0;
    *dash = '\0';
    const char *a = text, *b = dash + 1;
    for (const char *p = a; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    for (const char *p = b; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    if (!*a && !*b)
        return 0;
    if (strlen(a) > 15 || strlen(b) > 15)
        return -1;
    if (!*a) { /* the last n bytes */
        unsigned long long n = strtoull(b, NULL, 10);
        if (n == 0 || size == 0)
            return -1;
        *first = n >= size ? 0 : size - (size_t)n;
        *last = size - 1;
        return 1;
    }
    unsigned long long from = strtoull(a, NULL, 10);
    unsigned long long to = *b ? strtoull(b, NULL, 10) : (unsigned long long)size - 1;
    if (*b && to < from)
        return 0; /* invalid: ignored (RFC 9110 §14.1.1) */
    if (from >= size)
        return -1;
    *first = (size_t)from;
    *last = to >= size ? size - 1 : (size_t)to;
    return 1;
}

static void serve_segment(struct es_origin *o, h2o_req_t *req, const char *record_dir,
                          const char *name)
{
    struct es_record_entry e;
    if (!es_record_name_parse(name, &e)) {
        not_found(req, "404 not a recorded segment name\n");
        return;
    }
    /* Relative to the camera's directory, one component at a time, never
     * following a symlink: the name was checked, the walk is checked too. */
    char rel[ES_RECORD_REL_MAX];
    es_record_rel_path(&e, rel, sizeof(rel));
    int dir = open(record_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char *save = NULL;
    char *part = strtok_r(rel, "/", &save);
    while (dir >= 0 && part) {
        char *next = strtok_r(NULL, "/", &save);
        if (!next)
            break;
        int sub = openat(dir, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(dir);
        dir = sub;
        part = next;
    }
    int fd = dir >= 0 && part ? openat(dir, part, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (dir >= 0)
        close(dir);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (unsigned long long)st.st_size > MAX_SEGMENT_FILE) {
        if (fd >= 0)
            close(fd);
        not_found(req, "404 segment not recorded (or deleted by retention)\n");
        return;
    }
    size_t size = (size_t)st.st_size, first = 0, last = size ? size - 1 : 0;
    int range = parse_range(req, size, &first, &last);
    es_origin_add_header(req, "accept-ranges", "bytes");
    if (range < 0) {
        close(fd);
        char cr[48];
        snprintf(cr, sizeof(cr), "bytes */%zu", size);
        es_origin_add_header(req, "content-range", cr);
        es_origin_respond_text(req, 416, "Range Not Satisfiable", "416 range not satisfiable\n",
                               ROUTE_SEGMENT);
        return;
    }
    size_t want = size ? last - first + 1 : 0;
    char *buf = h2o_mem_alloc_pool(&req->pool, want + 1);
    size_t got = 0;
    while (got < want) {
        ssize_t n = pread(fd, buf + got, want - got, (off_t)(first + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != want) {
        es_origin_respond_text(req, 500, "Internal Server Error", "500 read failed\n",
                               ROUTE_SEGMENT);
        return;
    }
    if (range > 0) {
        char cr[80];
        snprintf(cr, sizeof(cr), "bytes %zu-%zu/%zu", first, last, size);
        es_origin_add_header(req, "content-range", cr);
    }
    struct respond r = {
        .status = range > 0 ? 206 : 200,
        .reason = range > 0 ? "Partial Content" : "OK",
        .content_type = "video/mp2t",
        /* A recorded name is never reused (its msn is in it): the bytes never
         * change. With a token, only the client's own cache may keep them. */
        .cache_control = o->config.token ? "private, max-age=31536000, immutable"
                                         : "public, max-age=31536000, immutable",
        .route = ROUTE_SEGMENT,
    };
    h2o_iovec_t body = h2o_iovec_init(buf, want);
    es_origin_respond(req, &r, &body, 1, NULL, 0);
}

void es_origin_serve_vod(struct es_origin *o, h2o_req_t *req, const struct es_path *path,
                         const char *raw_query, size_t raw_query_len, bool token_in_query)
{
    if (path->count != 3 || path->trailing_slash || !es_path_is_name(path->segments[1]) ||
        !es_path_is_name(path->segments[2])) {
        not_found(req, "404 not found (VOD paths: /vod/<camera>/index.m3u8?start=&end=)\n");
        return;
    }
    struct origin_stream *s = find_stream(o, path->segments[1]);
    if (!s) {
        not_found(req, "404 no such camera\n");
        return;
    }
    struct es_origin_camera_stats st;
    memset(&st, 0, sizeof(st));
    if (s->stats)
        s->stats(s->stats_opaque, &st);
    if (!st.record_dir) {
        not_found(req, "404 this camera is not recorded (settings.record)\n");
        return;
    }
    if (strcmp(path->segments[2], "index.m3u8") == 0)
        serve_playlist(o, req, s->id, st.record_dir, raw_query, raw_query_len, token_in_query);
    else if (strcmp(path->segments[2], "spans.json") == 0)
        serve_spans(req, s->id, st.record_dir, raw_query, raw_query_len);
    else
        serve_segment(o, req, st.record_dir, path->segments[2]);
}

static void iso_or_null(double epoch_s, char *out, size_t size)
{
    if (epoch_s <= 0) {
        snprintf(out, size, "null");
        return;
    }
    char when[48];
    es_clock_format_iso8601((int64_t)(epoch_s * 1e6), when, sizeof(when));
    snprintf(out, size, "\"%s\"", when);
}

void es_origin_vod_json(struct origin_stream *s, h2o_mem_pool_t *pool, h2o_iovec_vector_t *out)
{
    /* Reopen the camera object es_origin_stream_json closed. */
    if (!out->size || !out->entries[out->size - 1].len ||
        out->entries[out->size - 1].base[out->entries[out->size - 1].len - 1] != '}')
        return;
    out->entries[out->size - 1].len--;
    struct es_origin_camera_stats st;
    memset(&st, 0, sizeof(st));
    if (s->stats)
        s->stats(s->stats_opaque, &st);
    if (!st.record_dir) {
        es_origin_vprintf(pool, out, ",\"recording\":{\"enabled\":false}}");
        return;
    }
    char oldest[64], newest[64];
    iso_or_null(st.record_oldest_s, oldest, sizeof(oldest));
    iso_or_null(st.record_newest_s, newest, sizeof(newest));
    es_origin_vprintf(pool, out,
                      ",\"recording\":{\"enabled\":true,\"state\":\"%s\",\"oldest\":%s,"
                      "\"newest\":%s,\"bytes\":%" PRIu64 ",\"segments\":%" PRIu64
                      ",\"vod_url\":\"/vod/%s/index.m3u8\"}}",
                      st.record_state ? st.record_state : "recording", oldest, newest,
                      st.record_bytes, st.record_segments, s->id);
}
