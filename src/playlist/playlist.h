/* The HLS media playlist model (RFC 8216, version 3, MPEG-TS segments) and its
 * pure writer. The model decides nothing about timing: the segmenter and sinks
 * append and trim, the writer only formats, the parser reads back what an
 * earlier run wrote (restart continuity). */
#ifndef ES_PLAYLIST_PLAYLIST_H
#define ES_PLAYLIST_PLAYLIST_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ES_PLAYLIST_URI_MAX 96

struct es_playlist_segment {
    uint64_t msn;                      /* media sequence number */
    char uri[ES_PLAYLIST_URI_MAX];     /* relative, e.g. "segment_042.ts" */
    double duration;                   /* seconds, EXTINF */
    int64_t program_date_time_us;      /* wall clock of the first frame; 0 = none */
    bool discontinuity;                /* EXT-X-DISCONTINUITY before this segment */
};

struct es_playlist {
    unsigned version;                  /* EXT-X-VERSION, 3 */
    unsigned target_duration;          /* EXT-X-TARGETDURATION, fixed for the stream's life */
    uint64_t media_sequence;           /* msn of segments[0] (or of the next one if empty) */
    uint64_t discontinuity_sequence;   /* EXT-X-DISCONTINUITY-SEQUENCE */
    bool independent_segments;         /* EXT-X-INDEPENDENT-SEGMENTS */
    bool endlist;
    struct es_playlist_segment *segments;
    size_t count, capacity;
};

void es_playlist_init(struct es_playlist *pl, unsigned target_duration);
void es_playlist_clear(struct es_playlist *pl); /* frees segments; pl reusable after init */

/* Appends a segment. Its msn must be media_sequence + count, or, when the
 * playlist is empty, any msn >= media_sequence (which then becomes the media
 * sequence: RFC 8216 §6.2.2 says it MUST NOT decrease). ES_ERR_INVALID otherwise,
 * also for a duration that rounds above target_duration or a malformed URI (empty,
 * control bytes, a leading '#', a backslash, or a "." / ".." path segment: the
 * parser refuses the same, so nothing read back can name a file outside the
 * playlist's directory). */
enum es_err es_playlist_append(struct es_playlist *pl, const struct es_playlist_segment *seg);

/* Removes segments from the head until at most `keep` remain, advancing
 * media_sequence and, per RFC 8216 §6.2.2, discontinuity_sequence for each removed
 * segment that carried EXT-X-DISCONTINUITY. Removed segments are copied to
 * `removed` (up to `removed_cap`); returns how many were removed. */
size_t es_playlist_trim(struct es_playlist *pl, size_t keep, struct es_playlist_segment *removed,
                        size_t removed_cap);

/* The sliding window of a live playlist: trims from the head towards `keep`
 * segments, but never below three target durations in total (RFC 8216 §6.2.2:
 * the server MUST NOT remove a segment if that would leave the playlist shorter
 * than three times the target duration). Same out-parameters as trim. */
size_t es_playlist_slide(struct es_playlist *pl, size_t keep, struct es_playlist_segment *removed,
                         size_t removed_cap);

/* Sum of EXTINF durations, seconds. */
double es_playlist_duration(const struct es_playlist *pl);

/* Writes the playlist text. snprintf semantics: returns the length the full text
 * needs (excluding NUL); writes at most out_size bytes including the NUL. */
size_t es_playlist_write(const struct es_playlist *pl, char *out, size_t out_size);

/* Parses a media playlist (our own output or any RFC 8216 media playlist with
 * these tags). Unknown tags are ignored. `pl` must be initialised; on error it
 * is left empty. */
enum es_err es_playlist_parse(const char *text, size_t len, struct es_playlist *pl);

#endif
