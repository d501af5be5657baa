#include "app/registry.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#include <curl/curl.h>

#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COMPONENT "registry"
#define SAMPLE_INTERVAL_US 1000000
/* Not streaming for this long makes a camera offline: a reconnect that takes a
 * moment does not flap the dashboard. */
#define OFFLINE_AFTER_US 5000000
#define BACKOFF_BASE_US 1000000
#define BACKOFF_MAX_US 60000000
#define REQUEST_TIMEOUT_MS 10000
#define FINAL_TIMEOUT_MS 2000
#define RESPONSE_CAP 4096
#define LOOP_WAIT_US 250000

enum row_status { ROW_UNKNOWN = 0, ROW_ACTIVE, ROW_OFFLINE };

static const char *status_name(enum row_status s)
{
    return s == ROW_ACTIVE ? "active" : "offline";
}

/* One camera's row as the daemon sees it. Under reg->lock. */
struct entry {
    char id[72];
    char name[256];
    char profile[32];
    char location[128];
    char stream_url[1024];
    bool present;              /* in the last observe() */
    bool live;                 /* streaming at the last sample */
    int64_t first_seen_us;     /* first observe() (mono) */
    int64_t not_live_since_us; /* mono; 0 while live */
    int64_t last_live_wall_us; /* wall clock of the last sample that saw new frames */
    uint64_t frames_in;        /* at that sample */
    int64_t upload_ms, latency_ms;
    /* Thread side. */
    enum row_status reported;
    int64_t reported_us; /* mono time of the last stored report */
    int64_t retry_us;    /* this row was refused: not before */
};

struct es_registry {
    char *endpoint; /* .../rest/v1/cameras?on_conflict=camera_key */
    char *key;
    char host[256];
    unsigned heartbeat_s, connect_timeout_ms, recheck_s;
    struct es_uploader *uploader;

    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_bool stop;
    struct entry *entries;
    size_t count, cap;
    int64_t last_sample_us;

    /* Thread side. */
    CURL *curl;
    struct curl_slist *headers;
    int64_t backoff_until_us;
    unsigned failures;
    int64_t failing_since_us;
    char logged_code[64]; /* the failure logged at WARN, until a success */
    bool answered;        /* the last request got an HTTP answer that was not a failure */
    uint64_t rng;
};

/* ---- Sampling (main thread) ------------------------------------------------ */

static struct entry *find_entry(struct es_registry *r, const char *id)
{
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->entries[i].id, id) == 0)
            return &r->entries[i];
    return NULL;
}

void es_registry_observe(struct es_registry *r, struct es_camera *const *cameras, size_t count)
{
    if (!r)
        return;
    int64_t now = es_clock_mono_us();
    if (r->last_sample_us && now - r->last_sample_us < SAMPLE_INTERVAL_US)
        return;
    r->last_sample_us = now;
    int64_t wall = es_clock_wall_us();
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->count; i++)
        r->entries[i].present = false;
    for (size_t i = 0; i < count; i++) {
        const struct es_camera_config *cfg = es_camera_config(cameras[i]);
        struct entry *e = find_entry(r, cfg->id);
        if (!e) {
            if (r->count == r->cap) {
                r->cap = r->cap ? r->cap * 2 : 8;
                r->entries = es_realloc(r->entries, r->cap * sizeof(*r->entries));
            }
            e = &r->entries[r->count++];
            memset(e, 0, sizeof(*e));
            snprintf(e->id, sizeof(e->id), "%s", cfg->id);
            e->first_seen_us = now;
            e->not_live_since_us = now;
        }
        /* A reload may change these: the row follows. */
        snprintf(e->name, sizeof(e->name), "%s", cfg->name && cfg->name[0] ? cfg->name : cfg->id);
        snprintf(e->profile, sizeof(e->profile), "%s", cfg->profile ? cfg->profile : "");
        snprintf(e->location, sizeof(e->location), "%s", cfg->location ? cfg->location : "");
        es_uploader_playlist_url(r->uploader, cfg->id, "supabase", e->stream_url,
                                 sizeof(e->stream_url));
        e->present = true;
        struct es_camera_stats st;
        es_camera_stats(cameras[i], &st);
        bool live = st.state == ES_CAMERA_LIVE;
        /* Seen = frames arrived since the last sample: a camera that just died is
         * still "live" until its read timeout, but no longer seen. */
        if (st.frames_in != e->frames_in) {
            e->frames_in = st.frames_in;
            e->last_live_wall_us = wall;
        }
        if (live) {
            e->not_live_since_us = 0;
            if (!e->last_live_wall_us)
                e->last_live_wall_us = wall;
        } else if (e->live || !e->not_live_since_us) {
            e->not_live_since_us = now;
        }
        e->live = live;
        struct es_upload_camera_totals up;
        es_uploader_camera_totals(r->uploader, cfg->id, &up);
        e->upload_ms = up.stores && up.uploaded ? up.last_upload_ms : -1;
        e->latency_ms = up.stores ? up.edge_latency_ms : -1;
    }
    /* A camera gone from the config is not streaming any more. */
    for (size_t i = 0; i < r->count; i++) {
        struct entry *e = &r->entries[i];
        if (!e->present && e->live) {
            e->live = false;
            e->not_live_since_us = now;
        }
    }
    pthread_mutex_unlock(&r->lock);
    pthread_cond_signal(&r->cond);
}

/* What the row should say now; ROW_UNKNOWN while a new camera is still
 * connecting (no report before it streams or OFFLINE_AFTER has passed). */
static enum row_status wanted_status(const struct entry *e, int64_t now)
{
    if (e->live)
        return ROW_ACTIVE;
    if (now - e->not_live_since_us >= OFFLINE_AFTER_US)
        return ROW_OFFLINE;
    return e->reported;
}

/* ---- The request ----------------------------------------------------------- */

struct json {
    char *buf;
    size_t len, cap;
};

static void json_put(struct json *j, const char *s, size_t n)
{
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 512;
        while (cap < j->len + n + 1)
            cap *= 2;
        j->buf = es_realloc(j->buf, cap);
        j->cap = cap;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

static void json_raw(struct json *j, const char *s)
{
    json_put(j, s, strlen(s));
}

/* "key":"value" with JSON escapes (UTF-8 passes through). */
static void json_string(struct json *j, const char *key, const char *value)
{
    char tmp[8];
    json_raw(j, j->len > 1 ? ",\"" : "\"");
    json_raw(j, key);
    json_raw(j, "\":\"");
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p == '"' || *p == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)*p;
            json_put(j, tmp, 2);
        } else if (*p < 0x20) {
            snprintf(tmp, sizeof(tmp), "\\u%04x", *p);
            json_put(j, tmp, 6);
        } else {
            json_put(j, (const char *)p, 1);
        }
    }
    json_raw(j, "\"");
}

static void json_int(struct json *j, const char *key, int64_t value)
{
    char tmp[96];
    snprintf(tmp, sizeof(tmp), "%s\"%s\":%" PRId64, j->len > 1 ? "," : "", key, value);
    json_raw(j, tmp);
}

static void iso_time(int64_t wall_us, char *out, size_t out_size)
{
    time_t sec = (time_t)(wall_us / 1000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, out_size, "%s.%03dZ", base, (int)(wall_us / 1000 % 1000));
}

/* "location_1" (the reference design's folder for location_id 1) or "7": the
 * table's location_id; -1 for any other name (the column is left alone). */
static int64_t location_id_of(const char *location)
{
    const char *digits = location;
    if (strncmp(location, "location_", 9) == 0)
        digits = location + 9;
    if (!*digits || strlen(digits) > 15)
        return -1;
    for (const char *p = digits; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    return strtoll(digits, NULL, 10);
}

/* The row for one report. Offline reports carry neither last_seen_at nor the
 * latency figures: the row keeps when the camera was last seen. */
static char *row_json(const struct entry *e, enum row_status status)
{
    struct json j = {0};
    json_raw(&j, "{");
    json_string(&j, "camera_key", e->id);
    json_string(&j, "name", e->name);
    json_string(&j, "stream_url", e->stream_url);
    int64_t location_id = location_id_of(e->location);
    if (location_id >= 0)
        json_int(&j, "location_id", location_id);
    if (e->profile[0])
        json_string(&j, "profile", e->profile);
    json_string(&j, "status", status_name(status));
    if (status == ROW_ACTIVE) {
        char when[40];
        iso_time(e->last_live_wall_us, when, sizeof(when));
        json_string(&j, "last_seen_at", when);
        if (e->upload_ms >= 0)
            json_int(&j, "upload_ms", e->upload_ms);
        if (e->latency_ms >= 0)
            json_int(&j, "latency_ms", e->latency_ms);
    }
    json_raw(&j, "}");
    return j.buf;
}

struct response {
    char body[RESPONSE_CAP];
    size_t len;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct response *resp = opaque;
    size_t n = size * nmemb;
    size_t room = sizeof(resp->body) - 1 - resp->len;
    size_t take = n < room ? n : room;
    memcpy(resp->body + resp->len, data, take);
    resp->len += take;
    resp->body[resp->len] = '\0';
    return n;
}

static int on_progress(void *opaque, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a;
    (void)b;
    (void)c;
    (void)d;
    const atomic_bool *abort_flag = opaque;
    return abort_flag && atomic_load(abort_flag) ? 1 : 0;
}

/* The value of "field":"..." in a flat JSON object (PostgREST's error body),
 * made safe for a log field; "" if absent. */
static void json_field(const char *body, const char *field, char *out, size_t out_size)
{
    out[0] = '\0';
    char pattern[32];
    snprintf(pattern, sizeof(pattern), "\"%s\"", field);
    const char *p = strstr(body, pattern);
    if (!p)
        return;
    p += strlen(pattern);
    while (*p == ' ' || *p == ':')
        p++;
    if (*p != '"')
        return;
    p++;
    size_t n = 0;
    while (*p && *p != '"' && n + 1 < out_size) {
        if (*p == '\\' && p[1])
            p++;
        out[n++] = (*p == '\'' || (unsigned char)*p >= 0x20) ? *p : ' ';
        p++;
    }
    out[n] = '\0';
    for (char *c = out; *c; c++)
        if (*c == '"')
            *c = '\'';
}

static void scrub(const struct es_registry *r, char *text)
{
    size_t len = strlen(r->key);
    char *hit;
    /* "***" is never longer than a key (keys are long). */
    while (len >= 3 && (hit = strstr(text, r->key)) != NULL) {
        memmove(hit + 3, hit + len, strlen(hit + len) + 1);
        memcpy(hit, "***", 3);
    }
}

enum outcome { SENT = 0, RETRY, REFUSED_ALL, REFUSED_ROW };

struct verdict {
    enum outcome outcome;
    char code[64];
    char reason[384];
};

/* Judges PostgREST's answer (or no answer). */
static void judge(const struct es_registry *r, CURLcode cc, long status,
                  const struct response *resp, const char *errbuf, struct verdict *v)
{
    memset(v, 0, sizeof(*v));
    if (cc != CURLE_OK) {
        v->outcome = RETRY;
        snprintf(v->code, sizeof(v->code), "curl_%d", (int)cc);
        snprintf(v->reason, sizeof(v->reason), "%.120s (%.200s)", curl_easy_strerror(cc),
                 errbuf[0] ? errbuf : "-");
        for (char *c = v->reason; *c; c++)
            if (*c == '"' || (unsigned char)*c < 0x20)
                *c = ' ';
        return;
    }
    if (status >= 200 && status < 300) {
        v->outcome = SENT;
        return;
    }
    char code[32], message[256];
    json_field(resp->body, "code", code, sizeof(code));
    json_field(resp->body, "message", message, sizeof(message));
    snprintf(v->code, sizeof(v->code), "%s%s%ld", code[0] ? code : "", code[0] ? "/http_" : "http_",
             status);
    if (status == 408 || status == 429 || status >= 500) {
        v->outcome = RETRY;
        snprintf(v->reason, sizeof(v->reason), "the REST API is busy or failing: %.200s",
                 message[0] ? message : "no message");
    } else if (status == 401 || status == 403) {
        v->outcome = REFUSED_ALL;
        snprintf(v->reason, sizeof(v->reason),
                 "the key is not allowed to write the cameras table (%.160s): use the "
                 "service-role key (SUPABASE_KEY)",
                 message[0] ? message : "no message");
    } else if (status == 404 || strcmp(code, "PGRST204") == 0 || strcmp(code, "PGRST205") == 0 ||
               strcmp(code, "42P01") == 0 || strcmp(code, "42703") == 0 ||
               strcmp(code, "42P10") == 0) {
        v->outcome = REFUSED_ALL;
        snprintf(v->reason, sizeof(v->reason),
                 "%.200s: apply supabase/migrations/*.sql to the project (docs/storage.md)",
                 message[0] ? message : "the cameras table is missing");
    } else {
        v->outcome = REFUSED_ROW;
        snprintf(v->reason, sizeof(v->reason), "the row was refused: %.250s",
                 message[0] ? message : "no message");
    }
    scrub(r, v->reason);
    scrub(r, v->code);
}

static void send_row(struct es_registry *r, const char *json, long timeout_ms,
                     const atomic_bool *abort_flag, struct verdict *v)
{
    struct response resp = {.len = 0};
    resp.body[0] = '\0';
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *e = r->curl;
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, r->endpoint);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "edgestream/" ES_VERSION);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(r->connect_timeout_ms < (unsigned)timeout_ms ? r->connect_timeout_ms
                                                                         : timeout_ms));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, (void *)abort_flag);
    CURLcode cc = curl_easy_perform(e);
    long status = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    judge(r, cc, status, &resp, errbuf, v);
}

/* ---- The thread ------------------------------------------------------------ */

static int64_t backoff_us(struct es_registry *r)
{
    unsigned shift = r->failures > 1 ? r->failures - 1 : 0;
    int64_t d = shift >= 10 ? BACKOFF_MAX_US : (int64_t)BACKOFF_BASE_US << shift;
    if (d > BACKOFF_MAX_US)
        d = BACKOFF_MAX_US;
    /* Equal jitter: boxes that lost the API together do not return together. */
    r->rng ^= r->rng >> 12;
    r->rng ^= r->rng << 25;
    r->rng ^= r->rng >> 27;
    uint64_t x = r->rng * UINT64_C(2685821657736338717);
    return d / 2 + (int64_t)(x % (uint64_t)(d / 2 + 1));
}

static void note_outcome(struct es_registry *r, const char *camera, const struct verdict *v,
                         int64_t now)
{
    if (v->outcome == SENT) {
        if (r->failures || r->logged_code[0])
            es_log(ES_LOG_INFO, COMPONENT, "event=register_recovered host=%s after_s=%.1f",
                   r->host, (double)(now - r->failing_since_us) / 1e6);
        r->failures = 0;
        r->failing_since_us = 0;
        r->logged_code[0] = '\0';
        r->answered = true;
        return;
    }
    bool new_episode = !r->failures && !r->logged_code[0];
    if (new_episode)
        r->failing_since_us = now;
    r->answered = false;
    /* One WARN per episode of retries (the code may vary: refused, then a
     * timeout), and one per refusal reason. */
    bool again = v->outcome == RETRY ? !new_episode : strcmp(r->logged_code, v->code) == 0;
    snprintf(r->logged_code, sizeof(r->logged_code), "%s", v->code);
    if (v->outcome == RETRY) {
        r->failures++;
        int64_t delay = backoff_us(r);
        r->backoff_until_us = now + delay;
        es_log(again ? ES_LOG_DEBUG : ES_LOG_WARN, COMPONENT,
               "camera=%s event=register_retrying host=%s code=%s reason=\"%s\" next_in_ms=%" PRId64,
               camera, r->host, v->code, v->reason, delay / 1000);
        return;
    }
    /* Refused: nothing changes until someone fixes the project. */
    r->failures = 0;
    es_log(again ? ES_LOG_DEBUG : ES_LOG_WARN, COMPONENT,
           "camera=%s event=register_refused host=%s code=%s reason=\"%s\" "
           "action=\"streaming goes on; registration is asked again every %us\"",
           camera, r->host, v->code, v->reason, r->recheck_s);
    if (v->outcome == REFUSED_ALL)
        r->backoff_until_us = now + (int64_t)r->recheck_s * 1000000;
}

/* One round: every row that is due, while the API takes them. */
static void report_due(struct es_registry *r, int64_t now)
{
    for (size_t i = 0;; i++) {
        if (atomic_load(&r->stop) || now < r->backoff_until_us)
            return;
        pthread_mutex_lock(&r->lock);
        if (i >= r->count) {
            pthread_mutex_unlock(&r->lock);
            return;
        }
        struct entry e = r->entries[i];
        enum row_status want = wanted_status(&e, now);
        bool due = want != ROW_UNKNOWN && e.stream_url[0] && now >= e.retry_us &&
                   (want != e.reported || now - e.reported_us >= (int64_t)r->heartbeat_s * 1000000);
        pthread_mutex_unlock(&r->lock);
        if (!due)
            continue;
        char *json = row_json(&e, want);
        struct verdict v;
        send_row(r, json, REQUEST_TIMEOUT_MS, &r->stop, &v);
        free(json);
        now = es_clock_mono_us();
        if (atomic_load(&r->stop) && v.outcome == RETRY)
            return; /* cut short by the stop */
        note_outcome(r, e.id, &v, now);
        pthread_mutex_lock(&r->lock);
        struct entry *live = find_entry(r, e.id);
        if (live && v.outcome == SENT) {
            if (live->reported != want)
                es_log(ES_LOG_INFO, COMPONENT, "camera=%s event=registered status=%s host=%s",
                       e.id, status_name(want), r->host);
            else
                es_log(ES_LOG_DEBUG, COMPONENT, "camera=%s event=heartbeat status=%s", e.id,
                       status_name(want));
            live->reported = want;
            live->reported_us = now;
            live->retry_us = 0;
        } else if (live && v.outcome == REFUSED_ROW) {
            live->retry_us = now + (int64_t)r->recheck_s * 1000000;
        }
        pthread_mutex_unlock(&r->lock);
    }
}

static void *registry_main(void *arg)
{
    struct es_registry *r = arg;
    while (!atomic_load(&r->stop)) {
        report_due(r, es_clock_mono_us());
        pthread_mutex_lock(&r->lock);
        if (!atomic_load(&r->stop)) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += LOOP_WAIT_US * 1000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&r->cond, &r->lock, &until);
        }
        pthread_mutex_unlock(&r->lock);
    }
    return NULL;
}

/* ---- Life ------------------------------------------------------------------ */

enum es_err es_registry_create(const struct es_supabase_storage *supabase,
                               struct es_uploader *uploader, struct es_registry **out)
{
    *out = NULL;
    if (!supabase->remote.enabled || !supabase->register_cameras || !supabase->url ||
        !supabase->key || !uploader)
        return ES_OK;
    struct es_registry *r = es_calloc(1, sizeof(*r));
    /* $SUPABASE_URL is the project URL; the storage API's is accepted too. */
    size_t len = strlen(supabase->url);
    while (len && supabase->url[len - 1] == '/')
        len--;
    const char *storage = "/storage/v1";
    if (len >= strlen(storage) &&
        strncmp(supabase->url + len - strlen(storage), storage, strlen(storage)) == 0)
        len -= strlen(storage);
    const char *path = "/rest/v1/cameras?on_conflict=camera_key";
    r->endpoint = es_malloc(len + strlen(path) + 1);
    memcpy(r->endpoint, supabase->url, len);
    strcpy(r->endpoint + len, path);
    const char *host = strstr(r->endpoint, "://");
    host = host ? host + 3 : r->endpoint;
    snprintf(r->host, sizeof(r->host), "%.*s", (int)strcspn(host, "/"), host);
    r->key = es_strdup(supabase->key);
    r->heartbeat_s = supabase->heartbeat_s ? supabase->heartbeat_s : 30;
    r->connect_timeout_ms = supabase->remote.connect_timeout_ms;
    r->recheck_s = supabase->remote.recheck_s ? supabase->remote.recheck_s : 60;
    r->uploader = uploader;
    r->rng = (uint64_t)es_clock_wall_us() ^ UINT64_C(0x5851f42d4c957f2d);
    if (!r->rng)
        r->rng = 1;

    size_t hl = strlen(r->key) + 32;
    char *h = es_malloc(hl);
    snprintf(h, hl, "apikey: %s", r->key);
    r->headers = curl_slist_append(r->headers, h);
    snprintf(h, hl, "Authorization: Bearer %s", r->key);
    r->headers = curl_slist_append(r->headers, h);
    memset(h, 0, hl);
    free(h);
    r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
    r->headers = curl_slist_append(r->headers, "Prefer: resolution=merge-duplicates,return=minimal");
    r->headers = curl_slist_append(r->headers, "Expect:");
    r->curl = curl_easy_init();
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    atomic_init(&r->stop, false);
    if (!r->headers || !r->curl || pthread_create(&r->thread, NULL, registry_main, r) != 0) {
        es_log(ES_LOG_ERROR, COMPONENT, "event=start_failed");
        r->started = false;
        es_registry_destroy(r);
        return ES_ERR_IO;
    }
    r->started = true;
    es_log(ES_LOG_INFO, COMPONENT,
           "event=registry host=%s table=cameras heartbeat_s=%u offline_after_s=%d", r->host,
           r->heartbeat_s, OFFLINE_AFTER_US / 1000000);
    *out = r;
    return ES_OK;
}

void es_registry_destroy(struct es_registry *r)
{
    if (!r)
        return;
    atomic_store(&r->stop, true);
    pthread_mutex_lock(&r->lock);
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    if (r->started)
        pthread_join(r->thread, NULL);
    /* The daemon stops: its cameras stop streaming. Said only to an API that
     * answered lately, and briefly: a dead link must not hold the stop. */
    for (size_t i = 0; r->curl && r->answered && i < r->count; i++) {
        struct entry *e = &r->entries[i];
        if (e->reported != ROW_ACTIVE || !e->stream_url[0])
            continue;
        char *json = row_json(e, ROW_OFFLINE);
        struct verdict v;
        send_row(r, json, FINAL_TIMEOUT_MS, NULL, &v);
        free(json);
        if (v.outcome != SENT) {
            es_log(ES_LOG_WARN, COMPONENT,
                   "camera=%s event=final_report_failed code=%s reason=\"%s\"", e->id, v.code,
                   v.reason);
            break;
        }
        es_log(ES_LOG_INFO, COMPONENT, "camera=%s event=registered status=offline reason=stopping",
               e->id);
    }
    if (r->curl)
        curl_easy_cleanup(r->curl);
    curl_slist_free_all(r->headers);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r->entries);
    if (r->key)
        memset(r->key, 0, strlen(r->key));
    free(r->key);
    free(r->endpoint);
    free(r);
}
