#include "core/blob.h"

#include "core/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct es_blob {
    atomic_uint refs;
    size_t size;
    uint8_t *data;
    void (*free_fn)(void *);
};

struct es_blob *es_blob_take(uint8_t *data, size_t size, void (*free_fn)(void *))
{
    struct es_blob *blob = es_malloc(sizeof(*blob));
    atomic_init(&blob->refs, 1);
    blob->size = size;
    blob->data = data;
    blob->free_fn = free_fn ? free_fn : free;
    return blob;
}

struct es_blob *es_blob_copy(const void *data, size_t size)
{
    uint8_t *copy = es_malloc(size);
    if (size)
        memcpy(copy, data, size);
    return es_blob_take(copy, size, free);
}

struct es_blob *es_blob_ref(struct es_blob *blob)
{
    atomic_fetch_add_explicit(&blob->refs, 1, memory_order_relaxed);
    return blob;
}

void es_blob_unref(struct es_blob *blob)
{
    if (!blob)
        return;
    if (atomic_fetch_sub_explicit(&blob->refs, 1, memory_order_acq_rel) == 1) {
        blob->free_fn(blob->data);
        free(blob);
    }
}

const uint8_t *es_blob_data(const struct es_blob *blob)
{
    return blob->data;
}

size_t es_blob_size(const struct es_blob *blob)
{
    return blob->size;
}
