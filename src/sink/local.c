#include "sink/local.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/file.h"
#include "core/log.h"
#include "playlist/playlist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLAYLIST_NAME "stream.m3u8"
#define DEFAULT_GRACE_EXTRA_S 30.0
/* Segments that left the window while no playlist could be written are kept
 * (the playlist on disk may still name them) up to this many beyond the
 * window; past it, new segments are not written at all until a playlist is. */
#define UNLISTED_EXTRA 16
/* A write-failure episode (ENOSPC, a read-only remount, EIO) ends only after
 * this long without a failed write: on a disk that is nearly full, writes fail
 * and succeed in turn as deletes free space, and each turn is not news. */
#define RECOVERED_AFTER_US (10 * 1000000LL)
/* A delete that failed (a read-only remount) is tried again this much later,
 * not forgotten: the file would otherwise stay on disk for good. */
#define DELETE_RETRY_US (2 * 1000000LL)

struct pending_delete {
    char name[ES_PLAYLIST_URI_MAX];
    int64_t due_mono_us;
};

struct local_sink {
    struct es_sink base;
    char *camera_id;
    char *dir;
    unsigned segments_to_keep;
    double delete_grace;
    bool sync;
    struct es_playlist playlist;
    bool have_previous;
    uint64_t previous_last_msn;
    struct pending_delete *deletes;
    size_t delete_count, delete_cap;
    /* Out of the in-memory window, but perhaps still named by the playlist on
     * disk: deleted only once a playlist without them has been written. */
    char (*unlisted)[ES_PLAYLIST_URI_MAX];
    size_t unlisted_count, unlisted_cap;
    bool playlist_dirty; /* the playlist on disk is older than the one in memory */
    /* The current write-failure episode (segment and playlist writes alike;
     * one kind failing while the other works is still one episode): logged
     * when it starts or its error changes, and when it ends. */
    int write_error; /* errno of the latest failure; 0: no episode */
    int64_t episode_start_us, last_failure_us;
    uint64_t write_failures;
    uint64_t dropped; /* segments not written (stored nowhere) in the episode */
    int delete_error; /* errno of the failing deletes; 0: deletes work */
    uint64_t delete_failures;
};

static void sync_dir(const struct local_sink *s)
{
    int error = es_file_sync_dir(s->dir);
    if (error)
        es_log(ES_LOG_WARN, "sink.local", "camera=%s event=dir_sync_failed dir=%s error=\"%s\"",
               s->camera_id, s->dir, strerror(error));
}

/* A failed write is logged when an episode starts or its error changes
 * (ENOSPC would otherwise log every segment, and a nearly full disk every
 * other one); the episode ends with the first success RECOVERED_AFTER_US after
 * the last failure, and that line says how many writes failed. */
static void note_write(struct local_sink *s, const char *path, int error)
{
    int64_t now = es_clock_mono_us();
    if (error) {
        bool news = error != s->write_error;
        if (!s->write_error) {
            s->episode_start_us = now;
            s->write_failures = 0;
            s->dropped = 0;
        }
        es_log(news ? ES_LOG_ERROR : ES_LOG_DEBUG, "sink.local",
               "camera=%s event=write_failed file=%s error=\"%s\"%s", s->camera_id, path,
               strerror(error),
               news ? " action=\"retried each segment; the playlist keeps naming only stored "
                      "segments\""
                    : "");
        s->write_error = error;
        s->write_failures++;
        s->last_failure_us = now;
    } else if (s->write_error && now - s->last_failure_us >= RECOVERED_AFTER_US) {
        es_log(ES_LOG_INFO, "sink.local",
               "camera=%s event=write_recovered file=%s failures=%" PRIu64 " dropped=%" PRIu64
               " episode_s=%.1f",
               s->camera_id, path, s->write_failures, s->dropped,
               (double)(s->last_failure_us - s->episode_start_us) / 1e6);
        s->write_error = 0;
    }
}

/* Writes `name` in the sink's directory atomically: readers see the old file
 * or the new one, never a part. Durability (docs/storage.md, "fsync policy"):
 * the data is fsynced before the rename, so after a power cut the name never
 * holds a short or empty file, and the directory after it, so the name itself
 * survives. A segment is therefore durable before any playlist names it. */
static enum es_err write_atomic(struct local_sink *s, const char *name, const void *data,
                                size_t size)
{
    char final[PATH_MAX];
    snprintf(final, sizeof(final), "%s/%s", s->dir, name);
    int error = es_file_write_atomic(s->dir, name, data, size, s->sync);
    if (!error && s->sync)
        sync_dir(s);
    note_write(s, final, error);
    return error ? ES_ERR_IO : ES_OK;
}

static void schedule_delete(struct local_sink *s, const char *name, double grace)
{
    if (s->delete_count == s->delete_cap) {
        s->delete_cap = s->delete_cap ? s->delete_cap * 2 : 16;
        s->deletes = es_realloc(s->deletes, s->delete_cap * sizeof(*s->deletes));
    }
    struct pending_delete *d = &s->deletes[s->delete_count++];
    snprintf(d->name, sizeof(d->name), "%s", name);
    d->due_mono_us = es_clock_mono_us() + (int64_t)(grace * 1e6);
}

static void add_unlisted(struct local_sink *s, const char *name)
{
    if (s->unlisted_count == s->unlisted_cap) {
        s->unlisted_cap = s->unlisted_cap ? s->unlisted_cap * 2 : 16;
        s->unlisted = es_realloc(s->unlisted, s->unlisted_cap * sizeof(*s->unlisted));
    }
    snprintf(s->unlisted[s->unlisted_count++], ES_PLAYLIST_URI_MAX, "%s", name);
}

static double grace_period(const struct local_sink *s)
{
    if (s->delete_grace >= 0)
        return s->delete_grace;
    return es_playlist_duration(&s->playlist) + DEFAULT_GRACE_EXTRA_S;
}

/* A delete that fails (EROFS after a read-only remount, EIO) is kept and
 * retried: forgetting it would leave the file on disk for good. Logged once
 * per episode, like writes. */
static void run_due_deletes(struct local_sink *s)
{
    int64_t now = es_clock_mono_us();
    size_t kept = 0;
    for (size_t i = 0; i < s->delete_count; i++) {
        struct pending_delete *d = &s->deletes[i];
        if (d->due_mono_us > now) {
            s->deletes[kept++] = *d;
            continue;
        }
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", s->dir, d->name);
        if (unlink(path) == 0 || errno == ENOENT) {
            if (s->delete_error) {
                es_log(ES_LOG_INFO, "sink.local",
                       "camera=%s event=delete_recovered file=%s failures=%" PRIu64, s->camera_id,
                       path, s->delete_failures);
                s->delete_error = 0;
                s->delete_failures = 0;
            }
            continue;
        }
        if (errno != s->delete_error)
            es_log(ES_LOG_WARN, "sink.local",
                   "camera=%s event=delete_failed file=%s error=\"%s\" action=\"retried\"",
                   s->camera_id, path, strerror(errno));
        s->delete_error = errno;
        s->delete_failures++;
        d->due_mono_us = now + DELETE_RETRY_US;
        s->deletes[kept++] = *d;
    }
    s->delete_count = kept;
}

static bool file_exists(const struct local_sink *s, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", s->dir, name);
    return access(path, F_OK) == 0;
}

/* Is `name` (one of ours, for `msn`) named by the playlist `pl`? */
static bool names(const struct es_playlist *pl, uint64_t msn, const char *name)
{
    return pl->count && msn >= pl->media_sequence && msn - pl->media_sequence < pl->count &&
           strcmp(pl->segments[msn - pl->media_sequence].uri, name) == 0;
}

/* Reads the playlist an earlier run left, keeps the segments still on disk so
 * players see one continuous window, and notes the highest segment number on
 * disk: a crash may have left segments the playlist never named, and their
 * names must not be reused either.
 *
 * Nothing read back is trusted (DESIGN.md invariant 8): an entry is adopted
 * only if its URI is exactly the name this sink gives its msn, and a file is
 * only ever deleted under such a name. Anything else is foreign: logged once,
 * never adopted, never deleted. */
static void recover_previous_run(struct local_sink *s, unsigned target_duration)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", s->dir, PLAYLIST_NAME);
    struct es_playlist old;
    es_playlist_init(&old, target_duration);
    FILE *f = fopen(path, "rb");
    if (f) {
        char *text = es_malloc(1 << 20);
        size_t len = fread(text, 1, (1 << 20) - 1, f);
        fclose(f);
        if (es_playlist_parse(text, len, &old) == ES_OK && old.count > 0) {
            s->have_previous = true;
            s->previous_last_msn = old.media_sequence + old.count - 1;
            size_t foreign = 0;
            char first_foreign[ES_PLAYLIST_URI_MAX] = "";
            bool adopting = old.target_duration == target_duration;
            /* RFC 8216 §6.2.2: TARGETDURATION may not change, so an old window
             * with another target starts over (its files are deleted once a new
             * playlist no longer names them). */
            if (adopting) {
                s->playlist.media_sequence = old.media_sequence;
                s->playlist.discontinuity_sequence = old.discontinuity_sequence;
            }
            for (size_t i = 0; i < old.count; i++) {
                uint64_t msn;
                const char *uri = old.segments[i].uri;
                bool own = es_sink_segment_msn(uri, &msn) && msn == old.segments[i].msn;
                if (!own) {
                    if (!foreign++) {
                        /* Shown as read, but a '"' would end the log field early. */
                        snprintf(first_foreign, sizeof(first_foreign), "%s", uri);
                        for (char *q = first_foreign; *q; q++)
                            if (*q == '"')
                                *q = '\'';
                    }
                    adopting = false; /* the window stays contiguous */
                    continue;
                }
                if (adopting && file_exists(s, uri))
                    es_playlist_append(&s->playlist, &old.segments[i]);
                else
                    adopting = false;
            }
            if (foreign)
                es_log(ES_LOG_WARN, "sink.local",
                       "camera=%s event=foreign_names_ignored file=%s count=%zu first=\"%s\" "
                       "action=\"not adopted, never deleted\"",
                       s->camera_id, path, foreign, first_foreign);
        } else {
            es_log(ES_LOG_WARN, "sink.local", "camera=%s event=old_playlist_unreadable file=%s",
                   s->camera_id, path);
            es_playlist_clear(&old);
            es_playlist_init(&old, target_duration);
        }
        free(text);
    }

    DIR *dir = opendir(s->dir);
    if (!dir) {
        es_playlist_clear(&old);
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        uint64_t msn;
        size_t len = strlen(entry->d_name);
        if (entry->d_name[0] == '.' && len > 4 && strcmp(entry->d_name + len - 4, ".tmp") == 0) {
            /* A write cut short by a crash: never renamed, never named. */
            char tmp_path[PATH_MAX];
            snprintf(tmp_path, sizeof(tmp_path), "%s/%s", s->dir, entry->d_name);
            unlink(tmp_path);
            continue;
        }
        if (!es_sink_segment_msn(entry->d_name, &msn))
            continue; /* not a name of ours: left alone */
        if (!s->have_previous || msn > s->previous_last_msn) {
            s->previous_last_msn = msn;
            s->have_previous = true;
        }
        if (names(&s->playlist, msn, entry->d_name))
            continue; /* adopted */
        /* Leftovers: once no playlist on disk names them, they go after the
         * grace period, as if they had just left the playlist. */
        if (names(&old, msn, entry->d_name))
            add_unlisted(s, entry->d_name);
        else
            schedule_delete(s, entry->d_name, grace_period(s));
    }
    closedir(dir);
    es_playlist_clear(&old);
}

static bool local_last_msn(struct es_sink *sink, uint64_t *msn)
{
    struct local_sink *s = (struct local_sink *)sink;
    *msn = s->previous_last_msn;
    return s->have_previous;
}

static enum es_err write_playlist(struct local_sink *s)
{
    char stack[8192];
    enum es_err err;
    size_t need = es_playlist_write(&s->playlist, stack, sizeof(stack));
    if (need < sizeof(stack)) {
        err = write_atomic(s, PLAYLIST_NAME, stack, need);
    } else {
        char *text = es_malloc(need + 1);
        es_playlist_write(&s->playlist, text, need + 1);
        err = write_atomic(s, PLAYLIST_NAME, text, need);
        free(text);
    }
    if (err != ES_OK)
        return err;
    /* The uploader's rule: what a successfully written playlist no longer
     * names may go, after the grace (RFC 8216 §6.2.2), counted from now. */
    s->playlist_dirty = false;
    double grace = grace_period(s);
    for (size_t i = 0; i < s->unlisted_count; i++)
        schedule_delete(s, s->unlisted[i], grace);
    s->unlisted_count = 0;
    return ES_OK;
}

static void local_publish(struct es_sink *sink, const struct es_published_segment *segment)
{
    struct local_sink *s = (struct local_sink *)sink;
    struct es_playlist_segment entry = {
        .msn = segment->msn,
        .duration = segment->duration,
        .program_date_time_us = segment->program_date_time_us,
        .discontinuity = segment->discontinuity,
    };
    es_sink_segment_name(segment->msn, entry.uri, sizeof(entry.uri));
    /* While no playlist can be written, segments that left the window are
     * kept (the playlist on disk may name them); past a bound, a new segment
     * is not written at all: no playlist would name it. */
    if (s->playlist_dirty && s->unlisted_count >= s->segments_to_keep + UNLISTED_EXTRA &&
        write_playlist(s) != ES_OK) {
        s->dropped++;
        es_log(ES_LOG_DEBUG, "sink.local",
               "camera=%s event=segment_dropped msn=%" PRIu64 " reason=playlist_not_written",
               s->camera_id, segment->msn);
        run_due_deletes(s);
        return;
    }
    if (write_atomic(s, entry.uri, es_blob_data(segment->data), es_blob_size(segment->data)) !=
        ES_OK) {
        s->dropped++;
        return; /* the playlist never names a segment that is not stored */
    }

    if (s->playlist.count && segment->msn != s->playlist.media_sequence + s->playlist.count) {
        /* A gap in numbering (segments lost upstream): restart the window. */
        struct es_playlist_segment removed[64];
        while (s->playlist.count) {
            size_t chunk = s->playlist.count < 64 ? s->playlist.count : 64;
            size_t n = es_playlist_trim(&s->playlist, s->playlist.count - chunk, removed, 64);
            for (size_t i = 0; i < n && i < 64; i++)
                add_unlisted(s, removed[i].uri);
        }
        entry.discontinuity = true;
    }
    if (!s->playlist.count)
        s->playlist.media_sequence = segment->msn;
    long rounded = lround(segment->duration);
    if (rounded > (long)s->playlist.target_duration) {
        /* Only passthrough gets here: the camera's keyframes decide the cut.
         * RFC 8216 §6.2.2 freezes TARGETDURATION, but dropping the camera's
         * video would be worse; say so loudly. */
        es_log(ES_LOG_WARN, "sink.local",
               "camera=%s event=target_duration_raised from=%u to=%ld hint=\"shorten the "
               "camera's keyframe interval\"",
               s->camera_id, s->playlist.target_duration, rounded);
        s->playlist.target_duration = (unsigned)rounded;
    }
    if (es_playlist_append(&s->playlist, &entry) != ES_OK) {
        es_log(ES_LOG_ERROR, "sink.local",
               "camera=%s event=segment_rejected msn=%" PRIu64 " duration=%.3f target=%u",
               s->camera_id, segment->msn, segment->duration, s->playlist.target_duration);
        schedule_delete(s, entry.uri, 0); /* no playlist ever named it */
        return;
    }
    struct es_playlist_segment removed[16];
    size_t n;
    while ((n = es_playlist_slide(&s->playlist, s->segments_to_keep, removed, 16)) > 0)
        for (size_t i = 0; i < n; i++)
            add_unlisted(s, removed[i].uri);
    s->playlist_dirty = true;
    write_playlist(s);
    run_due_deletes(s);
    es_log(ES_LOG_DEBUG, "sink.local",
           "camera=%s event=segment_written msn=%" PRIu64 " duration=%.3f bytes=%zu", s->camera_id,
           segment->msn, segment->duration, es_blob_size(segment->data));
}

static void local_tick(struct es_sink *sink)
{
    struct local_sink *s = (struct local_sink *)sink;
    if (s->playlist_dirty)
        write_playlist(s); /* a failed write is retried, also while the camera is away */
    run_due_deletes(s);
}

static void local_destroy(struct es_sink *sink)
{
    struct local_sink *s = (struct local_sink *)sink;
    if (!s)
        return;
    es_playlist_clear(&s->playlist);
    free(s->deletes);
    free(s->unlisted);
    free(s->dir);
    free(s->camera_id);
    free(s);
}

enum es_err es_local_sink_create(const struct es_local_sink_config *config, struct es_sink **out)
{
    *out = NULL;
    struct local_sink *s = es_calloc(1, sizeof(*s));
    s->base = (struct es_sink){
        .kind = "local",
        .last_msn = local_last_msn,
        .publish = local_publish,
        .tick = local_tick,
        .destroy = local_destroy,
    };
    s->camera_id = es_strdup(config->camera_id);
    size_t len = strlen(config->root) + strlen(config->location) + strlen(config->camera_id) + 3;
    s->dir = es_malloc(len);
    snprintf(s->dir, len, "%s/%s/%s", config->root, config->location, config->camera_id);
    s->segments_to_keep = config->segments_to_keep;
    s->delete_grace = config->delete_grace;
    s->sync = !config->no_fsync;
    es_playlist_init(&s->playlist, config->target_duration);
    s->playlist.independent_segments = true;

    if (es_file_make_dirs(s->dir) != 0) {
        es_log(ES_LOG_ERROR, "sink.local", "camera=%s event=mkdir_failed dir=%s error=\"%s\"",
               config->camera_id, s->dir, strerror(errno));
        local_destroy(&s->base);
        return ES_ERR_IO;
    }
    recover_previous_run(s, config->target_duration);
    es_log(ES_LOG_INFO, "sink.local", "camera=%s event=ready dir=%s playlist=%s/%s", s->camera_id,
           s->dir, s->dir, PLAYLIST_NAME);
    *out = &s->base;
    return ES_OK;
}
