/* edgestream with its test-only fault hooks, for the integration tests
 * (tests/integration/test_systemd_notify.py). The daemon's own main.c, built
 * once more with a hook set. Never installed: the package builds without
 * tests/, and nothing in the daemon sets a hook (app/camera.h).
 *
 *   ES_TEST_STALL_CAMERA=<id>       that camera's thread hangs, showing no
 *                                   progress, as a deadlocked thread would
 *   ES_TEST_STALL_AFTER=<seconds>   ... this long after start (default 0)
 *   ES_TEST_STALL_ORIGIN=1          the origin's event loop hangs at the first
 *                                   request for camera figures (/api/cameras)
 *                                   until SIGTERM or SIGINT
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

/* Holds the origin's thread, showing no progress, until the daemon is asked
 * to stop (main.c's flag), so that it can still stop cleanly. */
static void stall_origin(void)
{
    static atomic_bool logged;
    if (!atomic_exchange(&logged, true))
        es_log(ES_LOG_WARN, "origin", "event=test_stall");
    while (!atomic_load(&stop_requested))
        es_clock_sleep_us(100000);
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
    const char *origin = getenv("ES_TEST_STALL_ORIGIN");
    if (origin && strcmp(origin, "1") == 0)
        es_app_test_origin_stall = stall_origin;
    return edgestream_main(argc, argv);
}
