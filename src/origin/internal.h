/* Shared by the files of src/origin/ only. Everything here is touched by the
 * origin's event-loop thread alone, except the inbox (mutex) and what its
 * comments say otherwise. */
#ifndef ES_ORIGIN_INTERNAL_H
#define ES_ORIGIN_INTERNAL_H

#include "core/blob.h"
#include "origin/origin.h"
#include "origin/path.h"
#include "playlist/playlist.h"
#include "segment/cmaf.h"

#include <h2o.h>
#include <pthread.h>
#include <stdatomic.h>

#define ORIGIN_URI_MAX 96

/* ---- messages from pipeline threads ---- */

enum origin_msg_kind {
    MSG_TS_SEGMENT = 0,
    MSG_CMAF,
    MSG_ATTACH, /* a camera added while the loop runs (a reload): list its stream */
    MSG_DETACH, /* its camera is gone: unlist the stream, free it, set *detached */
};

struct origin_msg {
    struct origin_msg *next;
    struct origin_stream *stream;
    enum origin_msg_kind kind;
    struct es_published_segment ts; /* MSG_TS_SEGMENT; data is a reference we hold */
    struct es_cmaf_event cmaf;      /* MSG_CMAF; data and init are references we hold */
    int64_t received_wall_us;       /* when the pipeline handed it over */
    bool *detached;                 /* MSG_DETACH: set under the inbox lock when done */
};

/* ---- one camera's window ---- */

struct ll_part {
    struct es_blob *data;
    double duration;
    bool independent;
    int64_t end_wall_us;       /* wall clock of the part's end (PDT-based) */
    int64_t published_wall_us; /* when it became fetchable */
};

struct ll_segment {
    uint64_t msn;
    bool complete;
    double duration; /* complete: EXTINF */
    int64_t pdt_us;
    bool discontinuity;
    unsigned init_index; /* into stream->inits */
    struct ll_part *parts;
    size_t part_count, part_cap;
    size_t bytes;
    int64_t expires_mono_us; /* 0 while listed; then freed at this time (grace) */
};

struct ll_init {
    unsigned id; /* the segmenter's init_id */
    struct es_blob *data;
    char uri[ORIGIN_URI_MAX];
};

struct ts_segment {
    uint64_t msn;
    struct es_blob *data;
    double duration;
    int64_t published_wall_us;
    int64_t expires_mono_us; /* 0 while listed */
};

/* Rendered playlists of the current version, by variant (see stream.c). */
#define RENDER_VARIANTS 8

struct origin_stream {
    struct es_origin *origin;
    size_t index;
    char *id, *name, *profile;
    char *location; /* storage path component (shared clips) */
    unsigned target_duration;
    double segment_duration;
    double part_target; /* 0: classic only */
    unsigned segments_to_keep;
    bool ll;
    void (*stats)(void *opaque, struct es_origin_camera_stats *out);
    void *stats_opaque;

    /* LL-HLS (ll) */
    struct ll_segment *segs; /* msn order: removed-but-fetchable, listed, the open one */
    size_t seg_count, seg_cap;
    uint64_t media_sequence; /* first listed msn */
    uint64_t discontinuity_sequence;
    bool have_media_sequence;
    struct ll_init *inits;
    size_t init_count, init_cap;
    unsigned parts_per_segment; /* expected, for the advance limit */

    /* classic (!ll) */
    struct es_playlist playlist;
    struct ts_segment *ts; /* removed-but-fetchable, then listed */
    size_t ts_count, ts_cap;

    /* both */
    uint64_t version; /* bumped by every change of the playlist */
    uint64_t rendered_version;
    struct es_blob *rendered[RENDER_VARIANTS];
    h2o_linklist_t waiters; /* struct waiter */
    size_t waiter_count;
    h2o_timeout_t block_timeout; /* 3 x target duration */
    bool block_timeout_inited;
    int64_t last_update_wall_us;
    int64_t newest_pdt_us;      /* PDT of the newest segment */
    int64_t newest_end_wall_us; /* PDT-based end of the newest media */
    double publish_delay_ms;    /* newest: handed over minus media end */
    /* Answering everyone who waited for a new part: the slowest of the last
     * few (microseconds, on this thread) and how many were answered. */
    int64_t fanout_us_max, fanout_us_window[16];
    size_t fanout_count, fanout_at;
    uint64_t parts_published, segments_published, bytes_published;
    uint64_t requests; /* for its playlist, parts, segments and init sections */

    /* /metrics rates */
    struct es_origin_camera_stats last_stats;
    int64_t last_stats_mono_us;
    double fps, bitrate_bps;
};

/* ---- connections and the clients behind them ---- */

/* One peer address (IPv4-mapped addresses count as IPv4): what it may hold. */
struct origin_client {
    h2o_linklist_t link; /* in es_origin.clients[bucket] */
    uint8_t addr[16];
    unsigned connections; /* open connections from it */
    unsigned parked;      /* its requests parked right now */
};

/* One accepted connection. Freed when its socket has closed and no parked
 * request points at it any more. */
struct origin_socket {
    h2o_linklist_t link; /* es_origin.sockets, while open */
    struct es_origin *origin;
    h2o_socket_t *sock; /* NULL once closed */
    struct origin_client *client;
    unsigned parked;
    /* h2o's read callback behind our head guard (origin.c) */
    h2o_socket_cb inner_read;
    h2o_linklist_t reguard; /* es_origin.reguard: wrap its read callback again */
    h2o_linklist_t fresh;   /* es_origin.fresh: TLS, no request yet (see origin.c) */
    bool http1;             /* it has carried an HTTP/1 request */
};

/* The connection a request arrived on, or NULL (never for our own sockets). */
struct origin_socket *es_origin_socket_of_req(h2o_req_t *req);
/* Counts one parked request against its connection, its client and the
 * total, or refuses (false) when any of them is at its cap. */
bool es_origin_park_acquire(struct origin_socket *entry);
void es_origin_park_release(struct origin_socket *entry);
/* After a request's pool is cleared h2o re-arms its HTTP/1 reader: the head
 * guard is put back in front of it before the loop polls again. */
void es_origin_request_done(h2o_req_t *req);

#define ORIGIN_CLIENT_BUCKETS 1024

/* ---- the origin ---- */

struct origin_metrics {
    uint64_t requests[6];           /* by status class 1xx..5xx; [0] other */
    uint64_t responses_by_route[8]; /* enum route */
    uint64_t bytes_sent;
    uint64_t connections_accepted, connections_rejected;
    uint64_t blocked_total, blocked_timeouts, hints_total;
    uint64_t auth_failures;
    uint64_t send_timeouts;
    uint64_t parked_refused, heads_refused, hosts_refused, accept_pauses;
};

enum route {
    ROUTE_PLAYLIST = 0,
    ROUTE_PART,
    ROUTE_SEGMENT,
    ROUTE_INIT,
    ROUTE_API,
    ROUTE_METRICS,
    ROUTE_STATIC,
    ROUTE_OTHER,
};

struct es_origin {
    struct es_origin_config config; /* strings owned (copies) */
    char url[128];
    /* This run's id, in every media URI (/live/<camera>/<run>/<name>): wall
     * clock microseconds and pid, so no two runs (a crash-restart within the
     * same second included) ever serve different bytes under one URI. */
    char run[32];
    bool loopback_only; /* bound to 127.0.0.0/8 or ::1: Host must be loopback */
    struct origin_stream **streams;
    size_t stream_count;

    pthread_mutex_t inbox_lock;
    pthread_cond_t detach_done; /* with inbox_lock: a MSG_DETACH was handled */
    struct origin_msg *inbox_head, **inbox_tail;
    bool wake_pending, loop_accepts_wakes, start_failed;

    pthread_t thread;
    bool thread_started, stopped;
    bool config_inited, context_live, listener_owned;
    atomic_bool stop_requested;

    h2o_globalconf_t globalconf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_multithread_receiver_t receiver;
    SSL_CTX *ssl_ctx;
    int listen_fd;
    h2o_socket_t *listener;
    size_t connections;
    h2o_linklist_t sockets;     /* struct origin_socket: every accepted connection */
    h2o_linklist_t reguard;     /* struct origin_socket.reguard */
    h2o_linklist_t fresh;       /* struct origin_socket.fresh */
    h2o_linklist_t clients[ORIGIN_CLIENT_BUCKETS];
    size_t parked_total;
    h2o_socket_cb http1_reqread; /* h2o's HTTP/1 request reader, seen at the first accept */
    bool accept_paused;          /* EMFILE: the listener rests until a descriptor frees */
    bool accept_pause_logged;    /* this episode of EMFILE has been logged */
    h2o_timeout_t accept_pause_timeout;
    h2o_timeout_entry_t accept_pause_entry;
    h2o_timeout_t send_timeout; /* a response must be taken within idle_timeout_ms */
    bool send_timeout_inited;
    h2o_timeout_t tick_timeout;
    h2o_timeout_entry_t tick_entry;
    /* For the service watchdog (es_origin_progress): the loop's latest tick
     * and the connections open then; the loop writes, any thread reads. */
    atomic_int_fast64_t progress_tick_us;
    atomic_size_t progress_connections;
    int64_t started_wall_us;
    struct origin_metrics metrics;
    h2o_linklist_t static_files; /* static.c's shared copies, most recently used first */
};

/* stream.c */
struct origin_stream *es_origin_stream_create(struct es_origin *origin,
                                              const struct es_origin_camera *camera, size_t index);
void es_origin_stream_destroy(struct origin_stream *s);
void es_origin_stream_start(struct origin_stream *s); /* on the loop thread */
void es_origin_stream_stop(struct origin_stream *s);  /* answers waiters 503 */
void es_origin_stream_apply(struct origin_stream *s, struct origin_msg *msg); /* takes refs */
void es_origin_stream_tick(struct origin_stream *s); /* expiry, rates; ~1 s */
/* `name` is "stream.m3u8", or a media name under this run's directory. */
void es_origin_stream_serve(struct origin_stream *s, h2o_req_t *req, const char *name,
                            bool playlist, const struct es_query *query, bool token_in_query);
void es_origin_stream_json(struct origin_stream *s, h2o_mem_pool_t *pool, h2o_iovec_vector_t *out);
/* One camera's figures for /metrics (api.c formats them). */
struct origin_camera_metrics {
    struct es_origin_camera_stats camera;
    uint64_t up; /* 1 while live */
    double fps, bitrate_bps;
    uint64_t segments_published, parts_published, bytes_published;
    double publish_delay_s;
    uint64_t waiting, fanout_requests;
    double fanout_s;
    uint64_t requests;
};
void es_origin_stream_metric_values(struct origin_stream *s, struct origin_camera_metrics *out);
void es_origin_msg_free(struct origin_msg *msg);

/* respond.c */
struct respond {
    int status;
    const char *reason;
    const char *content_type;
    const char *cache_control;
    const char *content_encoding; /* NULL = identity */
    bool vary_accept_encoding;
    enum route route;
};
/* Sends `bufs` (kept alive by `blobs`, referenced for the request's life). */
void es_origin_respond(h2o_req_t *req, const struct respond *r, h2o_iovec_t *bufs, size_t bufcnt,
                       struct es_blob *const *blobs, size_t blob_count);
void es_origin_respond_text(h2o_req_t *req, int status, const char *reason, const char *body,
                            enum route route);
void es_origin_add_header(h2o_req_t *req, const char *name, const char *value);
void es_origin_add_cors(h2o_req_t *req);
void es_origin_count(struct es_origin *o, int status, enum route route, size_t bytes);
struct es_origin *es_origin_of_req(h2o_req_t *req);

/* static.c */
void es_origin_serve_static(struct es_origin *o, h2o_req_t *req, const struct es_path *path);
void es_origin_static_free(struct es_origin *o); /* the shared copies (on destroy) */

/* api.c */
void es_origin_serve_api_cameras(struct es_origin *o, h2o_req_t *req);
void es_origin_serve_metrics(struct es_origin *o, h2o_req_t *req);
void es_origin_serve_healthz(struct es_origin *o, h2o_req_t *req);

/* routes.c */
int es_origin_on_req(h2o_handler_t *self, h2o_req_t *req);

/* Appends printf output to a pool-allocated iovec vector. */
void es_origin_vprintf(h2o_mem_pool_t *pool, h2o_iovec_vector_t *out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
