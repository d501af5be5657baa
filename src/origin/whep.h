/* WHEP signalling on the origin (draft-ietf-wish-whep; RFC 9725 for what it
 * shares with WHIP), in front of the WebRTC service (src/webrtc/):
 *
 *   POST    /whep/<camera>              SDP offer → 201, SDP answer, Location
 *   DELETE  /whep/<camera>/<session>    ends the session → 200
 *   PATCH   /whep/<camera>/<session>    405: ICE-lite, every candidate is in
 *                                       the answer (docs/webrtc.md)
 *   OPTIONS either                      CORS preflight
 *
 * Same bearer token (Authorization or ?token=) and Host rules as the rest of
 * the origin. */
#ifndef ES_ORIGIN_WHEP_H
#define ES_ORIGIN_WHEP_H

#include <stdbool.h>

struct es_origin;
struct es_webrtc;
struct st_h2o_req_t;

/* Before es_origin_start: the origin answers /whep/ with this service (NULL
 * detaches; call that before destroying the service). Also lets the origin
 * take request bodies as large as an SDP offer. */
void es_origin_whep_attach(struct es_origin *origin, struct es_webrtc *webrtc);

/* On the origin's thread (routes.c): true when the request was a /whep/ one
 * and has been answered. */
bool es_origin_whep_serve(struct es_origin *origin, struct st_h2o_req_t *req);

/* /metrics (api.c): the edgestream_webrtc_* families, appended to `out` (an
 * h2o_iovec_vector_t *, a type h2o leaves unnamed); nothing without WebRTC. */
struct st_h2o_mem_pool_t;
void es_origin_whep_metrics(struct es_origin *origin, struct st_h2o_mem_pool_t *pool, void *out);

#endif
