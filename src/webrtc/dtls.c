/* DTLS-SRTP on OpenSSL 3.0 (reference/webrtc-rules.md §4). */
#include "webrtc/dtls.h"

#include "core/alloc.h"
#include "core/log.h"

#include <ctype.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

/* Keeps every datagram, handshake flights included, under what any path
 * carries (Janus's dtls_mtu default, MediaMTX's RTP size). */
#define DTLS_MTU 1200
#define CERT_DAYS 30

struct es_dtls_identity {
    EVP_PKEY *key;
    X509 *cert;
    SSL_CTX *ctx;
    char fingerprint[96];
};

struct es_dtls {
    const struct es_dtls_identity *identity;
    enum es_dtls_role role;
    char peer_fingerprint[96];
    es_dtls_send_fn send;
    void *opaque;
    SSL *ssl;
    BIO *rbio; /* memory: datagrams fed in */
    enum es_dtls_state state;
};

/* ---- the write BIO: one datagram per write ---- */

static BIO_METHOD *dgram_method;
static pthread_once_t dgram_once = PTHREAD_ONCE_INIT;

static int dgram_write(BIO *b, const char *data, int len)
{
    struct es_dtls *d = BIO_get_data(b);
    if (len > 0 && d)
        d->send(d->opaque, (const uint8_t *)data, (size_t)len);
    return len;
}

static long dgram_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
        return DTLS_MTU;
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_PENDING:
        return 0;
    default:
        return 0;
    }
}

static int dgram_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void dgram_method_init(void)
{
    dgram_method = BIO_meth_new(BIO_TYPE_SOURCE_SINK | BIO_get_new_index(), "es_dtls_dgram");
    BIO_meth_set_write(dgram_method, dgram_write);
    BIO_meth_set_ctrl(dgram_method, dgram_ctrl);
    BIO_meth_set_create(dgram_method, dgram_create);
}

/* ---- identity ---- */

static void log_ssl_error(const char *event)
{
    char why[256] = "unknown";
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, why, sizeof(why));
    ERR_clear_error();
    es_log(ES_LOG_WARN, "webrtc", "event=%s error=\"%s\"", event, why);
}

static void hex_fingerprint(const unsigned char *md, unsigned len, char out[96]);

/* Self-signed and short-lived peers are the WebRTC norm (RFC 8827 §6.5):
 * chain errors are ignored, and the peer's own certificate (depth 0) must hash
 * to the fingerprint from its SDP (RFC 8122 §5). Failing here, during the
 * handshake, sends the peer a bad_certificate alert before our Finished, so
 * it never believes it is connected. */
static int verify_fingerprint(int ok, X509_STORE_CTX *store)
{
    (void)ok;
    if (X509_STORE_CTX_get_error_depth(store) != 0)
        return 1;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct es_dtls *d = ssl ? SSL_get_app_data(ssl) : NULL;
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    char got[96];
    if (!d || !cert || X509_digest(cert, EVP_sha256(), md, &md_len) != 1 || md_len != 32)
        return 0;
    hex_fingerprint(md, md_len, got);
    return strcmp(got, d->peer_fingerprint) == 0;
}

static void hex_fingerprint(const unsigned char *md, unsigned len, char out[96])
{
    static const char hex[] = "0123456789ABCDEF";
    size_t at = 0;
    for (unsigned i = 0; i < len && at + 3 <= 96; i++) {
        out[at++] = hex[md[i] >> 4];
        out[at++] = hex[md[i] & 15];
        out[at++] = ':';
    }
    out[at ? at - 1 : 0] = '\0';
}

enum es_err es_dtls_identity_create(struct es_dtls_identity **out)
{
    pthread_once(&dgram_once, dgram_method_init);
    struct es_dtls_identity *id = es_calloc(1, sizeof(*id));
    id->key = EVP_EC_gen("prime256v1");
    id->cert = X509_new();
    bool ok = id->key && id->cert;
    if (ok) {
        X509_set_version(id->cert, 2); /* v3 */
        uint64_t serial = 0;
        RAND_bytes((unsigned char *)&serial, sizeof(serial));
        ASN1_INTEGER_set_uint64(X509_get_serialNumber(id->cert), serial >> 1);
        X509_gmtime_adj(X509_getm_notBefore(id->cert), -86400);
        X509_gmtime_adj(X509_getm_notAfter(id->cert), (long)CERT_DAYS * 86400);
        X509_NAME *name = X509_get_subject_name(id->cert);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"edgestream",
                                   -1, -1, 0);
        ok = X509_set_issuer_name(id->cert, name) == 1 && X509_set_pubkey(id->cert, id->key) == 1 &&
             X509_sign(id->cert, id->key, EVP_sha256()) > 0;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    ok = ok && X509_digest(id->cert, EVP_sha256(), md, &md_len) == 1;
    if (ok)
        hex_fingerprint(md, md_len, id->fingerprint);
    if (ok) {
        id->ctx = SSL_CTX_new(DTLS_method());
        ok = id->ctx != NULL;
    }
    if (ok) {
        SSL_CTX_set_min_proto_version(id->ctx, DTLS1_2_VERSION);
        SSL_CTX_set_options(id->ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_RENEGOTIATION);
        SSL_CTX_set_verify(id->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                           verify_fingerprint);
        /* Returns 0 on success (SSL_CTX_set_tlsext_use_srtp(3)). AEAD first:
         * cheaper than HMAC-SHA1 when the browser offers it. */
        ok = SSL_CTX_use_certificate(id->ctx, id->cert) == 1 &&
             SSL_CTX_use_PrivateKey(id->ctx, id->key) == 1 &&
             SSL_CTX_check_private_key(id->ctx) == 1 &&
             SSL_CTX_set_tlsext_use_srtp(id->ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80") ==
                 0;
    }
    if (!ok) {
        log_ssl_error("dtls_identity_failed");
        es_dtls_identity_destroy(id);
        return ES_ERR_IO;
    }
    *out = id;
    return ES_OK;
}

void es_dtls_identity_destroy(struct es_dtls_identity *id)
{
    if (!id)
        return;
    SSL_CTX_free(id->ctx);
    X509_free(id->cert);
    EVP_PKEY_free(id->key);
    free(id);
}

const char *es_dtls_identity_fingerprint(const struct es_dtls_identity *id)
{
    return id->fingerprint;
}

/* ---- sessions ---- */

enum es_err es_dtls_create(const struct es_dtls_config *config, struct es_dtls **out)
{
    if (!config->peer_fingerprint || strlen(config->peer_fingerprint) != 95)
        return ES_ERR_INVALID;
    struct es_dtls *d = es_calloc(1, sizeof(*d));
    d->identity = config->identity;
    d->role = config->role;
    for (size_t i = 0; i < 95; i++)
        d->peer_fingerprint[i] = (char)toupper((unsigned char)config->peer_fingerprint[i]);
    d->send = config->send;
    d->opaque = config->opaque;
    d->ssl = SSL_new(config->identity->ctx);
    d->rbio = BIO_new(BIO_s_mem());
    BIO *wbio = BIO_new(dgram_method);
    if (!d->ssl || !d->rbio || !wbio) {
        BIO_free(wbio);
        log_ssl_error("dtls_create_failed");
        es_dtls_destroy(d);
        return ES_ERR_IO;
    }
    BIO_set_mem_eof_return(d->rbio, -1); /* empty = "try again", not EOF */
    SSL_set_app_data(d->ssl, d);         /* for verify_fingerprint */
    BIO_set_data(wbio, d);
    SSL_set_bio(d->ssl, d->rbio, wbio); /* the SSL owns both now */
    SSL_set_mtu(d->ssl, DTLS_MTU);
    DTLS_set_link_mtu(d->ssl, DTLS_MTU);
    if (d->role == ES_DTLS_SERVER)
        SSL_set_accept_state(d->ssl); /* a=setup:passive */
    else
        SSL_set_connect_state(d->ssl);
    *out = d;
    return ES_OK;
}

void es_dtls_destroy(struct es_dtls *d)
{
    if (!d)
        return;
    SSL_free(d->ssl);
    free(d);
}

/* RFC 8122 §5 / RFC 5763 §5: the certificate must hash to the SDP's value. */
static bool fingerprint_matches(struct es_dtls *d)
{
    X509 *peer = SSL_get1_peer_certificate(d->ssl);
    if (!peer)
        return false;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    char got[96];
    bool ok = X509_digest(peer, EVP_sha256(), md, &md_len) == 1 && md_len == 32;
    X509_free(peer);
    if (!ok)
        return false;
    hex_fingerprint(md, md_len, got);
    return strcmp(got, d->peer_fingerprint) == 0;
}

static enum es_dtls_state drive(struct es_dtls *d)
{
    if (d->state != ES_DTLS_HANDSHAKING) {
        if (d->state == ES_DTLS_CONNECTED) {
            /* After the handshake only alerts (close_notify) are expected. */
            unsigned char buf[512];
            int n = SSL_read(d->ssl, buf, sizeof(buf));
            if (n <= 0) {
                int e = SSL_get_error(d->ssl, n);
                if (e == SSL_ERROR_ZERO_RETURN)
                    d->state = ES_DTLS_CLOSED;
                else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                    d->state = ES_DTLS_FAILED;
                ERR_clear_error();
            }
        }
        return d->state;
    }
    int r = SSL_do_handshake(d->ssl);
    if (r == 1) {
        /* verify_fingerprint checked it already; this guards the invariant. */
        if (!fingerprint_matches(d)) {
            es_log(ES_LOG_WARN, "webrtc", "event=dtls_fingerprint_mismatch");
            d->state = ES_DTLS_FAILED;
        } else if (!SSL_get_selected_srtp_profile(d->ssl)) {
            es_log(ES_LOG_WARN, "webrtc", "event=dtls_no_srtp_profile");
            d->state = ES_DTLS_FAILED;
        } else {
            d->state = ES_DTLS_CONNECTED;
        }
        return d->state;
    }
    int e = SSL_get_error(d->ssl, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        log_ssl_error("dtls_handshake_failed");
        d->state = ES_DTLS_FAILED;
    }
    return d->state;
}

enum es_dtls_state es_dtls_start(struct es_dtls *d)
{
    return drive(d);
}

enum es_dtls_state es_dtls_feed(struct es_dtls *d, const uint8_t *data, size_t len)
{
    if (len == 0 || len > 65536 || d->state == ES_DTLS_FAILED || d->state == ES_DTLS_CLOSED)
        return d->state;
    BIO_write(d->rbio, data, (int)len);
    return drive(d);
}

int64_t es_dtls_timeout_us(struct es_dtls *d)
{
    if (d->state != ES_DTLS_HANDSHAKING)
        return -1;
    struct timeval tv;
    if (DTLSv1_get_timeout(d->ssl, &tv) != 1)
        return -1;
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

enum es_dtls_state es_dtls_on_timer(struct es_dtls *d)
{
    if (d->state == ES_DTLS_HANDSHAKING && DTLSv1_handle_timeout(d->ssl) < 0) {
        log_ssl_error("dtls_timeout_failed");
        d->state = ES_DTLS_FAILED;
    }
    return d->state;
}

enum es_dtls_state es_dtls_state(const struct es_dtls *d)
{
    return d->state;
}

void es_dtls_close(struct es_dtls *d)
{
    if (d->state == ES_DTLS_CONNECTED) {
        SSL_shutdown(d->ssl);
        ERR_clear_error();
        d->state = ES_DTLS_CLOSED;
    }
}

enum es_err es_dtls_srtp_keys(struct es_dtls *d, struct es_dtls_srtp *out)
{
    memset(out, 0, sizeof(*out));
    if (d->state != ES_DTLS_CONNECTED)
        return ES_ERR_INVALID;
    const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(d->ssl);
    size_t key, salt;
    if (p->id == SRTP_AES128_CM_SHA1_80) {
        out->profile = ES_SRTP_AES128_CM_SHA1_80;
        key = 16;
        salt = 14;
    } else if (p->id == SRTP_AEAD_AES_128_GCM) {
        out->profile = ES_SRTP_AEAD_AES_128_GCM;
        key = 16;
        salt = 12;
    } else {
        return ES_ERR_UNSUPPORTED;
    }
    /* RFC 5764 §4.2: client key | server key | client salt | server salt. */
    unsigned char m[2 * (16 + 14)];
    size_t total = 2 * (key + salt);
    if (SSL_export_keying_material(d->ssl, m, total, "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0) != 1)
        return ES_ERR_IO;
    const unsigned char *ckey = m, *skey = m + key, *csalt = m + 2 * key,
                        *ssalt = m + 2 * key + salt;
    bool server = d->role == ES_DTLS_SERVER;
    memcpy(out->tx, server ? skey : ckey, key);
    memcpy(out->tx + key, server ? ssalt : csalt, salt);
    memcpy(out->rx, server ? ckey : skey, key);
    memcpy(out->rx + key, server ? csalt : ssalt, salt);
    out->key_len = key + salt;
    OPENSSL_cleanse(m, sizeof(m));
    return ES_OK;
}
