/* One camera's window on the origin's thread: the segments and parts it can
 * serve, the playlist they make, and the requests waiting for the next one.
 *
 * Classic cameras keep MPEG-TS segments (from the TS segmenter) and an
 * RFC 8216 version 3 playlist. LL cameras keep fMP4 segments made of parts
 * (segment/cmaf.c) and a draft-pantos-hls-rfc8216bis-16 playlist; their
 * segment URI serves the concatenated parts, so players that ignore parts get
 * a classic fMP4 playlist from the same URL. */
#include "origin/internal.h"

#include "config/config.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "playlist/ll_playlist.h"
#include "sink/sink.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* A PDT more than this away from the previous segment's PDT + EXTINF is taken
 * as a clock change (the camera's RTCP clock replacing arrival time), not as
 * jitter; the date then follows the clock, so latency measured from PDT stays
 * glass-to-glass. The mapping from media time to wall clock is linear between
 * such changes, so ordinary segments never move. */
#define PDT_STEP_US 20000
/* Beyond the RFC's grace (segment + playlist duration), for clock slack. */
#define GRACE_EXTRA_US 2000000
#define US 1000000.0

enum wait_kind {
    WAIT_PLAYLIST = 0, /* _HLS_msn (and _HLS_part): blocking playlist reload */
    WAIT_FIRST,        /* a playlist before the stream has any media */
    WAIT_PART,         /* a part named by EXT-X-PRELOAD-HINT, not there yet */
};

struct waiter {
    h2o_linklist_t link;
    h2o_timeout_entry_t timeout;
    h2o_req_t *req;
    struct origin_stream *stream;
    struct origin_socket *conn; /* counted against its caps while parked */
    enum wait_kind kind;
    bool has_part;
    uint64_t msn, part;
    bool skip, gzip, query_token;
};

/* ---- names ----
 *
 * Media URIs are relative to the playlist and sit in this run's directory
 * ("<run>/seg_12.m4s"): the media sequence restarts at 0 when no storage
 * remembers it, but no URI is ever served with two different bodies. */

static void ll_segment_uri(const struct origin_stream *s, uint64_t msn, char *out, size_t size)
{
    snprintf(out, size, "%s/seg_%" PRIu64 ".m4s", s->origin->run, msn);
}

static void ll_part_uri(const struct origin_stream *s, uint64_t msn, uint64_t index, char *out,
                        size_t size)
{
    snprintf(out, size, "%s/part_%" PRIu64 "_%" PRIu64 ".m4s", s->origin->run, msn, index);
}

/* ---- lifecycle ---- */

struct origin_stream *es_origin_stream_create(struct es_origin *origin,
                                              const struct es_origin_camera *camera, size_t index)
{
    struct origin_stream *s = es_calloc(1, sizeof(*s));
    s->origin = origin;
    s->index = index;
    s->id = es_strdup(camera->id);
    s->name = es_strdup(camera->name ? camera->name : camera->id);
    s->profile = camera->profile ? es_strdup(camera->profile) : NULL;
    s->location = es_strdup(camera->location && camera->location[0] ? camera->location
                                                                     : "location_1");
    s->target_duration = camera->target_duration ? camera->target_duration : 1;
    s->segment_duration = camera->segment_duration;
    s->part_target = camera->part_target;
    s->segments_to_keep = camera->segments_to_keep < 3 ? 3 : camera->segments_to_keep;
    s->ll = camera->part_target > 0;
    /* A delta update skips what lies more than CAN-SKIP-UNTIL (6 target
     * durations) before the end; an LL playlist shorter than twice that
     * would let it skip little or nothing. */
    if (s->ll && s->segments_to_keep < 12)
        s->segments_to_keep = 12; /* segments of about one target duration each */
    s->stats = camera->stats;
    s->stats_opaque = camera->stats_opaque;
    if (s->ll)
        s->parts_per_segment =
            (unsigned)ceil(camera->segment_duration / camera->part_target - 1e-6);
    es_playlist_init(&s->playlist, s->target_duration);
    s->playlist.independent_segments = true;
    h2o_linklist_init_anchor(&s->waiters);
    return s;
}

static void free_ll_segment(struct ll_segment *seg)
{
    for (size_t p = 0; p < seg->part_count; p++)
        es_blob_unref(seg->parts[p].data);
    free(seg->parts);
}

static void drop_rendered(struct origin_stream *s)
{
    for (size_t i = 0; i < RENDER_VARIANTS; i++) {
        es_blob_unref(s->rendered[i]);
        s->rendered[i] = NULL;
    }
}

void es_origin_stream_destroy(struct origin_stream *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->seg_count; i++)
        free_ll_segment(&s->segs[i]);
    free(s->segs);
    for (size_t i = 0; i < s->init_count; i++)
        es_blob_unref(s->inits[i].data);
    free(s->inits);
    for (size_t i = 0; i < s->ts_count; i++)
        es_blob_unref(s->ts[i].data);
    free(s->ts);
    es_playlist_clear(&s->playlist);
    drop_rendered(s);
    free(s->id);
    free(s->name);
    free(s->profile);
    free(s->location);
    free(s);
}

/* The advertised PART-TARGET: parts are whole frames of a 90 kHz grid, so a
 * frame rate that does not divide 90000 can make a part a tick longer than
 * the exact value; the draft says a part MUST NOT exceed PART-TARGET. It is
 * the value as written (rounded up), so that PART-HOLD-BACK, 3 x it, is not
 * short of 3 x the written PART-TARGET. */
static double advertised_part_target(const struct origin_stream *s)
{
    double ticks = s->part_target * ES_TICKS_PER_SECOND;
    if (fabs(ticks - round(ticks)) > 1e-6)
        return es_ll_round_up_seconds(s->part_target + 3.0 / ES_TICKS_PER_SECOND);
    return es_ll_round_up_seconds(s->part_target);
}

static unsigned block_timeout_ms(const struct origin_stream *s)
{
    /* draft §6.2.5.2: a server SHOULD answer 503 when a blocking request has
     * waited more than three target durations. */
    return s->target_duration * 3000;
}

void es_origin_stream_start(struct origin_stream *s)
{
    h2o_timeout_init(s->origin->ctx.loop, &s->block_timeout, block_timeout_ms(s));
    s->block_timeout_inited = true;
}

/* ---- finding things ---- */

static struct ll_segment *ll_find(struct origin_stream *s, uint64_t msn)
{
    size_t lo = 0, hi = s->seg_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->segs[mid].msn < msn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->seg_count && s->segs[lo].msn == msn ? &s->segs[lo] : NULL;
}

static struct ll_segment *ll_open(struct origin_stream *s)
{
    if (s->seg_count && !s->segs[s->seg_count - 1].complete)
        return &s->segs[s->seg_count - 1];
    return NULL;
}

static struct ll_segment *ll_last_complete(struct origin_stream *s)
{
    for (size_t i = s->seg_count; i > 0; i--)
        if (s->segs[i - 1].complete)
            return &s->segs[i - 1];
    return NULL;
}

/* First segment in the playlist (removed ones stay in the array for their
 * grace period, before it). */
static size_t ll_first_listed(const struct origin_stream *s)
{
    size_t i = 0;
    while (i < s->seg_count && s->segs[i].expires_mono_us)
        i++;
    return i;
}

static bool stream_empty(struct origin_stream *s)
{
    return s->ll ? ll_first_listed(s) == s->seg_count : s->playlist.count == 0;
}

static struct ll_init *ll_init_by_id(struct origin_stream *s, unsigned id)
{
    for (size_t i = 0; i < s->init_count; i++)
        if (s->inits[i].id == id)
            return &s->inits[i];
    return NULL;
}

/* ---- applying what the pipeline published ---- */

static double listed_duration(struct origin_stream *s)
{
    double total = 0;
    if (!s->ll)
        return es_playlist_duration(&s->playlist);
    for (size_t i = ll_first_listed(s); i < s->seg_count; i++) {
        const struct ll_segment *seg = &s->segs[i];
        if (seg->complete) {
            total += seg->duration;
        } else {
            for (size_t p = 0; p < seg->part_count; p++)
                total += seg->parts[p].duration;
        }
    }
    return total;
}

static int64_t grace_us(struct origin_stream *s, double segment_duration)
{
    /* RFC 8216 §6.2.2: a removed segment "MUST remain available to clients
     * for a period of time equal to the duration of the segment plus the
     * duration of the longest Playlist file distributed by the server
     * containing that segment". */
    return (int64_t)((segment_duration + listed_duration(s)) * US) + GRACE_EXTRA_US;
}

static void ll_slide(struct origin_stream *s)
{
    size_t first = ll_first_listed(s);
    size_t complete = 0;
    double complete_duration = 0;
    for (size_t i = first; i < s->seg_count; i++) {
        if (s->segs[i].complete) {
            complete++;
            complete_duration += s->segs[i].duration;
        }
    }
    int64_t now = es_clock_mono_us();
    while (complete > s->segments_to_keep) {
        struct ll_segment *head = &s->segs[first];
        /* RFC 8216 §6.2.2: never shorter than three target durations. */
        if (complete_duration - head->duration < 3.0 * s->target_duration)
            break;
        head->expires_mono_us = now + grace_us(s, head->duration);
        /* §6.2.2: removing a segment that carries EXT-X-DISCONTINUITY
         * increments EXT-X-DISCONTINUITY-SEQUENCE. */
        if (head->discontinuity)
            s->discontinuity_sequence++;
        complete--;
        complete_duration -= head->duration;
        first++;
        s->media_sequence = first < s->seg_count ? s->segs[first].msn : head->msn + 1;
    }
}

static struct ll_segment *ll_push_segment(struct origin_stream *s)
{
    if (s->seg_count == s->seg_cap) {
        s->seg_cap = s->seg_cap ? s->seg_cap * 2 : 32;
        s->segs = es_realloc(s->segs, s->seg_cap * sizeof(*s->segs));
    }
    struct ll_segment *seg = &s->segs[s->seg_count++];
    memset(seg, 0, sizeof(*seg));
    return seg;
}

static void ll_complete(struct origin_stream *s, struct ll_segment *seg, double duration)
{
    seg->complete = true;
    seg->duration = duration;
    s->newest_pdt_us = seg->pdt_us;
    s->segments_published++;
    ll_slide(s);
}

static bool ll_apply_part(struct origin_stream *s, const struct es_cmaf_event *ev, int64_t received)
{
    if (!ll_init_by_id(s, ev->init_id)) {
        if (s->init_count == s->init_cap) {
            s->init_cap = s->init_cap ? s->init_cap * 2 : 4;
            s->inits = es_realloc(s->inits, s->init_cap * sizeof(*s->inits));
        }
        struct ll_init *init = &s->inits[s->init_count++];
        init->id = ev->init_id;
        init->data = es_blob_ref(ev->init);
        snprintf(init->uri, sizeof(init->uri), "%s/init_%u.mp4", s->origin->run, ev->init_id);
    }
    struct ll_segment *open = ll_open(s);
    struct ll_segment *seg;
    if (ev->part_index == 0) {
        if (open) {
            /* The previous segment never got its end (cannot happen with the
             * CMAF segmenter): close it with what it has. */
            double total = 0;
            for (size_t p = 0; p < open->part_count; p++)
                total += open->parts[p].duration;
            ll_complete(s, open, total);
        }
        const struct ll_segment *prev = s->seg_count ? &s->segs[s->seg_count - 1] : NULL;
        if (prev && ev->msn <= prev->msn) {
            es_log(ES_LOG_WARN, "origin",
                   "camera=%s event=part_rejected msn=%" PRIu64
                   " reason=\"media sequence went back\"",
                   s->id, ev->msn);
            return false;
        }
        seg = ll_push_segment(s);
        prev = s->seg_count > 1 ? &s->segs[s->seg_count - 2] : NULL;
        seg->msn = ev->msn;
        seg->discontinuity = ev->discontinuity || (prev && prev->msn + 1 != ev->msn);
        /* Dates advance by EXTINF within a run; a step means a new clock. */
        int64_t pdt = ev->program_date_time_us;
        if (prev && !seg->discontinuity && prev->complete) {
            int64_t expected = prev->pdt_us + (int64_t)llround(prev->duration * US);
            if (llabs(pdt - expected) < PDT_STEP_US)
                pdt = expected;
        }
        seg->pdt_us = pdt;
        for (size_t i = 0; i < s->init_count; i++)
            if (s->inits[i].id == ev->init_id)
                seg->init_index = (unsigned)i;
        if (!s->have_media_sequence) {
            s->media_sequence = ev->msn;
            s->have_media_sequence = true;
        }
    } else {
        seg = open;
        if (!seg || seg->msn != ev->msn || seg->part_count != ev->part_index) {
            es_log(ES_LOG_WARN, "origin",
                   "camera=%s event=part_rejected msn=%" PRIu64 " part=%u reason=\"out of order\"",
                   s->id, ev->msn, ev->part_index);
            return false;
        }
    }
    if (seg->part_count == seg->part_cap) {
        seg->part_cap = seg->part_cap ? seg->part_cap * 2 : 8;
        seg->parts = es_realloc(seg->parts, seg->part_cap * sizeof(*seg->parts));
    }
    double offset = 0;
    for (size_t p = 0; p < seg->part_count; p++)
        offset += seg->parts[p].duration;
    struct ll_part *part = &seg->parts[seg->part_count++];
    part->data = es_blob_ref(ev->data);
    part->duration = (double)ev->duration_ts / ES_TICKS_PER_SECOND;
    part->independent = ev->independent;
    part->end_wall_us = seg->pdt_us + (int64_t)llround((offset + part->duration) * US);
    part->published_wall_us = es_clock_wall_us();
    seg->bytes += es_blob_size(ev->data);
    s->parts_published++;
    s->bytes_published += es_blob_size(ev->data);
    s->newest_end_wall_us = part->end_wall_us;
    if (!s->newest_pdt_us)
        s->newest_pdt_us = seg->pdt_us;
    s->publish_delay_ms = (double)(received - part->end_wall_us) / 1000.0;
    /* The segment's end comes with its last part: one version, so no
     * playlist ever hints at a part that will not exist. */
    if (ev->segment_end)
        ll_complete(s, seg, (double)ev->segment_duration_ts / ES_TICKS_PER_SECOND);
    return true;
}

static bool ll_apply(struct origin_stream *s, const struct es_cmaf_event *ev, int64_t received)
{
    if (ev->kind == ES_CMAF_PART)
        return ll_apply_part(s, ev, received);
    struct ll_segment *open = ll_open(s);
    if (!open || open->msn != ev->msn)
        return false;
    ll_complete(s, open, (double)ev->segment_duration_ts / ES_TICKS_PER_SECOND);
    return true;
}

static bool ts_apply(struct origin_stream *s, const struct es_published_segment *in)
{
    struct es_playlist_segment entry = {
        .msn = in->msn,
        .duration = in->duration,
        .program_date_time_us = in->program_date_time_us,
        .discontinuity = in->discontinuity,
    };
    es_sink_segment_name(in->msn, entry.uri, sizeof(entry.uri));
    int64_t now = es_clock_mono_us();
    struct es_playlist *pl = &s->playlist;
    if (pl->count && in->msn != pl->media_sequence + pl->count) {
        /* A gap in numbering: start the window again, marked. */
        while (pl->count) {
            struct es_playlist_segment removed;
            es_playlist_trim(pl, pl->count - 1, &removed, 1);
            for (size_t i = 0; i < s->ts_count; i++)
                if (s->ts[i].msn == removed.msn && !s->ts[i].expires_mono_us)
                    s->ts[i].expires_mono_us = now + grace_us(s, removed.duration);
        }
        entry.discontinuity = true;
    }
    if (es_playlist_append(pl, &entry) != ES_OK) {
        /* RFC 8216 §6.2.2 freezes TARGETDURATION: a segment longer than it
         * (a passthrough camera's long GOP) is not served by the origin. */
        es_log(ES_LOG_WARN, "origin",
               "camera=%s event=segment_rejected msn=%" PRIu64 " duration=%.3f target=%u", s->id,
               in->msn, in->duration, pl->target_duration);
        return false;
    }
    if (s->ts_count == s->ts_cap) {
        s->ts_cap = s->ts_cap ? s->ts_cap * 2 : 32;
        s->ts = es_realloc(s->ts, s->ts_cap * sizeof(*s->ts));
    }
    s->ts[s->ts_count++] = (struct ts_segment){.msn = in->msn,
                                               .data = es_blob_ref(in->data),
                                               .duration = in->duration,
                                               .published_wall_us = es_clock_wall_us()};
    while (pl->count > s->segments_to_keep &&
           es_playlist_duration(pl) - pl->segments[0].duration >= 3.0 * s->target_duration) {
        struct es_playlist_segment removed;
        es_playlist_trim(pl, pl->count - 1, &removed, 1);
        for (size_t i = 0; i < s->ts_count; i++)
            if (s->ts[i].msn == removed.msn)
                s->ts[i].expires_mono_us = now + grace_us(s, removed.duration);
    }
    s->newest_pdt_us = in->program_date_time_us;
    s->newest_end_wall_us = in->program_date_time_us + (int64_t)llround(in->duration * US);
    s->segments_published++;
    s->bytes_published += es_blob_size(in->data);
    return true;
}

static void wake_waiters(struct origin_stream *s);

void es_origin_stream_apply(struct origin_stream *s, struct origin_msg *msg)
{
    bool changed = false;
    if (msg->kind == MSG_TS_SEGMENT) {
        if (!s->ll)
            changed = ts_apply(s, &msg->ts);
    } else if (s->ll) {
        changed = ll_apply(s, &msg->cmaf, msg->received_wall_us);
    }
    if (!changed)
        return;
    s->version++;
    s->last_update_wall_us = msg->received_wall_us;
    wake_waiters(s);
}

/* ---- expiry and rates (about once a second) ---- */

void es_origin_stream_tick(struct origin_stream *s)
{
    int64_t now = es_clock_mono_us();
    size_t gone = 0;
    while (gone < s->seg_count && s->segs[gone].expires_mono_us &&
           s->segs[gone].expires_mono_us <= now)
        free_ll_segment(&s->segs[gone++]);
    if (gone) {
        memmove(s->segs, s->segs + gone, (s->seg_count - gone) * sizeof(*s->segs));
        s->seg_count -= gone;
        /* Init sections nobody points at any more (older connections). */
        size_t kept = 0;
        for (size_t i = 0; i < s->init_count; i++) {
            bool used = i + 1 == s->init_count;
            for (size_t k = 0; k < s->seg_count && !used; k++)
                used = s->segs[k].init_index == i;
            if (used) {
                for (size_t k = 0; k < s->seg_count; k++)
                    if (s->segs[k].init_index == i)
                        s->segs[k].init_index = (unsigned)kept;
                s->inits[kept++] = s->inits[i];
            } else {
                es_blob_unref(s->inits[i].data);
            }
        }
        s->init_count = kept;
    }
    size_t kept = 0;
    for (size_t i = 0; i < s->ts_count; i++) {
        if (s->ts[i].expires_mono_us && s->ts[i].expires_mono_us <= now)
            es_blob_unref(s->ts[i].data);
        else
            s->ts[kept++] = s->ts[i];
    }
    s->ts_count = kept;

    if (s->stats) {
        struct es_origin_camera_stats st = {0};
        s->stats(s->stats_opaque, &st);
        if (s->last_stats_mono_us) {
            double seconds = (double)(now - s->last_stats_mono_us) / US;
            if (seconds > 0.2) {
                s->fps = (double)(st.frames_out - s->last_stats.frames_out) / seconds;
                s->bitrate_bps = (double)(st.bytes_out - s->last_stats.bytes_out) * 8 / seconds;
            }
        }
        s->last_stats = st;
        s->last_stats_mono_us = now;
    }
}

/* ---- rendering ---- */

enum {
    VARIANT_SKIP = 1,
    VARIANT_GZIP = 2,
    VARIANT_QUERY = 4,
};

static struct es_blob *gzip_blob(const struct es_blob *plain)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    uLong bound = deflateBound(&z, (uLong)es_blob_size(plain)) + 32;
    uint8_t *out = es_malloc(bound);
    z.next_in = (Bytef *)es_blob_data(plain);
    z.avail_in = (uInt)es_blob_size(plain);
    z.next_out = out;
    z.avail_out = (uInt)bound;
    int ret = deflate(&z, Z_FINISH);
    size_t size = bound - z.avail_out;
    deflateEnd(&z);
    if (ret != Z_STREAM_END)
        abort(); /* deflateBound makes this impossible */
    return es_blob_take(out, size, free);
}

static struct es_blob *render_ll(struct origin_stream *s, bool skip, const char *query)
{
    size_t first = ll_first_listed(s);
    size_t count = s->seg_count - first;
    struct es_ll_segment *view = es_calloc(count ? count : 1, sizeof(*view));
    size_t total_parts = 0;
    for (size_t i = first; i < s->seg_count; i++)
        total_parts += s->segs[i].part_count;
    struct es_ll_part *parts = es_calloc(total_parts ? total_parts : 1, sizeof(*parts));
    size_t complete = 0;
    for (size_t i = first; i < s->seg_count; i++)
        complete += s->segs[i].complete;

    size_t part_at = 0, complete_seen = 0;
    for (size_t i = 0; i < count; i++) {
        const struct ll_segment *seg = &s->segs[first + i];
        struct es_ll_segment *v = &view[i];
        v->msn = seg->msn;
        v->complete = seg->complete;
        v->duration = seg->duration;
        ll_segment_uri(s, seg->msn, v->uri, sizeof(v->uri));
        v->program_date_time_us = seg->pdt_us;
        v->discontinuity = seg->discontinuity;
        v->map_uri = s->inits[seg->init_index].uri;
        if (seg->complete)
            complete_seen++;
        /* draft §6.2.2: parts SHOULD leave the playlist once they are more
         * than three target durations from its end: we list them for the two
         * newest complete segments and the one being filled. */
        v->list_parts = !seg->complete || complete - complete_seen < 2;
        if (v->list_parts) {
            v->parts = &parts[part_at];
            v->part_count = seg->part_count;
            for (size_t p = 0; p < seg->part_count; p++) {
                struct es_ll_part *lp = &parts[part_at++];
                lp->duration = seg->parts[p].duration;
                lp->independent = seg->parts[p].independent;
                ll_part_uri(s, seg->msn, p, lp->uri, sizeof(lp->uri));
            }
        }
    }
    char hint[ES_LL_URI_MAX];
    const struct ll_segment *open = count ? &s->segs[s->seg_count - 1] : NULL;
    if (open && !open->complete)
        ll_part_uri(s, open->msn, open->part_count, hint, sizeof(hint));
    else if (open)
        ll_part_uri(s, open->msn + 1, 0, hint, sizeof(hint));

    double pt = advertised_part_target(s);
    /* draft §4.4.3.8: PART-HOLD-BACK MUST be at least twice and SHOULD be at
     * least three times PART-TARGET. Players start there too (EXT-X-START). */
    double part_hold_back = 3.0 * pt;
    struct es_ll_playlist pl = {
        .target_duration = s->target_duration,
        .part_target = pt,
        .media_sequence = count ? view[0].msn : s->media_sequence,
        .discontinuity_sequence = s->discontinuity_sequence,
        .independent_segments = false,
        .can_block_reload = true,
        /* HOLD-BACK at least three target durations; CAN-SKIP-UNTIL at
         * least six (draft §4.4.3.8). */
        .part_hold_back = part_hold_back,
        .hold_back = 3.0 * s->target_duration,
        .can_skip_until = 6.0 * s->target_duration,
        .start_back = part_hold_back,
        .segments = view,
        .count = count,
        .preload_hint_uri = open ? hint : NULL,
    };
    /* Every segment starts with an IDR in transcode mode; a forced cut
     * (passthrough without a keyframe in time) does not, and then the
     * playlist must not claim EXT-X-INDEPENDENT-SEGMENTS. */
    bool independent = true;
    for (size_t i = first; i < s->seg_count && independent; i++)
        independent = s->segs[i].part_count > 0 && s->segs[i].parts[0].independent;
    pl.independent_segments = independent;

    struct es_ll_write_options opt = {.skip = skip, .uri_query = query};
    size_t need = es_ll_playlist_write(&pl, &opt, NULL, 0);
    char *text = es_malloc(need + 1);
    es_ll_playlist_write(&pl, &opt, text, need + 1);
    free(view);
    free(parts);
    return es_blob_take((uint8_t *)text, need, free);
}

/* Appends "?<query>" to every URI line of a classic playlist. */
/* The classic playlist (the storage sinks' format) plus what only the origin
 * can offer: EXT-X-SERVER-CONTROL with CAN-BLOCK-RELOAD (draft §4.4.3.8; a
 * player asks for the next segment with _HLS_msn and learns about it the
 * moment it exists instead of polling), and "?<query>" on every URI line. */
static struct es_blob *render_ts(struct origin_stream *s, const char *query)
{
    size_t need = es_playlist_write(&s->playlist, NULL, 0);
    char *text = es_malloc(need + 1);
    es_playlist_write(&s->playlist, text, need + 1);
    char control[96];
    char hold_back[32];
    es_ll_format_seconds(3.0 * s->target_duration, hold_back, sizeof(hold_back));
    snprintf(control, sizeof(control), "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,HOLD-BACK=%s",
             hold_back);
    size_t qlen = query ? strlen(query) : 0;
    size_t runlen = strlen(s->origin->run);
    char *out = es_malloc(need + strlen(control) + 2 +
                          (s->playlist.count + 1) * (qlen + 1 + runlen + 1) + 1);
    size_t o = 0;
    const char *line = text;
    while (*line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        memcpy(out + o, line, len);
        o += len;
        if (strncmp(line, "#EXT-X-TARGETDURATION:", 22) == 0) {
            out[o++] = '\n';
            memcpy(out + o, control, strlen(control));
            o += strlen(control);
        }
        if (len && line[0] != '#') {
            /* The URI line gets this run's directory in front (see names). */
            memmove(out + o - len + runlen + 1, out + o - len, len);
            memcpy(out + o - len, s->origin->run, runlen);
            out[o - len + runlen] = '/';
            o += runlen + 1;
        }
        if (query && len && line[0] != '#') {
            out[o++] = '?';
            memcpy(out + o, query, qlen);
            o += qlen;
        }
        if (!nl)
            break;
        out[o++] = '\n';
        line = nl + 1;
    }
    free(text);
    return es_blob_take((uint8_t *)out, o, free);
}

static struct es_blob *rendered(struct origin_stream *s, unsigned variant)
{
    if (s->rendered_version != s->version) {
        drop_rendered(s);
        s->rendered_version = s->version;
    }
    if (s->rendered[variant])
        return s->rendered[variant];
    struct es_blob *blob;
    if (variant & VARIANT_GZIP) {
        blob = gzip_blob(rendered(s, variant & ~(unsigned)VARIANT_GZIP));
    } else {
        char query[ES_QUERY_TOKEN_MAX * 3 + 8];
        const char *q = NULL;
        if ((variant & VARIANT_QUERY) && s->origin->config.token) {
            /* Players that authenticate with ?token= cannot add it to the
             * URIs they read, so the playlist carries it (never logged). */
            size_t n = (size_t)snprintf(query, sizeof(query), "token=");
            for (const char *c = s->origin->config.token; *c && n + 4 < sizeof(query); c++) {
                bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                             (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.' ||
                             *c == '~';
                n += (size_t)snprintf(query + n, sizeof(query) - n, plain ? "%c" : "%%%02X",
                                      (unsigned char)*c);
            }
            q = query;
        }
        blob = s->ll ? render_ll(s, variant & VARIANT_SKIP, q) : render_ts(s, q);
    }
    s->rendered[variant] = blob;
    return blob;
}

/* ---- answering ---- */

static void respond_playlist(struct origin_stream *s, h2o_req_t *req, bool blocking, bool skip,
                             bool gzip, bool query_token)
{
    unsigned variant = (skip && s->ll ? VARIANT_SKIP : 0) | (gzip ? VARIANT_GZIP : 0) |
                       (query_token ? VARIANT_QUERY : 0);
    struct es_blob *blob = rendered(s, variant);
    char cache[64];
    /* A blocking response names a part that will be in every later version
     * too, so a cache may keep it; a plain reload must revalidate. With a
     * token, only the client's own cache may (RFC 9111 §3.5: a shared cache
     * could otherwise hand an authenticated response to anyone). */
    if (blocking)
        snprintf(cache, sizeof(cache), "%s, max-age=%u",
                 s->origin->config.token ? "private" : "public", 6 * s->target_duration);
    else
        snprintf(cache, sizeof(cache), "no-cache");
    struct respond r = {
        .status = 200,
        .reason = "OK",
        .content_type = "application/vnd.apple.mpegurl",
        .cache_control = cache,
        .content_encoding = gzip ? "gzip" : NULL,
        .vary_accept_encoding = true,
        .route = ROUTE_PLAYLIST,
    };
    h2o_iovec_t body = h2o_iovec_init(es_blob_data(blob), es_blob_size(blob));
    es_origin_respond(req, &r, &body, 1, &blob, 1);
}

static void respond_media(h2o_req_t *req, enum route route, const char *type, h2o_iovec_t *bufs,
                          size_t bufcnt, struct es_blob *const *blobs, size_t blob_count,
                          int64_t published_wall_us)
{
    if (published_wall_us > 0) {
        /* When the bytes became fetchable here (microseconds since the epoch):
         * lets a client or a bench measure delivery delay from publication. */
        char when[32];
        snprintf(when, sizeof(when), "%" PRId64, published_wall_us);
        es_origin_add_header(req, "x-edgestream-published-us", when);
    }
    struct respond r = {
        .status = 200,
        .reason = "OK",
        .content_type = type,
        /* A name is never reused (DESIGN invariant 2), so bytes never change;
         * authenticated media is for the client's own cache only. */
        .cache_control = es_origin_of_req(req)->config.token
                             ? "private, max-age=31536000, immutable"
                             : "public, max-age=31536000, immutable",
        .route = route,
    };
    es_origin_respond(req, &r, bufs, bufcnt, blobs, blob_count);
}

static bool serve_ll_part_now(struct origin_stream *s, h2o_req_t *req, uint64_t msn, uint64_t index)
{
    struct ll_segment *seg = ll_find(s, msn);
    if (!seg || index >= seg->part_count)
        return false;
    struct ll_part *part = &seg->parts[index];
    h2o_iovec_t body = h2o_iovec_init(es_blob_data(part->data), es_blob_size(part->data));
    respond_media(req, ROUTE_PART, "video/mp4", &body, 1, &part->data, 1, part->published_wall_us);
    return true;
}

/* ---- blocking ---- */

static uint64_t advance_part_limit(const struct origin_stream *s)
{
    /* draft §6.2.5.2: the Advance Part Limit is three divided by the Part
     * Target Duration if it is less than one second, or three otherwise. */
    double pt = advertised_part_target(s);
    return pt < 1.0 ? (uint64_t)ceil(3.0 / pt - 1e-9) : 3;
}

/* The newest media sequence number in the playlist, and its last part. */
static bool ll_position(struct origin_stream *s, uint64_t *msn, int64_t *last_part)
{
    if (s->seg_count == 0)
        return false;
    const struct ll_segment *seg = &s->segs[s->seg_count - 1];
    *msn = seg->msn;
    *last_part = (int64_t)seg->part_count - 1;
    return true;
}

/* draft §6.2.5.2: 400 when _HLS_msn is more than two past the last segment,
 * or _HLS_part more than the Advance Part Limit past the last part. */
static bool ll_too_far(struct origin_stream *s, uint64_t msn, bool has_part, uint64_t part)
{
    uint64_t limit = advance_part_limit(s);
    uint64_t newest;
    int64_t last_part;
    if (!ll_position(s, &newest, &last_part)) {
        uint64_t base = s->have_media_sequence ? s->media_sequence : 0;
        return msn > base + 2 || (has_part && part > limit);
    }
    if (msn > newest + 2)
        return true;
    if (!has_part || msn < newest)
        return false;
    /* Parts counted from the start of the newest segment; a segment ahead
     * counts as the number of parts it is expected to hold. */
    uint64_t ahead = (msn - newest) * s->parts_per_segment + part;
    return ahead > (uint64_t)last_part + limit;
}

/* Whether the playlist already holds what a blocking request asks for:
 * segment `msn` complete (no part), or part (msn, part), where a part index
 * past the end of a complete segment means part 0 of the next one. */
static bool ll_satisfied(struct origin_stream *s, uint64_t msn, bool has_part, uint64_t part)
{
    if (s->seg_count == 0)
        return false;
    if (msn < s->segs[0].msn)
        return true; /* older than anything held: the client is far behind */
    struct ll_segment *seg = ll_find(s, msn);
    if (!has_part) {
        if (seg)
            return seg->complete;
        const struct ll_segment *last = ll_last_complete(s);
        return last && last->msn > msn;
    }
    if (seg) {
        if (part < seg->part_count)
            return true;
        if (!seg->complete)
            return false;
        struct ll_segment *next = ll_find(s, msn + 1);
        return next && next->part_count > 0;
    }
    return s->segs[s->seg_count - 1].msn > msn;
}

/* Classic playlists: segment `msn` is listed (or was, and is long gone). */
static bool ts_satisfied(struct origin_stream *s, uint64_t msn)
{
    const struct es_playlist *pl = &s->playlist;
    return pl->count && msn < pl->media_sequence + pl->count;
}

static bool ts_too_far(struct origin_stream *s, uint64_t msn)
{
    const struct es_playlist *pl = &s->playlist;
    uint64_t next = pl->count ? pl->media_sequence + pl->count : pl->media_sequence;
    /* "more than two past the last segment": the last is next - 1. */
    return msn > next + 1;
}

/* Whether part (msn, index) may still come (a preload hint, or a little ahead). */
static bool ll_part_may_come(struct origin_stream *s, uint64_t msn, uint64_t index)
{
    struct ll_segment *seg = ll_find(s, msn);
    if (seg)
        return !seg->complete && index >= seg->part_count &&
               index - seg->part_count < advance_part_limit(s);
    uint64_t newest;
    int64_t last_part;
    if (!ll_position(s, &newest, &last_part))
        return false;
    return msn == newest + 1 && index < advance_part_limit(s);
}

static void waiter_unlink(struct waiter *w)
{
    if (h2o_linklist_is_linked(&w->link)) {
        h2o_linklist_unlink(&w->link);
        w->stream->waiter_count--;
    }
    if (w->conn) {
        es_origin_park_release(w->conn);
        w->conn = NULL;
    }
    if (h2o_timeout_is_linked(&w->timeout))
        h2o_timeout_unlink(&w->timeout);
}

static void waiter_dispose(void *p)
{
    /* The request is gone (connection closed) while it waited. */
    waiter_unlink(p);
}

static void on_waiter_timeout(h2o_timeout_entry_t *entry)
{
    struct waiter *w = H2O_STRUCT_FROM_MEMBER(struct waiter, timeout, entry);
    struct origin_stream *s = w->stream;
    waiter_unlink(w);
    s->origin->metrics.blocked_timeouts++;
    es_origin_add_header(w->req, "retry-after", "1");
    es_origin_respond_text(w->req, 503, "Service Unavailable",
                           "503 the requested part did not appear in time\n",
                           w->kind == WAIT_PART ? ROUTE_PART : ROUTE_PLAYLIST);
}

static void park(struct origin_stream *s, h2o_req_t *req, enum wait_kind kind, bool has_part,
                 uint64_t msn, uint64_t part, bool skip, bool gzip, bool query_token)
{
    /* DESIGN invariant 9: parked requests are bounded per connection, per
     * client address and in all (origin.max_parked*). */
    struct origin_socket *conn = es_origin_socket_of_req(req);
    if (!es_origin_park_acquire(conn)) {
        es_origin_add_header(req, "retry-after", "1");
        es_origin_respond_text(req, 503, "Service Unavailable",
                               "503 too many requests waiting; retry\n",
                               kind == WAIT_PART ? ROUTE_PART : ROUTE_PLAYLIST);
        return;
    }
    struct waiter *w = h2o_mem_alloc_shared(&req->pool, sizeof(*w), waiter_dispose);
    memset(w, 0, sizeof(*w));
    w->conn = conn;
    w->req = req;
    w->stream = s;
    w->kind = kind;
    w->has_part = has_part;
    w->msn = msn;
    w->part = part;
    w->skip = skip;
    w->gzip = gzip;
    w->query_token = query_token;
    w->timeout.cb = on_waiter_timeout;
    h2o_linklist_insert(&s->waiters, &w->link);
    s->waiter_count++;
    h2o_timeout_link(s->origin->ctx.loop, &s->block_timeout, &w->timeout);
    if (kind == WAIT_PART)
        s->origin->metrics.hints_total++;
    else
        s->origin->metrics.blocked_total++;
}

/* Answers one held request if what it waits for exists now (or never will). */
static void wake_one(struct origin_stream *s, struct waiter *w)
{
    switch (w->kind) {
    case WAIT_FIRST:
        if (stream_empty(s))
            return;
        waiter_unlink(w);
        respond_playlist(s, w->req, false, w->skip, w->gzip, w->query_token);
        break;
    case WAIT_PLAYLIST:
        if (s->ll ? !ll_satisfied(s, w->msn, w->has_part, w->part) : !ts_satisfied(s, w->msn))
            return;
        waiter_unlink(w);
        respond_playlist(s, w->req, true, w->skip, w->gzip, w->query_token);
        break;
    case WAIT_PART: {
        struct ll_segment *seg = ll_find(s, w->msn);
        if (seg && w->part < seg->part_count) {
            waiter_unlink(w);
            serve_ll_part_now(s, w->req, w->msn, w->part);
        } else if (!ll_part_may_come(s, w->msn, w->part)) {
            waiter_unlink(w);
            es_origin_respond_text(w->req, 404, "Not Found", "404 that part will not exist\n",
                                   ROUTE_PART);
        }
        break;
    }
    }
}

static void wake_waiters(struct origin_stream *s)
{
    int64_t t0 = es_clock_mono_us();
    size_t answered = s->waiter_count;
    /* Hinted parts first: a player already holds the playlist that named the part, and
     * the part is what it plays; with hundreds of viewers parked, answering the playlist
     * reloads first would put all of them ahead of the media. */
    for (int pass = 0; pass < 2; pass++) {
        h2o_linklist_t *node = s->waiters.next;
        while (node != &s->waiters) {
            struct waiter *w = H2O_STRUCT_FROM_MEMBER(struct waiter, link, node);
            node = node->next;
            if ((w->kind == WAIT_PART) == (pass == 0))
                wake_one(s, w);
        }
    }
    answered -= s->waiter_count;
    if (answered) {
        s->fanout_us_window[s->fanout_at++ % 16] = es_clock_mono_us() - t0;
        s->fanout_count = answered;
        s->fanout_us_max = 0;
        for (size_t i = 0; i < 16; i++)
            if (s->fanout_us_window[i] > s->fanout_us_max)
                s->fanout_us_max = s->fanout_us_window[i];
    }
}

void es_origin_stream_stop(struct origin_stream *s)
{
    while (!h2o_linklist_is_empty(&s->waiters)) {
        struct waiter *w = H2O_STRUCT_FROM_MEMBER(struct waiter, link, s->waiters.next);
        waiter_unlink(w);
        es_origin_respond_text(w->req, 503, "Service Unavailable", "503 shutting down\n",
                               ROUTE_PLAYLIST);
    }
    if (s->block_timeout_inited) {
        h2o_timeout_dispose(s->origin->ctx.loop, &s->block_timeout);
        s->block_timeout_inited = false;
    }
}

/* ---- routes under /live/<id>/ ---- */

static bool wants_gzip(h2o_req_t *req)
{
    return (h2o_get_compressible_types(&req->headers) & H2O_COMPRESSIBLE_GZIP) != 0;
}

static void serve_playlist(struct origin_stream *s, h2o_req_t *req, const struct es_query *q,
                           bool query_token)
{
    bool gzip = wants_gzip(req);
    if (s->ll && (q->has_msn || q->has_part)) {
        /* draft §6.2.5.2: _HLS_part without _HLS_msn MUST be answered 400. */
        if (!q->has_msn) {
            es_origin_respond_text(req, 400, "Bad Request", "400 _HLS_part needs _HLS_msn\n",
                                   ROUTE_PLAYLIST);
            return;
        }
        if (ll_too_far(s, q->msn, q->has_part, q->part)) {
            es_origin_respond_text(req, 400, "Bad Request",
                                   "400 _HLS_msn/_HLS_part beyond the advance limit\n",
                                   ROUTE_PLAYLIST);
            return;
        }
        if (ll_satisfied(s, q->msn, q->has_part, q->part))
            respond_playlist(s, req, true, q->skip, gzip, query_token);
        else
            park(s, req, WAIT_PLAYLIST, q->has_part, q->msn, q->part, q->skip, gzip, query_token);
        return;
    }
    if (!s->ll && (q->has_msn || q->has_part)) {
        /* A classic playlist has no parts; _HLS_msn blocks for a segment. */
        if (q->has_part || ts_too_far(s, q->msn)) {
            es_origin_respond_text(req, 400, "Bad Request",
                                   q->has_part ? "400 this playlist has no parts\n"
                                               : "400 _HLS_msn beyond the advance limit\n",
                                   ROUTE_PLAYLIST);
            return;
        }
        if (ts_satisfied(s, q->msn))
            respond_playlist(s, req, true, false, gzip, query_token);
        else
            park(s, req, WAIT_PLAYLIST, false, q->msn, 0, false, gzip, query_token);
        return;
    }
    if (stream_empty(s)) {
        park(s, req, WAIT_FIRST, false, 0, 0, q->skip, gzip, query_token);
        return;
    }
    respond_playlist(s, req, false, q->skip, gzip, query_token);
}

static void not_found(h2o_req_t *req, enum route route)
{
    es_origin_respond_text(req, 404, "Not Found", "404 not found\n", route);
}

static void serve_ll(struct origin_stream *s, h2o_req_t *req, const char *name)
{
    uint64_t a, b;
    if (es_path_match_numbers(name, "part_", ".m4s", false, &a, &b)) {
        if (serve_ll_part_now(s, req, a, b))
            return;
        /* draft §6.2.6: a request for the part a preload hint names is held
         * until the part exists. */
        if (ll_part_may_come(s, a, b))
            park(s, req, WAIT_PART, true, a, b, false, false, false);
        else
            not_found(req, ROUTE_PART);
        return;
    }
    if (es_path_match_numbers(name, "seg_", ".m4s", false, &a, NULL)) {
        struct ll_segment *seg = ll_find(s, a);
        if (!seg || !seg->complete) {
            not_found(req, ROUTE_SEGMENT);
            return;
        }
        h2o_iovec_t *bufs = h2o_mem_alloc_pool(&req->pool, seg->part_count * sizeof(*bufs) + 1);
        struct es_blob **blobs =
            h2o_mem_alloc_pool(&req->pool, seg->part_count * sizeof(*blobs) + 1);
        for (size_t p = 0; p < seg->part_count; p++) {
            bufs[p] =
                h2o_iovec_init(es_blob_data(seg->parts[p].data), es_blob_size(seg->parts[p].data));
            blobs[p] = seg->parts[p].data;
        }
        respond_media(req, ROUTE_SEGMENT, "video/mp4", bufs, seg->part_count, blobs,
                      seg->part_count,
                      seg->part_count ? seg->parts[seg->part_count - 1].published_wall_us : 0);
        return;
    }
    if (es_path_match_numbers(name, "init_", ".mp4", false, &a, NULL)) {
        for (size_t i = 0; i < s->init_count; i++) {
            if (s->inits[i].id == a) {
                h2o_iovec_t body =
                    h2o_iovec_init(es_blob_data(s->inits[i].data), es_blob_size(s->inits[i].data));
                respond_media(req, ROUTE_INIT, "video/mp4", &body, 1, &s->inits[i].data, 1, 0);
                return;
            }
        }
    }
    not_found(req, ROUTE_OTHER);
}

static void serve_ts(struct origin_stream *s, h2o_req_t *req, const char *name)
{
    uint64_t msn;
    char canonical[ES_PLAYLIST_URI_MAX];
    if (es_path_match_numbers(name, "segment_", ".ts", true, &msn, NULL)) {
        es_sink_segment_name(msn, canonical, sizeof(canonical));
        if (strcmp(canonical, name) == 0) {
            for (size_t i = 0; i < s->ts_count; i++) {
                if (s->ts[i].msn == msn) {
                    h2o_iovec_t body =
                        h2o_iovec_init(es_blob_data(s->ts[i].data), es_blob_size(s->ts[i].data));
                    respond_media(req, ROUTE_SEGMENT, "video/mp2t", &body, 1, &s->ts[i].data, 1,
                                  s->ts[i].published_wall_us);
                    return;
                }
            }
        }
    }
    not_found(req, ROUTE_SEGMENT);
}

void es_origin_stream_serve(struct origin_stream *s, h2o_req_t *req, const char *name,
                            bool playlist, const struct es_query *query, bool token_in_query)
{
    s->requests++;
    if (playlist)
        serve_playlist(s, req, query, token_in_query);
    else if (s->ll)
        serve_ll(s, req, name);
    else
        serve_ts(s, req, name);
}

/* ---- /api/cameras and /metrics ---- */

static void json_string(h2o_mem_pool_t *pool, h2o_iovec_vector_t *out, const char *text)
{
    size_t len = strlen(text);
    char *buf = h2o_mem_alloc_pool(pool, len * 6 + 3);
    size_t n = 0;
    buf[n++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            n += (size_t)sprintf(buf + n, "\\u%04x", c);
        } else {
            buf[n++] = (char)c;
        }
    }
    buf[n++] = '"';
    h2o_vector_reserve(pool, out, out->size + 1);
    out->entries[out->size++] = h2o_iovec_init(buf, n);
}

static void iso_or_null(int64_t wall_us, char *out, size_t size)
{
    if (wall_us <= 0) {
        snprintf(out, size, "null");
        return;
    }
    char when[48];
    es_clock_format_iso8601(wall_us, when, sizeof(when));
    snprintf(out, size, "\"%s\"", when);
}

static uint64_t listed_media_sequence(struct origin_stream *s)
{
    if (!s->ll)
        return s->playlist.media_sequence;
    size_t first = ll_first_listed(s);
    return first < s->seg_count ? s->segs[first].msn : s->media_sequence;
}

void es_origin_stream_json(struct origin_stream *s, h2o_mem_pool_t *pool, h2o_iovec_vector_t *out)
{
    struct es_origin_camera_stats st = {.status = "connecting"};
    if (s->stats)
        s->stats(s->stats_opaque, &st);
    int64_t now = es_clock_wall_us();
    es_origin_vprintf(pool, out, "{\"id\":");
    json_string(pool, out, s->id);
    es_origin_vprintf(pool, out, ",\"name\":");
    json_string(pool, out, s->name);
    es_origin_vprintf(pool, out, ",\"status\":\"%s\",\"playlist_url\":\"/live/%s/stream.m3u8\"",
                      st.status ? st.status : "connecting", s->id);
    const char *profile = s->profile ? s->profile : (s->ll ? "ll" : NULL);
    if (profile)
        es_origin_vprintf(pool, out, ",\"profile\":\"%s\"", profile);
    const struct es_profile *p = profile ? es_profile_find(profile) : NULL;
    if (s->ll) {
        /* The playlist's PART-HOLD-BACK must set the distance from live: a
         * sync count would take precedence in hls.js (docs/web.md). */
        es_origin_vprintf(pool, out,
                          ",\"hls\":{\"lowLatencyMode\":true,\"liveSyncDurationCount\":null,"
                          "\"liveMaxLatencyDurationCount\":null}");
    } else if (p && p->player_sync_count) {
        es_origin_vprintf(pool, out,
                          ",\"hls\":{\"liveSyncDurationCount\":%u,"
                          "\"liveMaxLatencyDurationCount\":%u}",
                          p->player_sync_count, p->player_max_latency_count);
    }
    char when[64];
    iso_or_null(s->newest_pdt_us, when, sizeof(when));
    es_origin_vprintf(pool, out, ",\"last_segment_time\":%s,\"latency\":{", when);
    if (s->newest_pdt_us > 0) {
        es_origin_vprintf(pool, out,
                          "\"segment_ms\":%" PRId64 ",\"media_ms\":%" PRId64 ",\"publish_ms\":%.0f",
                          (now - s->newest_pdt_us) / 1000, (now - s->newest_end_wall_us) / 1000,
                          s->publish_delay_ms);
    }
    char pt[32] = "0";
    if (s->ll)
        es_ll_format_seconds(advertised_part_target(s), pt, sizeof(pt));
    es_origin_vprintf(pool, out,
                      "},\"ll\":%s,\"target_duration\":%u,\"part_target\":%s,"
                      "\"media_sequence\":%" PRIu64 ",\"waiting_requests\":%zu}",
                      s->ll ? "true" : "false", s->target_duration, pt, listed_media_sequence(s),
                      s->waiter_count);
}

void es_origin_stream_metric_values(struct origin_stream *s, struct origin_camera_metrics *out)
{
    memset(out, 0, sizeof(*out));
    out->camera.status = "connecting";
    if (s->stats)
        s->stats(s->stats_opaque, &out->camera);
    out->up = out->camera.status && strcmp(out->camera.status, "live") == 0;
    out->fps = s->fps;
    out->bitrate_bps = s->bitrate_bps;
    out->segments_published = s->segments_published;
    out->parts_published = s->parts_published;
    out->bytes_published = s->bytes_published;
    out->publish_delay_s = s->publish_delay_ms / 1000.0;
    out->waiting = s->waiter_count;
    out->fanout_s = (double)s->fanout_us_max / 1e6;
    out->fanout_requests = s->fanout_count;
    out->requests = s->requests;
}
