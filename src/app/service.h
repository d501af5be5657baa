/* The daemon as a systemd service (Type=notify): readiness, the watchdog and a
 * one-line status, sent over the sd_notify(3) datagram protocol.
 *
 * Lifecycle: open (from the environment) → ready (config loaded, sinks made,
 * origin listening, cameras started) → tick (often, from the app's loop) →
 * stopping → close. Every call does nothing when the daemon was not started
 * with $NOTIFY_SOCKET, or on NULL. Main thread only. */
#ifndef ES_APP_SERVICE_H
#define ES_APP_SERVICE_H

#include "app/camera.h"
#include "origin/origin.h"
#include "sink/uploader.h"

#include <stddef.h>
#include <stdint.h>

struct es_service;

/* What the service reports on: the running cameras, the origin when it
 * listens (NULL otherwise), the uploader (NULL without remote storage). */
struct es_service_view {
    struct es_camera *const *cameras;
    size_t camera_count;
    struct es_origin *origin;
    struct es_uploader *uploader;
};

/* NULL when $NOTIFY_SOCKET is unset (not started by a service manager). */
struct es_service *es_service_open(void);

/* Sends READY=1 with the first STATUS=. */
void es_service_ready(struct es_service *service, const struct es_service_view *view);

/* Sends WATCHDOG=1 (at a quarter of WATCHDOG_USEC) only while every camera
 * thread and the origin's loop have shown progress within WATCHDOG_USEC, and
 * STATUS= when the line changed. A thread that stops showing progress is
 * logged once, by name. */
void es_service_tick(struct es_service *service, const struct es_service_view *view,
                     int64_t now_us);

/* Sends RELOADING=1 with MONOTONIC_USEC (sd_notify(3); a reload ends with
 * es_service_ready()). */
void es_service_reloading(struct es_service *service);

/* Sends STOPPING=1. */
void es_service_stopping(struct es_service *service);

void es_service_close(struct es_service *service); /* NULL is fine */

/* The watchdog interval the service manager asked for (WATCHDOG_USEC, when
 * WATCHDOG_PID is unset or names this process), in µs; 0 = no watchdog.
 * Pure: takes the two variables' values (NULL when unset). */
int64_t es_service_watchdog_usec(const char *watchdog_usec, const char *watchdog_pid, long pid);

#endif
