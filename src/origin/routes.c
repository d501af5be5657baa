/* Every request enters here: limits, method, path and query checks, the
 * token, CORS preflight, then one of the routes:
 *
 *   /live/<camera>/stream.m3u8          playlist (blocking with _HLS_msn/_HLS_part)
 *   /live/<camera>/<run>/<segment|part|init>  media of this run, from memory
 *   /vod/<camera>/index.m3u8?start=&end=  recordings: VOD playlist (origin/vod.h)
 *   /vod/<camera>/<recorded segment>    a recorded segment (Range)
 *   /live/<camera>/snapshot.jpg         the newest picture (origin/snapshot.h)
 *   /vod/<camera>/snapshot.jpg?t=       the recorded picture at t
 *   /vod/<camera>/clip.mp4?start=&end=  the recorded range as one MP4; POST
 *                                       stores it in the remote store (shares it)
 *   /api/cameras                        JSON for the dashboard (docs/web.md)
 *   /metrics                            Prometheus text
 *   /healthz                            liveness
 *   anything else                       the web player's files (origin.web_root)
 */
#include "origin/internal.h"
#include "origin/snapshot.h" /* snapshots and clips (docs/recording.md) */
#include "origin/vod.h"  /* recordings (docs/recording.md) */
#include "origin/whep.h" /* WHEP (docs/webrtc.md) */

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <string.h>
#include <strings.h>

/* Far above any real browser's request (a few hundred bytes of headers), far
 * below what h2o itself would buffer. */
#define MAX_HEADER_BYTES 16384
#define MAX_HEADERS 64

static bool method_is(h2o_req_t *req, const char *m)
{
    size_t len = strlen(m);
    return req->method.len == len && memcmp(req->method.base, m, len) == 0;
}

static bool camera_id_ok(const char *id)
{
    size_t len = strlen(id);
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Constant time in the token's content (its length is not secret). */
static bool token_matches(const struct es_origin *o, const char *given, size_t len)
{
    size_t want = strlen(o->config.token);
    return len == want && CRYPTO_memcmp(given, o->config.token, want) == 0;
}

enum auth { AUTH_OK, AUTH_MISSING, AUTH_WRONG };

static enum auth check_token(struct es_origin *o, h2o_req_t *req, const struct es_query *q,
                             bool *via_query)
{
    *via_query = false;
    ssize_t at = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (at >= 0) {
        h2o_iovec_t v = req->headers.entries[at].value;
        if (v.len > 7 && strncasecmp(v.base, "Bearer ", 7) == 0) {
            size_t skip = 7;
            while (skip < v.len && v.base[skip] == ' ')
                skip++;
            if (token_matches(o, v.base + skip, v.len - skip))
                return AUTH_OK;
        }
        return AUTH_WRONG;
    }
    if (q->has_token) {
        if (!token_matches(o, q->token, q->token_len))
            return AUTH_WRONG;
        *via_query = true;
        return AUTH_OK;
    }
    return AUTH_MISSING;
}

/* DNS rebinding: a page from evil.example whose name is made to resolve to
 * 127.0.0.1 reaches a loopback origin as same-origin, but its requests
 * still say "Host: evil.example". A loopback-bound origin answers only to
 * loopback names and addresses (RFC 6761: localhost and *.localhost). A
 * request without Host (HTTP/1.0) carries no name to rebind. */
static bool host_is_loopback(h2o_iovec_t authority)
{
    char host[256];
    const char *p = authority.base;
    size_t len = authority.len;
    if (len == 0)
        return true;
    if (p[0] == '[') {
        const char *close = memchr(p, ']', len);
        if (!close || (size_t)(close - p - 1) >= sizeof(host))
            return false;
        size_t n = (size_t)(close - p - 1);
        size_t rest = len - (size_t)(close - p) - 1;
        if (rest && close[1] != ':')
            return false;
        memcpy(host, p + 1, n);
        host[n] = '\0';
        struct in6_addr a6;
        return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
    }
    const char *colon = memchr(p, ':', len);
    size_t n = colon ? (size_t)(colon - p) : len;
    if (n == 0 || n >= sizeof(host))
        return false;
    for (size_t i = 0; i < n; i++)
        host[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
    host[n] = '\0';
    if (host[n - 1] == '.')
        host[--n] = '\0'; /* "localhost." */
    if (strcmp(host, "localhost") == 0 ||
        (n > 10 && strcmp(host + n - 10, ".localhost") == 0))
        return true;
    struct in_addr a4;
    return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* A form on any web page can POST here without asking (a "simple" request
 * needs no preflight), and a loopback origin has no token to stop it. So a
 * POST that names its Origin must come from this origin or the origin.cors
 * one; one without Origin is not from a browser page (curl, scripts). */
static bool same_origin_post(struct es_origin *o, h2o_req_t *req)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    if (i < 0)
        return true;
    h2o_iovec_t origin = req->headers.entries[i].value;
    if (o->config.cors && strcmp(o->config.cors, "*") != 0 &&
        origin.len == strlen(o->config.cors) &&
        memcmp(origin.base, o->config.cors, origin.len) == 0)
        return true;
    /* "scheme://host[:port]": the part after "://" must be the Host we were asked by. */
    const char *sep = NULL;
    for (size_t k = 0; k + 3 <= origin.len && !sep; k++)
        if (memcmp(origin.base + k, "://", 3) == 0)
            sep = origin.base + k;
    if (!sep)
        return false;
    size_t host_len = origin.len - (size_t)(sep + 3 - origin.base);
    h2o_iovec_t authority = req->input.authority;
    return host_len == authority.len && host_len > 0 &&
           strncasecmp(sep + 3, authority.base, host_len) == 0;
}

static void preflight(struct es_origin *o, h2o_req_t *req)
{
    if (!o->config.cors) {
        es_origin_add_header(req, "allow", "GET, HEAD, OPTIONS");
        es_origin_respond_text(req, 204, "No Content", "", ROUTE_OTHER);
        return;
    }
    es_origin_add_header(req, "access-control-allow-methods", "GET, HEAD, OPTIONS");
    es_origin_add_header(req, "access-control-allow-headers", "Authorization, Range");
    es_origin_add_header(req, "access-control-max-age", "600");
    es_origin_respond_text(req, 204, "No Content", "", ROUTE_OTHER);
}

int es_origin_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    struct es_origin *o = es_origin_of_req(req);
    es_origin_request_done(req);
    size_t header_bytes = 0;
    for (size_t i = 0; i < req->headers.size; i++)
        header_bytes += req->headers.entries[i].name->len + req->headers.entries[i].value.len;
    if (header_bytes > MAX_HEADER_BYTES || req->headers.size > MAX_HEADERS) {
        es_origin_respond_text(req, 431, "Request Header Fields Too Large",
                               "431 request headers too large\n", ROUTE_OTHER);
        return 0;
    }
    /* Without a Host header h2o fills in its host entry's name ("default"). */
    bool no_host = req->hostconf && req->input.authority.base == req->hostconf->authority.hostport.base;
    if (o->loopback_only && !no_host && !host_is_loopback(req->input.authority)) {
        o->metrics.hosts_refused++;
        es_origin_respond_text(req, 421, "Misdirected Request",
                               "421 this origin answers to loopback names only\n", ROUTE_OTHER);
        return 0;
    }
    /* WHEP (src/origin/whep.c, docs/webrtc.md): POST/DELETE with an SDP body;
     * it applies the same token rule itself. */
    if (es_origin_whep_serve(o, req))
        return 0;
    bool options = method_is(req, "OPTIONS");
    bool post = method_is(req, "POST"); /* sharing a clip only: checked below */
    if (!method_is(req, "GET") && !method_is(req, "HEAD") && !options && !post) {
        es_origin_add_header(req, "allow", "GET, HEAD, OPTIONS");
        es_origin_respond_text(req, 405, "Method Not Allowed", "405 method not allowed\n",
                               ROUTE_OTHER);
        return 0;
    }
    if (req->entity.base && req->entity.len > 0) {
        es_origin_respond_text(req, 413, "Payload Too Large", "413 no request body here\n",
                               ROUTE_OTHER);
        return 0;
    }

    h2o_iovec_t target = req->input.path;
    size_t path_len = req->input.query_at != SIZE_MAX ? req->input.query_at : target.len;
    struct es_path path;
    enum es_err err = es_path_parse(target.base, path_len, &path);
    if (err == ES_ERR_UNSUPPORTED) {
        es_origin_respond_text(req, 414, "URI Too Long", "414 request target too long\n",
                               ROUTE_OTHER);
        return 0;
    }
    if (err != ES_OK) {
        es_origin_respond_text(req, 400, "Bad Request", "400 bad request target\n", ROUTE_OTHER);
        return 0;
    }
    struct es_query query;
    if (req->input.query_at != SIZE_MAX) {
        size_t q = req->input.query_at + 1;
        if (es_query_parse(target.base + q, target.len - q, &query) != ES_OK) {
            es_origin_respond_text(req, 400, "Bad Request", "400 malformed query\n", ROUTE_OTHER);
            return 0;
        }
    } else {
        memset(&query, 0, sizeof(query));
    }
    if (options) {
        preflight(o, req);
        return 0;
    }

    const char *first = path.count ? path.segments[0] : "";
    bool live = strcmp(first, "live") == 0;
    bool vod = strcmp(first, "vod") == 0;
    if (post && !(vod && path.count == 3 && strcmp(path.segments[2], "clip.mp4") == 0 &&
                  !path.trailing_slash)) {
        es_origin_add_header(req, "allow", "GET, HEAD, OPTIONS");
        es_origin_respond_text(req, 405, "Method Not Allowed", "405 method not allowed\n",
                               ROUTE_OTHER);
        return 0;
    }
    if (post && !same_origin_post(o, req)) {
        es_origin_respond_text(req, 403, "Forbidden",
                               "403 a clip is shared from this origin's own pages (or the "
                               "origin.cors one)\n",
                               ROUTE_OTHER);
        return 0;
    }
    bool api = path.count == 2 && strcmp(first, "api") == 0 &&
               strcmp(path.segments[1], "cameras") == 0 && !path.trailing_slash;
    bool metrics = path.count == 1 && strcmp(first, "metrics") == 0 && !path.trailing_slash;
    bool healthz = path.count == 1 && strcmp(first, "healthz") == 0 && !path.trailing_slash;

    bool via_query = false;
    if (o->config.token && (live || vod || api || metrics || strcmp(first, "api") == 0)) {
        enum auth a = check_token(o, req, &query, &via_query);
        if (a != AUTH_OK) {
            o->metrics.auth_failures++;
            es_origin_add_header(req, "www-authenticate",
                                 a == AUTH_MISSING
                                     ? "Bearer realm=\"edgestream\""
                                     : "Bearer realm=\"edgestream\", error=\"invalid_token\"");
            es_origin_respond_text(req, 401, "Unauthorized", "401 token required\n", ROUTE_OTHER);
            return 0;
        }
    }

    if (live) {
        /* /live/<camera>/stream.m3u8, or /live/<camera>/<run>/<media>: media
         * of another run (an earlier process) is gone, whatever its name. */
        bool playlist = path.count == 3 && strcmp(path.segments[2], "stream.m3u8") == 0;
        bool media = path.count == 4 && strcmp(path.segments[2], o->run) == 0;
        bool snapshot = path.count == 3 && strcmp(path.segments[2], "snapshot.jpg") == 0;
        if (!(playlist || media || snapshot) || path.trailing_slash ||
            !camera_id_ok(path.segments[1])) {
            es_origin_respond_text(req, 404, "Not Found", "404 not found\n", ROUTE_OTHER);
            return 0;
        }
        for (size_t i = 0; i < o->stream_count; i++) {
            if (strcmp(o->streams[i]->id, path.segments[1]) == 0 && snapshot) {
                es_origin_serve_live_snapshot(o, req, o->streams[i]);
                return 0;
            }
            if (strcmp(o->streams[i]->id, path.segments[1]) == 0) {
                es_origin_stream_serve(o->streams[i], req, path.segments[path.count - 1],
                                       playlist, &query, via_query);
                return 0;
            }
        }
        es_origin_respond_text(req, 404, "Not Found", "404 no such camera\n", ROUTE_OTHER);
        return 0;
    }
    if (vod) {
        size_t q = req->input.query_at;
        if (es_origin_serve_vod_media(o, req, &path, q != SIZE_MAX ? target.base + q + 1 : NULL,
                                      q != SIZE_MAX ? target.len - q - 1 : 0, post))
            return 0;
        es_origin_serve_vod(o, req, &path, q != SIZE_MAX ? target.base + q + 1 : NULL,
                            q != SIZE_MAX ? target.len - q - 1 : 0, via_query);
        return 0;
    }
    if (api) {
        es_origin_serve_api_cameras(o, req);
        return 0;
    }
    if (metrics) {
        es_origin_serve_metrics(o, req);
        return 0;
    }
    if (healthz) {
        es_origin_serve_healthz(o, req);
        return 0;
    }
    es_origin_serve_static(o, req, &path);
    return 0;
}
