/* Opus for WebRTC (RFC 7587) from the camera's audio: the transcoder's AAC, or
 * a G.711 camera's own PCMU/PCMA (libavcodec's pcm_mulaw/pcm_alaw): decode,
 * resample to 48 kHz stereo, encode 20 ms frames with libavcodec's libopus. Made by the
 * camera's pipeline thread only while a WebRTC viewer watches the camera
 * (webrtc.c), so cameras nobody watches pay nothing. One thread. */
#ifndef ES_WEBRTC_OPUS_H
#define ES_WEBRTC_OPUS_H

#include "core/error.h"

#include <libavcodec/avcodec.h>
#include <stdint.h>

struct es_opus;

/* `par` describes the input (codec, sample rate, channels, extradata). */
enum es_err es_opus_create(const AVCodecParameters *par, struct es_opus **out);
void es_opus_destroy(struct es_opus *o); /* NULL is fine */

/* Called for each 20 ms Opus packet: its data and the 90 kHz timestamp of
 * its first sample (on the input's timeline). */
typedef void (*es_opus_emit_fn)(void *opaque, const uint8_t *data, size_t size, int64_t pts_ticks);

/* One AAC or G.711 packet in (pts in 90 kHz ticks); Opus packets out through
 * `emit`. */
void es_opus_push(struct es_opus *o, const AVPacket *aac, es_opus_emit_fn emit, void *opaque);

#endif
