/* edgestream: IP cameras to live HLS on a small edge box.
 *
 * Exit status: 0 clean stop; 1 runtime failure (e.g. the output directory
 * cannot be created); 2 usage or configuration error. */
#include "app/app.h"
#include "app/clip_command.h"
#include "app/service.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/ffmpeg_log.h"
#include "core/log.h"

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static atomic_bool stop_requested;
static atomic_bool reload_requested;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, true);
}

/* SIGHUP only raises a flag: the app's loop re-reads the config (app.h). */
static void on_hangup(int sig)
{
    (void)sig;
    atomic_store(&reload_requested, true);
}

static void usage(FILE *out)
{
    fputs("usage: edgestream [--config FILE] (--camera ID | --all) [options]\n"
          "\n"
          "Streams IP cameras to live HLS (replaces live_stream.py + ffmpeg).\n"
          "\n"
          "  -c, --config FILE     cameras.yaml to read (default: cameras.yaml)\n"
          "      --camera ID       stream this camera (as live_stream.py --camera ID)\n"
          "      --all             stream every enabled camera in one process\n"
          "      --root DIR        local storage root (overrides storage: local root)\n"
          "      --check           validate the config and exit (0 ok, 2 errors)\n"
          "      --print-ffmpeg    print the reference design's ffmpeg command for the\n"
          "                        camera (or every camera) and exit\n"
          "      --duration SECS   stop cleanly after SECS seconds\n"
          "      --log-level L     error, warn, info (default) or debug\n"
          "  -q, --quiet           no status line\n"
          "      --help-config     print the configuration reference (Markdown)\n"
          "      --clip START/END  with --camera: write the recorded range (ISO 8601,\n"
          "                        e.g. 2026-12-03T14:32:00Z/2026-12-03T14:33:00Z, at most\n"
          "                        5 min) as one MP4 and exit (1: nothing recorded there)\n"
          "      --output FILE     with --clip: where (default <camera>_<time>.mp4 here)\n"
          "      --upload          with --clip: also store it in the remote store\n"
          "                        (supabase or s3) and print its URL\n"
          "  -V, --version         print the version\n"
          "  -h, --help            this help\n"
          "\n"
          "Exit status: 0 clean stop, 1 runtime failure, 2 usage or config error.\n",
          out);
}

enum {
    OPT_CAMERA = 256,
    OPT_ALL,
    OPT_ROOT,
    OPT_CHECK,
    OPT_PRINT_FFMPEG,
    OPT_DURATION,
    OPT_LOG_LEVEL,
    OPT_HELP_CONFIG,
    OPT_CLIP,
    OPT_OUTPUT,
    OPT_UPLOAD,
};

struct cli {
    const char *config_path;
    const char *camera_id;
    const char *root;
    const char *log_level;
    bool all, check, print_ffmpeg, quiet, help_config;
    double duration;
    const char *clip_range, *clip_output; /* --clip: one MP4 and exit */
    bool clip_upload;
};

static int parse_args(int argc, char **argv, struct cli *cli)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"camera", required_argument, NULL, OPT_CAMERA},
        {"all", no_argument, NULL, OPT_ALL},
        {"root", required_argument, NULL, OPT_ROOT},
        {"check", no_argument, NULL, OPT_CHECK},
        {"print-ffmpeg", no_argument, NULL, OPT_PRINT_FFMPEG},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"quiet", no_argument, NULL, 'q'},
        {"help-config", no_argument, NULL, OPT_HELP_CONFIG},
        {"clip", required_argument, NULL, OPT_CLIP},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"upload", no_argument, NULL, OPT_UPLOAD},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli->config_path = "cameras.yaml";
    int opt;
    char *end;
    while ((opt = getopt_long(argc, argv, "c:qVh", options, NULL)) != -1) {
        switch (opt) {
        case 'c': cli->config_path = optarg; break;
        case OPT_CAMERA: cli->camera_id = optarg; break;
        case OPT_ALL: cli->all = true; break;
        case OPT_ROOT: cli->root = optarg; break;
        case OPT_CHECK: cli->check = true; break;
        case OPT_PRINT_FFMPEG: cli->print_ffmpeg = true; break;
        case OPT_DURATION:
            cli->duration = strtod(optarg, &end);
            if (*end || cli->duration <= 0) {
                fprintf(stderr, "edgestream: --duration: '%s' is not a positive number\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_LOG_LEVEL:
            if (es_log_level_parse(optarg) < 0) {
                fprintf(stderr, "edgestream: --log-level: '%s' is not error, warn, info or debug\n",
                        optarg);
                return EXIT_USAGE;
            }
            cli->log_level = optarg;
            break;
        case 'q': cli->quiet = true; break;
        case OPT_HELP_CONFIG: cli->help_config = true; break;
        case OPT_CLIP: cli->clip_range = optarg; break;
        case OPT_OUTPUT: cli->clip_output = optarg; break;
        case OPT_UPLOAD: cli->clip_upload = true; break;
        case 'V': printf("edgestream %s\n", ES_VERSION); exit(0);
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "edgestream: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (cli->camera_id && cli->all) {
        fprintf(stderr, "edgestream: --camera and --all exclude each other\n");
        return EXIT_USAGE;
    }
    return 0;
}

/* The web player's files when the config names none: the source tree's
 * web/dist when this program runs from the build tree that made it (CMake
 * compiles both paths in unless ES_BUILD_TREE_PATHS is off, as for the
 * package), else the installed ones (ES_DATADIR/web, /usr/share/edgestream/web
 * for the package). Never the working directory. */
static char *default_web_root(void)
{
#if defined(ES_BUILD_DIR) && defined(ES_SOURCE_DIR)
    char exe[PATH_MAX], build[PATH_MAX];
    if (realpath("/proc/self/exe", exe) && realpath(ES_BUILD_DIR, build)) {
        size_t n = strlen(build);
        if (strncmp(exe, build, n) == 0 && exe[n] == '/')
            return es_strdup(ES_SOURCE_DIR "/web/dist");
    }
#endif
    return es_strdup(ES_DATADIR "/web");
}

/* Under systemd's StateDirectory= (the unit's), a relative local storage root
 * (the default, "streams") lives in the state directory rather than wherever
 * the service happens to start. */
static void place_in_state_directory(char **root)
{
    const char *state = getenv("STATE_DIRECTORY");
    if (!state || state[0] != '/' || !*root || (*root)[0] == '/')
        return;
    size_t len = strcspn(state, ":"); /* several directories are ':'-separated */
    size_t size = len + 1 + strlen(*root) + 1;
    char *path = es_malloc(size);
    snprintf(path, size, "%.*s/%s", (int)len, state, *root);
    free(*root);
    *root = path;
}

static int print_ffmpeg_commands(const struct es_config *config, const struct cli *cli)
{
    for (size_t i = 0; i < config->camera_count; i++) {
        const struct es_camera_config *cam = &config->cameras[i];
        if (cli->camera_id && strcmp(cam->id, cli->camera_id) != 0)
            continue;
        char dir[1024], command[4096];
        snprintf(dir, sizeof(dir), "%s/%s/%s", cli->root ? cli->root : config->local.root,
                 cam->location, cam->id);
        es_config_ffmpeg_command(cam, dir, false, command, sizeof(command));
        printf("# %s (%s)\n%s\n", cam->id, cam->name, command);
    }
    return 0;
}

/* Loads the config file as the daemon runs it: the default web root and the
 * state directory applied, the log level set. At start and at each reload
 * (so both compare alike); a config that fails leaves `out` empty and says
 * where, as file:line:column. */
static enum es_err load_config(const struct cli *cli, struct es_config *out)
{
    struct es_config_error error = {0};
    enum es_err err = es_config_load(cli->config_path, out, &error);
    if (err != ES_OK) {
        char message[1024];
        es_config_error_format(&error, message, sizeof(message));
        fprintf(stderr, "%sedgestream: %s\n", es_log_prefix(ES_LOG_ERROR), message);
        return err;
    }
    if (!out->origin.web_root)
        out->origin.web_root = default_web_root();
    place_in_state_directory(&out->local.root);
    /* At a reload too: a log_level removed from the file goes back to info. */
    const char *level = cli->log_level ? cli->log_level : out->log_level;
    es_log_set_level(level ? es_log_level_parse(level) : ES_LOG_INFO);
    return ES_OK;
}

static enum es_err reload_config(void *opaque, struct es_config *out)
{
    return load_config(opaque, out);
}

int main(int argc, char **argv)
{
    struct cli cli = {0};
    es_log_detect_journal();
    int status = parse_args(argc, argv, &cli);
    if (status)
        return status;
    if (cli.help_config) {
        es_config_print_reference(stdout);
        return 0;
    }

    struct es_config config = {0};
    if (load_config(&cli, &config) != ES_OK)
        return EXIT_USAGE;

    if (cli.camera_id && !es_config_find_camera(&config, cli.camera_id)) {
        fprintf(stderr, "edgestream: %s: no camera with id '%s' (have:", cli.config_path,
                cli.camera_id);
        for (size_t i = 0; i < config.camera_count; i++)
            fprintf(stderr, " %s", config.cameras[i].id);
        fputs(")\n", stderr);
        es_config_free(&config);
        return EXIT_USAGE;
    }
    if (cli.check) {
        size_t enabled = 0;
        for (size_t i = 0; i < config.camera_count; i++)
            enabled += config.cameras[i].enabled;
        printf("config ok: %zu cameras (%zu enabled)\n", config.camera_count, enabled);
        es_config_free(&config);
        return 0;
    }
    if (cli.print_ffmpeg) {
        status = print_ffmpeg_commands(&config, &cli);
        es_config_free(&config);
        return status;
    }
    if ((cli.clip_output || cli.clip_upload) && !cli.clip_range) {
        fprintf(stderr, "edgestream: --output and --upload go with --clip START/END\n");
        es_config_free(&config);
        return EXIT_USAGE;
    }
    if (cli.clip_range) {
        if (!cli.camera_id) {
            fprintf(stderr, "edgestream: --clip: say which camera: --camera ID\n");
            es_config_free(&config);
            return EXIT_USAGE;
        }
        es_ffmpeg_log_init();
        status = es_clip_command(&config, es_config_find_camera(&config, cli.camera_id),
                                 cli.clip_range, cli.clip_output, cli.clip_upload);
        es_config_free(&config);
        return status;
    }
    if (!cli.camera_id && !cli.all) {
        fprintf(stderr, "edgestream: say which camera: --camera ID or --all\n");
        usage(stderr);
        es_config_free(&config);
        return EXIT_USAGE;
    }

    es_ffmpeg_log_init();

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hangup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Before any thread starts: it reads (and clears) the environment. */
    struct es_service *service = es_service_open();

    struct es_app_options options = {
        .camera_id = cli.camera_id,
        .all_cameras = cli.all,
        .root = cli.root,
        .duration = cli.duration,
        .status_line = !cli.quiet,
        .stop = &stop_requested,
        .reload = &reload_requested,
        .load_config = reload_config,
        .load_config_opaque = &cli,
        .service = service,
    };
    enum es_err err = es_app_run(&config, &options);
    es_service_close(service);
    es_config_free(&config);
    if (err == ES_ERR_NOT_FOUND) {
        fprintf(stderr, "edgestream: no enabled camera to stream in %s\n", cli.config_path);
        return EXIT_USAGE;
    }
    return err == ES_OK ? 0 : EXIT_RUNTIME;
}
