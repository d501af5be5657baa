#include "sink/local.h"

#include "core/alloc.h"
#include "core/clock.h"
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
    struct es_playlist playlist;
    bool have_previous;
    uint64_t previous_last_msn;
    struct pending_delete *deletes;
    size_t delete_count, delete_cap;
};

static enum es_err make_dirs(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return ES_ERR_INVALID;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return ES_ERR_IO;
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return ES_ERR_IO;
    return ES_OK;
}

/* Writes `name` in the sink's directory atomically: readers see the old file
 * or the new one, never a part. */
static enum es_err write_atomic(struct local_sink *s, const char *name, const void *data,
                                size_t size)
{
    char tmp[PATH_MAX], final[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", s->dir, name);
    snprintf(final, sizeof(final), "%s/%s", s->dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        goto fail;
    const uint8_t *p = data;
    size_t left = size;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            unlink(tmp);
            goto fail;
        }
        p += n;
        left -= (size_t)n;
    }
    if (close(fd) < 0 || rename(tmp, final) < 0) {
        unlink(tmp);
        goto fail;
    }
    return ES_OK;
fail:
    es_log(ES_LOG_ERROR, "sink.local", "camera=%s event=write_failed file=%s error=\"%s\"",
           s->camera_id, final[0] ? final : name, strerror(errno));
    return ES_ERR_IO;
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

static double grace_period(const struct local_sink *s)
{
    if (s->delete_grace >= 0)
        return s->delete_grace;
    return es_playlist_duration(&s->playlist) + DEFAULT_GRACE_EXTRA_S;
}

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
        if (unlink(path) < 0 && errno != ENOENT)
            es_log(ES_LOG_WARN, "sink.local", "camera=%s event=delete_failed file=%s error=\"%s\"",
                   s->camera_id, path, strerror(errno));
    }
    s->delete_count = kept;
}

static bool parse_segment_name(const char *name, uint64_t *msn)
{
    char *end;
    if (strncmp(name, "segment_", 8) != 0 || name[8] < '0' || name[8] > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(name + 8, &end, 10);
    if (errno || strcmp(end, ".ts") != 0)
        return false;
    *msn = v;
    return true;
}

static bool file_exists(const struct local_sink *s, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", s->dir, name);
    return access(path, F_OK) == 0;
}

/* Reads the playlist an earlier run left, keeps the segments still on disk so
 * players see one continuous window, and notes the highest segment number on
 * disk: a crash may have left segments the playlist never named, and their
 * names must not be reused either. */
static void recover_previous_run(struct local_sink *s, unsigned target_duration)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", s->dir, PLAYLIST_NAME);
    FILE *f = fopen(path, "rb");
    if (f) {
        char *text = es_malloc(1 << 20);
        size_t len = fread(text, 1, (1 << 20) - 1, f);
        fclose(f);
        struct es_playlist old;
        es_playlist_init(&old, target_duration);
        if (es_playlist_parse(text, len, &old) == ES_OK && old.count > 0) {
            s->have_previous = true;
            s->previous_last_msn = old.media_sequence + old.count - 1;
            /* RFC 8216 §6.2.2: TARGETDURATION may not change, so an old window
             * with another target starts over (its files are deleted later). */
            if (old.target_duration == target_duration) {
                s->playlist.media_sequence = old.media_sequence;
                s->playlist.discontinuity_sequence = old.discontinuity_sequence;
                for (size_t i = 0; i < old.count; i++) {
                    if (file_exists(s, old.segments[i].uri))
                        es_playlist_append(&s->playlist, &old.segments[i]);
                    else
                        break;
                }
            }
        } else {
            es_log(ES_LOG_WARN, "sink.local", "camera=%s event=old_playlist_unreadable file=%s",
                   s->camera_id, path);
        }
        es_playlist_clear(&old);
        free(text);
    }

    DIR *dir = opendir(s->dir);
    if (!dir)
        return;
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
        if (!parse_segment_name(entry->d_name, &msn))
            continue;
        if (!s->have_previous || msn > s->previous_last_msn) {
            s->previous_last_msn = s->have_previous && s->previous_last_msn > msn
                                       ? s->previous_last_msn
                                       : msn;
            s->have_previous = true;
        }
        /* Files outside the recovered window are leftovers: delete them after
         * the grace period, as if they had just left the playlist. */
        bool in_window = s->playlist.count && msn >= s->playlist.media_sequence &&
                         msn < s->playlist.media_sequence + s->playlist.count;
        if (!in_window)
            schedule_delete(s, entry->d_name, grace_period(s));
    }
    closedir(dir);
}

static bool local_last_msn(struct es_sink *sink, uint64_t *msn)
{
    struct local_sink *s = (struct local_sink *)sink;
    *msn = s->previous_last_msn;
    return s->have_previous;
}

static void write_playlist(struct local_sink *s)
{
    char stack[8192];
    size_t need = es_playlist_write(&s->playlist, stack, sizeof(stack));
    if (need < sizeof(stack)) {
        write_atomic(s, PLAYLIST_NAME, stack, need);
        return;
    }
    char *text = es_malloc(need + 1);
    es_playlist_write(&s->playlist, text, need + 1);
    write_atomic(s, PLAYLIST_NAME, text, need);
    free(text);
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
    if (write_atomic(s, entry.uri, es_blob_data(segment->data), es_blob_size(segment->data)) !=
        ES_OK)
        return; /* the playlist never names a segment that is not stored */

    if (s->playlist.count && segment->msn != s->playlist.media_sequence + s->playlist.count) {
        /* A gap in numbering (segments lost upstream): restart the window. */
        struct es_playlist_segment removed[64];
        while (s->playlist.count) {
            size_t chunk = s->playlist.count < 64 ? s->playlist.count : 64;
            size_t n = es_playlist_trim(&s->playlist, s->playlist.count - chunk, removed, 64);
            for (size_t i = 0; i < n; i++)
                schedule_delete(s, removed[i].uri, grace_period(s));
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
        schedule_delete(s, entry.uri, 0);
        return;
    }
    double grace = grace_period(s);
    struct es_playlist_segment removed[16];
    size_t n = es_playlist_slide(&s->playlist, s->segments_to_keep, removed, 16);
    for (size_t i = 0; i < n; i++)
        schedule_delete(s, removed[i].uri, grace);
    write_playlist(s);
    run_due_deletes(s);
    es_log(ES_LOG_DEBUG, "sink.local", "camera=%s event=segment_written msn=%" PRIu64
           " duration=%.3f bytes=%zu", s->camera_id, segment->msn, segment->duration,
           es_blob_size(segment->data));
}

static void local_tick(struct es_sink *sink)
{
    run_due_deletes((struct local_sink *)sink);
}

static void local_destroy(struct es_sink *sink)
{
    struct local_sink *s = (struct local_sink *)sink;
    if (!s)
        return;
    es_playlist_clear(&s->playlist);
    free(s->deletes);
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
    es_playlist_init(&s->playlist, config->target_duration);
    s->playlist.independent_segments = true;

    if (make_dirs(s->dir) != ES_OK) {
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
