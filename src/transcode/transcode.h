/* Turns a camera's packets into what the segmenter cuts: H.264 at the target
 * size and frame rate with a keyframe exactly every fps × segment_duration
 * frames, plus AAC audio; or, in passthrough, the camera's own H.264 with
 * SPS/PPS repeated before every keyframe.
 *
 * One transcoder lives for one camera connection (a reconnect may bring other
 * codec parameters). Input packets carry timestamps in 90 kHz ticks already
 * rebased by the caller; output packets too. */
#ifndef ES_TRANSCODE_TRANSCODE_H
#define ES_TRANSCODE_TRANSCODE_H

#include "config/config.h"
#include "core/error.h"

#include <libavformat/avformat.h>

/* The largest picture the decoder accepts, in pixels (12 MP: 4096x3072, so
 * 4K and 12 MP cameras decode). A camera announcing more (in its parameters
 * or in band) is refused with a log naming it: one 16384x8192 picture would
 * hold 200 MB, and the decoder keeps several. */
#define ES_TRANSCODE_MAX_PIXELS (4096 * 3072)

struct es_transcode_config {
    const char *camera_id;
    enum es_transcode_mode mode;
    unsigned target_width;   /* even */
    unsigned target_fps;
    double segment_duration; /* seconds; sets the keyframe interval */
    unsigned audio_bitrate;
    /* Transcode mode: each decoded frame kept for encoding (after the frame
     * rate reducer), before it is scaled, with its timestamp in 90 kHz
     * ticks. It may take a reference (av_frame_ref); it must return at once.
     * Snapshots (snapshot/snapshot.h). NULL = none. */
    void (*on_frame)(void *opaque, const AVFrame *frame, int64_t ticks);
    void *on_frame_opaque;
};

/* Receives each output packet (pts/dts in 90 kHz, stream_index an es_media).
 * The callee may reference the packet; the transcoder unrefs it afterwards. */
typedef void (*es_transcode_emit_fn)(void *opaque, AVPacket *pkt);

struct es_transcoder;

/* `video` is required; `audio` may be NULL. The streams' codecpar and
 * time_base describe the input; they must outlive the transcoder. */
enum es_err es_transcoder_create(const struct es_transcode_config *config, const AVStream *video,
                                 const AVStream *audio, es_transcode_emit_fn emit, void *opaque,
                                 struct es_transcoder **out);
void es_transcoder_destroy(struct es_transcoder *t); /* NULL is fine */

/* Feeds one input packet (ticks in 90 kHz, stream_index an es_media). Output
 * arrives through `emit`, possibly later (encoders buffer). */
enum es_err es_transcoder_send(struct es_transcoder *t, AVPacket *pkt);

/* Drains the encoders at the end of a connection. */
void es_transcoder_flush(struct es_transcoder *t);

/* WebRTC (PLI/FIR, a new viewer): the next encoded frame is an IDR, off the
 * keyframe grid (which stays). Does nothing in passthrough. Same thread as
 * es_transcoder_send. */
void es_transcoder_request_keyframe(struct es_transcoder *t);

/* Output codec parameters, known once the first output packet of that kind was
 * emitted (the encoder opens on the first decoded frame); NULL before, and NULL
 * for audio when there is none. Valid until destroy. */
const AVCodecParameters *es_transcoder_video_params(const struct es_transcoder *t);
const AVCodecParameters *es_transcoder_audio_params(const struct es_transcoder *t);

/* Frames counted for the status line. */
struct es_transcode_stats {
    uint64_t frames_in;  /* video frames received */
    uint64_t frames_out; /* video frames encoded (or passed through) */
};
void es_transcoder_stats(const struct es_transcoder *t, struct es_transcode_stats *out);

/* The output height for an input of in_w × in_h scaled to `target_width`,
 * keeping the aspect ratio, rounded to even (H.264 4:2:0 needs even sizes). */
unsigned es_transcode_scaled_height(unsigned in_w, unsigned in_h, unsigned target_width);

/* The frame-rate reducer: maps a 90 kHz timestamp to the output frame slot at
 * `fps`; a frame is kept when its slot is later than the last kept one. Dropping
 * happens before scaling, so dropped frames cost only their decode. */
struct es_fps_reducer {
    unsigned fps;
    int64_t last_slot; /* INT64_MIN before the first frame */
};
void es_fps_reducer_init(struct es_fps_reducer *r, unsigned fps);
/* Returns true and the output slot when the frame at `ts` (90 kHz) is kept. */
bool es_fps_reducer_keep(struct es_fps_reducer *r, int64_t ts, int64_t *slot);

#endif
