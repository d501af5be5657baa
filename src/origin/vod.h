/* Playback of recordings (docs/recording.md), for routes.c and api.c only:
 *
 *   /vod/<camera>/index.m3u8?start=<ISO>&end=<ISO>   EXT-X-PLAYLIST-TYPE:VOD of the range
 *   /vod/<camera>/spans.json?start=<ISO>&end=<ISO>   runs of recording in the range (JSON)
 *   /vod/<camera>/<segment name>                     a recorded segment, with Range
 *
 * The playlist comes from the camera's SQLite index (a day is one indexed
 * query, never a directory scan), opened per request on the origin's thread
 * as a WAL reader (it never waits for the camera writing). Segment files are
 * read from disk on the origin's thread: a few hundred kB each. */
#ifndef ES_ORIGIN_VOD_H
#define ES_ORIGIN_VOD_H

#include "origin/internal.h"

/* Longest range one playlist covers: two days (~86,400 entries of 2 s, ~10 MB). */
#define ES_VOD_MAX_RANGE_MS (48LL * 3600 * 1000)

/* `path` starts with "vod"; auth, Host and method were checked by routes.c.
 * `raw_query` is the text after '?' (NULL when none); `token_in_query` says
 * the token came as ?token=, so the playlist's URIs carry it too. */
void es_origin_serve_vod(struct es_origin *o, h2o_req_t *req, const struct es_path *path,
                         const char *raw_query, size_t raw_query_len, bool token_in_query);

/* Appends `,"recording":{...}` for /api/cameras, before the closing brace of
 * the camera object es_origin_stream_json() just wrote into `out`. */
void es_origin_vod_json(struct origin_stream *s, h2o_mem_pool_t *pool, h2o_iovec_vector_t *out);

#endif
