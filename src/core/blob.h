/* Immutable, reference-counted bytes: one segment or part, shared by every sink
 * without copying. The creator holds one reference; each holder calls
 * es_blob_ref() to keep it and es_blob_unref() when done. Thread-safe. */
#ifndef ES_CORE_BLOB_H
#define ES_CORE_BLOB_H

#include <stddef.h>
#include <stdint.h>

struct es_blob;

/* Takes ownership of `data` (allocated with malloc or av_malloc-compatible free
 * function given). */
struct es_blob *es_blob_take(uint8_t *data, size_t size, void (*free_fn)(void *));
struct es_blob *es_blob_copy(const void *data, size_t size);
struct es_blob *es_blob_ref(struct es_blob *blob);
void es_blob_unref(struct es_blob *blob); /* NULL is fine */

const uint8_t *es_blob_data(const struct es_blob *blob);
size_t es_blob_size(const struct es_blob *blob);

#endif
