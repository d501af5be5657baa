/* `edgestream --camera ID --clip START/END [--output FILE] [--upload]`: a
 * recorded range as one MP4 on the command line (docs/recording.md, "Clips
 * from the command line"), for scripts and for a box whose origin is off.
 * It reads the camera's recordings as the origin does (the index read-only,
 * beside a running daemon), writes the MP4 and, with --upload, stores it as
 * POST /vod/<camera>/clip.mp4 does and prints its URL. */
#ifndef ES_APP_CLIP_COMMAND_H
#define ES_APP_CLIP_COMMAND_H

#include "config/config.h"

#include <stdbool.h>

/* `range` is "<ISO time>/<ISO time>" (an ISO 8601 interval). Returns the
 * exit status: 0 written (and stored), 1 nothing recorded there or it could
 * not be written or stored, 2 a bad range or --upload without a remote store. */
int es_clip_command(const struct es_config *config, const struct es_camera_config *camera,
                    const char *range, const char *output, bool upload);

#endif
