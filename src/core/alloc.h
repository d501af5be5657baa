/* Allocation that aborts on exhaustion (as redis does): a daemon that cannot get
 * a few hundred bytes cannot do anything useful, and threading ENOMEM through
 * every call would hide the real error paths. */
#ifndef ES_CORE_ALLOC_H
#define ES_CORE_ALLOC_H

#include <stddef.h>

void *es_malloc(size_t size);
void *es_calloc(size_t count, size_t size);
void *es_realloc(void *ptr, size_t size);
char *es_strdup(const char *s);
char *es_strndup(const char *s, size_t n);

#endif
