/* edgestream with its test-only fault hooks, for the integration tests
 * (tests/integration/test_systemd_notify.py). The daemon's own main.c, built
 * once more with a hook set. Never installed: the package builds without
 * tests/, and nothing in the daemon sets a hook (app/camera.h).
 *
 *   ES_TEST_STALL_CAMERA=<id>       that camera's thread hangs, showing no
 *                                   progress, as a deadlocked thread would
 *   ES_TEST_STALL_AFTER=<seconds>   ... this long after start (default 0)
 */
#include "app/camera.h"
#include "core/clock.h"

#include <stdlib.h>
#include <string.h>

#define main edgestream_main
#include "main.c"
#undef main

static const char *stall_camera;
static int64_t stall_at_us;

static bool stall(const char *camera_id)
{
    return strcmp(camera_id, stall_camera) == 0 && es_clock_mono_us() >= stall_at_us;
}

int main(int argc, char **argv)
{
    /* Read once, before any thread runs. */
    stall_camera = getenv("ES_TEST_STALL_CAMERA");
    if (stall_camera && *stall_camera) {
        const char *after = getenv("ES_TEST_STALL_AFTER");
        stall_at_us = es_clock_mono_us() + (int64_t)((after ? atof(after) : 0) * 1e6);
        es_camera_test_stall = stall;
    }
    return edgestream_main(argc, argv);
}
