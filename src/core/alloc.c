#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *checked(void *p, size_t size)
{
    if (!p && size) {
        fprintf(stderr, "edgestream: out of memory allocating %zu bytes\n", size);
        abort();
    }
    return p;
}

void *es_malloc(size_t size)
{
    return checked(malloc(size ? size : 1), size);
}

void *es_calloc(size_t count, size_t size)
{
    return checked(calloc(count ? count : 1, size ? size : 1), count * size);
}

void *es_realloc(void *ptr, size_t size)
{
    return checked(realloc(ptr, size ? size : 1), size);
}

char *es_strdup(const char *s)
{
    return s ? es_strndup(s, strlen(s)) : NULL;
}

char *es_strndup(const char *s, size_t n)
{
    char *copy = es_malloc(n + 1);
    memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}
