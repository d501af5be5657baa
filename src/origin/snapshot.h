/* Snapshots and clips on the origin (docs/recording.md), for routes.c and
 * api.c only:
 *
 *   /live/<camera>/snapshot.jpg                    the newest picture (snapshot/snapshot.h)
 *   /vod/<camera>/snapshot.jpg?t=<ISO>             the recorded picture at t
 *   /vod/<camera>/clip.mp4?start=<ISO>&end=<ISO>   the recorded range as one MP4 (clip.c)
 *
 * Decoding, encoding and remuxing never run on the origin's loop: they go to
 * a worker thread (one for snapshots, one for clips, shared by every origin of
 * the process) and the request waits, parked, until the worker hands the answer back through a
 * pipe the loop watches. Only the index lookup (one indexed query, as for a
 * VOD playlist) and answers from the kept JPEG happen on the loop. Requests
 * for the live snapshot of one camera that arrive while its encode runs wait
 * for that same encode. */
#ifndef ES_ORIGIN_SNAPSHOT_H
#define ES_ORIGIN_SNAPSHOT_H

#include "origin/internal.h"

/* Auth, Host and method were checked by routes.c. */
void es_origin_serve_live_snapshot(struct es_origin *o, h2o_req_t *req, struct origin_stream *s);
/* `path` is /vod/<camera>/snapshot.jpg or /vod/<camera>/clip.mp4: true when
 * it was one of them (and has been answered). `share`: the request is a POST
 * of clip.mp4 (routes.c allows POST nowhere else): store the clip in the
 * remote store and answer where it is. */
bool es_origin_serve_vod_media(struct es_origin *o, h2o_req_t *req, const struct es_path *path,
                               const char *raw_query, size_t raw_query_len, bool share);
/* edgestream_snapshot_* and edgestream_clip_* for /metrics. */
void es_origin_snapshot_metrics(struct es_origin *o, h2o_mem_pool_t *pool, h2o_iovec_vector_t *out);

/* ---- the media worker, shared by snapshot.c and clip.c ---- */

struct media_job {
    struct media_job *next; /* worker queue, then the done list */
    /* Worker thread: fills the answer below. */
    void (*run)(struct media_job *job);
    void (*free_inputs)(struct media_job *job);
    void *inputs;
    struct es_snapshot_source *source; /* live snapshot: coalescing key (a reference) */
    bool clip;
    /* The answer. */
    int status;
    const char *reason;
    const char *content_type;
    const char *cache_control;
    char etag[64];
    char disposition[160];
    char capture_time[48];
    struct es_blob *body; /* or text: */
    const char *text;
    /* Loop thread only. */
    struct media_origin *owner;
    h2o_linklist_t waiters; /* struct media_waiter */
};

/* Loop thread. A new job (zeroed, waiters empty). */
struct media_job *es_origin_media_job_new(void);
/* Loop thread: queues `job` for the worker and parks `req` until it is done.
 * False (and `job` freed) when the worker's queue is full: answered 503. */
bool es_origin_media_job_submit(struct es_origin *o, h2o_req_t *req, struct media_job *job);

/* clip.c */
void es_origin_serve_clip(struct es_origin *o, h2o_req_t *req, const struct origin_stream *s,
                          const char *record_dir, const char *raw_query, size_t raw_len,
                          bool share);
void es_origin_clip_metrics(h2o_mem_pool_t *pool, h2o_iovec_vector_t *out);

#endif
