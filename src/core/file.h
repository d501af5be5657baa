#ifndef ES_CORE_FILE_H
#define ES_CORE_FILE_H

#include <stdbool.h>
#include <stddef.h>

/* Writes `data` to <dir>/<name> atomically: readers see the old file or the
 * new one, never a part. The bytes go to <dir>/.<name>.tmp first, fsynced
 * when `sync` (so after a power cut the name never holds a short or empty
 * file), then renamed over the name. The directory itself is not synced: the
 * caller knows when the name must survive a power cut (es_file_sync_dir).
 * Returns 0, or the errno of the step that failed (ENOSPC for a write that
 * made no progress, ENAMETOOLONG for a path beyond PATH_MAX); the temporary
 * file is gone either way. Used by the local sink and the recorder. */
int es_file_write_atomic(const char *dir, const char *name, const void *data, size_t size,
                         bool sync);

/* fsync of a directory, so that the names made in it survive a power cut.
 * Returns 0 or the errno; EINVAL (a file system that cannot) counts as 0. */
int es_file_sync_dir(const char *dir);

/* mkdir -p, mode 0755. Returns 0, or the errno of the step that failed (also
 * left in errno, for the caller's log line). Used by the local sink and the
 * recorder. */
int es_file_make_dirs(const char *path);

#endif
