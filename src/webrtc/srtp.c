/* libsrtp2 2.5 adapter: srtp_err_status_t is converted here and nowhere else. */
#include "webrtc/srtp.h"

#include "core/alloc.h"
#include "core/log.h"

#include <pthread.h>
#include <srtp2/srtp.h>
#include <stdlib.h>
#include <string.h>

struct es_srtp {
    srtp_t tx, rx;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t init_status = srtp_err_status_fail;

static void init_library(void)
{
    init_status = srtp_init();
}

enum es_err es_srtp_init(void)
{
    pthread_once(&init_once, init_library);
    if (init_status != srtp_err_status_ok) {
        es_log(ES_LOG_ERROR, "webrtc", "event=srtp_init_failed status=%d", (int)init_status);
        return ES_ERR_IO;
    }
    return ES_OK;
}

static enum es_err make(srtp_t *out, const struct es_dtls_srtp *keys, const uint8_t *key,
                        srtp_ssrc_type_t direction)
{
    srtp_policy_t policy;
    memset(&policy, 0, sizeof(policy));
    if (keys->profile == ES_SRTP_AEAD_AES_128_GCM) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
    } else {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
    }
    /* One wildcard stream per direction: the session's SSRCs are all ours
     * outbound, and whatever the browser picks inbound. */
    policy.ssrc.type = direction;
    policy.key = (unsigned char *)key;
    policy.window_size = 1024;
    policy.allow_repeat_tx = 0;
    policy.next = NULL;
    srtp_err_status_t st = srtp_create(out, &policy);
    if (st != srtp_err_status_ok) {
        es_log(ES_LOG_WARN, "webrtc", "event=srtp_create_failed status=%d profile=%d", (int)st,
               (int)keys->profile);
        *out = NULL;
        return ES_ERR_IO;
    }
    return ES_OK;
}

enum es_err es_srtp_create(const struct es_dtls_srtp *keys, struct es_srtp **out)
{
    enum es_err err = es_srtp_init();
    if (err != ES_OK)
        return err;
    struct es_srtp *s = es_calloc(1, sizeof(*s));
    err = make(&s->tx, keys, keys->tx, ssrc_any_outbound);
    if (err == ES_OK)
        err = make(&s->rx, keys, keys->rx, ssrc_any_inbound);
    if (err != ES_OK) {
        es_srtp_destroy(s);
        return err;
    }
    *out = s;
    return ES_OK;
}

void es_srtp_destroy(struct es_srtp *s)
{
    if (!s)
        return;
    if (s->tx)
        srtp_dealloc(s->tx);
    if (s->rx)
        srtp_dealloc(s->rx);
    free(s);
}

static enum es_err run(srtp_err_status_t (*fn)(srtp_t, void *, int *), srtp_t ctx, uint8_t *buf,
                       size_t *len)
{
    if (*len > 65535)
        return ES_ERR_INVALID;
    int n = (int)*len;
    if (fn(ctx, buf, &n) != srtp_err_status_ok)
        return ES_ERR_INVALID;
    *len = (size_t)n;
    return ES_OK;
}

enum es_err es_srtp_protect(struct es_srtp *s, uint8_t *buf, size_t *len)
{
    return run(srtp_protect, s->tx, buf, len);
}

enum es_err es_srtp_protect_rtcp(struct es_srtp *s, uint8_t *buf, size_t *len)
{
    return run(srtp_protect_rtcp, s->tx, buf, len);
}

enum es_err es_srtp_unprotect(struct es_srtp *s, uint8_t *buf, size_t *len)
{
    return run(srtp_unprotect, s->rx, buf, len);
}

enum es_err es_srtp_unprotect_rtcp(struct es_srtp *s, uint8_t *buf, size_t *len)
{
    return run(srtp_unprotect_rtcp, s->rx, buf, len);
}
