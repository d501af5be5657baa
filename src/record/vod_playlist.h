/* The VOD playlist of a recorded range: a pure writer (no I/O), so what it
 * decides (where the holes are, the target duration) is unit-tested. */
#ifndef ES_RECORD_VOD_PLAYLIST_H
#define ES_RECORD_VOD_PLAYLIST_H

#include "record/layout.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Two segments further apart than this (end of one to start of the next) are
 * a hole in the recording. Within a run PROGRAM-DATE-TIME advances exactly by
 * EXTINF (app/camera.c), so any real hole is far larger. */
#define ES_RECORD_GAP_MS 500

/* True when `e` does not continue `prev`: a discontinuity the recording
 * itself noted, a missing segment number, or a hole in time. */
bool es_record_is_break(const struct es_record_entry *prev, const struct es_record_entry *e);

/* Writes an EXT-X-PLAYLIST-TYPE:VOD playlist of `entries` (time order, at
 * least one): EXT-X-PROGRAM-DATE-TIME on every segment, EXT-X-DISCONTINUITY
 * at every break, EXT-X-ENDLIST. URIs are the segment file names (the origin
 * finds the day and hour in them), each followed by "?<query>" when `query`
 * is set. Returns the text (malloc'd, caller frees) and its length. */
char *es_record_vod_playlist(const struct es_record_entry *entries, size_t count, const char *query,
                             size_t *len);

/* Parses a VOD query time strictly: "YYYY-MM-DDTHH:MM:SS" with optional
 * fraction, then "Z" or "+HH:MM"/"-HH:MM", nothing else, every field in
 * range (no 31 February). Writes ms since the epoch. */
bool es_record_parse_time(const char *text, int64_t *ms);

#endif
