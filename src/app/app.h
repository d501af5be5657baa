/* Wires each selected camera's stages from the config, runs them until a
 * signal or the duration ends, and prints the live status line. */
#ifndef ES_APP_APP_H
#define ES_APP_APP_H

#include "config/config.h"
#include "core/error.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct es_service;

/* Test-only fault hook: when set, called on the origin's thread each time it
 * asks for a camera's figures (/api/cameras, /metrics), and may hold that
 * thread as a deadlock would. Only the test program
 * tests/tools/edgestream_faults.c sets it; the daemon never does. */
extern void (*es_app_test_origin_stall)(void);

struct es_app_options {
    const char *camera_id;   /* NULL with all_cameras */
    bool all_cameras;
    const char *root;        /* overrides storage.local.root when set */
    double duration;         /* seconds; <= 0 runs until stopped */
    bool status_line;
    const atomic_bool *stop; /* set by the signal handler */
    /* Set by SIGHUP; the app's loop clears it and reloads: load_config reads
     * the file again (NULL: no reloads), and what changed is applied live
     * (docs/operations.md, "Reload"). A config that fails to load leaves the
     * running one as it is; load_config has said where it fails. */
    atomic_bool *reload;
    enum es_err (*load_config)(void *opaque, struct es_config *out);
    void *load_config_opaque;
    struct es_service *service; /* systemd notify (app/service.h); NULL when none */
};

/* <record_root> as the daemon records to it: relative to the working
 * directory, or under systemd ($STATE_DIRECTORY) to the state directory, as
 * the local storage root is (main.c). */
void es_app_record_root(const struct es_config *config, char *out, size_t size);

/* `config` must outlive the call (its cameras keep streaming across reloads
 * that leave them unchanged). Returns ES_OK on a clean stop; ES_ERR_NOT_FOUND for an unknown camera id;
 * ES_ERR_IO when a sink cannot be set up. */
enum es_err es_app_run(const struct es_config *config, const struct es_app_options *options);

#endif
