/* Still pictures of a camera as JPEG (docs/recording.md, "Snapshots").
 *
 * Live: the camera's pipeline thread hands each picture it already has to
 * the camera's es_snapshot_source: in transcode mode a reference to the
 * decoded frame (no copy), in passthrough the keyframe as it arrived. No
 * JPEG is made until someone asks; then the newest picture is encoded once
 * and the JPEG is kept for everyone who asks before a newer picture exists
 * (passthrough: the next keyframe) or, in transcode mode, for
 * ES_SNAPSHOT_MIN_INTERVAL_US: a hundred dashboards polling cost one encode.
 *
 * Recorded: es_snapshot_from_segment() decodes a recorded segment from its
 * first (key)frame up to a time and encodes the frame shown then.
 *
 * Encoding (and decoding) runs on the caller's thread: the origin calls it
 * from its media worker (origin/snapshot.h), never from its loop. */
#ifndef ES_SNAPSHOT_SNAPSHOT_H
#define ES_SNAPSHOT_SNAPSHOT_H

#include "core/blob.h"
#include "core/error.h"

#include <stdbool.h>
#include <stdint.h>

struct AVFrame;
struct AVPacket;
struct AVCodecParameters;

/* Transcode mode: a JPEG is reused for this long even when newer frames
 * exist, so pollers cost at most two encodes a second per camera. */
#define ES_SNAPSHOT_MIN_INTERVAL_US 500000
/* Wider pictures are scaled down to this width (keeps the encode bounded). */
#define ES_SNAPSHOT_MAX_WIDTH 1920

/* One JPEG: `generation` names the picture it shows (ETag), `wall_us` when
 * that picture was captured (0 when unknown). */
struct es_snapshot_jpeg {
    struct es_blob *jpeg; /* a reference the receiver owns */
    uint64_t generation;
    int64_t wall_us;
};

struct es_snapshot_source;

/* Refcounted, any thread: the camera holds one reference, each queued
 * request another. */
struct es_snapshot_source *es_snapshot_source_create(const char *camera_id);
struct es_snapshot_source *es_snapshot_source_ref(struct es_snapshot_source *s);
void es_snapshot_source_unref(struct es_snapshot_source *s); /* NULL is fine */

/* Pipeline thread. put_frame keeps a reference to `frame` (decoded, any
 * size and format swscale knows) until a newer one comes. put_keyframe keeps
 * a reference to `pkt` (H.264 Annex B with its SPS/PPS) and a copy of `par`
 * when it changed. `wall_us` is the picture's capture time. Cheap: a lock
 * and reference counts. */
void es_snapshot_source_put_frame(struct es_snapshot_source *s, const struct AVFrame *frame,
                                  int64_t wall_us);
void es_snapshot_source_put_keyframe(struct es_snapshot_source *s, const struct AVPacket *pkt,
                                     const struct AVCodecParameters *par, int64_t wall_us);
/* Any thread, never encodes: true with a reference to the kept JPEG when it
 * still shows the newest picture (see the rule above). */
bool es_snapshot_source_cached(struct es_snapshot_source *s, struct es_snapshot_jpeg *out);
/* True once any picture was put. */
bool es_snapshot_source_has_picture(struct es_snapshot_source *s);

/* Worker thread: the JPEG of the newest picture, encoded now unless the kept
 * one still holds. ES_ERR_NOT_FOUND when no picture came yet; ES_ERR_CODEC
 * when it cannot be decoded or encoded (logged). *encode_us is the time spent
 * encoding (0 when the kept one was used). */
enum es_err es_snapshot_source_jpeg(struct es_snapshot_source *s, struct es_snapshot_jpeg *out,
                                    int64_t *encode_us);

/* How many JPEGs this source encoded, and how many were asked for (the
 * origin counts each request). */
uint64_t es_snapshot_source_encodes(struct es_snapshot_source *s);
void es_snapshot_source_count_request(struct es_snapshot_source *s);
uint64_t es_snapshot_source_requests(struct es_snapshot_source *s);

/* The JPEG of `frame` (scaled down to ES_SNAPSHOT_MAX_WIDTH when wider). */
enum es_err es_snapshot_encode_jpeg(const struct AVFrame *frame, struct es_blob **out);

/* The frame of the recorded segment file `path` shown `offset_ms` after its
 * first frame (the last frame at or before it; the last frame when the
 * segment is shorter), as JPEG. ES_ERR_IO when the file cannot be opened,
 * ES_ERR_CODEC when nothing in it decodes. */
enum es_err es_snapshot_from_segment(const char *path, int64_t offset_ms, struct es_blob **out);

#endif
