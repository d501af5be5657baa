/* The Low-Latency HLS media playlist (draft-pantos-hls-rfc8216bis-16, fMP4)
 * and its pure writer, beside the classic model in playlist.h.
 *
 * The model owns nothing: segments and parts point at the caller's data, so a
 * stream can describe its window without copying it. The caller decides what
 * goes in (which segments, which part lists, the preload hint); the writer
 * only formats, plus the one decision the draft ties to formatting: which
 * segments a delta update (_HLS_skip=YES) replaces with EXT-X-SKIP. */
#ifndef ES_PLAYLIST_LL_PLAYLIST_H
#define ES_PLAYLIST_LL_PLAYLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ES_LL_URI_MAX 96
/* EXT-X-VERSION of every LL playlist: 9 is the least EXT-X-SKIP needs, and a
 * stream's full and delta playlists keep one version. */
#define ES_LL_PLAYLIST_VERSION 9

struct es_ll_part {
    double duration; /* seconds, EXT-X-PART DURATION */
    bool independent;
    char uri[ES_LL_URI_MAX];
};

struct es_ll_segment {
    uint64_t msn;
    bool complete;                /* false: the segment being filled (only parts) */
    double duration;              /* complete: EXTINF seconds */
    char uri[ES_LL_URI_MAX];      /* complete: the whole segment */
    int64_t program_date_time_us; /* 0 = none */
    bool discontinuity;
    const char *map_uri;            /* init section; EXT-X-MAP is written when it changes */
    const struct es_ll_part *parts; /* written only for segments the caller marks */
    size_t part_count;
    bool list_parts;
};

struct es_ll_playlist {
    unsigned target_duration; /* EXT-X-TARGETDURATION, fixed for the stream */
    double part_target;       /* EXT-X-PART-INF PART-TARGET */
    uint64_t media_sequence;  /* msn of segments[0] */
    uint64_t discontinuity_sequence;
    bool independent_segments;
    /* EXT-X-SERVER-CONTROL */
    bool can_block_reload;
    double part_hold_back;                /* required with parts */
    double hold_back;                     /* 0 = omitted */
    double can_skip_until;                /* 0 = no delta updates */
    /* EXT-X-START:TIME-OFFSET=-<start_back>,PRECISE=YES: where a player should
     * start, this far before the end; 0 = omitted. */
    double start_back;
    const struct es_ll_segment *segments; /* oldest first; only the last may be incomplete */
    size_t count;
    const char *preload_hint_uri; /* EXT-X-PRELOAD-HINT TYPE=PART; NULL = none */
    bool endlist;
};

struct es_ll_write_options {
    bool skip;             /* a delta update: EXT-X-SKIP for what lies before the skip boundary */
    const char *uri_query; /* appended as "?<query>" to every URI (e.g. "token=..."); NULL = none */
};

/* How many leading segments a delta update replaces: the complete segments
 * that end at least CAN-SKIP-UNTIL seconds before the end of the playlist
 * (draft §6.2.5.1). 0 when the playlist allows no skipping. */
size_t es_ll_playlist_skippable(const struct es_ll_playlist *pl);

/* Writes the playlist text. snprintf semantics: returns the length the full
 * text needs (excluding NUL); writes at most out_size bytes including it. */
size_t es_ll_playlist_write(const struct es_ll_playlist *pl, const struct es_ll_write_options *opt,
                            char *out, size_t out_size);

/* Seconds as the writer prints them (up to 5 decimals, no trailing zeros),
 * locale-independent. Returns the length (snprintf semantics). */
size_t es_ll_format_seconds(double seconds, char *out, size_t out_size);

/* `seconds` as the playlist writes PART-TARGET: rounded up to its precision.
 * What is derived from PART-TARGET (PART-HOLD-BACK = 3 x) must be derived
 * from this value, or 3 x 0.13333 s written as 0.4 falls short of 3 x the
 * written 0.13334. */
double es_ll_round_up_seconds(double seconds);

#endif
