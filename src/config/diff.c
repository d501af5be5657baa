#include "config/diff.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const void *field_of(const void *base, const struct es_config_option *option)
{
    return (const char *)base + option->offset;
}

static bool same_string(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* One option's field in two structs of its section. LIST and MAPPING rows
 * have no field: what they hold is compared through their own rows. */
static bool option_equal(const struct es_config_option *option, const void *a, const void *b)
{
    switch (option->type) {
    case ES_CONFIG_STRING:
    case ES_CONFIG_PROFILE:
        return same_string(*(char *const *)field_of(a, option), *(char *const *)field_of(b, option));
    case ES_CONFIG_ENUM:
    case ES_CONFIG_UINT:
        return *(const unsigned *)field_of(a, option) == *(const unsigned *)field_of(b, option);
    case ES_CONFIG_BOOL:
        return *(const bool *)field_of(a, option) == *(const bool *)field_of(b, option);
    case ES_CONFIG_SECONDS:
        return *(const double *)field_of(a, option) == *(const double *)field_of(b, option);
    case ES_CONFIG_LIST:
    case ES_CONFIG_MAPPING:
        return true;
    }
    return true;
}

const char *es_config_camera_difference(const struct es_camera_config *a,
                                        const struct es_camera_config *b)
{
    for (const struct es_config_option *o = es_config_options(); o->name; o++) {
        if (o->section != ES_CONFIG_SECTION_CAMERA && o->section != ES_CONFIG_SECTION_SETTINGS)
            continue;
        if (!option_equal(o, a, b))
            return o->name;
    }
    return NULL;
}

bool es_config_camera_equal(const struct es_camera_config *a, const struct es_camera_config *b)
{
    return es_config_camera_difference(a, b) == NULL;
}

struct reporter {
    void (*fn)(void *opaque, const char *key);
    void *opaque;
    size_t count;
};

static void report(struct reporter *r, const char *prefix, const char *name)
{
    char key[160];
    snprintf(key, sizeof(key), "%s%s%s", prefix, name ? "." : "", name ? name : "");
    r->fn(r->opaque, key);
    r->count++;
}

/* Every key of `section` that differs, named "<prefix>.<key>". */
static void compare_section(struct reporter *r, enum es_config_section section,
                            const char *prefix, const void *a, const void *b)
{
    for (const struct es_config_option *o = es_config_options(); o->name; o++)
        if (o->section == section && !option_equal(o, a, b))
            report(r, prefix, o->name);
}

/* A remote backend: added or removed as a whole, or its keys. */
static void compare_remote(struct reporter *r, const char *prefix,
                           const struct es_remote_storage *a, const struct es_remote_storage *b,
                           enum es_config_section section, const void *backend_a,
                           const void *backend_b)
{
    if (a->enabled != b->enabled) {
        report(r, prefix, NULL);
        return;
    }
    if (!a->enabled)
        return;
    compare_section(r, ES_CONFIG_SECTION_REMOTE, prefix, a, b);
    compare_section(r, section, prefix, backend_a, backend_b);
}

size_t es_config_restart_keys(const struct es_config *old, const struct es_config *new,
                              void (*fn)(void *opaque, const char *key), void *opaque)
{
    struct reporter r = {fn, opaque, 0};
    if (old->local.enabled != new->local.enabled)
        report(&r, "storage.local", NULL);
    else if (old->local.enabled)
        compare_section(&r, ES_CONFIG_SECTION_LOCAL, "storage.local", &old->local, &new->local);
    compare_remote(&r, "storage.supabase", &old->supabase.remote, &new->supabase.remote,
                   ES_CONFIG_SECTION_SUPABASE, &old->supabase, &new->supabase);
    compare_remote(&r, "storage.s3", &old->s3.remote, &new->s3.remote, ES_CONFIG_SECTION_S3,
                   &old->s3, &new->s3);
    /* Top-level keys with a value of their own: log_level applies live (the
     * daemon sets it at each load); any other is taken at start only. */
    for (const struct es_config_option *o = es_config_options(); o->name; o++)
        if (o->section == ES_CONFIG_SECTION_TOP && strcmp(o->name, "log_level") != 0 &&
            !option_equal(o, old, new))
            report(&r, o->name, NULL);
    compare_section(&r, ES_CONFIG_SECTION_ORIGIN, "origin", &old->origin, &new->origin);
    compare_section(&r, ES_CONFIG_SECTION_WEBRTC, "origin.webrtc", &old->origin.webrtc,
                    &new->origin.webrtc);
    return r.count;
}
