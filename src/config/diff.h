/* What a reload changes: two loaded configs compared key by key, through the
 * option table (one row per key), so a key added to the table is compared
 * without a change here. Pure: no I/O, no logging. */
#ifndef ES_CONFIG_DIFF_H
#define ES_CONFIG_DIFF_H

#include "config/config.h"

#include <stdbool.h>
#include <stddef.h>

/* Whether a camera streams the same under both configs: every key of the
 * camera and of its settings (defaults and profile applied) is equal. */
bool es_config_camera_equal(const struct es_camera_config *a, const struct es_camera_config *b);

/* The first key (e.g. "settings.target_fps", "rtsp_url") on which the two
 * differ, or NULL when they are equal. Names only: never a value. */
const char *es_config_camera_difference(const struct es_camera_config *a,
                                        const struct es_camera_config *b);

/* Calls `fn` once for each storage or origin key that differs between `old`
 * and `new` (e.g. "storage.local.root", "origin.listen",
 * "origin.webrtc.udp_port", "storage.s3" for a backend added or removed, a
 * top-level key other than log_level):
 * the settings a running daemon cannot take without a restart. Returns how
 * many differ. Names only: secrets stay unprinted. */
size_t es_config_restart_keys(const struct es_config *old, const struct es_config *new,
                              void (*fn)(void *opaque, const char *key), void *opaque);

#endif
