/* Snapshots (live and recorded) and the media worker behind them and clips
 * (snapshot.h). */
#define _GNU_SOURCE /* pipe2 */
#include "origin/snapshot.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "record/index.h"
#include "record/layout.h"
#include "record/recorder.h"
#include "record/vod_playlist.h"
#include "snapshot/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Jobs queued or running, for every origin: beyond it a request is answered
 * 503 (a burst of distinct VOD snapshots or clips waits at the client, not
 * in our memory). Live snapshots of one camera share one job. */
#define MAX_JOBS 16
#define MAX_ORIGINS 4
#define QUERY_VALUE_MAX 64

/* ---- the workers (two threads for the process, each started on first use) ----
 *
 * Snapshots and clips have a thread each: a clip's remux, and the upload of a
 * shared one (seconds on a shop's uplink), never hold up the snapshots that
 * dashboards poll. */

struct lane {
    pthread_cond_t wake;
    struct media_job *head, **tail;
    bool started;
    const char *thread_name;
};

static pthread_mutex_t worker_lock = PTHREAD_MUTEX_INITIALIZER; /* both lanes */
static struct lane snapshot_lane = {PTHREAD_COND_INITIALIZER, NULL, &snapshot_lane.head, false,
                                    "es-media"};
static struct lane clip_lane = {PTHREAD_COND_INITIALIZER, NULL, &clip_lane.head, false,
                                "es-clip"};
static size_t worker_jobs; /* queued + running, both lanes */

/* One per origin: where the worker puts finished jobs, and the pipe that
 * wakes the origin's loop. The loop opens the pipe when it parks the first
 * request and closes it when none waits any more, so nothing of ours is left
 * in the loop when the origin stops. */
struct media_origin {
    struct es_origin *origin;
    pthread_mutex_t lock;
    struct media_job *done; /* under lock */
    int wake_fd;            /* write end; -1 while closed */
    /* Loop thread only. */
    h2o_socket_t *sock;
    size_t pending;          /* jobs submitted, not yet answered */
    struct media_job **live; /* live snapshot jobs in flight (coalescing) */
    size_t live_count, live_cap;
    uint64_t refused, live_cached, vod_snapshots;
};

static pthread_mutex_t origins_lock = PTHREAD_MUTEX_INITIALIZER;
static struct media_origin origins[MAX_ORIGINS];

/* Figures across origins (worker thread writes). */
static atomic_uint_fast64_t encode_us_total, encode_count;

static struct media_origin *media_origin_of(struct es_origin *o)
{
    pthread_mutex_lock(&origins_lock);
    struct media_origin *m = NULL, *spare = NULL;
    for (size_t i = 0; i < MAX_ORIGINS && !m; i++) {
        if (origins[i].origin == o)
            m = &origins[i];
        else if (!spare && origins[i].origin == NULL)
            spare = &origins[i];
    }
    if (!m && !spare) {
        /* A process runs one origin; tests may make more one after the
         * other: reuse a slot that holds no work. */
        for (size_t i = 0; i < MAX_ORIGINS && !spare; i++)
            if (origins[i].pending == 0 && !origins[i].sock)
                spare = &origins[i];
    }
    if (!m && spare) {
        if (!spare->origin && spare->wake_fd == 0 && !spare->live) {
            pthread_mutex_init(&spare->lock, NULL);
            spare->wake_fd = -1;
        }
        spare->origin = o;
        spare->refused = spare->live_cached = spare->vod_snapshots = 0;
        m = spare;
    }
    pthread_mutex_unlock(&origins_lock);
    return m;
}

static void *worker_main(void *arg)
{
    struct lane *lane = arg;
    pthread_setname_np(pthread_self(), lane->thread_name);
    for (;;) {
        pthread_mutex_lock(&worker_lock);
        while (!lane->head)
            pthread_cond_wait(&lane->wake, &worker_lock);
        struct media_job *job = lane->head;
        lane->head = job->next;
        if (!lane->head)
            lane->tail = &lane->head;
        pthread_mutex_unlock(&worker_lock);

        job->next = NULL;
        job->run(job);

        pthread_mutex_lock(&worker_lock);
        worker_jobs--;
        pthread_mutex_unlock(&worker_lock);
        struct media_origin *m = job->owner;
        pthread_mutex_lock(&m->lock);
        job->next = m->done;
        m->done = job;
        if (m->wake_fd >= 0) {
            char byte = 1;
            /* A full pipe already holds a wake. */
            ssize_t n = write(m->wake_fd, &byte, 1);
            (void)n;
        }
        pthread_mutex_unlock(&m->lock);
    }
    return NULL;
}

struct media_job *es_origin_media_job_new(void)
{
    struct media_job *job = es_calloc(1, sizeof(*job));
    h2o_linklist_init_anchor(&job->waiters);
    return job;
}

static void job_free(struct media_job *job)
{
    if (job->free_inputs)
        job->free_inputs(job);
    es_snapshot_source_unref(job->source);
    es_blob_unref(job->body);
    free(job);
}

struct media_waiter {
    h2o_linklist_t link; /* media_job.waiters */
    h2o_req_t *req;
    struct origin_socket *entry; /* parked against its connection */
};

static void waiter_dispose(void *p)
{
    struct media_waiter *w = p;
    if (h2o_linklist_is_linked(&w->link))
        h2o_linklist_unlink(&w->link);
    if (w->entry)
        es_origin_park_release(w->entry);
}

static void answer(h2o_req_t *req, struct media_job *job)
{
    if (job->etag[0])
        es_origin_add_header(req, "etag", job->etag);
    if (job->disposition[0])
        es_origin_add_header(req, "content-disposition", job->disposition);
    if (job->capture_time[0])
        es_origin_add_header(req, "x-capture-time", job->capture_time);
    if (!job->body) {
        if (job->status == 503)
            es_origin_add_header(req, "retry-after", "1");
        es_origin_respond_text(req, job->status, job->reason, job->text ? job->text : "",
                               ROUTE_OTHER);
        return;
    }
    struct respond r = {
        .status = job->status,
        .reason = job->reason,
        .content_type = job->content_type,
        .cache_control = job->cache_control,
        .route = job->clip ? ROUTE_SEGMENT : ROUTE_OTHER,
    };
    h2o_iovec_t body = h2o_iovec_init(es_blob_data(job->body), es_blob_size(job->body));
    es_origin_respond(req, &r, &body, 1, &job->body, 1);
}

static void close_wake(struct media_origin *m)
{
    pthread_mutex_lock(&m->lock);
    if (m->wake_fd >= 0)
        close(m->wake_fd);
    m->wake_fd = -1;
    pthread_mutex_unlock(&m->lock);
    if (m->sock) {
        h2o_socket_read_stop(m->sock);
        h2o_socket_close(m->sock);
        m->sock = NULL;
    }
}

static void forget_live(struct media_origin *m, struct media_job *job)
{
    for (size_t i = 0; i < m->live_count; i++) {
        if (m->live[i] == job) {
            m->live[i] = m->live[--m->live_count];
            return;
        }
    }
}

static void on_wake(h2o_socket_t *sock, const char *err)
{
    struct media_origin *m = sock->data;
    if (!err)
        h2o_buffer_consume(&sock->input, sock->input->size);
    pthread_mutex_lock(&m->lock);
    struct media_job *done = m->done;
    m->done = NULL;
    pthread_mutex_unlock(&m->lock);
    while (done) {
        struct media_job *job = done;
        done = job->next;
        forget_live(m, job);
        while (!h2o_linklist_is_empty(&job->waiters)) {
            struct media_waiter *w =
                H2O_STRUCT_FROM_MEMBER(struct media_waiter, link, job->waiters.next);
            h2o_linklist_unlink(&w->link);
            answer(w->req, job);
        }
        job_free(job);
        m->pending--;
    }
    if (m->pending == 0 || err)
        close_wake(m);
}

static bool open_wake(struct es_origin *o, struct media_origin *m)
{
    if (m->sock)
        return true;
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        return false;
    m->sock = h2o_evloop_socket_create(o->ctx.loop, fds[0], H2O_SOCKET_FLAG_DONT_READ);
    m->sock->data = m;
    h2o_socket_read_start(m->sock, on_wake);
    pthread_mutex_lock(&m->lock);
    m->wake_fd = fds[1];
    pthread_mutex_unlock(&m->lock);
    return true;
}

static bool park(h2o_req_t *req, struct media_job *job)
{
    struct origin_socket *entry = es_origin_socket_of_req(req);
    if (entry && !es_origin_park_acquire(entry))
        return false;
    struct media_waiter *w = h2o_mem_alloc_shared(&req->pool, sizeof(*w), waiter_dispose);
    memset(w, 0, sizeof(*w));
    w->req = req;
    w->entry = entry;
    h2o_linklist_insert(&job->waiters, &w->link);
    return true;
}

static void refuse(struct media_origin *m, h2o_req_t *req, const char *body)
{
    if (m)
        m->refused++;
    es_origin_add_header(req, "retry-after", "1");
    es_origin_respond_text(req, 503, "Service Unavailable", body, ROUTE_OTHER);
}

bool es_origin_media_job_submit(struct es_origin *o, h2o_req_t *req, struct media_job *job)
{
    struct media_origin *m = media_origin_of(o);
    pthread_mutex_lock(&worker_lock);
    bool full = worker_jobs >= MAX_JOBS;
    if (!full)
        worker_jobs++;
    pthread_mutex_unlock(&worker_lock);
    if (!m || full || !open_wake(o, m) || !park(req, job)) {
        if (!full) {
            pthread_mutex_lock(&worker_lock);
            worker_jobs--;
            pthread_mutex_unlock(&worker_lock);
        }
        job_free(job);
        refuse(m, req, "503 too many snapshots or clips in progress: retry in a second\n");
        if (m && m->pending == 0)
            close_wake(m);
        return false;
    }
    job->owner = m;
    m->pending++;
    struct lane *lane = job->clip ? &clip_lane : &snapshot_lane;
    pthread_mutex_lock(&worker_lock);
    if (!lane->started) {
        pthread_t tid;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&tid, &attr, worker_main, lane) != 0)
            abort();
        pthread_attr_destroy(&attr);
        lane->started = true;
    }
    *lane->tail = job;
    lane->tail = &job->next;
    pthread_cond_signal(&lane->wake);
    pthread_mutex_unlock(&worker_lock);
    return true;
}

/* ---- query strings ---- */

/* Strict: every key is one of `allowed` (token is always allowed). */
static bool only_keys(const char *raw, size_t len, const char *const *allowed, char *bad,
                      size_t bad_size)
{
    for (size_t i = 0; raw && i < len;) {
        size_t amp = i;
        while (amp < len && raw[amp] != '&')
            amp++;
        const char *k = raw + i;
        const char *eq = memchr(k, '=', amp - i);
        size_t klen = eq ? (size_t)(eq - k) : amp - i;
        bool ok = klen == 5 && memcmp(k, "token", 5) == 0;
        for (size_t a = 0; allowed[a] && !ok; a++)
            ok = strlen(allowed[a]) == klen && memcmp(k, allowed[a], klen) == 0;
        if (!ok && klen > 0) {
            snprintf(bad, bad_size, "%.*s", (int)(klen < 32 ? klen : 32), k);
            for (char *c = bad; *c; c++)
                if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
                    *c = '?';
            return false;
        }
        i = amp + 1;
    }
    return true;
}

/* ---- live snapshot ---- */

static void run_live(struct media_job *job)
{
    struct es_snapshot_jpeg jpeg;
    int64_t us = 0;
    enum es_err err = es_snapshot_source_jpeg(job->source, &jpeg, &us);
    if (us) {
        atomic_fetch_add(&encode_us_total, (uint_fast64_t)us);
        atomic_fetch_add(&encode_count, 1);
    }
    if (err == ES_ERR_NOT_FOUND) {
        job->status = 503;
        job->reason = "Service Unavailable";
        job->text = "503 no picture from this camera yet\n";
        return;
    }
    if (err != ES_OK) {
        job->status = 500;
        job->reason = "Internal Server Error";
        job->text = "500 the picture could not be encoded\n";
        return;
    }
    job->status = 200;
    job->reason = "OK";
    job->content_type = "image/jpeg";
    job->body = jpeg.jpeg;
    snprintf(job->etag, sizeof(job->etag), "\"%" PRIu64 "\"", jpeg.generation);
    if (jpeg.wall_us)
        es_clock_format_iso8601(jpeg.wall_us, job->capture_time, sizeof(job->capture_time));
}

static const char *live_cache_control(struct es_origin *o)
{
    /* A new picture comes every frame or keyframe: a second is plenty, and
     * with a token only the client's own cache may keep it. */
    return o->config.token ? "private, max-age=1" : "max-age=1";
}

void es_origin_serve_live_snapshot(struct es_origin *o, h2o_req_t *req, struct origin_stream *s)
{
    struct es_origin_camera_stats st;
    memset(&st, 0, sizeof(st));
    if (s->stats)
        s->stats(s->stats_opaque, &st);
    struct es_snapshot_source *src = st.snapshot;
    struct media_origin *m = media_origin_of(o);
    if (!src || !m) {
        es_origin_respond_text(req, 404, "Not Found", "404 no snapshots for this camera\n",
                               ROUTE_OTHER);
        return;
    }
    es_snapshot_source_count_request(src);
    struct es_snapshot_jpeg jpeg;
    if (es_snapshot_source_cached(src, &jpeg)) {
        /* The kept JPEG still shows the newest picture: answered here, no
         * encode. */
        m->live_cached++;
        char etag[64];
        snprintf(etag, sizeof(etag), "\"%" PRIu64 "\"", jpeg.generation);
        es_origin_add_header(req, "etag", etag);
        if (jpeg.wall_us) {
            char when[48];
            es_clock_format_iso8601(jpeg.wall_us, when, sizeof(when));
            es_origin_add_header(req, "x-capture-time", when);
        }
        ssize_t at = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
        struct respond r = {
            .status = 200,
            .reason = "OK",
            .content_type = "image/jpeg",
            .cache_control = live_cache_control(o),
            .route = ROUTE_OTHER,
        };
        if (at >= 0 && h2o_memis(req->headers.entries[at].value.base,
                                 req->headers.entries[at].value.len, etag, strlen(etag))) {
            r.status = 304;
            r.reason = "Not Modified";
            es_origin_respond(req, &r, NULL, 0, NULL, 0);
        } else {
            h2o_iovec_t body = h2o_iovec_init(es_blob_data(jpeg.jpeg), es_blob_size(jpeg.jpeg));
            es_origin_respond(req, &r, &body, 1, &jpeg.jpeg, 1);
        }
        es_blob_unref(jpeg.jpeg);
        return;
    }
    if (!es_snapshot_source_has_picture(src)) {
        refuse(NULL, req, "503 no picture from this camera yet (connecting?)\n");
        return;
    }
    /* An encode for this camera is already on its way: wait for it. */
    for (size_t i = 0; i < m->live_count; i++) {
        if (m->live[i]->source == src) {
            if (!park(req, m->live[i]))
                refuse(m, req, "503 too many requests waiting\n");
            return;
        }
    }
    struct media_job *job = es_origin_media_job_new();
    job->source = es_snapshot_source_ref(src);
    job->run = run_live;
    job->cache_control = live_cache_control(o);
    if (!es_origin_media_job_submit(o, req, job))
        return;
    if (m->live_count == m->live_cap) {
        m->live_cap = m->live_cap ? m->live_cap * 2 : 8;
        m->live = es_realloc(m->live, m->live_cap * sizeof(*m->live));
    }
    m->live[m->live_count++] = job;
}

/* ---- recorded snapshot ---- */

struct vod_inputs {
    char path[PATH_MAX];
    int64_t offset_ms;
};

static void free_vod_inputs(struct media_job *job)
{
    free(job->inputs);
}

static void run_vod(struct media_job *job)
{
    struct vod_inputs *in = job->inputs;
    struct es_blob *jpeg = NULL;
    int64_t started = es_clock_mono_us();
    enum es_err err = es_snapshot_from_segment(in->path, in->offset_ms, &jpeg);
    if (err != ES_OK) {
        /* Retention may have deleted it since the lookup. */
        job->status = err == ES_ERR_IO ? 404 : 500;
        job->reason = err == ES_ERR_IO ? "Not Found" : "Internal Server Error";
        job->text = err == ES_ERR_IO ? "404 the recorded segment is gone (retention)\n"
                                     : "500 the recorded picture could not be decoded\n";
        return;
    }
    atomic_fetch_add(&encode_us_total, (uint_fast64_t)(es_clock_mono_us() - started));
    atomic_fetch_add(&encode_count, 1);
    job->status = 200;
    job->reason = "OK";
    job->content_type = "image/jpeg";
    job->body = jpeg;
}

static void bad_request(h2o_req_t *req, const char *body)
{
    es_origin_respond_text(req, 400, "Bad Request", body, ROUTE_OTHER);
}

struct at_time {
    int64_t t_ms;
    bool found;
    struct es_record_entry entry;
};

static void pick_segment(void *opaque, const struct es_record_entry *e)
{
    struct at_time *a = opaque;
    if (e->start_ms <= a->t_ms && a->t_ms < e->start_ms + (int64_t)e->duration_ms &&
        (!a->found || e->start_ms > a->entry.start_ms)) {
        a->entry = *e;
        a->found = true;
    }
}

static void serve_vod_snapshot(struct es_origin *o, h2o_req_t *req, const char *record_dir,
                               const char *raw, size_t raw_len)
{
    static const char *const allowed[] = {"t", NULL};
    char bad[40], text[QUERY_VALUE_MAX], body[256];
    const char *why = NULL;
    if (!only_keys(raw, raw_len, allowed, bad, sizeof(bad))) {
        snprintf(body, sizeof(body), "400 unknown parameter '%s': snapshot.jpg takes only t=\n",
                 bad);
        bad_request(req, body);
        return;
    }
    int got = es_query_value(raw, raw_len, "t", text, sizeof(text), &why);
    if (got < 0) {
        snprintf(body, sizeof(body), "400 t= %s\n", why);
        bad_request(req, body);
        return;
    }
    if (got == 0) {
        bad_request(req, "400 snapshot.jpg needs t=<ISO 8601 time>, e.g. "
                         "?t=2026-12-03T14:32:00Z\n");
        return;
    }
    int64_t t_ms;
    if (!es_record_parse_time(text, &t_ms)) {
        bad_request(req, "400 t= is not an ISO 8601 time (YYYY-MM-DDTHH:MM:SS[.fff] with Z or "
                         "+HH:MM)\n");
        return;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", record_dir, ES_RECORDER_INDEX_NAME);
    struct es_record_index *index = NULL;
    struct at_time at = {.t_ms = t_ms};
    if (es_record_index_open(path, true, &index) == ES_OK) {
        size_t n;
        bool truncated;
        enum es_err err =
            es_record_index_query(index, t_ms, t_ms + 1, 8, pick_segment, &at, &n, &truncated);
        es_record_index_close(index);
        if (err != ES_OK) {
            es_origin_respond_text(req, 500, "Internal Server Error", "500 index query failed\n",
                                   ROUTE_OTHER);
            return;
        }
    }
    if (!at.found) {
        es_origin_respond_text(req, 404, "Not Found", "404 nothing recorded at t\n", ROUTE_OTHER);
        return;
    }
    struct media_origin *m = media_origin_of(o);
    if (m)
        m->vod_snapshots++;
    struct vod_inputs *in = es_calloc(1, sizeof(*in));
    char rel[ES_RECORD_REL_MAX];
    es_record_rel_path(&at.entry, rel, sizeof(rel));
    int n = snprintf(in->path, sizeof(in->path), "%s/%s", record_dir, rel);
    if (n < 0 || (size_t)n >= sizeof(in->path))
        in->path[0] = '\0'; /* cannot be opened: answered 404 */
    in->offset_ms = t_ms - at.entry.start_ms;
    struct media_job *job = es_origin_media_job_new();
    job->inputs = in;
    job->free_inputs = free_vod_inputs;
    job->run = run_vod;
    /* A recording never changes (until retention deletes it). */
    job->cache_control = o->config.token ? "private, max-age=86400" : "max-age=86400";
    snprintf(job->etag, sizeof(job->etag), "\"%" PRIu64 "-%" PRId64 "\"", at.entry.msn,
             in->offset_ms);
    es_origin_media_job_submit(o, req, job);
}

static struct origin_stream *find_stream(struct es_origin *o, const char *id)
{
    for (size_t i = 0; i < o->stream_count; i++)
        if (strcmp(o->streams[i]->id, id) == 0)
            return o->streams[i];
    return NULL;
}

bool es_origin_serve_vod_media(struct es_origin *o, h2o_req_t *req, const struct es_path *path,
                               const char *raw_query, size_t raw_query_len, bool share)
{
    if (path->count != 3 || path->trailing_slash)
        return false;
    bool snapshot = strcmp(path->segments[2], "snapshot.jpg") == 0;
    bool clip = strcmp(path->segments[2], "clip.mp4") == 0;
    if (!snapshot && !clip)
        return false;
    struct origin_stream *s =
        es_path_is_name(path->segments[1]) ? find_stream(o, path->segments[1]) : NULL;
    if (!s) {
        es_origin_respond_text(req, 404, "Not Found", "404 no such camera\n", ROUTE_OTHER);
        return true;
    }
    struct es_origin_camera_stats st;
    memset(&st, 0, sizeof(st));
    if (s->stats)
        s->stats(s->stats_opaque, &st);
    if (!st.record_dir) {
        es_origin_respond_text(req, 404, "Not Found",
                               "404 this camera is not recorded (settings.record)\n", ROUTE_OTHER);
        return true;
    }
    if (snapshot)
        serve_vod_snapshot(o, req, st.record_dir, raw_query, raw_query_len);
    else
        es_origin_serve_clip(o, req, s, st.record_dir, raw_query, raw_query_len, share);
    return true;
}

void es_origin_snapshot_metrics(struct es_origin *o, h2o_mem_pool_t *pool, h2o_iovec_vector_t *out)
{
    struct media_origin *m = media_origin_of(o);
    es_origin_vprintf(pool, out,
                      "# HELP edgestream_snapshot_requests_total Live snapshot.jpg requests\n"
                      "# TYPE edgestream_snapshot_requests_total counter\n");
    for (size_t i = 0; i < o->stream_count; i++) {
        struct es_origin_camera_stats st;
        memset(&st, 0, sizeof(st));
        if (o->streams[i]->stats)
            o->streams[i]->stats(o->streams[i]->stats_opaque, &st);
        if (st.snapshot)
            es_origin_vprintf(pool, out,
                              "edgestream_snapshot_requests_total{camera=\"%s\"} %" PRIu64 "\n",
                              o->streams[i]->id, es_snapshot_source_requests(st.snapshot));
    }
    es_origin_vprintf(pool, out,
                      "# HELP edgestream_snapshot_encodes_total Live snapshot JPEGs encoded "
                      "(one per picture, however many asked)\n"
                      "# TYPE edgestream_snapshot_encodes_total counter\n");
    for (size_t i = 0; i < o->stream_count; i++) {
        struct es_origin_camera_stats st;
        memset(&st, 0, sizeof(st));
        if (o->streams[i]->stats)
            o->streams[i]->stats(o->streams[i]->stats_opaque, &st);
        if (st.snapshot)
            es_origin_vprintf(pool, out,
                              "edgestream_snapshot_encodes_total{camera=\"%s\"} %" PRIu64 "\n",
                              o->streams[i]->id, es_snapshot_source_encodes(st.snapshot));
    }
    es_origin_vprintf(pool, out,
                      "# HELP edgestream_snapshot_encode_seconds_total Time spent decoding and "
                      "encoding snapshots (live and recorded), on the media worker\n"
                      "# TYPE edgestream_snapshot_encode_seconds_total counter\n"
                      "edgestream_snapshot_encode_seconds_total %.6f\n"
                      "# HELP edgestream_snapshot_encoded_total Snapshots decoded and encoded "
                      "(live and recorded)\n"
                      "# TYPE edgestream_snapshot_encoded_total counter\n"
                      "edgestream_snapshot_encoded_total %" PRIu64 "\n",
                      (double)atomic_load(&encode_us_total) / 1e6,
                      (uint64_t)atomic_load(&encode_count));
    es_origin_vprintf(pool, out,
                      "# HELP edgestream_snapshot_cached_total Live snapshots answered from the "
                      "kept JPEG on the origin's thread\n"
                      "# TYPE edgestream_snapshot_cached_total counter\n"
                      "edgestream_snapshot_cached_total %" PRIu64 "\n"
                      "# HELP edgestream_snapshot_vod_total Recorded snapshots asked for\n"
                      "# TYPE edgestream_snapshot_vod_total counter\n"
                      "edgestream_snapshot_vod_total %" PRIu64 "\n"
                      "# HELP edgestream_media_jobs_refused_total Snapshot and clip requests "
                      "answered 503 (media worker busy)\n"
                      "# TYPE edgestream_media_jobs_refused_total counter\n"
                      "edgestream_media_jobs_refused_total %" PRIu64 "\n",
                      m ? m->live_cached : 0, m ? m->vod_snapshots : 0, m ? m->refused : 0);
    es_origin_clip_metrics(pool, out);
}
