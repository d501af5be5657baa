/* WHEP request handling (whep.h). Status codes follow
 * reference/webrtc-rules.md §1: 415 without application/sdp, 400 for an
 * offer we cannot parse, 422 for one without usable H.264, 404 for an
 * unknown camera or session, 503 + Retry-After when the caps are reached. */
#include "origin/whep.h"

#include "origin/internal.h"
#include "webrtc/webrtc.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Chrome's offers are 4-7 kB; this leaves room for many m-lines. */
#define MAX_OFFER_BYTES 16384
#define MAX_ORIGINS 4
#define ALLOW "OPTIONS, POST, DELETE"

static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    struct es_origin *origin;
    struct es_webrtc *webrtc;
} attached[MAX_ORIGINS];

void es_origin_whep_attach(struct es_origin *origin, struct es_webrtc *webrtc)
{
    pthread_mutex_lock(&attach_lock);
    size_t free_at = MAX_ORIGINS;
    for (size_t i = 0; i < MAX_ORIGINS; i++) {
        if (attached[i].origin == origin) {
            attached[i].webrtc = webrtc;
            if (!webrtc)
                attached[i].origin = NULL;
            pthread_mutex_unlock(&attach_lock);
            return;
        }
        if (!attached[i].origin && free_at == MAX_ORIGINS)
            free_at = i;
    }
    if (webrtc && free_at < MAX_ORIGINS) {
        attached[free_at].origin = origin;
        attached[free_at].webrtc = webrtc;
        /* h2o reads this per request: an offer must fit. Everything but
         * /whep/ still refuses a body (routes.c). */
        if (origin->globalconf.max_request_entity_size < MAX_OFFER_BYTES)
            origin->globalconf.max_request_entity_size = MAX_OFFER_BYTES;
    }
    pthread_mutex_unlock(&attach_lock);
}

static struct es_webrtc *webrtc_of(struct es_origin *origin)
{
    struct es_webrtc *w = NULL;
    pthread_mutex_lock(&attach_lock);
    for (size_t i = 0; i < MAX_ORIGINS; i++)
        if (attached[i].origin == origin)
            w = attached[i].webrtc;
    pthread_mutex_unlock(&attach_lock);
    return w;
}

static bool method_is(h2o_req_t *req, const char *m)
{
    size_t len = strlen(m);
    return req->method.len == len && memcmp(req->method.base, m, len) == 0;
}

static bool id_chars(const char *s, size_t len, size_t max, bool hex_only)
{
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                  (!hex_only &&
                   ((c >= 'g' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-'));
        if (!ok)
            return false;
    }
    return true;
}

/* The origin's token rules (routes.c): Bearer header, else ?token=. */
static bool authorized(struct es_origin *o, h2o_req_t *req, const char *query, size_t query_len,
                       bool *missing)
{
    *missing = false;
    const char *want = o->config.token;
    if (!want || !want[0])
        return true;
    size_t want_len = strlen(want);
    ssize_t at = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (at >= 0) {
        h2o_iovec_t v = req->headers.entries[at].value;
        if (v.len <= 7 || strncasecmp(v.base, "Bearer ", 7) != 0)
            return false;
        size_t skip = 7;
        while (skip < v.len && v.base[skip] == ' ')
            skip++;
        return v.len - skip == want_len && CRYPTO_memcmp(v.base + skip, want, want_len) == 0;
    }
    struct es_query q;
    if (query && es_query_parse(query, query_len, &q) == ES_OK && q.has_token)
        return q.token_len == want_len && CRYPTO_memcmp(q.token, want, want_len) == 0;
    *missing = true;
    return false;
}

static void reply(h2o_req_t *req, int status, const char *reason, const char *body)
{
    es_origin_respond_text(req, status, reason, body, ROUTE_OTHER);
}

static void preflight(struct es_origin *o, h2o_req_t *req)
{
    es_origin_add_header(req, "allow", ALLOW);
    es_origin_add_header(req, "accept-post", "application/sdp");
    if (o->config.cors) {
        es_origin_add_header(req, "access-control-allow-methods", ALLOW);
        es_origin_add_header(req, "access-control-allow-headers",
                             "Authorization, Content-Type, If-Match");
        es_origin_add_header(req, "access-control-max-age", "600");
    }
    reply(req, 204, "No Content", "");
}

static bool content_type_is_sdp(h2o_req_t *req)
{
    ssize_t at = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (at < 0)
        return false;
    h2o_iovec_t v = req->headers.entries[at].value;
    static const char sdp[] = "application/sdp";
    size_t n = sizeof(sdp) - 1;
    /* Parameters (";charset=...") are allowed after the media type. */
    return v.len >= n && strncasecmp(v.base, sdp, n) == 0 &&
           (v.len == n || v.base[n] == ';' || v.base[n] == ' ');
}

/* Whether the origin lists `camera` now (its thread only). A camera a reload
 * removed keeps its WebRTC entry (WebRTC never removes one), so this, not
 * WebRTC, says whether it still exists. */
static bool origin_lists(struct es_origin *o, const char *camera)
{
    for (size_t i = 0; i < o->stream_count; i++)
        if (strcmp(o->streams[i]->id, camera) == 0)
            return true;
    return false;
}

static void post_offer(struct es_webrtc *w, h2o_req_t *req, const char *camera)
{
    if (!content_type_is_sdp(req)) {
        es_origin_add_header(req, "accept-post", "application/sdp");
        reply(req, 415, "Unsupported Media Type", "415 the offer must be application/sdp\n");
        return;
    }
    if (!req->entity.base || req->entity.len == 0) {
        reply(req, 400, "Bad Request", "400 no SDP offer\n");
        return;
    }
    if (req->entity.len > MAX_OFFER_BYTES) {
        /* (h2o itself answers 413 before this for bodies past the origin's
         * limit, which es_origin_whep_attach raised to this size.) */
        reply(req, 413, "Payload Too Large", "413 offer too large\n");
        return;
    }
    if (!origin_lists(es_origin_of_req(req), camera)) {
        reply(req, 404, "Not Found", "404 no such camera\n");
        return;
    }
    struct es_webrtc_answer answer;
    enum es_webrtc_result r =
        es_webrtc_session_create(w, camera, req->entity.base, req->entity.len, &answer);
    switch (r) {
    case ES_WEBRTC_OK:
        break;
    case ES_WEBRTC_NO_CAMERA:
        reply(req, 404, "Not Found", "404 no such camera\n");
        return;
    case ES_WEBRTC_BAD_OFFER:
        reply(req, 400, "Bad Request", "400 malformed SDP offer\n");
        return;
    case ES_WEBRTC_NO_CODEC:
        reply(req, 422, "Unprocessable Content",
              "422 the offer has no H.264 (packetization-mode=1) in a profile this camera's "
              "stream fits\n");
        return;
    case ES_WEBRTC_NOT_LIVE:
        es_origin_add_header(req, "retry-after", "2");
        reply(req, 409, "Conflict", "409 the camera is not live yet\n");
        return;
    case ES_WEBRTC_FULL:
        es_origin_add_header(req, "retry-after", "5");
        reply(req, 503, "Service Unavailable", "503 too many WebRTC sessions\n");
        return;
    case ES_WEBRTC_NOT_RUNNING: {
        /* Say why (a port another process holds, say): the operator reading
         * the player's error should not need the log to find out. */
        const char *why = es_webrtc_failure(w);
        char body[300];
        snprintf(body, sizeof(body), "503 WebRTC is not running%s%s; HLS still plays\n",
                 why[0] ? ": " : "", why);
        es_origin_add_header(req, "retry-after", "30");
        reply(req, 503, "Service Unavailable", h2o_strdup(&req->pool, body, SIZE_MAX).base);
        return;
    }
    }
    char location[160];
    snprintf(location, sizeof(location), "/whep/%s/%s", camera, answer.session_id);
    es_origin_add_header(req, "location", location);
    /* STUN/TURN servers for the browser (RFC 9725 §4.6). */
    char links[8][600];
    size_t link_count = es_webrtc_ice_links(w, links, 8);
    for (size_t i = 0; i < link_count; i++)
        es_origin_add_header(req, "link", links[i]);
    /* Cross-origin players read Location to DELETE the session later. */
    if (es_origin_of_req(req)->config.cors)
        es_origin_add_header(req, "access-control-expose-headers", "Location, Link");
    h2o_iovec_t body = h2o_strdup(&req->pool, answer.sdp, SIZE_MAX);
    free(answer.sdp);
    struct respond res = {
        .status = 201,
        .reason = "Created",
        .content_type = "application/sdp",
        .cache_control = "no-store",
        .route = ROUTE_OTHER,
    };
    es_origin_respond(req, &res, &body, 1, NULL, 0);
}

bool es_origin_whep_serve(struct es_origin *o, h2o_req_t *req)
{
    h2o_iovec_t target = req->input.path;
    size_t path_len = req->input.query_at != SIZE_MAX ? req->input.query_at : target.len;
    static const char prefix[] = "/whep/";
    size_t plen = sizeof(prefix) - 1;
    if (path_len < plen || memcmp(target.base, prefix, plen) != 0)
        return false;
    const char *query = NULL;
    size_t query_len = 0;
    if (req->input.query_at != SIZE_MAX) {
        query = target.base + req->input.query_at + 1;
        query_len = target.len - req->input.query_at - 1;
    }
    /* /whep/<camera> or /whep/<camera>/<session>, nothing else. */
    const char *rest = target.base + plen;
    size_t rest_len = path_len - plen;
    const char *slash = memchr(rest, '/', rest_len);
    size_t cam_len = slash ? (size_t)(slash - rest) : rest_len;
    const char *session = slash ? slash + 1 : NULL;
    size_t session_len = slash ? rest_len - cam_len - 1 : 0;
    struct es_webrtc *w = webrtc_of(o);
    if (!w || !id_chars(rest, cam_len, 64, false) ||
        (session && !id_chars(session, session_len, ES_WEBRTC_SESSION_ID, true))) {
        reply(req, 404, "Not Found", "404 not found\n");
        return true;
    }
    char camera[65], id[ES_WEBRTC_SESSION_ID + 1] = "";
    memcpy(camera, rest, cam_len);
    camera[cam_len] = '\0';
    if (session) {
        memcpy(id, session, session_len);
        id[session_len] = '\0';
    }
    if (method_is(req, "OPTIONS")) {
        preflight(o, req);
        return true;
    }
    bool post = method_is(req, "POST"), del = method_is(req, "DELETE");
    if ((post && session) || (del && !session) || (!post && !del)) {
        /* PATCH (trickle ICE, ICE restart) included: we are ICE-lite and the
         * answer holds every candidate (docs/webrtc.md). */
        es_origin_add_header(req, "allow", session ? "OPTIONS, DELETE" : "OPTIONS, POST");
        reply(req, 405, "Method Not Allowed", "405 method not allowed\n");
        return true;
    }
    bool missing;
    if (!authorized(o, req, query, query_len, &missing)) {
        o->metrics.auth_failures++;
        es_origin_add_header(req, "www-authenticate",
                             missing ? "Bearer realm=\"edgestream\""
                                     : "Bearer realm=\"edgestream\", error=\"invalid_token\"");
        reply(req, 401, "Unauthorized", "401 token required\n");
        return true;
    }
    if (post) {
        post_offer(w, req, camera);
    } else if (es_webrtc_session_delete(w, camera, id) == ES_OK) {
        reply(req, 200, "OK", "");
    } else {
        reply(req, 404, "Not Found", "404 no such session\n");
    }
    return true;
}

/* ---- /metrics ---- */

struct camera_lines {
    h2o_mem_pool_t *pool;
    h2o_iovec_vector_t *out;
};

static void camera_line(void *opaque, const char *camera, unsigned sessions)
{
    struct camera_lines *l = opaque;
    es_origin_vprintf(l->pool, l->out, "edgestream_webrtc_sessions{camera=\"%s\"} %u\n", camera,
                      sessions);
}

static void metric(h2o_mem_pool_t *pool, h2o_iovec_vector_t *out, const char *name,
                   const char *type, const char *help)
{
    es_origin_vprintf(pool, out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void es_origin_whep_metrics(struct es_origin *o, struct st_h2o_mem_pool_t *pool, void *out_vector)
{
    h2o_iovec_vector_t *out = out_vector;
    struct es_webrtc *w = webrtc_of(o);
    if (!w)
        return; /* WebRTC off: no families at all */
    struct es_webrtc_stats st;
    es_webrtc_stats(w, &st);
    metric(pool, out, "edgestream_webrtc_up", "gauge",
           "1 while the WebRTC service runs (0: its UDP port could not be bound)");
    es_origin_vprintf(pool, out, "edgestream_webrtc_up %d\n", es_webrtc_failure(w)[0] ? 0 : 1);
    metric(pool, out, "edgestream_webrtc_sessions", "gauge", "WebRTC sessions of the camera now");
    struct camera_lines lines = {pool, out};
    es_webrtc_camera_sessions(w, camera_line, &lines);
    metric(pool, out, "edgestream_webrtc_sessions_tcp", "gauge",
           "Sessions whose media path is an ICE-TCP connection now");
    es_origin_vprintf(pool, out, "edgestream_webrtc_sessions_tcp %" PRIu64 "\n", st.sessions_tcp);
    metric(pool, out, "edgestream_webrtc_sessions_opened_total", "counter",
           "Sessions created by a WHEP POST");
    es_origin_vprintf(pool, out, "edgestream_webrtc_sessions_opened_total %" PRIu64 "\n",
                      st.sessions_created);
    metric(pool, out, "edgestream_webrtc_sessions_connected_total", "counter",
           "Sessions whose DTLS handshake completed");
    es_origin_vprintf(pool, out, "edgestream_webrtc_sessions_connected_total %" PRIu64 "\n",
                      st.sessions_connected);
    metric(pool, out, "edgestream_webrtc_sessions_closed_total", "counter",
           "Sessions ended, by reason");
    for (int r = 0; r < ES_WEBRTC_END_REASONS; r++)
        es_origin_vprintf(pool, out,
                          "edgestream_webrtc_sessions_closed_total{reason=\"%s\"} %" PRIu64 "\n",
                          es_webrtc_end_reason_name((enum es_webrtc_end_reason)r), st.ended_by[r]);
    metric(pool, out, "edgestream_webrtc_packets_sent_total", "counter",
           "SRTP, SRTCP, DTLS and STUN packets sent, by transport");
    es_origin_vprintf(pool, out,
                      "edgestream_webrtc_packets_sent_total{transport=\"udp\"} %" PRIu64 "\n"
                      "edgestream_webrtc_packets_sent_total{transport=\"tcp\"} %" PRIu64 "\n",
                      st.packets_sent - st.tcp_packets_sent, st.tcp_packets_sent);
    metric(pool, out, "edgestream_webrtc_bytes_sent_total", "counter",
           "Bytes of those packets (without the ICE-TCP length prefix)");
    es_origin_vprintf(pool, out, "edgestream_webrtc_bytes_sent_total %" PRIu64 "\n", st.bytes_sent);
    metric(pool, out, "edgestream_webrtc_packets_dropped_total", "counter",
           "Packets dropped because a viewer's socket or connection buffer was full (slow "
           "viewers), by transport");
    es_origin_vprintf(pool, out,
                      "edgestream_webrtc_packets_dropped_total{transport=\"udp\"} %" PRIu64 "\n"
                      "edgestream_webrtc_packets_dropped_total{transport=\"tcp\"} %" PRIu64 "\n",
                      st.packets_dropped - st.tcp_packets_dropped, st.tcp_packets_dropped);
    metric(pool, out, "edgestream_webrtc_frames_dropped_total", "counter",
           "Frames dropped for every viewer of a camera because the service fell behind");
    es_origin_vprintf(pool, out, "edgestream_webrtc_frames_dropped_total %" PRIu64 "\n",
                      st.frames_dropped);
    metric(pool, out, "edgestream_webrtc_keyframe_requests_total", "counter",
           "PLI and FIR messages received from viewers");
    es_origin_vprintf(pool, out, "edgestream_webrtc_keyframe_requests_total %" PRIu64 "\n",
                      st.keyframe_requests);
    metric(pool, out, "edgestream_webrtc_rejected_total", "counter",
           "STUN messages and ICE-TCP connections refused before reaching a session, by reason");
    for (int r = 0; r < ES_WEBRTC_REJECTS; r++)
        es_origin_vprintf(pool, out,
                          "edgestream_webrtc_rejected_total{reason=\"%s\"} %" PRIu64 "\n",
                          es_webrtc_reject_name((enum es_webrtc_reject)r), st.rejected[r]);
}
