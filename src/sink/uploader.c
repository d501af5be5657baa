#include "sink/uploader.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "playlist/playlist.h"

#include <curl/curl.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAYLIST_NAME "stream.m3u8"
#define SEGMENT_TYPE "video/mp2t"
#define PLAYLIST_TYPE "application/vnd.apple.mpegurl"
#define BACKOFF_BASE_MS 250
#define SLOW_BACKOFF_BASE_MS 5000
#define SLOW_BACKOFF_MAX_MS 60000
#define RETRY_AFTER_MAX_MS 60000
#define DEFAULT_GRACE_EXTRA_S 30.0
#define TOTAL_TIMEOUT_MS 600000 /* a hard stop; stalls end far sooner (stall_timeout_ms) */
#define RESPONSE_CAP (8u << 20)
#define STATS_LOG_INTERVAL_US 60000000
#define DELETE_MAX_ATTEMPTS 20
#define MAX_LOOP_WAIT_MS 1000
/* Segments uploaded beyond the newest stored playlist, past the window: more
 * would be objects no stored playlist names and nothing deletes (a playlist
 * the store refuses for good, issue 11). */
#define HOLD_BEYOND_WINDOW 2

/* ---- Types ------------------------------------------------------------------ */

struct queued_segment {
    uint64_t msn;
    struct es_blob *blob;
    double duration;
    int64_t program_date_time_us;
    bool discontinuity;
};

/* One kind of request of one stream (or a store's deletes): at most one in
 * flight, with its own backoff. */
struct lane {
    struct request *active;
    unsigned failures; /* consecutive */
    int64_t due_us;    /* not before */
    int64_t failing_since_us;
    bool ambiguous; /* an earlier attempt may have landed */
};

struct pending_delete {
    char *name; /* full object name */
    int64_t due_us;
    unsigned attempts;
};

struct es_upload_store {
    struct es_uploader *up;
    struct es_store *store;
    struct es_remote_storage settings; /* strings owned */
    size_t index;
    unsigned in_flight;
    bool parked; /* a permanent store error: probe only */
    int64_t recheck_us;
    bool probe_in_flight;
    char park_code[64];
    struct pending_delete *deletes;
    size_t delete_count, delete_cap;
    struct lane delete_lane;
    int64_t next_delete_batch_us;
    char delete_error_logged[64];
    /* Stats; written by the uploader thread, read by es_uploader_stats. */
    _Atomic uint64_t requests, connections_opened, bytes_sent, retries;
};

enum recovery_step { RECOVER_GET = 0, RECOVER_LIST, RECOVER_DONE };

struct stream_status {
    char state[16];
    char last_name[ES_PLAYLIST_URI_MAX];
    int64_t last_upload_ms;
    int64_t edge_latency_ms; /* -1: none yet */
    uint64_t retries, dropped, uploaded;
    size_t backlog_segments, backlog_bytes;
    int64_t playlist_wall_us;
};

struct es_upload_stream {
    struct es_uploader *up;
    struct es_upload_store *b;
    char *camera_id;
    char prefix[256];        /* "location_1/cam_floor/" */
    char playlist_name[320]; /* prefix + stream.m3u8 */
    unsigned segments_to_keep;
    double delete_grace;
    size_t max_backlog;

    /* Under up->lock. */
    struct queued_segment *inbox;
    size_t inbox_count, inbox_cap;
    bool closing;
    bool recovered, have_last;
    uint64_t last_msn;
    bool follows; /* opened while a closed stream of the same names was still sending */
    struct stream_status status;

    /* Uploader thread only. */
    bool closed; /* `closing`, as this thread last saw it */
    struct queued_segment *pending; /* oldest first; [0] is in flight when seg.active */
    size_t pending_count, pending_cap, pending_bytes;
    struct lane seg, pl, rec;
    enum recovery_step recovery;
    /* Segment numbers in this store. The camera numbers segments from what its
     * sinks knew at start; the store's own answer may come later (it was down).
     * Once it has, the first segment decides one offset for the stream's life:
     * 0 when the camera's number is already above everything stored (the usual
     * case: the local sink knew), else enough to continue after the stored
     * names, so no name is ever reused and the numbers stay continuous. */
    bool numbered;
    uint64_t msn_floor; /* the lowest number the store may take */
    uint64_t msn_offset;
    int64_t edge_latency_ms; /* capture end of the newest listed segment -> its playlist stored */
    char list_cursor[1024];
    bool listed_any;
    uint64_t listed_max;
    bool have_listed_max;
    char **listed;
    size_t listed_count, listed_cap;
    struct es_playlist playlist;
    struct es_playlist stored; /* recovery only: what the stored playlist names */
    uint64_t version, stored_version;
    bool held;             /* segment uploads wait for a stored playlist */
    bool playlist_refused; /* the last playlist PUT was refused for good */
    struct trimmed {
        char uri[ES_PLAYLIST_URI_MAX];
        uint64_t version; /* first playlist version that no longer lists it */
    } * trimmed;
    size_t trimmed_count, trimmed_cap;
    bool gap; /* segments were dropped since the last confirmed one */
    uint64_t dropped_in_episode;
    char object_error_logged[64];
    uint64_t uploaded, dropped, retries, playlists;
    int64_t last_upload_ms, playlist_wall_us, last_stats_log_us;
    char last_name[ES_PLAYLIST_URI_MAX];
};

struct request {
    struct es_upload_stream *stream; /* NULL for deletes */
    struct es_upload_store *b;
    struct lane *lane;
    enum es_store_op op;
    CURL *easy;
    struct es_store_request sreq;
    struct es_blob *blob;
    uint64_t msn, version;
    char **names;
    unsigned *attempts; /* per name, deletes */
    size_t name_count;
    char *body;
    size_t body_len, body_cap;
    int64_t started_us;
    int64_t capture_end_us; /* playlists: wall clock at the end of the newest segment's capture */
    bool probe;
    char errbuf[CURL_ERROR_SIZE];
};

struct es_uploader {
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    CURLM *multi;
    /* Under lock; the thread works on snapshots. */
    struct es_upload_store **stores;
    size_t store_count, store_cap;
    struct es_upload_stream **streams;
    size_t stream_count, stream_cap;
    bool stop;
    int64_t drain_deadline_us;
    /* Thread only. */
    struct es_upload_store **t_stores;
    size_t t_store_count;
    struct es_upload_stream **t_streams;
    size_t t_stream_count;
    size_t rotate;
    uint64_t rng;
    CURL **pool;
    size_t pool_count, pool_cap;
};

/* ---- Small helpers ----------------------------------------------------------- */

static const char *component(const struct es_upload_store *b)
{
    return strcmp(b->store->kind, "s3") == 0 ? "sink.s3" : "sink.supabase";
}

static uint64_t next_random(struct es_uploader *up)
{
    /* xorshift64*: jitter only, no need for more. */
    up->rng ^= up->rng >> 12;
    up->rng ^= up->rng << 25;
    up->rng ^= up->rng >> 27;
    return up->rng * UINT64_C(2685821657736338717);
}

static void push_name(char ***list, size_t *count, size_t *cap, const char *name)
{
    if (*count == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *list = es_realloc(*list, *cap * sizeof(**list));
    }
    (*list)[(*count)++] = es_strdup(name);
}

static void lane_ok(struct lane *lane)
{
    lane->failures = 0;
    lane->due_us = 0;
    lane->failing_since_us = 0;
    lane->ambiguous = false;
}

/* Capped exponential backoff with jitter ("equal jitter": half fixed, half
 * random), so cameras that failed together do not retry together. */
static int64_t backoff_us(struct es_uploader *up, const struct es_upload_store *b,
                          unsigned failures, bool slow, int64_t retry_after_ms)
{
    uint64_t base = slow ? SLOW_BACKOFF_BASE_MS : BACKOFF_BASE_MS;
    uint64_t cap = slow ? SLOW_BACKOFF_MAX_MS : b->settings.retry_max_ms;
    if (cap < base)
        base = cap;
    unsigned shift = failures > 1 ? failures - 1 : 0;
    uint64_t d = shift >= 20 ? cap : base << shift;
    if (d > cap)
        d = cap;
    d = d / 2 + next_random(up) % (d / 2 + 1);
    if (retry_after_ms > 0 && (uint64_t)retry_after_ms > d)
        d = (uint64_t)(retry_after_ms < RETRY_AFTER_MAX_MS ? retry_after_ms : RETRY_AFTER_MAX_MS);
    return (int64_t)d * 1000;
}

static double grace_of(const struct es_upload_stream *s)
{
    if (s->delete_grace >= 0)
        return s->delete_grace;
    return es_playlist_duration(&s->playlist) + DEFAULT_GRACE_EXTRA_S;
}

static void object_name(const struct es_upload_stream *s, const char *uri, char *out,
                        size_t out_size)
{
    snprintf(out, out_size, "%s%s", s->prefix, uri);
}

static void schedule_delete(struct es_upload_store *b, const char *name, int64_t due_us)
{
    if (b->delete_count == b->delete_cap) {
        b->delete_cap = b->delete_cap ? b->delete_cap * 2 : 64;
        b->deletes = es_realloc(b->deletes, b->delete_cap * sizeof(*b->deletes));
    }
    b->deletes[b->delete_count++] = (struct pending_delete){es_strdup(name), due_us, 0};
}

/* ---- Requests ------------------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct request *r = opaque;
    size_t n = size * nmemb;
    if (r->body_len + n + 1 > r->body_cap) {
        if (r->body_len + n + 1 > RESPONSE_CAP)
            return n; /* keep what we have; classification needs only the start */
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        r->body = es_realloc(r->body, cap);
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return n;
}

static CURL *take_easy(struct es_uploader *up)
{
    if (up->pool_count) {
        CURL *e = up->pool[--up->pool_count];
        curl_easy_reset(e);
        return e;
    }
    CURL *e = curl_easy_init();
    if (!e)
        abort();
    return e;
}

static void give_easy(struct es_uploader *up, CURL *e)
{
    if (up->pool_count == up->pool_cap) {
        up->pool_cap = up->pool_cap ? up->pool_cap * 2 : 16;
        up->pool = es_realloc(up->pool, up->pool_cap * sizeof(*up->pool));
    }
    up->pool[up->pool_count++] = e;
}

static void request_free(struct es_uploader *up, struct request *r)
{
    if (!r)
        return;
    if (r->easy) {
        curl_multi_remove_handle(up->multi, r->easy);
        give_easy(up, r->easy);
    }
    es_store_request_clear(&r->sreq);
    es_blob_unref(r->blob);
    for (size_t i = 0; i < r->name_count; i++)
        free(r->names[i]);
    free(r->names);
    free(r->attempts);
    free(r->body);
    free(r);
}

/* Hands a built request to libcurl. */
static void start(struct es_uploader *up, struct request *r, struct lane *lane)
{
    struct es_upload_store *b = r->b;
    const struct es_remote_storage *cfg = &b->settings;
    CURL *e = take_easy(up);
    r->easy = e;
    r->lane = lane;
    r->started_us = es_clock_mono_us();
    lane->active = r;
    b->in_flight++;
    b->requests++;
    if (b->parked) {
        r->probe = true;
        b->probe_in_flight = true;
    }

    curl_easy_setopt(e, CURLOPT_URL, r->sreq.url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->sreq.headers);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "edgestream/" ES_VERSION);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->connect_timeout_ms);
    /* A stall (nothing moves either way) fails the request after
     * stall_timeout_ms; a slow but moving upload goes on. */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)((cfg->stall_timeout_ms + 999) / 1000));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)TOTAL_TIMEOUT_MS);
    if (strcmp(r->sreq.method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        /* The blob's bytes go out as they are: no copy. */
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->sreq.body ? (const char *)r->sreq.body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->sreq.body_size);
        if (strcmp(r->sreq.method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->sreq.method);
        b->bytes_sent += r->sreq.body_size;
    }
    CURLMcode mc = curl_multi_add_handle(up->multi, e);
    if (mc != CURLM_OK)
        es_log(ES_LOG_ERROR, component(b), "event=curl_multi_add_failed error=\"%s\"",
               curl_multi_strerror(mc));
}

static struct request *new_request(struct es_upload_store *b, struct es_upload_stream *s,
                                   enum es_store_op op)
{
    struct request *r = es_calloc(1, sizeof(*r));
    r->b = b;
    r->stream = s;
    r->op = op;
    return r;
}

/* ---- Logging of episodes -------------------------------------------------------- */

static const char *op_name(enum es_store_op op)
{
    switch (op) {
    case ES_STORE_PUT_SEGMENT:
        return "segment";
    case ES_STORE_PUT_PLAYLIST:
        return "playlist";
    case ES_STORE_DELETE:
        return "delete";
    case ES_STORE_GET:
        return "read_playlist";
    case ES_STORE_LIST:
        return "list";
    }
    return "request";
}

static const char *camera_of(const struct request *r)
{
    return r->stream ? r->stream->camera_id : "-";
}

/* ---- The stream's playlist ------------------------------------------------------ */

static void add_trimmed(struct es_upload_stream *s, const char *uri, uint64_t version)
{
    if (s->trimmed_count == s->trimmed_cap) {
        s->trimmed_cap = s->trimmed_cap ? s->trimmed_cap * 2 : 16;
        s->trimmed = es_realloc(s->trimmed, s->trimmed_cap * sizeof(*s->trimmed));
    }
    struct trimmed *t = &s->trimmed[s->trimmed_count++];
    snprintf(t->uri, sizeof(t->uri), "%s", uri);
    t->version = version;
}

/* Trims (or slides) towards `keep` segments, 64 at a time so that every name
 * removed is remembered for deletion, however many go at once. */
static void trim_into(struct es_upload_stream *s, size_t keep, bool slide, uint64_t version)
{
    enum { CHUNK = 64 };
    struct es_playlist_segment removed[CHUNK];
    while (s->playlist.count > keep) {
        size_t step = s->playlist.count - keep > CHUNK ? s->playlist.count - CHUNK : keep;
        size_t n = slide ? es_playlist_slide(&s->playlist, step, removed, CHUNK)
                         : es_playlist_trim(&s->playlist, step, removed, CHUNK);
        for (size_t i = 0; i < n; i++)
            add_trimmed(s, removed[i].uri, version);
        if (n == 0)
            return; /* slide keeps three target durations (RFC 8216 §6.2.2) */
    }
}

/* A segment is stored: it joins the playlist (RFC 8216 §6.2.1: the server
 * appends; §6.2.2: removes from the head only). */
static void confirm_segment(struct es_upload_stream *s, const struct queued_segment *g)
{
    const char *comp = component(s->b);
    struct es_playlist_segment entry = {
        .msn = g->msn,
        .duration = g->duration,
        .program_date_time_us = g->program_date_time_us,
        .discontinuity = g->discontinuity || s->gap,
    };
    es_sink_segment_name(g->msn, entry.uri, sizeof(entry.uri));
    uint64_t next_version = s->version + 1;
    if (s->playlist.count && g->msn != s->playlist.media_sequence + s->playlist.count) {
        /* Numbers jumped (dropped segments, or a restart above what the store
         * listed): the window starts over here, after a discontinuity. */
        trim_into(s, 0, false, next_version);
        entry.discontinuity = true;
    }
    long rounded = lround(g->duration);
    if (rounded > (long)s->playlist.target_duration) {
        es_log(ES_LOG_WARN, comp,
               "camera=%s event=target_duration_raised from=%u to=%ld hint=\"shorten the "
               "camera's keyframe interval\"",
               s->camera_id, s->playlist.target_duration, rounded);
        s->playlist.target_duration = (unsigned)rounded;
    }
    if (es_playlist_append(&s->playlist, &entry) != ES_OK) {
        char name[512];
        object_name(s, entry.uri, name, sizeof(name));
        es_log(ES_LOG_ERROR, comp,
               "camera=%s event=segment_rejected msn=%" PRIu64 " duration=%.3f target=%u",
               s->camera_id, g->msn, g->duration, s->playlist.target_duration);
        schedule_delete(s->b, name, es_clock_mono_us());
        return;
    }
    s->gap = false;
    trim_into(s, s->segments_to_keep, true, next_version);
    s->version = next_version;
}

/* The playlist of `version` is stored: what it no longer lists may go once
 * the grace period has passed (RFC 8216 §6.2.2: a removed segment stays
 * available for its duration plus the playlist's). The clock starts now, not
 * when the segment was trimmed: until now readers could still be told of it. */
static void playlist_stored(struct es_upload_stream *s, uint64_t version)
{
    s->stored_version = version;
    if (s->held) {
        s->held = false;
        es_log(ES_LOG_INFO, component(s->b),
               "camera=%s event=segments_resumed stored_playlist_version=%" PRIu64, s->camera_id,
               version);
    }
    int64_t due = es_clock_mono_us() + (int64_t)(grace_of(s) * 1e6);
    size_t kept = 0;
    for (size_t i = 0; i < s->trimmed_count; i++) {
        if (s->trimmed[i].version <= version) {
            char name[512];
            object_name(s, s->trimmed[i].uri, name, sizeof(name));
            schedule_delete(s->b, name, due);
        } else {
            s->trimmed[kept++] = s->trimmed[i];
        }
    }
    s->trimmed_count = kept;
}

static char *render_playlist(const struct es_upload_stream *s, size_t *len)
{
    size_t need = es_playlist_write(&s->playlist, NULL, 0);
    char *text = es_malloc(need + 1);
    es_playlist_write(&s->playlist, text, need + 1);
    *len = need;
    return text;
}

/* ---- Backlog -------------------------------------------------------------------- */

static void drop_pending(struct es_upload_stream *s, size_t index, const char *why)
{
    struct queued_segment *g = &s->pending[index];
    if (s->dropped_in_episode == 0)
        es_log(ES_LOG_WARN, component(s->b),
               "camera=%s event=segment_dropped msn=%" PRIu64 " reason=%s backlog_bytes=%zu "
               "hint=\"the store is not keeping up; the playlist marks the gap with "
               "EXT-X-DISCONTINUITY\"",
               s->camera_id, g->msn, why, s->pending_bytes);
    else
        es_log(ES_LOG_DEBUG, component(s->b),
               "camera=%s event=segment_dropped msn=%" PRIu64 " reason=%s", s->camera_id, g->msn,
               why);
    s->pending_bytes -= es_blob_size(g->blob);
    es_blob_unref(g->blob);
    memmove(&s->pending[index], &s->pending[index + 1],
            (s->pending_count - index - 1) * sizeof(*s->pending));
    s->pending_count--;
    s->gap = true;
    s->dropped++;
    s->dropped_in_episode++;
}

/* Unsent segments are bounded in bytes, and by the window: a segment older
 * than the newest segments_to_keep could never appear in a live playlist, so
 * sending it would only delay the live edge. The in-flight head and the
 * newest are never dropped. */
static void enforce_backlog(struct es_upload_stream *s)
{
    for (;;) {
        size_t first = s->seg.active ? 1 : 0;
        if (s->pending_count < first + 2)
            return;
        bool over_bytes = s->pending_bytes > s->max_backlog;
        bool over_window = s->pending_count > s->segments_to_keep;
        if (!over_bytes && !over_window)
            return;
        drop_pending(s, first, over_bytes ? "backlog_full" : "behind_live_edge");
    }
}

/* Decides the stream's offset from its first segment after recovery (see
 * `numbered`). */
static void decide_numbering(struct es_upload_stream *s, uint64_t first_msn)
{
    s->numbered = true;
    s->msn_offset = first_msn < s->msn_floor ? s->msn_floor - first_msn : 0;
    if (s->msn_offset)
        es_log(ES_LOG_INFO, component(s->b),
               "camera=%s event=renumbered first=%" PRIu64 " stored_as=%" PRIu64
               " hint=\"the store holds higher numbers than this run started from; its names "
               "continue after them\"",
               s->camera_id, first_msn, first_msn + s->msn_offset);
}

static void admit(struct es_upload_stream *s, struct queued_segment *g)
{
    if (s->recovery == RECOVER_DONE) {
        if (!s->numbered)
            decide_numbering(s, g->msn);
        g->msn += s->msn_offset;
    }
    if (s->pending_count == s->pending_cap) {
        s->pending_cap = s->pending_cap ? s->pending_cap * 2 : 16;
        s->pending = es_realloc(s->pending, s->pending_cap * sizeof(*s->pending));
    }
    s->pending[s->pending_count++] = *g;
    s->pending_bytes += es_blob_size(g->blob);
    enforce_backlog(s);
}

/* ---- Store-wide state ----------------------------------------------------------- */

static void park(struct es_upload_store *b, const struct request *r,
                 const struct es_store_result *res)
{
    int64_t now = es_clock_mono_us();
    b->recheck_us = now + (int64_t)b->settings.recheck_s * 1000000;
    if (b->parked)
        return; /* reported once */
    b->parked = true;
    snprintf(b->park_code, sizeof(b->park_code), "%s", res->code);
    es_log(ES_LOG_ERROR, component(b),
           "camera=%s event=store_rejected host=%s request=%s code=%s reason=\"%s\" "
           "action=\"uploads to this store are paused; one request every %us checks whether "
           "it is fixed\"",
           camera_of(r), b->store->host, op_name(r->op), res->code, res->reason,
           b->settings.recheck_s);
}

static void unpark(struct es_upload_store *b)
{
    if (!b->parked)
        return;
    b->parked = false;
    es_log(ES_LOG_INFO, component(b), "event=store_accepting host=%s after=%s", b->store->host,
           b->park_code);
    /* Everything waiting on the store may go now. */
    for (size_t i = 0; i < b->up->t_stream_count; i++) {
        struct es_upload_stream *s = b->up->t_streams[i];
        if (s->b != b)
            continue;
        s->seg.due_us = s->pl.due_us = s->rec.due_us = 0;
    }
    b->delete_lane.due_us = 0;
}

/* A success shows the store is back: streams waiting out a backoff after
 * transport errors retry now (with a little jitter) instead of at their own
 * next slot, so the live edge returns within moments of the store. */
static void store_is_back(struct es_upload_store *b, int64_t now)
{
    struct es_uploader *up = b->up;
    for (size_t i = 0; i < up->t_stream_count; i++) {
        struct es_upload_stream *s = up->t_streams[i];
        if (s->b != b)
            continue;
        struct lane *lanes[] = {&s->seg, &s->pl, &s->rec};
        for (size_t k = 0; k < 3; k++) {
            struct lane *l = lanes[k];
            if (!l->active && l->failures && l->due_us > now + 50000)
                l->due_us = now + (int64_t)(next_random(up) % 50000);
        }
    }
}

/* ---- Recovery ------------------------------------------------------------------- */

/* Does `pl` name `name` (one of ours, for `msn`)? */
static bool names(const struct es_playlist *pl, uint64_t msn, const char *name)
{
    return pl->count && msn >= pl->media_sequence && msn - pl->media_sequence < pl->count &&
           strcmp(pl->segments[msn - pl->media_sequence].uri, name) == 0;
}

/* The store has been read: what it holds sets the floor of this stream's
 * numbers. There is no other way out of recovery: segments are never sent
 * to a store that could not be read (a name could be reused), they wait in
 * the bounded backlog instead. */
static void recovery_done(struct es_upload_stream *s)
{
    struct es_uploader *up = s->up;
    uint64_t last = 0;
    bool have = false;
    if (s->playlist.count) {
        last = s->playlist.media_sequence + s->playlist.count - 1;
        have = true;
    }
    if (s->have_listed_max && (!have || s->listed_max > last)) {
        last = s->listed_max;
        have = true;
    }
    s->msn_floor = have ? last + 1 : 0;
    /* Segments that waited for the answer take their store numbers now. */
    if (s->pending_count) {
        decide_numbering(s, s->pending[0].msn);
        for (size_t i = 0; i < s->pending_count; i++)
            s->pending[i].msn += s->msn_offset;
    }
    /* This run's first segment follows another run's window: mark the join,
     * whatever the camera knew when it started. */
    if (s->playlist.count)
        s->gap = true;
    /* Objects outside the adopted window are leftovers of an earlier run
     * (deletes it did not get to, uploads a crash kept out of its playlist).
     * Only names this sink would have written are ever deleted (on_listed
     * keeps no others), and one the stored playlist still names goes only
     * once a playlist without it is stored, as any segment that leaves it. */
    int64_t due = es_clock_mono_us() + (int64_t)(grace_of(s) * 1e6);
    for (size_t i = 0; i < s->stored.count; i++) {
        const struct es_playlist_segment *seg = &s->stored.segments[i];
        if (!names(&s->playlist, seg->msn, seg->uri))
            add_trimmed(s, seg->uri, s->version + 1);
    }
    for (size_t i = 0; i < s->listed_count; i++) {
        uint64_t msn;
        if (es_sink_segment_msn(s->listed[i], &msn) && !names(&s->playlist, msn, s->listed[i]) &&
            !names(&s->stored, msn, s->listed[i])) {
            char name[512];
            object_name(s, s->listed[i], name, sizeof(name));
            schedule_delete(s->b, name, due);
        }
        free(s->listed[i]);
    }
    es_playlist_clear(&s->stored);
    free(s->listed);
    s->listed = NULL;
    s->listed_count = s->listed_cap = 0;
    s->recovery = RECOVER_DONE;
    lane_ok(&s->rec);
    es_log(ES_LOG_INFO, component(s->b),
           "camera=%s event=store_read playlist_segments=%zu media_sequence=%" PRIu64
           " last_msn=%s%" PRIu64,
           s->camera_id, s->playlist.count, s->playlist.media_sequence, have ? "" : "none/",
           have ? last : 0);
    pthread_mutex_lock(&up->lock);
    s->recovered = true;
    s->have_last = have;
    s->last_msn = last;
    pthread_mutex_unlock(&up->lock);
}

/* Nothing read back is trusted (DESIGN.md invariant 8): an entry of the stored
 * playlist is adopted, and later deleted, only if its URI is exactly the name
 * this sink gives its msn. Anything else is foreign: logged once, never
 * adopted, never deleted. */
static void adopt_stored_playlist(struct es_upload_stream *s, const char *text, size_t len)
{
    struct es_playlist old;
    es_playlist_init(&old, s->playlist.target_duration);
    if (es_playlist_parse(text, len, &old) != ES_OK || old.count == 0) {
        if (len)
            es_log(ES_LOG_WARN, component(s->b), "camera=%s event=stored_playlist_unreadable",
                   s->camera_id);
        es_playlist_clear(&old);
        return;
    }
    /* Numbers in the old window are taken whatever its target (names are
     * never reused); the window itself is kept only if the target is the
     * same (RFC 8216 §6.2.2: it may not change). */
    s->listed_max = old.media_sequence + old.count - 1;
    s->have_listed_max = true;
    bool adopting = old.target_duration == s->playlist.target_duration;
    if (adopting) {
        s->playlist.media_sequence = old.media_sequence;
        s->playlist.discontinuity_sequence = old.discontinuity_sequence;
    }
    es_playlist_clear(&s->stored);
    es_playlist_init(&s->stored, old.target_duration);
    s->stored.media_sequence = old.media_sequence;
    size_t foreign = 0;
    char first_foreign[ES_PLAYLIST_URI_MAX] = "";
    for (size_t i = 0; i < old.count; i++) {
        uint64_t msn;
        const struct es_playlist_segment *seg = &old.segments[i];
        if (!es_sink_segment_msn(seg->uri, &msn) || msn != seg->msn) {
            if (!foreign++) {
                /* Shown as read, but a '"' would end the log field early. */
                snprintf(first_foreign, sizeof(first_foreign), "%s", seg->uri);
                for (char *q = first_foreign; *q; q++)
                    if (*q == '"')
                        *q = '\'';
            }
            adopting = false; /* the window stays contiguous */
            continue;
        }
        /* What it names of ours, for the leftovers (recovery_done). */
        if (s->stored.count == 0)
            s->stored.media_sequence = msn;
        if (msn == s->stored.media_sequence + s->stored.count)
            es_playlist_append(&s->stored, seg);
        if (adopting && es_playlist_append(&s->playlist, seg) != ES_OK)
            adopting = false;
    }
    if (foreign)
        es_log(ES_LOG_WARN, component(s->b),
               "camera=%s event=foreign_names_ignored object=%s count=%zu first=\"%s\" "
               "action=\"not adopted, never deleted\"",
               s->camera_id, s->playlist_name, foreign, first_foreign);
    es_playlist_clear(&old);
}

static void on_listed(void *opaque, const char *name)
{
    struct es_upload_stream *s = opaque;
    uint64_t msn;
    if (!es_sink_segment_msn(name, &msn))
        return; /* not a name of ours: never counted, never deleted */
    if (!s->have_listed_max || msn > s->listed_max) {
        s->listed_max = msn;
        s->have_listed_max = true;
    }
    push_name(&s->listed, &s->listed_count, &s->listed_cap, name);
}

/* The adopted window keeps only segments the listing shows are still there. */
static void check_window_against_listing(struct es_upload_stream *s)
{
    size_t keep = 0;
    for (; keep < s->playlist.count; keep++) {
        bool found = false;
        for (size_t i = 0; i < s->listed_count && !found; i++)
            found = strcmp(s->listed[i], s->playlist.segments[keep].uri) == 0;
        if (!found)
            break;
    }
    if (keep < s->playlist.count) {
        es_log(ES_LOG_WARN, component(s->b),
               "camera=%s event=stored_window_incomplete listed=%zu of=%zu", s->camera_id, keep,
               s->playlist.count);
        s->playlist.count = keep; /* msns stay: the next segment follows a gap */
    }
}

/* ---- Completion ----------------------------------------------------------------- */

static void note_failure(struct es_upload_stream *s, struct request *r,
                         const struct es_store_result *res, int64_t delay_us)
{
    struct es_upload_store *b = r->b;
    struct lane *lane = r->lane;
    bool first = lane->failures == 1;
    if (first)
        lane->failing_since_us = es_clock_mono_us();
    es_log(first ? ES_LOG_WARN : ES_LOG_DEBUG, component(b),
           "camera=%s event=%s_retrying code=%s reason=\"%s\" attempt=%u next_in_ms=%" PRId64,
           camera_of(r), op_name(r->op), res->code, res->reason, lane->failures + 0,
           delay_us / 1000);
    b->retries++;
    if (s)
        s->retries++;
}

static void note_recovered(struct request *r)
{
    struct lane *lane = r->lane;
    if (lane->failures) {
        double after = (double)(es_clock_mono_us() - lane->failing_since_us) / 1e6;
        struct es_upload_stream *s = r->stream;
        es_log(ES_LOG_INFO, component(r->b),
               "camera=%s event=%s_recovered failures=%u after_s=%.1f dropped=%" PRIu64,
               camera_of(r), op_name(r->op), lane->failures, after, s ? s->dropped_in_episode : 0);
        if (s)
            s->dropped_in_episode = 0;
    }
    lane_ok(lane);
}

/* Logged once per stream and code until something succeeds. */
static void object_rejected(struct es_upload_stream *s, struct request *r,
                            const struct es_store_result *res, const char *what)
{
    char *logged = s ? s->object_error_logged : r->b->delete_error_logged;
    bool again = strcmp(logged, res->code) == 0;
    es_log(again ? ES_LOG_DEBUG : ES_LOG_ERROR, component(r->b),
           "camera=%s event=%s_rejected code=%s reason=\"%s\" action=\"%s\"", camera_of(r),
           op_name(r->op), res->code, res->reason, what);
    snprintf(logged, 64, "%s", res->code);
}

static void transport_result(const struct request *r, CURLcode code, struct es_store_result *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->code, sizeof(out->code), "curl_%d", (int)code);
    const char *detail = r->errbuf[0] ? r->errbuf : curl_easy_strerror(code);
    switch (code) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        out->verdict = ES_STORE_PERMANENT_STORE;
        break;
    default:
        out->verdict = ES_STORE_TRANSIENT;
        break;
    }
    snprintf(out->reason, sizeof(out->reason), "%.100s (%.140s)", curl_easy_strerror(code), detail);
    for (char *c = out->reason; *c; c++)
        if (*c == '"' || (unsigned char)*c < 0x20)
            *c = ' ';
}

static void finish_segment(struct es_uploader *up, struct request *r,
                           const struct es_store_result *res, int64_t retry_after_ms, int64_t now)
{
    struct es_upload_stream *s = r->stream;
    struct lane *lane = &s->seg;
    switch (res->verdict) {
    case ES_STORE_OK:
    case ES_STORE_ABSENT: {
        note_recovered(r);
        s->object_error_logged[0] = '\0';
        struct queued_segment g = s->pending[0];
        s->pending_bytes -= es_blob_size(g.blob);
        memmove(&s->pending[0], &s->pending[1], (s->pending_count - 1) * sizeof(*s->pending));
        s->pending_count--;
        s->uploaded++;
        s->last_upload_ms = (now - r->started_us) / 1000;
        es_sink_segment_name(g.msn, s->last_name, sizeof(s->last_name));
        confirm_segment(s, &g);
        es_log(ES_LOG_DEBUG, component(r->b),
               "camera=%s event=segment_uploaded msn=%" PRIu64 " bytes=%zu ms=%" PRId64,
               s->camera_id, g.msn, es_blob_size(g.blob), s->last_upload_ms);
        es_blob_unref(g.blob);
        return;
    }
    case ES_STORE_TRANSIENT:
    case ES_STORE_TRANSIENT_SLOW: {
        lane->failures++;
        int64_t delay = backoff_us(up, r->b, lane->failures,
                                   res->verdict == ES_STORE_TRANSIENT_SLOW, retry_after_ms);
        lane->due_us = now + delay;
        note_failure(s, r, res, delay);
        return;
    }
    case ES_STORE_PERMANENT_STORE:
        park(r->b, r, res);
        lane->due_us = r->b->recheck_us;
        return;
    case ES_STORE_PERMANENT_OBJECT:
        object_rejected(s, r, res, "segment skipped; the playlist marks the gap");
        lane_ok(lane);
        s->pending_bytes -= es_blob_size(s->pending[0].blob);
        es_blob_unref(s->pending[0].blob);
        memmove(&s->pending[0], &s->pending[1], (s->pending_count - 1) * sizeof(*s->pending));
        s->pending_count--;
        s->gap = true;
        s->dropped++;
        return;
    }
}

static void finish_playlist(struct es_uploader *up, struct request *r,
                            const struct es_store_result *res, int64_t retry_after_ms, int64_t now)
{
    struct es_upload_stream *s = r->stream;
    struct lane *lane = &s->pl;
    switch (res->verdict) {
    case ES_STORE_OK:
    case ES_STORE_ABSENT:
        note_recovered(r);
        s->playlist_refused = false;
        s->playlists++;
        s->playlist_wall_us = es_clock_wall_us();
        /* How old the live edge is when viewers of the store can first learn of
         * it (before the CDN and the player's buffer add their part). */
        if (r->capture_end_us && s->playlist_wall_us >= r->capture_end_us)
            s->edge_latency_ms = (s->playlist_wall_us - r->capture_end_us) / 1000;
        playlist_stored(s, r->version);
        es_log(ES_LOG_DEBUG, component(r->b),
               "camera=%s event=playlist_uploaded media_sequence=%" PRIu64 " last=%s ms=%" PRId64,
               s->camera_id, s->playlist.media_sequence, s->last_name,
               (now - r->started_us) / 1000);
        return;
    case ES_STORE_TRANSIENT:
    case ES_STORE_TRANSIENT_SLOW: {
        lane->failures++;
        lane->ambiguous = true;
        int64_t delay = backoff_us(up, r->b, lane->failures,
                                   res->verdict == ES_STORE_TRANSIENT_SLOW, retry_after_ms);
        lane->due_us = now + delay;
        note_failure(s, r, res, delay);
        return;
    }
    case ES_STORE_PERMANENT_STORE:
        park(r->b, r, res);
        lane->due_us = r->b->recheck_us;
        return;
    case ES_STORE_PERMANENT_OBJECT:
        object_rejected(s, r, res, "playlist not stored; retried every recheck_s");
        s->playlist_refused = true;
        lane_ok(lane);
        lane->due_us = now + (int64_t)r->b->settings.recheck_s * 1000000;
        return;
    }
}

static void finish_delete(struct es_uploader *up, struct request *r,
                          const struct es_store_result *res, int64_t retry_after_ms, int64_t now)
{
    struct es_upload_store *b = r->b;
    struct lane *lane = &b->delete_lane;
    bool retry = false;
    switch (res->verdict) {
    case ES_STORE_OK:
    case ES_STORE_ABSENT:
        note_recovered(r);
        b->delete_error_logged[0] = '\0';
        es_log(ES_LOG_DEBUG, component(b), "event=deleted objects=%zu", r->name_count);
        return;
    case ES_STORE_TRANSIENT:
    case ES_STORE_TRANSIENT_SLOW: {
        lane->failures++;
        int64_t delay = backoff_us(up, b, lane->failures, res->verdict == ES_STORE_TRANSIENT_SLOW,
                                   retry_after_ms);
        lane->due_us = now + delay;
        note_failure(NULL, r, res, delay);
        retry = true;
        break;
    }
    case ES_STORE_PERMANENT_STORE:
        park(b, r, res);
        lane->due_us = b->recheck_us;
        retry = true;
        break;
    case ES_STORE_PERMANENT_OBJECT:
        object_rejected(NULL, r, res, "these objects stay in the store");
        return;
    }
    if (!retry)
        return;
    /* The names go back in the queue (deletes are idempotent), unless they
     * have failed too often: a store that never deletes must not grow us. */
    size_t given_up = 0;
    for (size_t i = 0; i < r->name_count; i++) {
        unsigned attempts = r->attempts[i] + 1;
        if (attempts >= DELETE_MAX_ATTEMPTS) {
            given_up++;
            continue;
        }
        schedule_delete(b, r->names[i], now);
        b->deletes[b->delete_count - 1].attempts = attempts;
    }
    if (given_up)
        es_log(ES_LOG_WARN, component(b),
               "event=delete_given_up objects=%zu attempts=%d hint=\"they stay in the store\"",
               given_up, DELETE_MAX_ATTEMPTS);
}

static void finish_recovery(struct es_uploader *up, struct request *r,
                            const struct es_store_result *res, int64_t retry_after_ms, int64_t now)
{
    struct es_upload_stream *s = r->stream;
    struct lane *lane = &s->rec;
    if (res->verdict == ES_STORE_TRANSIENT || res->verdict == ES_STORE_TRANSIENT_SLOW) {
        lane->failures++;
        int64_t delay = backoff_us(up, r->b, lane->failures, false, retry_after_ms);
        lane->due_us = now + delay;
        note_failure(s, r, res, delay);
        return;
    }
    if (res->verdict == ES_STORE_PERMANENT_STORE) {
        /* Asked again with the store's probe, every recheck_s. */
        park(r->b, r, res);
        lane->due_us = r->b->recheck_us;
        return;
    }
    note_recovered(r);
    if (r->op == ES_STORE_GET) {
        if (res->verdict == ES_STORE_OK)
            adopt_stored_playlist(s, r->body ? r->body : "", r->body_len);
        else if (res->verdict == ES_STORE_PERMANENT_OBJECT)
            es_log(ES_LOG_WARN, component(r->b),
                   "camera=%s event=stored_playlist_unreadable "
                   "code=%s",
                   s->camera_id, res->code);
        s->recovery = RECOVER_LIST;
        s->list_cursor[0] = '\0';
        return;
    }
    /* LIST */
    if (res->verdict != ES_STORE_OK) {
        es_log(ES_LOG_WARN, component(r->b),
               "camera=%s event=list_failed code=%s reason=\"%s\" hint=\"old segments may stay "
               "in the store\"",
               s->camera_id, res->code, res->reason);
        recovery_done(s);
        return;
    }
    struct es_store_response resp = {
        .status = 200, .body = r->body ? r->body : "", .body_size = r->body_len};
    char cursor[sizeof(s->list_cursor)];
    snprintf(cursor, sizeof(cursor), "%s", s->list_cursor);
    if (!r->b->store->ops->parse_list(r->b->store, &resp, s->prefix, on_listed, s, cursor,
                                      sizeof(cursor))) {
        es_log(ES_LOG_WARN, component(r->b), "camera=%s event=list_unreadable", s->camera_id);
        recovery_done(s);
        return;
    }
    s->listed_any = true;
    if (cursor[0]) {
        snprintf(s->list_cursor, sizeof(s->list_cursor), "%s", cursor);
        return; /* next page */
    }
    check_window_against_listing(s);
    recovery_done(s);
}

static void finish(struct es_uploader *up, CURLMsg *msg)
{
    struct request *r = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    struct es_upload_store *b = r->b;
    int64_t now = es_clock_mono_us();
    b->in_flight--;
    r->lane->active = NULL;

    long connects = 0;
    curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &connects);
    b->connections_opened += (uint64_t)connects;

    struct es_store_result res;
    int64_t retry_after_ms = 0;
    CURLcode code = msg->data.result;
    if (code != CURLE_OK) {
        transport_result(r, code, &res);
        /* Refused or unresolved: nothing reached the server. */
        if (code != CURLE_COULDNT_CONNECT && code != CURLE_COULDNT_RESOLVE_HOST)
            r->lane->ambiguous = true;
    } else {
        long status = 0;
        char *content_type = NULL;
        curl_off_t retry_after = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &content_type);
        curl_easy_getinfo(r->easy, CURLINFO_RETRY_AFTER, &retry_after);
        retry_after_ms = (int64_t)retry_after * 1000;
        struct es_store_response resp = {
            .status = status,
            .content_type = content_type,
            .body = r->body ? r->body : "",
            .body_size = r->body_len,
        };
        b->store->ops->classify(b->store, r->op, &resp, r->lane->ambiguous, &res);
        if (res.verdict == ES_STORE_TRANSIENT || res.verdict == ES_STORE_TRANSIENT_SLOW)
            r->lane->ambiguous = true;
    }
    es_store_scrub(b->store, res.reason);

    bool success = res.verdict == ES_STORE_OK || res.verdict == ES_STORE_ABSENT ||
                   res.verdict == ES_STORE_PERMANENT_OBJECT;
    if (r->probe) {
        b->probe_in_flight = false;
        if (success)
            unpark(b);
        else if (res.verdict != ES_STORE_PERMANENT_STORE)
            b->recheck_us = now + (int64_t)b->settings.recheck_s * 1000000;
    }
    if (success && !b->parked)
        store_is_back(b, now);

    switch (r->op) {
    case ES_STORE_PUT_SEGMENT:
        finish_segment(up, r, &res, retry_after_ms, now);
        break;
    case ES_STORE_PUT_PLAYLIST:
        finish_playlist(up, r, &res, retry_after_ms, now);
        break;
    case ES_STORE_DELETE:
        finish_delete(up, r, &res, retry_after_ms, now);
        break;
    case ES_STORE_GET:
    case ES_STORE_LIST:
        finish_recovery(up, r, &res, retry_after_ms, now);
        break;
    }
    request_free(up, r);
}

/* ---- Scheduling ----------------------------------------------------------------- */

/* May `b` take one more request now? A parked store takes one probe at a time
 * once its recheck time has come. */
static bool store_admits(struct es_upload_store *b, int64_t now)
{
    if (b->in_flight >= b->settings.connections)
        return false;
    if (!b->parked)
        return true;
    return !b->probe_in_flight && now >= b->recheck_us;
}

static bool lane_ready(const struct lane *l, int64_t now)
{
    return !l->active && now >= l->due_us;
}

/* A closed stream is done here once nothing is in flight or queued and its
 * newest playlist is stored (or it never read the store, so it sent nothing). */
static bool finished(const struct es_upload_stream *s)
{
    if (s->seg.active || s->pl.active || s->rec.active || s->pending_count)
        return false;
    return s->recovery != RECOVER_DONE || !(s->version > s->stored_version && s->playlist.count);
}

/* A camera that a reload restarts (or removes and adds back) opens a new
 * stream on the same names while its old one still sends the segment the
 * stop flushed and the playlist naming it. Read before that, the store shows
 * a stale window: the new playlist starts over after it, and the old one's
 * last segment, listed but not named, is deleted as a leftover. So the new
 * stream reads the store once the old one is done (or can send no more). */
static bool predecessor_busy(struct es_uploader *up, const struct es_upload_stream *s)
{
    for (size_t i = 0; i < up->t_stream_count; i++) {
        const struct es_upload_stream *o = up->t_streams[i];
        if (o != s && o->closed && o->b == s->b && o->recovery == RECOVER_DONE &&
            !(o->held && o->playlist_refused) && !finished(o) &&
            strcmp(o->playlist_name, s->playlist_name) == 0)
            return true;
    }
    return false;
}

static bool start_recovery(struct es_uploader *up, struct es_upload_stream *s, int64_t now)
{
    if (s->recovery == RECOVER_DONE || !lane_ready(&s->rec, now) || predecessor_busy(up, s))
        return false;
    /* A parked store (refused for good) is read again only as its probe. */
    if (!store_admits(s->b, now))
        return false;
    struct request *r =
        new_request(s->b, s, s->recovery == RECOVER_GET ? ES_STORE_GET : ES_STORE_LIST);
    if (r->op == ES_STORE_GET)
        s->b->store->ops->get(s->b->store, s->playlist_name, &r->sreq);
    else
        s->b->store->ops->list(s->b->store, s->prefix, s->list_cursor, &r->sreq);
    start(up, r, &s->rec);
    return true;
}

static bool start_playlist(struct es_uploader *up, struct es_upload_stream *s, int64_t now)
{
    if (s->recovery != RECOVER_DONE || s->version <= s->stored_version || !s->playlist.count ||
        !lane_ready(&s->pl, now) || !store_admits(s->b, now))
        return false;
    struct request *r = new_request(s->b, s, ES_STORE_PUT_PLAYLIST);
    size_t len;
    char *text = render_playlist(s, &len);
    r->version = s->version;
    const struct es_playlist_segment *newest = &s->playlist.segments[s->playlist.count - 1];
    if (newest->program_date_time_us)
        r->capture_end_us = newest->program_date_time_us + (int64_t)(newest->duration * 1e6);
    s->b->store->ops->put(s->b->store, s->playlist_name, (const uint8_t *)text, len, PLAYLIST_TYPE,
                          s->b->settings.playlist_cache_control, true, &r->sreq);
    r->sreq.owned_body = (uint8_t *)text; /* the request owns the rendering */
    start(up, r, &s->pl);
    return true;
}

/* A segment is worth uploading only if a stored playlist will name it: while
 * the playlist lags more than the window behind (refused for good, or failing),
 * segments wait in the bounded backlog, which keeps the newest. */
static bool segments_held(struct es_upload_stream *s)
{
    uint64_t ahead = s->version - s->stored_version;
    bool hold = ahead >= (uint64_t)s->segments_to_keep + HOLD_BEYOND_WINDOW;
    if (hold && !s->held)
        es_log(ES_LOG_WARN, component(s->b),
               "camera=%s event=segments_held unlisted=%" PRIu64 " playlist=%s "
               "hint=\"no playlist could be stored; segments wait (newest kept) until one is\"",
               s->camera_id, ahead, s->playlist_refused ? "refused" : "failing");
    s->held = hold;
    return hold;
}

static bool start_segment(struct es_uploader *up, struct es_upload_stream *s, int64_t now)
{
    if (s->recovery != RECOVER_DONE || !s->pending_count || !lane_ready(&s->seg, now) ||
        !store_admits(s->b, now) || segments_held(s))
        return false;
    struct queued_segment *g = &s->pending[0];
    struct request *r = new_request(s->b, s, ES_STORE_PUT_SEGMENT);
    r->blob = es_blob_ref(g->blob);
    r->msn = g->msn;
    char uri[ES_PLAYLIST_URI_MAX], name[512];
    es_sink_segment_name(g->msn, uri, sizeof(uri));
    object_name(s, uri, name, sizeof(name));
    s->b->store->ops->put(s->b->store, name, es_blob_data(g->blob), es_blob_size(g->blob),
                          SEGMENT_TYPE, s->b->settings.segment_cache_control, false, &r->sreq);
    start(up, r, &s->seg);
    return true;
}

static bool start_deletes(struct es_uploader *up, struct es_upload_store *b, int64_t now,
                          bool draining)
{
    if (draining || !b->delete_count || !lane_ready(&b->delete_lane, now) || !store_admits(b, now))
        return false;
    size_t due = 0;
    for (size_t i = 0; i < b->delete_count; i++)
        due += b->deletes[i].due_us <= now;
    /* Batched: one request every delete_interval_s, or sooner when a full
     * batch is due. */
    if (!due || (now < b->next_delete_batch_us && due < b->store->max_delete_batch))
        return false;
    struct request *r = new_request(b, NULL, ES_STORE_DELETE);
    size_t take = due < b->store->max_delete_batch ? due : b->store->max_delete_batch;
    r->names = es_calloc(take, sizeof(*r->names));
    r->attempts = es_calloc(take, sizeof(*r->attempts));
    size_t kept = 0;
    for (size_t i = 0; i < b->delete_count; i++) {
        struct pending_delete *d = &b->deletes[i];
        if (d->due_us <= now && r->name_count < take) {
            r->attempts[r->name_count] = d->attempts;
            r->names[r->name_count++] = d->name;
        } else {
            b->deletes[kept++] = *d;
        }
    }
    b->delete_count = kept;
    b->store->ops->delete_objects(b->store, (const char *const *)r->names, r->name_count, &r->sreq);
    b->next_delete_batch_us = now + (int64_t)b->settings.delete_interval_s * 1000000;
    start(up, r, &b->delete_lane);
    return true;
}

/* Starts what may start, most urgent first: reading the store at start, then
 * playlists (their segments are stored: only the playlist stands between them
 * and viewers), then segments, then deletes. Streams take turns. */
static void schedule(struct es_uploader *up, int64_t now, bool draining)
{
    size_t n = up->t_stream_count;
    for (int pass = 0; pass < 3; pass++) {
        for (size_t k = 0; k < n; k++) {
            struct es_upload_stream *s = up->t_streams[(up->rotate + k) % n];
            if (pass == 0)
                start_recovery(up, s, now);
            else if (pass == 1)
                start_playlist(up, s, now);
            else
                start_segment(up, s, now);
        }
    }
    if (n)
        up->rotate = (up->rotate + 1) % n;
    for (size_t i = 0; i < up->t_store_count; i++)
        start_deletes(up, up->t_stores[i], now, draining);
}

/* When the loop must wake at the latest for a timer of ours. */
static int64_t next_wake(struct es_uploader *up, int64_t now)
{
    int64_t wake = now + (int64_t)MAX_LOOP_WAIT_MS * 1000;
#define CONSIDER(t)                                                                                \
    do {                                                                                           \
        if ((t) > now && (t) < wake)                                                               \
            wake = (t);                                                                            \
    } while (0)
    for (size_t i = 0; i < up->t_stream_count; i++) {
        struct es_upload_stream *s = up->t_streams[i];
        CONSIDER(s->seg.due_us);
        CONSIDER(s->pl.due_us);
        CONSIDER(s->rec.due_us);
    }
    for (size_t i = 0; i < up->t_store_count; i++) {
        struct es_upload_store *b = up->t_stores[i];
        CONSIDER(b->delete_lane.due_us);
        CONSIDER(b->recheck_us);
        CONSIDER(b->next_delete_batch_us);
    }
#undef CONSIDER
    return wake;
}

static bool drained(struct es_uploader *up)
{
    for (size_t i = 0; i < up->t_stream_count; i++) {
        struct es_upload_stream *s = up->t_streams[i];
        if (s->b->parked)
            continue; /* nothing will get through before the deadline */
        if (s->recovery != RECOVER_DONE && s->rec.failures)
            continue; /* the store has not been readable: nothing may be sent */
        if (s->held && s->playlist_refused && !s->seg.active && !s->pl.active)
            continue; /* likewise: the store refuses the playlist */
        if (s->seg.active || s->pl.active || s->pending_count ||
            (s->recovery == RECOVER_DONE && s->version > s->stored_version && s->playlist.count))
            return false;
    }
    return true;
}

/* ---- The thread ----------------------------------------------------------------- */

static void stream_free(struct es_upload_stream *s);

/* Frees the streams cameras closed (a reload removed or restarted them) once
 * they are done, so that none stays for the rest of the run. Under up->lock;
 * true when any went (the thread's snapshot must be taken again). */
static bool forget_finished(struct es_uploader *up)
{
    size_t kept = 0;
    for (size_t i = 0; i < up->stream_count; i++) {
        struct es_upload_stream *s = up->streams[i];
        if (s->closing && !s->inbox_count && finished(s)) {
            stream_free(s);
            continue;
        }
        up->streams[kept++] = s;
    }
    bool removed = kept != up->stream_count;
    up->stream_count = kept;
    return removed;
}

static void publish_status(struct es_upload_stream *s, int64_t now)
{
    struct stream_status st = {0};
    const char *state = "ok";
    if (s->recovery != RECOVER_DONE)
        state = "reading";
    else if (s->b->parked)
        state = "paused";
    else if (s->held)
        state = "held";
    else if (s->seg.failures || s->pl.failures)
        state = "retrying";
    snprintf(st.state, sizeof(st.state), "%s", state);
    snprintf(st.last_name, sizeof(st.last_name), "%s", s->last_name);
    st.last_upload_ms = s->last_upload_ms;
    st.edge_latency_ms = s->edge_latency_ms;
    st.retries = s->retries;
    st.dropped = s->dropped;
    st.uploaded = s->uploaded;
    st.backlog_segments = s->pending_count;
    st.backlog_bytes = s->pending_bytes;
    st.playlist_wall_us = s->playlist_wall_us;
    s->status = st; /* caller holds the lock */

    if (now - s->last_stats_log_us >= STATS_LOG_INTERVAL_US) {
        if (s->last_stats_log_us)
            es_log(ES_LOG_INFO, component(s->b),
                   "camera=%s event=upload_status state=%s segments=%" PRIu64 " playlists=%" PRIu64
                   " last=%s upload_ms=%" PRId64 " retries=%" PRIu64 " dropped=%" PRIu64
                   " backlog_segments=%zu backlog_bytes=%zu",
                   s->camera_id, state, s->uploaded, s->playlists,
                   s->last_name[0] ? s->last_name : "-", s->last_upload_ms, s->retries, s->dropped,
                   s->pending_count, s->pending_bytes);
        s->last_stats_log_us = now;
    }
}

static void *uploader_main(void *arg)
{
    struct es_uploader *up = arg;
    for (;;) {
        pthread_mutex_lock(&up->lock);
        bool forgotten = forget_finished(up);
        if (forgotten || up->t_stream_count != up->stream_count) {
            up->t_streams = es_realloc(up->t_streams, up->stream_count * sizeof(*up->t_streams));
            memcpy(up->t_streams, up->streams, up->stream_count * sizeof(*up->t_streams));
            up->t_stream_count = up->stream_count;
        }
        if (up->t_store_count != up->store_count) {
            up->t_stores = es_realloc(up->t_stores, up->store_count * sizeof(*up->t_stores));
            memcpy(up->t_stores, up->stores, up->store_count * sizeof(*up->t_stores));
            up->t_store_count = up->store_count;
        }
        /* Take the inboxes; backlog rules apply on this side. */
        for (size_t i = 0; i < up->t_stream_count; i++) {
            struct es_upload_stream *s = up->t_streams[i];
            for (size_t j = 0; j < s->inbox_count; j++)
                admit(s, &s->inbox[j]);
            s->inbox_count = 0;
            s->closed = s->closing;
        }
        bool stopping = up->stop;
        int64_t deadline = up->drain_deadline_us;
        pthread_mutex_unlock(&up->lock);

        int64_t now = es_clock_mono_us();
        if (stopping && (drained(up) || now >= deadline))
            break;
        schedule(up, now, stopping);
        int running = 0;
        curl_multi_perform(up->multi, &running);
        CURLMsg *msg;
        int left;
        bool finished = false;
        while ((msg = curl_multi_info_read(up->multi, &left)) != NULL) {
            if (msg->msg == CURLMSG_DONE) {
                finish(up, msg);
                finished = true;
            }
        }
        now = es_clock_mono_us();
        if (finished) {
            schedule(up, now, stopping);
            curl_multi_perform(up->multi, &running);
        }

        pthread_mutex_lock(&up->lock);
        for (size_t i = 0; i < up->t_stream_count; i++)
            publish_status(up->t_streams[i], now);
        pthread_mutex_unlock(&up->lock);

        long curl_wait = -1;
        curl_multi_timeout(up->multi, &curl_wait);
        int64_t wait_ms = (next_wake(up, now) - now + 999) / 1000;
        if (curl_wait >= 0 && curl_wait < wait_ms)
            wait_ms = curl_wait;
        if (wait_ms < 0)
            wait_ms = 0;
        curl_multi_poll(up->multi, NULL, 0, (int)wait_ms, NULL);
    }
    return NULL;
}

/* ---- Public API ------------------------------------------------------------------ */

enum es_err es_uploader_create(struct es_uploader **out)
{
    *out = NULL;
    CURLcode gc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (gc != CURLE_OK) {
        es_log(ES_LOG_ERROR, "sink.uploader", "event=curl_init_failed error=\"%s\"",
               curl_easy_strerror(gc));
        return ES_ERR_IO;
    }
    struct es_uploader *up = es_calloc(1, sizeof(*up));
    pthread_mutex_init(&up->lock, NULL);
    up->rng = (uint64_t)es_clock_wall_us() ^ UINT64_C(0x9e3779b97f4a7c15);
    if (!up->rng)
        up->rng = 1;
    up->multi = curl_multi_init();
    if (!up->multi)
        abort();
    if (pthread_create(&up->thread, NULL, uploader_main, up) != 0) {
        curl_multi_cleanup(up->multi);
        free(up);
        return ES_ERR_IO;
    }
    up->started = true;
    *out = up;
    return ES_OK;
}

struct es_upload_store *es_uploader_add_store(struct es_uploader *up, struct es_store *store_take,
                                              const struct es_remote_storage *settings)
{
    struct es_upload_store *b = es_calloc(1, sizeof(*b));
    b->up = up;
    b->store = store_take;
    b->settings = *settings;
    b->settings.segment_cache_control = es_strdup(settings->segment_cache_control);
    b->settings.playlist_cache_control = es_strdup(settings->playlist_cache_control);
    if (!b->settings.connections)
        b->settings.connections = 1;
    pthread_mutex_lock(&up->lock);
    if (up->store_count == up->store_cap) {
        up->store_cap = up->store_cap ? up->store_cap * 2 : 4;
        up->stores = es_realloc(up->stores, up->store_cap * sizeof(*up->stores));
    }
    b->index = up->store_count;
    up->stores[up->store_count++] = b;
    /* At most `connections` requests per store are in flight (schedule()), so
     * libcurl never opens more; its cache keeps them all alive. */
    long total = 0;
    for (size_t i = 0; i < up->store_count; i++)
        total += (long)up->stores[i]->settings.connections;
    curl_multi_setopt(up->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)settings->connections);
    curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, total + 2);
    pthread_mutex_unlock(&up->lock);
    curl_multi_wakeup(up->multi);
    es_log(ES_LOG_INFO, component(b),
           "event=store host=%s connections=%u max_backlog_mb=%u retry_max_ms=%u "
           "stall_timeout_ms=%u recheck_s=%u",
           store_take->host, b->settings.connections, b->settings.max_backlog_mb,
           b->settings.retry_max_ms, b->settings.stall_timeout_ms, b->settings.recheck_s);
    return b;
}

const char *es_upload_store_kind(const struct es_upload_store *store)
{
    return store->store->kind;
}

enum es_err es_uploader_open(struct es_uploader *up, struct es_upload_store *b,
                             const struct es_upload_stream_config *config,
                             struct es_upload_stream **out)
{
    struct es_upload_stream *s = es_calloc(1, sizeof(*s));
    s->up = up;
    s->b = b;
    s->camera_id = es_strdup(config->camera_id);
    snprintf(s->prefix, sizeof(s->prefix), "%s/%s/", config->location, config->camera_id);
    snprintf(s->playlist_name, sizeof(s->playlist_name), "%s%s", s->prefix, PLAYLIST_NAME);
    s->segments_to_keep = config->segments_to_keep;
    s->delete_grace = config->delete_grace;
    s->max_backlog = (size_t)b->settings.max_backlog_mb << 20;
    es_playlist_init(&s->playlist, config->target_duration);
    s->playlist.independent_segments = true;
    s->recovery = RECOVER_GET;
    s->edge_latency_ms = -1;
    s->status.edge_latency_ms = -1;
    snprintf(s->status.state, sizeof(s->status.state), "reading");

    pthread_mutex_lock(&up->lock);
    for (size_t i = 0; i < up->stream_count; i++)
        if (up->streams[i]->closing && up->streams[i]->b == b &&
            strcmp(up->streams[i]->playlist_name, s->playlist_name) == 0)
            s->follows = true;
    if (up->stream_count == up->stream_cap) {
        up->stream_cap = up->stream_cap ? up->stream_cap * 2 : 8;
        up->streams = es_realloc(up->streams, up->stream_cap * sizeof(*up->streams));
    }
    up->streams[up->stream_count++] = s;
    pthread_mutex_unlock(&up->lock);
    curl_multi_wakeup(up->multi);
    if (b->store->public_base[0])
        es_log(ES_LOG_INFO, component(b), "camera=%s event=ready playlist_url=%s%s", s->camera_id,
               b->store->public_base, s->playlist_name);
    *out = s;
    return ES_OK;
}

bool es_upload_stream_last_msn(struct es_upload_stream *s, uint64_t *msn)
{
    pthread_mutex_lock(&s->up->lock);
    bool recovered = s->recovered;
    bool have = recovered && s->have_last;
    if (have)
        *msn = s->last_msn;
    bool follows = s->follows;
    pthread_mutex_unlock(&s->up->lock);
    if (!recovered && follows) {
        /* A reload restarted the camera: the store is read once its previous
         * stream is done (predecessor_busy), nothing is wrong with it. */
        es_log(ES_LOG_INFO, component(s->b),
               "camera=%s event=store_read_after_previous_stream action=\"streaming locally "
               "now; uploads follow once the previous stream has stored its last segment\"",
               s->camera_id);
        return have;
    }
    if (!recovered)
        es_log(ES_LOG_WARN, component(s->b),
               "camera=%s event=store_not_read_at_start host=%s action=\"streaming locally now; "
               "uploads start once the store answers, numbered after what it holds\"",
               s->camera_id, s->b->store->host);
    return have;
}

void es_upload_stream_publish(struct es_upload_stream *s, const struct es_published_segment *seg)
{
    struct es_uploader *up = s->up;
    pthread_mutex_lock(&up->lock);
    if (s->inbox_count == s->inbox_cap) {
        s->inbox_cap = s->inbox_cap ? s->inbox_cap * 2 : 8;
        s->inbox = es_realloc(s->inbox, s->inbox_cap * sizeof(*s->inbox));
    }
    s->inbox[s->inbox_count++] = (struct queued_segment){
        .msn = seg->msn,
        .blob = es_blob_ref(seg->data),
        .duration = seg->duration,
        .program_date_time_us = seg->program_date_time_us,
        .discontinuity = seg->discontinuity,
    };
    pthread_mutex_unlock(&up->lock);
    curl_multi_wakeup(up->multi);
}

void es_upload_stream_close(struct es_upload_stream *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->up->lock);
    s->closing = true;
    pthread_mutex_unlock(&s->up->lock);
}

static void stream_free(struct es_upload_stream *s)
{
    for (size_t i = 0; i < s->inbox_count; i++)
        es_blob_unref(s->inbox[i].blob);
    for (size_t i = 0; i < s->pending_count; i++)
        es_blob_unref(s->pending[i].blob);
    for (size_t i = 0; i < s->listed_count; i++)
        free(s->listed[i]);
    free(s->listed);
    free(s->inbox);
    free(s->pending);
    free(s->trimmed);
    es_playlist_clear(&s->playlist);
    es_playlist_clear(&s->stored);
    free(s->camera_id);
    free(s);
}

void es_uploader_stats(struct es_uploader *up, struct es_uploader_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!up)
        return;
    pthread_mutex_lock(&up->lock);
    for (size_t i = 0; i < up->store_count; i++) {
        out->requests += atomic_load(&up->stores[i]->requests);
        out->connections_opened += atomic_load(&up->stores[i]->connections_opened);
        out->bytes_sent += atomic_load(&up->stores[i]->bytes_sent);
        out->retries += atomic_load(&up->stores[i]->retries);
    }
    pthread_mutex_unlock(&up->lock);
}

void es_uploader_destroy(struct es_uploader *up, double drain_seconds)
{
    if (!up)
        return;
    pthread_mutex_lock(&up->lock);
    up->stop = true;
    up->drain_deadline_us = es_clock_mono_us() + (int64_t)(drain_seconds * 1e6);
    pthread_mutex_unlock(&up->lock);
    curl_multi_wakeup(up->multi);
    if (up->started)
        pthread_join(up->thread, NULL);

    /* What is still in flight is abandoned. */
    for (size_t i = 0; i < up->t_stream_count; i++) {
        struct es_upload_stream *s = up->t_streams[i];
        struct lane *lanes[] = {&s->seg, &s->pl, &s->rec};
        for (size_t k = 0; k < 3; k++) {
            if (lanes[k]->active) {
                lanes[k]->active->b->in_flight--;
                request_free(up, lanes[k]->active);
                lanes[k]->active = NULL;
            }
        }
        if (s->pending_count || (s->version > s->stored_version && s->playlist.count))
            es_log(ES_LOG_WARN, component(s->b),
                   "camera=%s event=stopped_with_backlog segments=%zu playlist_stored=%s",
                   s->camera_id, s->pending_count, s->version > s->stored_version ? "no" : "yes");
    }
    for (size_t i = 0; i < up->store_count; i++) {
        struct es_upload_store *b = up->stores[i];
        if (b->delete_lane.active) {
            request_free(up, b->delete_lane.active);
            b->delete_lane.active = NULL;
        }
        es_log(ES_LOG_INFO, component(b),
               "event=uploader_stats host=%s requests=%" PRIu64 " connections_opened=%" PRIu64
               " bytes_sent=%" PRIu64 " retries=%" PRIu64 " deletes_left=%zu",
               b->store->host, atomic_load(&b->requests), atomic_load(&b->connections_opened),
               atomic_load(&b->bytes_sent), atomic_load(&b->retries), b->delete_count);
        for (size_t j = 0; j < b->delete_count; j++)
            free(b->deletes[j].name);
        free(b->deletes);
        b->store->ops->destroy(b->store);
        free(b->settings.segment_cache_control);
        free(b->settings.playlist_cache_control);
        free(b);
    }
    for (size_t i = 0; i < up->stream_count; i++)
        stream_free(up->streams[i]);
    for (size_t i = 0; i < up->pool_count; i++)
        curl_easy_cleanup(up->pool[i]);
    free(up->pool);
    curl_multi_cleanup(up->multi);
    free(up->streams);
    free(up->stores);
    free(up->t_streams);
    free(up->t_stores);
    pthread_mutex_destroy(&up->lock);
    free(up);
    curl_global_cleanup();
}

void es_uploader_camera_status(struct es_uploader *up, const char *camera_id, char *out,
                               size_t out_size)
{
    if (!out_size)
        return;
    out[0] = '\0';
    if (!up)
        return;
    size_t used = 0;
    int64_t wall = es_clock_wall_us();
    pthread_mutex_lock(&up->lock);
    for (size_t i = 0; i < up->stream_count; i++) {
        struct es_upload_stream *s = up->streams[i];
        if (strcmp(s->camera_id, camera_id) != 0)
            continue;
        const struct stream_status *st = &s->status;
        char age[32] = "-";
        if (st->playlist_wall_us)
            snprintf(age, sizeof(age), "%.1fs", (double)(wall - st->playlist_wall_us) / 1e6);
        int n = snprintf(out + used, out_size - used,
                         "%s%s %s last=%s %" PRId64 "ms playlist_age=%s retries=%" PRIu64
                         " backlog=%zu/%zuKiB dropped=%" PRIu64,
                         used ? " " : "", s->b->store->kind, st->state,
                         st->last_name[0] ? st->last_name : "-", st->last_upload_ms, age,
                         st->retries, st->backlog_segments, st->backlog_bytes >> 10, st->dropped);
        if (n < 0 || (size_t)n >= out_size - used)
            break;
        used += (size_t)n;
    }
    pthread_mutex_unlock(&up->lock);
}

void es_uploader_camera_totals(struct es_uploader *up, const char *camera_id,
                               struct es_upload_camera_totals *out)
{
    memset(out, 0, sizeof(*out));
    out->edge_latency_ms = -1;
    if (!up)
        return;
    pthread_mutex_lock(&up->lock);
    for (size_t i = 0; i < up->stream_count; i++) {
        const struct es_upload_stream *s = up->streams[i];
        if (strcmp(s->camera_id, camera_id) != 0)
            continue;
        const struct stream_status *st = &s->status;
        out->stores++;
        if (st->edge_latency_ms > out->edge_latency_ms)
            out->edge_latency_ms = st->edge_latency_ms;
        out->uploaded += st->uploaded;
        out->retries += st->retries;
        out->dropped += st->dropped;
        out->backlog_segments += st->backlog_segments;
        if (st->last_upload_ms > out->last_upload_ms)
            out->last_upload_ms = st->last_upload_ms;
    }
    pthread_mutex_unlock(&up->lock);
}

bool es_uploader_playlist_url(struct es_uploader *up, const char *camera_id, const char *kind,
                              char *out, size_t out_size)
{
    if (!out_size)
        return false;
    out[0] = '\0';
    if (!up)
        return false;
    bool found = false;
    pthread_mutex_lock(&up->lock);
    for (size_t i = 0; i < up->stream_count && !found; i++) {
        const struct es_upload_stream *s = up->streams[i];
        if (strcmp(s->camera_id, camera_id) != 0 || s->closing ||
            strcmp(s->b->store->kind, kind) != 0 || !s->b->store->public_base[0])
            continue;
        int n = snprintf(out, out_size, "%s%s", s->b->store->public_base, s->playlist_name);
        found = n > 0 && (size_t)n < out_size;
    }
    pthread_mutex_unlock(&up->lock);
    if (!found)
        out[0] = '\0';
    return found;
}
