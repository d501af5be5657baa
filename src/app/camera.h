/* One camera's pipeline: source → transcode → segment → sinks, on its own
 * thread, reconnecting with capped exponential backoff for as long as the
 * daemon runs. One camera's trouble never touches another's thread. */
#ifndef ES_APP_CAMERA_H
#define ES_APP_CAMERA_H

#include "config/config.h"
#include "core/error.h"
#include "sink/sink.h"

#include <stddef.h>
#include <stdint.h>

enum es_camera_state {
    ES_CAMERA_CONNECTING = 0,
    ES_CAMERA_LIVE,
    ES_CAMERA_OFFLINE, /* waiting to reconnect */
    ES_CAMERA_STOPPED,
};

struct es_camera_stats {
    enum es_camera_state state;
    uint64_t frames_in;       /* video frames from the camera */
    uint64_t frames_out;      /* video frames into segments */
    uint64_t bytes_out;       /* segment bytes */
    uint64_t segments;        /* segments published */
    uint64_t reconnects;
    uint64_t last_msn;
    int64_t last_segment_wall_us; /* 0 before the first */
};

struct es_camera;

/* `config` must outlive the camera. Sinks are taken: the camera destroys them. */
enum es_err es_camera_create(const struct es_camera_config *config, struct es_sink **sinks_take,
                             size_t sink_count, struct es_camera **out);
enum es_err es_camera_start(struct es_camera *camera);
/* Asks the thread to stop (returns at once); es_camera_destroy() joins it. */
void es_camera_request_stop(struct es_camera *camera);
void es_camera_destroy(struct es_camera *camera); /* NULL is fine */

/* WebRTC tap (src/webrtc/, docs/webrtc.md): called on the pipeline thread
 * with each encoded video access unit (Annex B), its timestamp in 90 kHz
 * ticks and the wall clock it was captured at. Must return at once. Set
 * before start. */
typedef void (*es_camera_video_tap_fn)(void *opaque, const uint8_t *data, size_t size,
                                       int64_t pts_ticks, int64_t wall_us);
void es_camera_set_video_tap(struct es_camera *camera, es_camera_video_tap_fn fn, void *opaque);
/* The same for each encoded audio packet (AAC), with the output's codec
 * parameters (a new pointer after a reconnect); for a G.711 camera (PCMU,
 * PCMA) the camera's own packets instead, with the source's parameters. */
struct AVPacket;
struct AVCodecParameters;
typedef void (*es_camera_audio_tap_fn)(void *opaque, const struct AVPacket *pkt,
                                       const struct AVCodecParameters *par, int64_t wall_us);
void es_camera_set_audio_tap(struct es_camera *camera, es_camera_audio_tap_fn fn, void *opaque);
/* Any thread, never blocks: the next encoded video frame is a keyframe (a
 * WebRTC viewer's PLI or FIR). Transcoding only; passthrough waits for the
 * camera's next one. */
void es_camera_request_keyframe(struct es_camera *camera);

const struct es_camera_config *es_camera_config(const struct es_camera *camera);
/* The camera's newest picture for snapshots (snapshot/snapshot.h); lives as
 * long as the camera (take a reference to keep it longer). */
struct es_snapshot_source *es_camera_snapshot(const struct es_camera *camera);
void es_camera_stats(const struct es_camera *camera, struct es_camera_stats *out);
const char *es_camera_state_name(enum es_camera_state state);

/* For the service watchdog (app/service.h), any thread: the monotonic time
 * (es_clock_mono_us) by which the camera's thread next shows progress. It is
 * "now" while the thread works, and the end of the wait while it waits on
 * something bounded (a connect, a read, the reconnect backoff). */
int64_t es_camera_progress_due_us(const struct es_camera *camera);

/* Test-only fault hook: when set and it answers true for this camera, the
 * camera's thread stops showing progress (as a deadlocked one would) until
 * it is asked to stop. Only the test program tests/tools/edgestream_faults.c
 * sets it; nothing in the daemon does, so the installed program cannot reach
 * it. */
extern bool (*es_camera_test_stall)(const char *camera_id);

#endif
