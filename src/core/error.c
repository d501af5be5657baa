#include "core/error.h"

const char *es_strerror(enum es_err err)
{
    switch (err) {
    case ES_OK: return "ok";
    case ES_ERR_NOMEM: return "out of memory";
    case ES_ERR_INVALID: return "invalid input";
    case ES_ERR_IO: return "i/o error";
    case ES_ERR_NOT_FOUND: return "not found";
    case ES_ERR_CONFIG: return "configuration error";
    case ES_ERR_SOURCE: return "source error";
    case ES_ERR_CODEC: return "codec error";
    case ES_ERR_UNSUPPORTED: return "unsupported";
    case ES_ERR_TIMEOUT: return "timed out";
    case ES_ERR_EOF: return "end of stream";
    case ES_ERR_STOPPED: return "stopped";
    case ES_ERR_AUTH: return "authentication refused";
    }
    return "unknown error";
}
