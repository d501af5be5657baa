/* One error enum for the whole daemon. Adapters convert AVERROR / CURLcode into
 * these at the call site and log the original value there. */
#ifndef ES_CORE_ERROR_H
#define ES_CORE_ERROR_H

enum es_err {
    ES_OK = 0,
    ES_ERR_NOMEM,      /* never returned in practice: allocators abort */
    ES_ERR_INVALID,    /* bad argument or malformed input */
    ES_ERR_IO,         /* file system or socket failure */
    ES_ERR_NOT_FOUND,  /* named thing does not exist */
    ES_ERR_CONFIG,     /* configuration rejected (exit status 2) */
    ES_ERR_SOURCE,     /* camera unreachable or stream unusable */
    ES_ERR_CODEC,      /* decoder, encoder or muxer failure */
    ES_ERR_UNSUPPORTED,/* valid request we do not handle */
    ES_ERR_TIMEOUT,
    ES_ERR_EOF,
    ES_ERR_STOPPED,    /* shutdown requested */
    ES_ERR_AUTH,       /* a source refused our credentials, or asked for a scheme we refuse */
};

const char *es_strerror(enum es_err err);

#endif
