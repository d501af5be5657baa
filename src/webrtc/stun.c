/* STUN Binding for ICE-lite. Offsets and constants from RFC 8489 §5, §14. */
#include "webrtc/stun.h"

#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <string.h>
#include <zlib.h>

#define MAGIC_COOKIE 0x2112A442u
#define FINGERPRINT_XOR 0x5354554Eu
#define BINDING_REQUEST 0x0001
#define BINDING_SUCCESS 0x0101

#define ATTR_USERNAME 0x0006
#define ATTR_MESSAGE_INTEGRITY 0x0008
#define ATTR_XOR_MAPPED_ADDRESS 0x0020
#define ATTR_PRIORITY 0x0024
#define ATTR_USE_CANDIDATE 0x0025
#define ATTR_FINGERPRINT 0x8028
#define ATTR_ICE_CONTROLLED 0x8029
#define ATTR_ICE_CONTROLLING 0x802A

#define MI_SIZE 20

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

bool es_stun_is(const uint8_t *msg, size_t len)
{
    /* RFC 7983 §7: 0..3 is STUN; the two top bits of the type are zero. */
    return len >= ES_STUN_HEADER && msg[0] < 4 && rd32(msg + 4) == MAGIC_COOKIE &&
           (size_t)rd16(msg + 2) + ES_STUN_HEADER == len && (rd16(msg + 2) & 3) == 0;
}

static uint32_t fingerprint_of(const uint8_t *msg, size_t len)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), msg, (uInt)len) ^ FINGERPRINT_XOR;
}

enum es_err es_stun_parse_request(const uint8_t *msg, size_t len, struct es_stun_request *out)
{
    memset(out, 0, sizeof(*out));
    if (!es_stun_is(msg, len))
        return ES_ERR_INVALID;
    out->type = rd16(msg);
    memcpy(out->txid, msg + 8, ES_STUN_TXID);
    size_t at = ES_STUN_HEADER;
    while (at + 4 <= len) {
        uint16_t type = rd16(msg + at);
        size_t alen = rd16(msg + at + 2);
        const uint8_t *value = msg + at + 4;
        if (at + 4 + alen > len)
            return ES_ERR_INVALID;
        if (out->has_fingerprint)
            return ES_ERR_INVALID; /* §14.7: FINGERPRINT is the last attribute */
        if (out->integrity_at && type != ATTR_FINGERPRINT) {
            /* §14.5: attributes after MESSAGE-INTEGRITY (but FINGERPRINT) are ignored. */
        } else {
            switch (type) {
            case ATTR_USERNAME:
                out->username = (const char *)value;
                out->username_len = alen;
                break;
            case ATTR_MESSAGE_INTEGRITY:
                if (alen != MI_SIZE)
                    return ES_ERR_INVALID;
                out->integrity_at = at;
                break;
            case ATTR_FINGERPRINT:
                if (alen != 4 || rd32(value) != fingerprint_of(msg, at))
                    return ES_ERR_INVALID;
                out->has_fingerprint = true;
                break;
            case ATTR_PRIORITY:
                if (alen == 4)
                    out->priority = rd32(value);
                break;
            case ATTR_USE_CANDIDATE:
                out->use_candidate = true;
                break;
            case ATTR_ICE_CONTROLLING:
                out->ice_controlling = true;
                break;
            default:
                /* Comprehension-optional (≥0x8000, e.g. Chrome's 0xC057) and
                 * other attributes a binding responder needs no more of. */
                break;
            }
        }
        at += 4 + ((alen + 3) & ~(size_t)3);
    }
    if (at != len)
        return ES_ERR_INVALID;
    if (out->type != BINDING_REQUEST)
        return ES_ERR_INVALID;
    return ES_OK;
}

/* §14.5: HMAC-SHA1 over the message up to MESSAGE-INTEGRITY, with the header's
 * length field counting the attributes up to and including it. */
static bool hmac_upto(const uint8_t *msg, size_t mi_at, const char *pwd, uint8_t out[MI_SIZE])
{
    uint8_t header[ES_STUN_HEADER];
    memcpy(header, msg, sizeof(header));
    wr16(header + 2, (uint16_t)(mi_at + 4 + MI_SIZE - ES_STUN_HEADER));
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac)
        return false;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA1", 0),
        OSSL_PARAM_construct_end(),
    };
    size_t got = 0;
    bool ok = ctx && EVP_MAC_init(ctx, (const unsigned char *)pwd, strlen(pwd), params) == 1 &&
              EVP_MAC_update(ctx, header, sizeof(header)) == 1 &&
              EVP_MAC_update(ctx, msg + ES_STUN_HEADER, mi_at - ES_STUN_HEADER) == 1 &&
              EVP_MAC_final(ctx, out, &got, MI_SIZE) == 1 && got == MI_SIZE;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok;
}

bool es_stun_integrity_ok(const uint8_t *msg, size_t len, const struct es_stun_request *req,
                          const char *pwd)
{
    if (!req->integrity_at || req->integrity_at + 4 + MI_SIZE > len)
        return false;
    uint8_t want[MI_SIZE];
    if (!hmac_upto(msg, req->integrity_at, pwd, want))
        return false;
    return CRYPTO_memcmp(want, msg + req->integrity_at + 4, MI_SIZE) == 0;
}

/* Appends MESSAGE-INTEGRITY and FINGERPRINT to a message of `len` bytes whose
 * header is written; returns the final length. `cap` was checked by callers. */
static size_t seal(uint8_t *out, size_t len, const char *pwd)
{
    wr16(out + len, ATTR_MESSAGE_INTEGRITY);
    wr16(out + len + 2, MI_SIZE);
    if (!hmac_upto(out, len, pwd, out + len + 4))
        return 0;
    len += 4 + MI_SIZE;
    wr16(out + 2, (uint16_t)(len + 8 - ES_STUN_HEADER));
    wr16(out + len, ATTR_FINGERPRINT);
    wr16(out + len + 2, 4);
    wr32(out + len + 4, fingerprint_of(out, len));
    return len + 8;
}

size_t es_stun_write_success(const uint8_t txid[ES_STUN_TXID], const struct sockaddr *from,
                             const char *pwd, uint8_t *out, size_t cap)
{
    size_t addr_len;
    if (from->sa_family == AF_INET)
        addr_len = 8;
    else if (from->sa_family == AF_INET6)
        addr_len = 20;
    else
        return 0;
    size_t need = ES_STUN_HEADER + 4 + addr_len + 4 + MI_SIZE + 8;
    if (cap < need)
        return 0;
    wr16(out, BINDING_SUCCESS);
    wr32(out + 4, MAGIC_COOKIE);
    memcpy(out + 8, txid, ES_STUN_TXID);
    size_t at = ES_STUN_HEADER;
    wr16(out + at, ATTR_XOR_MAPPED_ADDRESS);
    wr16(out + at + 2, (uint16_t)addr_len);
    uint8_t *v = out + at + 4;
    v[0] = 0;
    if (from->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)from;
        v[1] = 0x01;
        wr16(v + 2, (uint16_t)(ntohs(in->sin_port) ^ (MAGIC_COOKIE >> 16)));
        wr32(v + 4, ntohl(in->sin_addr.s_addr) ^ MAGIC_COOKIE);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)from;
        v[1] = 0x02;
        wr16(v + 2, (uint16_t)(ntohs(in6->sin6_port) ^ (MAGIC_COOKIE >> 16)));
        /* §14.2: the address XORed with the cookie followed by the txid. */
        uint8_t key[16];
        wr32(key, MAGIC_COOKIE);
        memcpy(key + 4, txid, ES_STUN_TXID);
        for (int i = 0; i < 16; i++)
            v[4 + i] = in6->sin6_addr.s6_addr[i] ^ key[i];
    }
    at += 4 + addr_len;
    return seal(out, at, pwd);
}

size_t es_stun_write_request(const uint8_t txid[ES_STUN_TXID], const char *username,
                             const char *pwd, bool use_candidate, uint8_t *out, size_t cap)
{
    size_t ulen = strlen(username);
    size_t upad = (ulen + 3) & ~(size_t)3;
    size_t need = ES_STUN_HEADER + 4 + upad + 8 + 12 + (use_candidate ? 4 : 0) + 4 + MI_SIZE + 8;
    if (ulen > 512 || cap < need)
        return 0;
    memset(out, 0, need);
    wr16(out, BINDING_REQUEST);
    wr32(out + 4, MAGIC_COOKIE);
    memcpy(out + 8, txid, ES_STUN_TXID);
    size_t at = ES_STUN_HEADER;
    wr16(out + at, ATTR_USERNAME);
    wr16(out + at + 2, (uint16_t)ulen);
    memcpy(out + at + 4, username, ulen);
    at += 4 + upad;
    wr16(out + at, ATTR_PRIORITY);
    wr16(out + at + 2, 4);
    wr32(out + at + 4, 0x6E7F1EFFu);
    at += 8;
    wr16(out + at, ATTR_ICE_CONTROLLING);
    wr16(out + at + 2, 8);
    memcpy(out + at + 4, txid, 8); /* the tie-breaker: any 64-bit value */
    at += 12;
    if (use_candidate) {
        wr16(out + at, ATTR_USE_CANDIDATE);
        wr16(out + at + 2, 0);
        at += 4;
    }
    return seal(out, at, pwd);
}
