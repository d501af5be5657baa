/* The origin's lifecycle, its event-loop thread, the listener and the sink
 * that carries each camera's segments and parts over to that thread.
 *
 * Threads: pipeline threads only append messages to the inbox (a mutex and a
 * list) and wake the loop through h2o's multithread queue; the loop thread
 * drains the inbox and owns everything else. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "origin/internal.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ACCEPTS_PER_WAKE 64
#define ORIGIN_NICE (-5)
#define SHUTDOWN_DRAIN_US 2000000
#define LISTEN_BACKLOG 1024
/* Descriptors kept free for everything but viewers: cameras, storage
 * connections, files, the loop's own. */
#define FD_RESERVE 256
/* EMFILE: how long the listener rests before it tries again. */
#define ACCEPT_PAUSE_MS 100
/* The most of an unfinished HTTP/1 request head buffered per connection:
 * twice what routes.c accepts (16 KiB of fields and a 1 KiB target). h2o
 * itself would buffer ~400 KiB (H2O_MAX_REQLEN) before refusing it. */
#define HEAD_CAP (32u << 10)
/* Accepted sockets' receive buffer: what one read can add beyond HEAD_CAP
 * (h2o reads until EAGAIN). Requests are small; this never slows a player. */
#define SOCKET_RCVBUF (16 << 10)
#define DEFAULT_MAX_PARKED 4096
#define DEFAULT_MAX_PARKED_PER_CLIENT 128
#define DEFAULT_MAX_PARKED_PER_CONNECTION 16

#if defined(__SANITIZE_ADDRESS__)
/* libh2o 2.2.5 caches freed memory-pool chunks and socket buffers in
 * thread-local recycle lists (memory.c: `static __thread h2o_mem_recycle_t`)
 * that nothing can empty; when the origin's thread ends they become
 * unreachable and LeakSanitizer would report them at exit. Only those
 * allocations are exempt: blobs, messages and our own structs are not. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:h2o_mem_alloc_recycle\n";
}

/* Without this LeakSanitizer lists the suppressions it used at exit, lines
 * that are not log lines (the integration tests check every stderr line). */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "print_suppressions=0";
}
#endif

static char *dup_or_null(const char *s)
{
    return s && s[0] ? es_strdup(s) : NULL;
}

/* ---- messages ---- */

void es_origin_msg_free(struct origin_msg *msg)
{
    if (msg->kind == MSG_TS_SEGMENT) {
        es_blob_unref(msg->ts.data);
    } else {
        es_blob_unref(msg->cmaf.data);
        es_blob_unref(msg->cmaf.init);
    }
    free(msg);
}

static void inbox_push(struct es_origin *o, struct origin_msg *msg)
{
    msg->received_wall_us = es_clock_wall_us();
    pthread_mutex_lock(&o->inbox_lock);
    if (o->start_failed) {
        pthread_mutex_unlock(&o->inbox_lock);
        es_origin_msg_free(msg); /* no server: nobody will read it */
        return;
    }
    *o->inbox_tail = msg;
    o->inbox_tail = &msg->next;
    if (o->loop_accepts_wakes && !o->wake_pending) {
        o->wake_pending = true;
        /* Under the inbox lock, so the loop cannot unregister meanwhile. */
        h2o_multithread_send_message(&o->receiver, NULL);
    }
    pthread_mutex_unlock(&o->inbox_lock);
}

static struct origin_msg *inbox_take(struct es_origin *o)
{
    pthread_mutex_lock(&o->inbox_lock);
    struct origin_msg *list = o->inbox_head;
    o->inbox_head = NULL;
    o->inbox_tail = &o->inbox_head;
    o->wake_pending = false;
    pthread_mutex_unlock(&o->inbox_lock);
    return list;
}

/* A camera added or removed while the loop runs (a reload). Only this
 * thread walks o->streams, so it alone changes the list: a request for a
 * removed camera then finds no stream and is answered 404. */
static void attach_stream(struct es_origin *o, struct origin_stream *stream)
{
    o->streams = es_realloc(o->streams, (o->stream_count + 1) * sizeof(*o->streams));
    o->streams[o->stream_count++] = stream;
    es_origin_stream_start(stream);
}

static void detach_stream(struct es_origin *o, struct origin_msg *msg)
{
    for (size_t i = 0; i < o->stream_count; i++) {
        if (o->streams[i] != msg->stream)
            continue;
        memmove(&o->streams[i], &o->streams[i + 1],
                (o->stream_count - i - 1) * sizeof(*o->streams));
        o->stream_count--;
        es_origin_stream_stop(msg->stream); /* its held requests are answered */
        es_origin_stream_destroy(msg->stream);
        break;
    }
    pthread_mutex_lock(&o->inbox_lock);
    *msg->detached = true;
    pthread_cond_broadcast(&o->detach_done);
    pthread_mutex_unlock(&o->inbox_lock);
}

static void drain_inbox(struct es_origin *o)
{
    struct origin_msg *msg = inbox_take(o);
    while (msg) {
        struct origin_msg *next = msg->next;
        if (msg->kind == MSG_ATTACH)
            attach_stream(o, msg->stream);
        else if (msg->kind == MSG_DETACH)
            detach_stream(o, msg);
        else
            es_origin_stream_apply(msg->stream, msg);
        es_origin_msg_free(msg);
        msg = next;
    }
}

/* The queue only calls receivers that got a message, and a NULL message only
 * wakes the loop: each wake therefore runs the loop once, and the inbox is
 * drained after every loop iteration (see origin_main). */
static void on_queue_message(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
}

/* ---- the sink (pipeline threads) ---- */

struct origin_sink {
    struct es_sink base;
    struct es_origin *origin;
    struct origin_stream *stream;
};

static bool sink_last_msn(struct es_sink *sink, uint64_t *msn)
{
    (void)sink;
    (void)msn;
    return false; /* memory only: nothing survives a restart */
}

static void sink_publish(struct es_sink *sink, const struct es_published_segment *segment)
{
    struct origin_sink *s = (struct origin_sink *)sink;
    if (s->stream->ll)
        return; /* an LL camera's origin stream is made of its fMP4 parts */
    struct origin_msg *msg = es_calloc(1, sizeof(*msg));
    msg->stream = s->stream;
    msg->kind = MSG_TS_SEGMENT;
    msg->ts = *segment;
    msg->ts.data = es_blob_ref(segment->data);
    inbox_push(s->origin, msg);
}

static void sink_publish_cmaf(struct es_sink *sink, const struct es_cmaf_event *event)
{
    struct origin_sink *s = (struct origin_sink *)sink;
    if (!s->stream->ll)
        return;
    struct origin_msg *msg = es_calloc(1, sizeof(*msg));
    msg->stream = s->stream;
    msg->kind = MSG_CMAF;
    msg->cmaf = *event;
    msg->cmaf.data = event->data ? es_blob_ref(event->data) : NULL;
    msg->cmaf.init = event->init ? es_blob_ref(event->init) : NULL;
    inbox_push(s->origin, msg);
}

static void sink_tick(struct es_sink *sink)
{
    (void)sink;
}

/* While the loop runs, the camera's stream leaves with its camera (a reload
 * removed or changed it): after every message this sink queued, the loop
 * unlists and frees the stream, and this waits for that, so the camera's
 * figures (the stats callback) are never read once it is gone. Otherwise
 * the stream stays until es_origin_destroy(). */
static void sink_destroy(struct es_sink *sink)
{
    struct origin_sink *s = (struct origin_sink *)sink;
    struct es_origin *o = s->origin;
    bool detached = false;
    pthread_mutex_lock(&o->inbox_lock);
    if (o->loop_accepts_wakes && !atomic_load(&o->stop_requested)) {
        struct origin_msg *msg = es_calloc(1, sizeof(*msg));
        msg->stream = s->stream;
        msg->kind = MSG_DETACH;
        msg->detached = &detached;
        *o->inbox_tail = msg;
        o->inbox_tail = &msg->next;
        if (!o->wake_pending) {
            o->wake_pending = true;
            h2o_multithread_send_message(&o->receiver, NULL);
        }
        while (!detached)
            pthread_cond_wait(&o->detach_done, &o->inbox_lock);
    }
    pthread_mutex_unlock(&o->inbox_lock);
    free(sink);
}

/* ---- create ---- */

static void free_config(struct es_origin_config *c)
{
    free((char *)c->listen);
    free((char *)c->token);
    free((char *)c->tls_cert);
    free((char *)c->tls_key);
    free((char *)c->cors);
    free((char *)c->web_root);
}

static SSL_CTX *load_tls(const char *cert, const char *key, bool http1_only)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        char why[256];
        ERR_error_string_n(ERR_get_error(), why, sizeof(why));
        es_log(ES_LOG_ERROR, "origin", "event=tls_failed cert=%s key=%s error=\"%s\"", cert, key,
               why);
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* HTTP/2 over TLS is negotiated with ALPN ("h2", then "http/1.1"), unless
     * turned off (origin.http2: libh2o 2.2.5 and HTTP/2 Rapid Reset). */
    static const h2o_iovec_t http1_alpn[] = {{H2O_STRLIT("http/1.1")}, {NULL, 0}};
    h2o_ssl_register_alpn_protocols(ctx, http1_only ? http1_alpn : h2o_http2_alpn_protocols);
    return ctx;
}

enum es_err es_origin_create(const struct es_origin_config *config, struct es_origin **out)
{
    *out = NULL;
    if (!config->listen || (!config->tls_cert != !config->tls_key)) {
        es_log(ES_LOG_ERROR, "origin", "event=bad_config reason=\"%s\"",
               !config->listen ? "no listen address" : "tls_cert and tls_key go together");
        return ES_ERR_CONFIG;
    }
    struct es_origin *o = es_calloc(1, sizeof(*o));
    o->config.listen = es_strdup(config->listen);
    o->config.token = dup_or_null(config->token);
    o->config.tls_cert = dup_or_null(config->tls_cert);
    o->config.tls_key = dup_or_null(config->tls_key);
    o->config.http1_only = config->http1_only;
    o->config.cors = config->cors && config->cors[0] && strcmp(config->cors, "off") != 0
                         ? es_strdup(config->cors)
                         : NULL;
    o->config.web_root = dup_or_null(config->web_root);
    o->config.max_connections = config->max_connections ? config->max_connections : 4096;
    o->config.idle_timeout_ms = config->idle_timeout_ms ? config->idle_timeout_ms : 10000;
    o->config.max_parked = config->max_parked ? config->max_parked : DEFAULT_MAX_PARKED;
    o->config.max_parked_per_client =
        config->max_parked_per_client ? config->max_parked_per_client : DEFAULT_MAX_PARKED_PER_CLIENT;
    o->config.max_parked_per_connection = config->max_parked_per_connection
                                              ? config->max_parked_per_connection
                                              : DEFAULT_MAX_PARKED_PER_CONNECTION;
    o->config.clip_share = config->clip_share;
    o->listen_fd = -1;
    es_origin_run_id(es_clock_wall_us(), (uint32_t)getpid(), o->run, sizeof(o->run));
    pthread_mutex_init(&o->inbox_lock, NULL);
    pthread_cond_init(&o->detach_done, NULL);
    o->inbox_tail = &o->inbox_head;
    h2o_linklist_init_anchor(&o->static_files);

    if (o->config.tls_cert) {
        o->ssl_ctx = load_tls(o->config.tls_cert, o->config.tls_key, config->http1_only);
        if (!o->ssl_ctx) {
            es_origin_destroy(o);
            return ES_ERR_CONFIG;
        }
    }

    h2o_config_init(&o->globalconf);
    o->config_inited = true;
    o->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("edgestream"));
    /* Players send no bodies: anything bigger than a few bytes is refused
     * (413) before it is buffered. */
    o->globalconf.max_request_entity_size = 1024;
    o->globalconf.http1.req_timeout = o->config.idle_timeout_ms;
    o->globalconf.http2.idle_timeout = o->config.idle_timeout_ms;
    o->globalconf.handshake_timeout = o->config.idle_timeout_ms;
    o->globalconf.http2.max_concurrent_requests_per_connection = 32;
    /* Plaintext is HTTP/1.1 only: no h2c upgrade and no prior-knowledge
     * preface (h2o 2.2.5 gates both on this flag). libh2o 2.2.5 predates the
     * HTTP/2 Rapid Reset fix (CVE-2023-44487); HTTP/2 remains only over TLS,
     * and docs/origin.md puts nginx in front for untrusted networks. */
    o->globalconf.http1.upgrade_to_http2 = 0;
    h2o_hostconf_t *host =
        h2o_config_register_host(&o->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = es_origin_on_req;
    *out = o;
    return ES_OK;
}

enum es_err es_origin_add_camera(struct es_origin *o, const struct es_origin_camera *camera,
                                 struct es_sink **sink_out)
{
    *sink_out = NULL;
    if (o->stopped || !camera->id)
        return ES_ERR_INVALID;
    struct origin_stream *stream = es_origin_stream_create(o, camera, 0);
    pthread_mutex_lock(&o->inbox_lock);
    bool running = o->loop_accepts_wakes;
    pthread_mutex_unlock(&o->inbox_lock);
    if (running) {
        /* A reload's new camera: the loop lists the stream before anything
         * the camera publishes (the inbox keeps order). */
        struct origin_msg *msg = es_calloc(1, sizeof(*msg));
        msg->stream = stream;
        msg->kind = MSG_ATTACH;
        inbox_push(o, msg);
    } else {
        o->streams = es_realloc(o->streams, (o->stream_count + 1) * sizeof(*o->streams));
        o->streams[o->stream_count++] = stream;
    }
    struct origin_sink *sink = es_calloc(1, sizeof(*sink));
    sink->base = (struct es_sink){
        .kind = "origin",
        .last_msn = sink_last_msn,
        .publish = sink_publish,
        .tick = sink_tick,
        .destroy = sink_destroy,
        .publish_cmaf = sink_publish_cmaf,
    };
    sink->origin = o;
    sink->stream = stream;
    *sink_out = &sink->base;
    return ES_OK;
}

/* ---- the loop ---- */

/* ---- clients (peer addresses) ---- */

static void peer_key(h2o_socket_t *sock, uint8_t key[16])
{
    struct sockaddr_storage ss;
    memset(key, 0, 16);
    socklen_t len = h2o_socket_getpeername(sock, (struct sockaddr *)&ss);
    if (len == 0)
        return;
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            key[10] = key[11] = 0xff;
            memcpy(key + 12, a->s6_addr + 12, 4);
        } else {
            memcpy(key, a->s6_addr, 16);
        }
    } else if (ss.ss_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    }
}

static struct origin_client *client_get(struct es_origin *o, const uint8_t key[16])
{
    uint32_t hash = 2166136261u;
    for (int i = 0; i < 16; i++)
        hash = (hash ^ key[i]) * 16777619u;
    h2o_linklist_t *bucket = &o->clients[hash % ORIGIN_CLIENT_BUCKETS];
    for (h2o_linklist_t *n = bucket->next; n != bucket; n = n->next) {
        struct origin_client *c = H2O_STRUCT_FROM_MEMBER(struct origin_client, link, n);
        if (memcmp(c->addr, key, 16) == 0)
            return c;
    }
    struct origin_client *c = es_calloc(1, sizeof(*c));
    memcpy(c->addr, key, 16);
    h2o_linklist_insert(bucket, &c->link);
    return c;
}

static void client_put(struct origin_client *c)
{
    if (c->connections == 0 && c->parked == 0) {
        h2o_linklist_unlink(&c->link);
        free(c);
    }
}

static void socket_entry_free_if_done(struct origin_socket *entry)
{
    if (entry->sock || entry->parked)
        return;
    entry->client->connections--;
    client_put(entry->client);
    free(entry);
}

struct origin_socket *es_origin_socket_of_req(h2o_req_t *req)
{
    h2o_socket_t *sock =
        req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    return sock ? sock->on_close.data : NULL;
}

bool es_origin_park_acquire(struct origin_socket *entry)
{
    if (!entry)
        return false;
    struct es_origin *o = entry->origin;
    if (o->parked_total >= o->config.max_parked ||
        entry->client->parked >= o->config.max_parked_per_client ||
        entry->parked >= o->config.max_parked_per_connection) {
        o->metrics.parked_refused++;
        return false;
    }
    o->parked_total++;
    entry->client->parked++;
    entry->parked++;
    return true;
}

void es_origin_park_release(struct origin_socket *entry)
{
    entry->origin->parked_total--;
    entry->client->parked--;
    entry->parked--;
    socket_entry_free_if_done(entry);
}

/* ---- the request head guard ----
 *
 * h2o 2.2.5 buffers up to H2O_MAX_REQLEN (~400 KiB) of an unfinished HTTP/1
 * request head before it refuses it, and has no setting for that. Every
 * accepted socket's read callback is therefore wrapped: after each read, a
 * connection whose HTTP/1 reader holds more than HEAD_CAP unparsed bytes is
 * answered 431 and closed through h2o's own error path. A read adds at most
 * the socket's receive buffer (SOCKET_RCVBUF), so no connection holds more
 * than about HEAD_CAP + 2 x SOCKET_RCVBUF of request. h2o installs its reader
 * again after every request (h2o_socket_read_start); the wrapper is put back
 * after each loop iteration, before the next poll can read anything. */

static void guard_on_read(h2o_socket_t *sock, const char *err)
{
    struct origin_socket *entry = sock->on_close.data;
    h2o_socket_cb inner = entry->inner_read;
    struct es_origin *o = entry->origin;
    if (err == NULL && inner == o->http1_reqread && sock->input->size > HEAD_CAP) {
        static const char refuse[] = "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                     "Content-Type: text/plain; charset=utf-8\r\n"
                                     "Content-Length: 30\r\nConnection: close\r\n\r\n"
                                     "431 request headers too large\n";
        /* Nothing else is being written: h2o reads a head only between
         * responses. A client still sending may see a reset instead; over
         * TLS the connection is only closed (plaintext bytes would corrupt it). */
        if (!sock->ssl)
            (void)!send(h2o_socket_get_fd(sock), refuse, sizeof(refuse) - 1,
                        MSG_DONTWAIT | MSG_NOSIGNAL);
        o->metrics.heads_refused++;
        es_origin_count(o, 431, ROUTE_OTHER, sizeof(refuse) - 1);
        inner(sock, h2o_socket_error_closed); /* h2o closes the connection */
        return;
    }
    inner(sock, err);
}

static void guard_install(struct origin_socket *entry)
{
    h2o_socket_t *sock = entry->sock;
    if (sock && sock->_cb.read && sock->_cb.read != guard_on_read) {
        /* After an HTTP/1 request h2o restarts its HTTP/1 reader: this is how a
         * TLS-only origin learns it (plaintext learns it at the first accept). */
        if (entry->http1 && !entry->origin->http1_reqread)
            entry->origin->http1_reqread = sock->_cb.read;
        entry->inner_read = sock->_cb.read;
        sock->_cb.read = guard_on_read;
    }
}

static void reguard_all(struct es_origin *o)
{
    /* A TLS connection's reader changes when its handshake ends, with no
     * request yet to tell us: those are looked at after every iteration
     * until their first request. */
    for (h2o_linklist_t *n = o->fresh.next; n != &o->fresh; n = n->next)
        guard_install(H2O_STRUCT_FROM_MEMBER(struct origin_socket, fresh, n));
    while (!h2o_linklist_is_empty(&o->reguard)) {
        struct origin_socket *entry =
            H2O_STRUCT_FROM_MEMBER(struct origin_socket, reguard, o->reguard.next);
        h2o_linklist_unlink(&entry->reguard);
        guard_install(entry);
    }
}

static void request_done_dispose(void *p)
{
    struct origin_socket *entry = *(struct origin_socket **)p;
    if (entry && entry->sock && !h2o_linklist_is_linked(&entry->reguard))
        h2o_linklist_insert(&entry->origin->reguard, &entry->reguard);
}

void es_origin_request_done(h2o_req_t *req)
{
    struct origin_socket *entry = es_origin_socket_of_req(req);
    if (!entry)
        return;
    if (req->version < 0x200)
        entry->http1 = true;
    if (h2o_linklist_is_linked(&entry->fresh))
        h2o_linklist_unlink(&entry->fresh);
    struct origin_socket **slot = h2o_mem_alloc_shared(&req->pool, sizeof(*slot),
                                                       request_done_dispose);
    *slot = entry;
}

/* ---- accepting ---- */

static void on_socket_close(void *data)
{
    struct origin_socket *entry = data;
    entry->origin->connections--;
    h2o_linklist_unlink(&entry->link);
    if (h2o_linklist_is_linked(&entry->reguard))
        h2o_linklist_unlink(&entry->reguard);
    if (h2o_linklist_is_linked(&entry->fresh))
        h2o_linklist_unlink(&entry->fresh);
    entry->sock = NULL;
    socket_entry_free_if_done(entry);
}

static void on_accept(h2o_socket_t *listener, const char *err);

static void on_accept_pause_end(h2o_timeout_entry_t *timeout_entry)
{
    struct es_origin *o =
        H2O_STRUCT_FROM_MEMBER(struct es_origin, accept_pause_entry, timeout_entry);
    if (o->accept_paused && o->listener) {
        o->accept_paused = false;
        h2o_socket_read_start(o->listener, on_accept);
    }
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    struct es_origin *o = listener->data;
    if (err)
        return;
    for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
        errno = 0;
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (!sock) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* The pending connection stays queued and the listener stays
                 * readable: polling it now would spin this thread. Rest. */
                o->metrics.accept_pauses++;
                if (!o->accept_pause_logged) /* once per episode */
                    es_log(ES_LOG_WARN, "origin",
                           "event=accept_paused error=\"%s\" connections=%zu pause_ms=%d",
                           strerror(errno), o->connections, ACCEPT_PAUSE_MS);
                o->accept_pause_logged = true;
                o->accept_paused = true;
                h2o_socket_read_stop(listener);
                if (!h2o_timeout_is_linked(&o->accept_pause_entry))
                    h2o_timeout_link(o->ctx.loop, &o->accept_pause_timeout,
                                     &o->accept_pause_entry);
            }
            break;
        }
        o->accept_pause_logged = false;
        if (o->connections >= o->config.max_connections) {
            /* Bounded: an extra connection costs one accept and one close. */
            o->metrics.connections_rejected++;
            h2o_socket_close(sock);
            continue;
        }
        o->connections++;
        o->metrics.connections_accepted++;
        struct origin_socket *entry = es_calloc(1, sizeof(*entry));
        entry->origin = o;
        entry->sock = sock;
        uint8_t key[16];
        peer_key(sock, key);
        entry->client = client_get(o, key);
        entry->client->connections++;
        h2o_linklist_insert(&o->sockets, &entry->link);
        sock->on_close.cb = on_socket_close;
        sock->on_close.data = entry;
        bool tls = o->ssl_ctx != NULL;
        /* Before h2o_accept: should it close the socket at once, the close
         * callback unlinks the entry (and frees it); it is not touched after. */
        h2o_linklist_insert(&o->reguard, &entry->reguard);
        if (tls)
            h2o_linklist_insert(&o->fresh, &entry->fresh);
        h2o_accept(&o->accept_ctx, sock);
        /* Plaintext is HTTP/1 only, so what h2o_accept installed is its
         * HTTP/1 request reader (the guard knows it by this pointer). The
         * socket's memory outlives a close until the loop's next iteration. */
        if (!tls && !o->http1_reqread && sock->_cb.read)
            o->http1_reqread = sock->_cb.read;
    }
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    struct es_origin *o = H2O_STRUCT_FROM_MEMBER(struct es_origin, tick_entry, entry);
    atomic_store(&o->progress_tick_us, es_clock_mono_us());
    atomic_store(&o->progress_connections, o->connections);
    for (size_t i = 0; i < o->stream_count; i++)
        es_origin_stream_tick(o->streams[i]);
    h2o_timeout_link(o->ctx.loop, &o->tick_timeout, &o->tick_entry);
}

static void *origin_main(void *arg)
{
    struct es_origin *o = arg;
    pthread_setname_np(pthread_self(), "es-origin");
    /* Fan-out is bursty: every held request is answered the moment a part
     * exists, and each part waits on this one thread. Ahead of the pipeline
     * threads (whose encoders have frames of slack), as nginx's
     * worker_priority does; needs CAP_SYS_NICE, else stays as it is. */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), ORIGIN_NICE) != 0)
        es_log(ES_LOG_DEBUG, "origin", "event=priority_unchanged error=\"%s\"", strerror(errno));
    while (!atomic_load(&o->stop_requested)) {
        h2o_evloop_run(o->ctx.loop, INT32_MAX);
        reguard_all(o);
        drain_inbox(o);
        reguard_all(o);
    }

    /* Stop accepting, answer whoever waits, let open responses finish. */
    if (o->listener) {
        if (!o->accept_paused)
            h2o_socket_read_stop(o->listener);
        h2o_socket_close(o->listener);
        o->listener = NULL;
    }
    drain_inbox(o);
    for (size_t i = 0; i < o->stream_count; i++)
        es_origin_stream_stop(o->streams[i]);
    h2o_context_request_shutdown(&o->ctx);
    int64_t deadline = es_clock_mono_us() + SHUTDOWN_DRAIN_US;
    while (o->connections > 0 && es_clock_mono_us() < deadline)
        h2o_evloop_run(o->ctx.loop, 20);
    /* Whoever is still connected (a stalled reader, a half-sent request) is
     * cut off: the sockets fail and h2o frees their connections itself. */
    for (h2o_linklist_t *n = o->sockets.next; n != &o->sockets; n = n->next) {
        struct origin_socket *entry = H2O_STRUCT_FROM_MEMBER(struct origin_socket, link, n);
        shutdown(h2o_socket_get_fd(entry->sock), SHUT_RDWR);
    }
    deadline = es_clock_mono_us() + SHUTDOWN_DRAIN_US;
    while (o->connections > 0 && es_clock_mono_us() < deadline)
        h2o_evloop_run(o->ctx.loop, 20);

    pthread_mutex_lock(&o->inbox_lock);
    o->loop_accepts_wakes = false;
    pthread_mutex_unlock(&o->inbox_lock);
    h2o_multithread_unregister_receiver(o->ctx.queue, &o->receiver);
    if (h2o_timeout_is_linked(&o->tick_entry))
        h2o_timeout_unlink(&o->tick_entry);
    if (h2o_timeout_is_linked(&o->accept_pause_entry))
        h2o_timeout_unlink(&o->accept_pause_entry);
    h2o_timeout_dispose(o->ctx.loop, &o->accept_pause_timeout);
    /* h2o_context_request_shutdown() arms HTTP/2's graceful-shutdown timer
     * even without HTTP/2 connections; context disposal asserts it is idle. */
    if (h2o_timeout_is_linked(&o->ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&o->ctx.http2._graceful_shutdown_timeout);
    h2o_timeout_dispose(o->ctx.loop, &o->tick_timeout);
    if (o->connections > 0) {
        /* A client that would not let go: its connection is abandoned with
         * the loop rather than freed under h2o's feet. */
        es_log(ES_LOG_WARN, "origin", "event=shutdown_with_open_connections count=%zu",
               o->connections);
        return NULL;
    }
    h2o_timeout_dispose(o->ctx.loop, &o->send_timeout);
    o->send_timeout_inited = false;
    h2o_loop_t *loop = o->ctx.loop;
    h2o_multithread_queue_t *queue = o->ctx.queue;
    h2o_context_dispose(&o->ctx);
    /* libh2o 2.2.5 (evloop): h2o_multithread_destroy_queue() closes the
     * queue's pipe socket, which the loop frees on its next run, and never
     * frees the queue itself. Run the loop once, then free it. */
    h2o_evloop_run(loop, 0);
    free(queue);
    h2o_evloop_destroy(loop);
    o->context_live = false;
    return NULL;
}

static int open_listener(struct es_origin *o, char *host_out, size_t host_size, unsigned *port_out)
{
    char host[300];
    const char *address = o->config.listen;
    const char *colon = strrchr(address, ':');
    if (!colon)
        return -1;
    size_t hlen = (size_t)(colon - address);
    if (hlen >= sizeof(host))
        return -1;
    memcpy(host, address, hlen);
    host[hlen] = '\0';
    if (host[0] == '[' && hlen >= 2 && host[hlen - 1] == ']') {
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
    if (gai != 0) {
        es_log(ES_LOG_ERROR, "origin", "event=bad_listen listen=%s error=\"%s\"", address,
               gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    int saved = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        /* Accepted sockets inherit it: a part is small, and Nagle would hold
         * its last packet back for an ACK. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        /* Inherited too: bounds what one read adds to a request head. */
        int rcvbuf = SOCKET_RCVBUF;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        es_log(ES_LOG_WARN, "origin", "event=listen_failed listen=%s error=\"%s\"", address,
               strerror(saved));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        char text[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
        snprintf(host_out, host_size, "[%s]",
                 IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr) ? "::1" : text);
        *port_out = ntohs(a->sin6_port);
        o->loopback_only = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
                           (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        char text[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
        snprintf(host_out, host_size, "%s",
                 a->sin_addr.s_addr == htonl(INADDR_ANY) ? "127.0.0.1" : text);
        *port_out = ntohs(a->sin_port);
        o->loopback_only = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    return fd;
}

/* Every viewer holds a descriptor: raise the limit to fit max_connections of
 * them, and where the hard limit does not allow it, serve fewer connections
 * rather than run into EMFILE. Returns the max_connections to use. */
unsigned es_origin_fit_fd_limit(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return want;
    rlim_t need = (rlim_t)want + FD_RESERVE;
    if (rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur >= need)
        return want;
    /* At least a few, even under an absurd limit (EMFILE then pauses). */
    unsigned fit = rl.rlim_cur > FD_RESERVE + 16 ? (unsigned)(rl.rlim_cur - FD_RESERVE) : 16;
    es_log(ES_LOG_WARN, "origin",
           "event=max_connections_lowered fd_limit=%llu max_connections=%u configured=%u "
           "reason=\"descriptor limit (raise LimitNOFILE / ulimit -n)\"",
           (unsigned long long)rl.rlim_cur, fit, want);
    return fit;
}

enum es_err es_origin_start(struct es_origin *o)
{
    if (o->thread_started)
        return ES_ERR_INVALID;
    o->config.max_connections = es_origin_fit_fd_limit(o->config.max_connections);
    char host[INET6_ADDRSTRLEN + 4];
    unsigned port = 0;
    o->listen_fd = open_listener(o, host, sizeof(host), &port);
    if (o->listen_fd < 0) {
        pthread_mutex_lock(&o->inbox_lock);
        o->start_failed = true;
        pthread_mutex_unlock(&o->inbox_lock);
        return ES_ERR_IO;
    }
    snprintf(o->url, sizeof(o->url), "%s://%s:%u/", o->ssl_ctx ? "https" : "http", host, port);

    h2o_context_init(&o->ctx, h2o_evloop_create(), &o->globalconf);
    o->context_live = true;
    o->accept_ctx.ctx = &o->ctx;
    o->accept_ctx.hosts = o->globalconf.hosts;
    o->accept_ctx.ssl_ctx = o->ssl_ctx;
    h2o_multithread_register_receiver(o->ctx.queue, &o->receiver, on_queue_message);
    h2o_linklist_init_anchor(&o->sockets);
    h2o_linklist_init_anchor(&o->reguard);
    h2o_linklist_init_anchor(&o->fresh);
    for (size_t i = 0; i < ORIGIN_CLIENT_BUCKETS; i++)
        h2o_linklist_init_anchor(&o->clients[i]);
    h2o_timeout_init(o->ctx.loop, &o->accept_pause_timeout, ACCEPT_PAUSE_MS);
    o->accept_pause_entry.cb = on_accept_pause_end;
    h2o_timeout_init(o->ctx.loop, &o->send_timeout, o->config.idle_timeout_ms);
    o->send_timeout_inited = true;
    h2o_timeout_init(o->ctx.loop, &o->tick_timeout, 1000);
    o->tick_entry.cb = on_tick;
    h2o_timeout_link(o->ctx.loop, &o->tick_timeout, &o->tick_entry);
    for (size_t i = 0; i < o->stream_count; i++)
        es_origin_stream_start(o->streams[i]);
    o->listener = h2o_evloop_socket_create(o->ctx.loop, o->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    o->listener_owned = true;
    o->listener->data = o;
    h2o_socket_read_start(o->listener, on_accept);
    o->started_wall_us = es_clock_wall_us();
    atomic_store(&o->progress_tick_us, es_clock_mono_us());

    pthread_mutex_lock(&o->inbox_lock);
    o->loop_accepts_wakes = true;
    if (o->inbox_head) {
        o->wake_pending = true;
        h2o_multithread_send_message(&o->receiver, NULL);
    }
    pthread_mutex_unlock(&o->inbox_lock);

    if (pthread_create(&o->thread, NULL, origin_main, o) != 0)
        abort();
    o->thread_started = true;
    es_log(ES_LOG_INFO, "origin",
           "event=listening url=%s cameras=%zu tls=%s http2=%s auth=%s max_connections=%u "
           "max_parked=%u loopback_only=%s",
           o->url, o->stream_count, o->ssl_ctx ? "yes" : "no",
           o->ssl_ctx && !o->config.http1_only ? "tls" : "no",
           o->config.token ? "token" : "none",
           o->config.max_connections, o->config.max_parked, o->loopback_only ? "yes" : "no");
    return ES_OK;
}

void es_origin_progress(const struct es_origin *o, int64_t *tick_us, size_t *connections)
{
    *tick_us = atomic_load(&o->progress_tick_us);
    *connections = atomic_load(&o->progress_connections);
}

const char *es_origin_url(const struct es_origin *o)
{
    return o->url;
}

const char *es_origin_run(const struct es_origin *o)
{
    return o->run;
}

void es_origin_run_id(int64_t wall_us, uint32_t pid, char *out, size_t size)
{
    /* Microseconds, then the pid: two runs would need the same microsecond
     * and the same pid (a clock set back and a pid reused) to collide. */
    snprintf(out, size, "%" PRIx64 "%06" PRIx32, (uint64_t)wall_us, pid & 0xffffffu);
}

void es_origin_stop(struct es_origin *o)
{
    if (!o || !o->thread_started || o->stopped)
        return;
    atomic_store(&o->stop_requested, true);
    pthread_mutex_lock(&o->inbox_lock);
    if (o->loop_accepts_wakes)
        h2o_multithread_send_message(&o->receiver, NULL);
    pthread_mutex_unlock(&o->inbox_lock);
    pthread_join(o->thread, NULL);
    o->stopped = true;
    es_log(ES_LOG_INFO, "origin", "event=stopped");
}

void es_origin_destroy(struct es_origin *o)
{
    if (!o)
        return;
    es_origin_stop(o);
    struct origin_msg *msg = inbox_take(o);
    while (msg) {
        struct origin_msg *next = msg->next;
        if (msg->kind == MSG_ATTACH)
            es_origin_stream_destroy(msg->stream); /* never listed */
        es_origin_msg_free(msg);
        msg = next;
    }
    for (size_t i = 0; i < o->stream_count; i++)
        es_origin_stream_destroy(o->streams[i]);
    free(o->streams);
    es_origin_static_free(o);
    /* With connections abandoned at shutdown the context is still alive and
     * points into the configuration: both are left as they are. */
    if (o->config_inited && !o->context_live)
        h2o_config_dispose(&o->globalconf);
    if (o->listen_fd >= 0 && !o->listener_owned)
        close(o->listen_fd);
    if (o->ssl_ctx)
        SSL_CTX_free(o->ssl_ctx);
    pthread_mutex_destroy(&o->inbox_lock);
    pthread_cond_destroy(&o->detach_done);
    free_config(&o->config);
    free(o);
}
