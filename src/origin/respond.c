/* Writing responses: headers every response carries, bodies that point into
 * shared blobs (referenced for as long as the request lives, so nothing is
 * copied per client), and the counters /metrics reports. */
#include "origin/internal.h"

#include <netinet/in.h>
#include <linux/tcp.h> /* tcp_info with tcpi_bytes_acked (glibc's lacks it) */
#include <stdarg.h>
#include <sys/socket.h>
#include <stdio.h>
#include <string.h>

struct es_origin *es_origin_of_req(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(struct es_origin, ctx, req->conn->ctx);
}

void es_origin_count(struct es_origin *o, int status, enum route route, size_t bytes)
{
    int cls = status / 100;
    o->metrics.requests[cls >= 1 && cls <= 5 ? cls : 0]++;
    o->metrics.responses_by_route[route]++;
    o->metrics.bytes_sent += bytes;
}

/* h2o keeps pointers to header values until it writes them, which may be after
 * the caller's buffer is gone: values are copied into the request's pool. */
static void add_token(h2o_req_t *req, const h2o_token_t *token, const char *value)
{
    h2o_iovec_t v = h2o_strdup(&req->pool, value, SIZE_MAX);
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, v.base, v.len);
}

void es_origin_add_header(h2o_req_t *req, const char *name, const char *value)
{
    h2o_iovec_t v = h2o_strdup(&req->pool, value, SIZE_MAX);
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 1, NULL, v.base,
                          v.len);
}

void es_origin_add_cors(h2o_req_t *req)
{
    struct es_origin *o = es_origin_of_req(req);
    if (!o->config.cors)
        return;
    es_origin_add_header(req, "access-control-allow-origin", o->config.cors);
    /* hls.js reads Age (a CDN's copy of a blocking response) for tune-in. */
    es_origin_add_header(req, "access-control-expose-headers", "Age, Content-Length, Date");
    if (strcmp(o->config.cors, "*") != 0)
        es_origin_add_header(req, "vary", "Origin");
}

/* A client that stops reading holds a descriptor (never a copy: bodies are
 * shared blobs). h2o 2.2's HTTP/1 has no write timeout, so each response gets
 * a progress deadline: every idle_timeout_ms it asks the kernel how many
 * bytes the peer has acknowledged on the connection (TCP_INFO), and only
 * when none were in a whole period (so after one to two periods of no
 * progress) is the socket shut down, and h2o's own
 * error path closes the connection and frees the request. A slow reader that
 * keeps reading is never cut, and on HTTP/2 one viewer's streams all count
 * as progress of the one connection they share. */
struct send_deadline {
    h2o_timeout_entry_t entry;
    h2o_req_t *req;
    uint64_t acked; /* tcpi_bytes_acked at the last look */
};

static bool bytes_acked(h2o_socket_t *sock, uint64_t *out)
{
    struct tcp_info info;
    socklen_t len = sizeof(info);
    memset(&info, 0, sizeof(info));
    if (getsockopt(h2o_socket_get_fd(sock), IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof(info.tcpi_bytes_acked))
        return false;
    *out = info.tcpi_bytes_acked;
    return true;
}

static void send_deadline_dispose(void *p)
{
    struct send_deadline *d = p;
    if (h2o_timeout_is_linked(&d->entry))
        h2o_timeout_unlink(&d->entry);
}

static void on_send_deadline(h2o_timeout_entry_t *entry)
{
    struct send_deadline *d = H2O_STRUCT_FROM_MEMBER(struct send_deadline, entry, entry);
    struct es_origin *o = es_origin_of_req(d->req);
    h2o_socket_t *sock = d->req->conn->callbacks->get_socket
                             ? d->req->conn->callbacks->get_socket(d->req->conn)
                             : NULL;
    if (!sock)
        return;
    uint64_t acked;
    if (bytes_acked(sock, &acked) && acked != d->acked) {
        d->acked = acked; /* it moved: another period */
        h2o_timeout_link(o->ctx.loop, &o->send_timeout, &d->entry);
        return;
    }
    o->metrics.send_timeouts++;
    shutdown(h2o_socket_get_fd(sock), SHUT_RDWR);
}

struct blob_hold {
    struct es_blob *blob;
};

static void blob_hold_dispose(void *p)
{
    es_blob_unref(((struct blob_hold *)p)->blob);
}

void es_origin_respond(h2o_req_t *req, const struct respond *r, h2o_iovec_t *bufs, size_t bufcnt,
                       struct es_blob *const *blobs, size_t blob_count)
{
    struct es_origin *o = es_origin_of_req(req);
    for (size_t i = 0; i < blob_count; i++) {
        struct blob_hold *hold = h2o_mem_alloc_shared(&req->pool, sizeof(*hold), blob_hold_dispose);
        hold->blob = es_blob_ref(blobs[i]);
    }
    size_t total = 0;
    for (size_t i = 0; i < bufcnt; i++)
        total += bufs[i].len;
    req->res.status = r->status;
    req->res.reason = r->reason;
    req->res.content_length = total;
    if (r->content_type)
        add_token(req, H2O_TOKEN_CONTENT_TYPE, r->content_type);
    if (r->cache_control)
        add_token(req, H2O_TOKEN_CACHE_CONTROL, r->cache_control);
    if (r->content_encoding)
        add_token(req, H2O_TOKEN_CONTENT_ENCODING, r->content_encoding);
    if (r->vary_accept_encoding)
        add_token(req, H2O_TOKEN_VARY, "Accept-Encoding");
    es_origin_add_header(req, "x-content-type-options", "nosniff");
    es_origin_add_cors(req);
    if (o->send_timeout_inited) {
        struct send_deadline *d =
            h2o_mem_alloc_shared(&req->pool, sizeof(*d), send_deadline_dispose);
        memset(d, 0, sizeof(*d));
        d->req = req;
        d->entry.cb = on_send_deadline;
        /* Not read now (a syscall per response on the fan-out thread): the
         * first look only takes the count, so a stalled reader is cut after
         * one to two periods. */
        d->acked = UINT64_MAX;
        h2o_timeout_link(o->ctx.loop, &o->send_timeout, &d->entry);
    }
    bool head = req->method.len == 4 && memcmp(req->method.base, "HEAD", 4) == 0;
    es_origin_count(o, r->status, r->route, head ? 0 : total);
    static h2o_generator_t generator = {NULL, NULL};
    h2o_start_response(req, &generator);
    h2o_send(req, bufs, head ? 0 : bufcnt, H2O_SEND_STATE_FINAL);
}

void es_origin_respond_text(h2o_req_t *req, int status, const char *reason, const char *body,
                            enum route route)
{
    struct respond r = {
        .status = status,
        .reason = reason,
        .content_type = "text/plain; charset=utf-8",
        .cache_control = "no-store",
        .route = route,
    };
    h2o_iovec_t buf = h2o_iovec_init(body, strlen(body));
    es_origin_respond(req, &r, &buf, 1, NULL, 0);
}

void es_origin_vprintf(h2o_mem_pool_t *pool, h2o_iovec_vector_t *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[512];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    char *buf = h2o_mem_alloc_pool(pool, (size_t)n + 1);
    if ((size_t)n < sizeof(small)) {
        memcpy(buf, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(buf, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    h2o_vector_reserve(pool, out, out->size + 1);
    out->entries[out->size++] = h2o_iovec_init(buf, (size_t)n);
}
