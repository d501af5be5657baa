/* libFuzzer target for es_playlist_parse. Besides "no crash, no leak", it checks
 * the parser's contract: a rejected text leaves the playlist empty, and an
 * accepted one writes back as text that parses to the same model and writes
 * identically again. Build from the repository root with the core and playlist
 * sources plus this file:
 *
 *   clang -g -fsanitize=fuzzer,address,undefined -Isrc src/core/[all .c] \
 *         src/playlist/playlist.c tests/fuzz/fuzz_playlist_parse.c -lm -lpthread
 *   ./a.out -max_total_time=60 corpus_dir
 */
#include "playlist/playlist.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char *write_text(const struct es_playlist *pl, size_t *len)
{
    *len = es_playlist_write(pl, NULL, 0);
    char *text = malloc(*len + 1);
    if (!text || es_playlist_write(pl, text, *len + 1) != *len)
        abort();
    return text;
}

static bool same_model(const struct es_playlist *a, const struct es_playlist *b)
{
    if (a->version != b->version || a->target_duration != b->target_duration ||
        a->media_sequence != b->media_sequence ||
        a->discontinuity_sequence != b->discontinuity_sequence ||
        a->independent_segments != b->independent_segments || a->endlist != b->endlist ||
        a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++) {
        const struct es_playlist_segment *x = &a->segments[i], *y = &b->segments[i];
        if (x->msn != y->msn || strcmp(x->uri, y->uri) != 0 || x->duration != y->duration ||
            x->program_date_time_us != y->program_date_time_us ||
            x->discontinuity != y->discontinuity)
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct es_playlist pl;
    es_playlist_init(&pl, 2);
    enum es_err err = es_playlist_parse((const char *)data, size, &pl);
    if (err != ES_OK) {
        if (err != ES_ERR_INVALID || pl.count != 0 || pl.segments != NULL)
            abort();
        es_playlist_clear(&pl);
        return 0;
    }

    size_t first_len, second_len;
    char *first = write_text(&pl, &first_len);
    struct es_playlist again;
    es_playlist_init(&again, 0);
    if (es_playlist_parse(first, first_len, &again) != ES_OK || !same_model(&pl, &again))
        abort();
    char *second = write_text(&again, &second_len);
    if (first_len != second_len || memcmp(first, second, first_len) != 0)
        abort();

    /* Trimming a parsed playlist must keep it printable and parseable. */
    es_playlist_trim(&again, again.count / 2, NULL, 0);
    free(second);
    second = write_text(&again, &second_len);
    es_playlist_clear(&pl);
    es_playlist_init(&pl, 0);
    if (es_playlist_parse(second, second_len, &pl) != ES_OK || !same_model(&pl, &again))
        abort();

    free(first);
    free(second);
    es_playlist_clear(&again);
    es_playlist_clear(&pl);
    return 0;
}
