/* Audio over RTP: AAC in mpeg4-generic (RFC 3640: AU headers, several access
 * units per packet or one unit fragmented over several packets), and G.711
 * PCMU/PCMA (RFC 3551 section 4.5.14: each packet is a run of samples). Out
 * come raw access units (AAC without ADTS; its AudioSpecificConfig is the
 * stream's extradata) with their RTP timestamps. */
#ifndef ES_SOURCE_RTP_AUDIO_H
#define ES_SOURCE_RTP_AUDIO_H

#include "core/error.h"
#include "source/rtp_packet.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum es_rtp_audio_codec {
    ES_RTP_AUDIO_AAC = 0,
    ES_RTP_AUDIO_PCMU,
    ES_RTP_AUDIO_PCMA,
};

/* RFC 3640 section 4.1 fmtp parameters that shape the AU header section. */
struct es_rtp_audio_aac_params {
    unsigned size_length, index_length, index_delta_length;
    unsigned cts_delta_length, dts_delta_length;
    bool random_access_indication;
    unsigned stream_state_indication;
    unsigned auxiliary_data_size_length;
    uint32_t frame_duration; /* RTP ticks per access unit */
};

/* What an AudioSpecificConfig (ISO 14496-3 section 1.6.2.1) says. */
struct es_rtp_audio_asc {
    int object_type;
    int sample_rate;
    int channels;     /* 0 when the config does not say (channelConfiguration 0) */
    int frame_length; /* samples per frame: 1024 or 960 */
};

/* Decodes the hex `config=` value; `asc` gets the bytes (caller-sized). */
enum es_err es_rtp_audio_parse_config(const char *hex, uint8_t *asc, size_t asc_cap,
                                      size_t *asc_size, struct es_rtp_audio_asc *out);

/* Reads the AU header layout from an mpeg4-generic fmtp string. Modes other
 * than AAC-hbr/AAC-lbr (or no sizelength) are ES_ERR_UNSUPPORTED. */
enum es_err es_rtp_audio_aac_params(const char *fmtp, const struct es_rtp_audio_asc *asc,
                                    unsigned clock_rate, struct es_rtp_audio_aac_params *out);

struct es_rtp_audio_frame {
    const uint8_t *data; /* valid only during the callback */
    size_t size;
    uint32_t timestamp;
    uint32_t duration; /* RTP ticks */
};

typedef void (*es_rtp_audio_emit_fn)(void *opaque, const struct es_rtp_audio_frame *frame);

struct es_rtp_audio;

/* `aac` is used only for ES_RTP_AUDIO_AAC. */
struct es_rtp_audio *es_rtp_audio_create(enum es_rtp_audio_codec codec,
                                         const struct es_rtp_audio_aac_params *aac,
                                         es_rtp_audio_emit_fn emit, void *opaque);
void es_rtp_audio_destroy(struct es_rtp_audio *d); /* NULL is fine */

/* Feeds one packet; malformed ones are dropped, and a fragmented unit that
 * lost a piece (`lost_before`) is dropped whole. */
void es_rtp_audio_push(struct es_rtp_audio *d, const struct es_rtp_packet *p, bool lost_before);
void es_rtp_audio_reset(struct es_rtp_audio *d);
uint64_t es_rtp_audio_dropped(const struct es_rtp_audio *d);

#endif
