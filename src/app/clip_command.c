#include "app/clip_command.h"

#include "app/app.h"
#include "app/clip_store.h"
#include "core/alloc.h"
#include "core/log.h"
#include "record/layout.h"
#include "record/vod_playlist.h"
#include "snapshot/clip.h"

#include <curl/curl.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool parse_range(const char *range, int64_t *start_ms, int64_t *end_ms)
{
    const char *slash = strchr(range, '/');
    char start[64];
    if (!slash || (size_t)(slash - range) >= sizeof(start))
        return false;
    memcpy(start, range, (size_t)(slash - range));
    start[slash - range] = '\0';
    return es_record_parse_time(start, start_ms) && es_record_parse_time(slash + 1, end_ms);
}

/* Stores the written clip; prints its URL. */
static int upload(const struct es_config *config, const struct es_camera_config *camera,
                  const char *path, const struct es_clip_result *result)
{
    struct es_clip_store *store = NULL;
    if (es_clip_store_open(config, &store) != ES_OK) {
        fprintf(stderr, "edgestream: --upload: the remote store could not be set up\n");
        return 1;
    }
    if (!store) {
        fprintf(stderr, "edgestream: --upload: no remote storage (supabase or s3) in the config "
                        "to store the clip in; it is written to %s\n",
                path);
        return 2;
    }
    size_t size;
    uint8_t *data = es_clip_read(path, &size);
    int status = 1;
    if (!data) {
        fprintf(stderr, "edgestream: --upload: cannot read %s back (or it is over 512 MB)\n", path);
    } else {
        char name[512], url[1024], why[320];
        es_clip_object_name(camera->location, camera->id, result, name, sizeof(name));
        struct es_clip_share share = es_clip_store_share(store);
        if (share.put(share.opaque, name, data, size, url, sizeof(url), why, sizeof(why))) {
            printf("%s\n", url);
            status = 0;
        } else {
            fprintf(stderr, "edgestream: camera %s: the clip was not stored: %s\n", camera->id,
                    why);
        }
        free(data);
    }
    es_clip_store_close(store);
    return status;
}

int es_clip_command(const struct es_config *config, const struct es_camera_config *camera,
                    const char *range, const char *output, bool upload_it)
{
    int64_t start_ms, end_ms;
    if (!parse_range(range, &start_ms, &end_ms)) {
        fprintf(stderr, "edgestream: --clip: '%s' is not START/END in ISO 8601, e.g. "
                        "2026-12-03T14:32:00Z/2026-12-03T14:33:00Z\n",
                range);
        return 2;
    }
    if (end_ms <= start_ms || end_ms - start_ms > ES_CLIP_MAX_RANGE_MS) {
        fprintf(stderr, "edgestream: --clip: the end must come after the start, at most "
                        "5 minutes later\n");
        return 2;
    }
    char root[1024], record_dir[PATH_MAX];
    es_app_record_root(config, root, sizeof(root));
    snprintf(record_dir, sizeof(record_dir), "%s/%s", root, camera->id);
    struct es_record_entry *segments;
    size_t count;
    enum es_err err = es_clip_find_segments(record_dir, start_ms, end_ms, &segments, &count);
    if (err != ES_OK) {
        fprintf(stderr, "edgestream: camera %s: %s in %s\n", camera->id,
                err == ES_ERR_IO ? "the recording index cannot be read"
                                 : "nothing recorded in that range",
                record_dir);
        return 1;
    }
    /* Written beside its final name, then renamed: a reader never sees half
     * an MP4, and an interrupted run leaves only the .part. */
    char part[PATH_MAX], final[PATH_MAX];
    if (output)
        snprintf(part, sizeof(part), "%s.part", output);
    else
        snprintf(part, sizeof(part), "%s_clip.mp4.part", camera->id);
    struct es_clip_result result;
    err = es_clip_build(camera->id, record_dir, segments, count, end_ms, part, &result);
    free(segments);
    if (err != ES_OK) {
        unlink(part);
        fprintf(stderr, "edgestream: camera %s: the clip could not be written (%s): %s\n",
                camera->id, part, es_strerror(err));
        return 1;
    }
    if (output) {
        snprintf(final, sizeof(final), "%s", output);
    } else {
        char base[128];
        es_clip_base_name(camera->id, result.first_ms, base, sizeof(base));
        snprintf(final, sizeof(final), "%s.mp4", base);
    }
    if (rename(part, final) != 0) {
        fprintf(stderr, "edgestream: cannot name the clip %s: %s\n", final, strerror(errno));
        unlink(part);
        return 1;
    }
    fprintf(stderr, "edgestream: camera %s: %s, %.1f s from %zu recorded segments\n", camera->id,
            final, result.duration_s, count);
    if (!upload_it) {
        printf("%s\n", final);
        return 0;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int status = upload(config, camera, final, &result);
    curl_global_cleanup();
    return status;
}
