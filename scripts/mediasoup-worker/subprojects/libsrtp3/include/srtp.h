/*
 * libsrtp3 -> libsrtp2 compatibility header for the mediasoup worker.
 *
 * mediasoup 3.27 builds against versatica's libsrtp 3.0 beta, whose API
 * differs from Debian's libsrtp2 (2.5.0):
 *   - srtp_policy_t is an opaque handle built with srtp_policy_create() and
 *     srtp_policy_set_*() / srtp_policy_add_key() instead of a public struct;
 *   - srtp_protect*() / srtp_unprotect*() take separate input and output
 *     buffers with size_t lengths (plus an MKI index) instead of working in
 *     place with int lengths;
 *   - two more error codes exist (buffer_small, cryptex_err);
 *   - srtp_remove_stream() is called srtp_stream_remove().
 * This header includes Debian's <srtp2/srtp.h> (with its srtp_policy_t struct
 * renamed out of the way) and provides exactly the libsrtp3 calls that
 * mediasoup's worker sources use (src/DepLibSRTP.cpp, src/RTC/SrtpSession.cpp),
 * implemented on top of the libsrtp2 API. Only a single master key without MKI
 * is supported, which is all mediasoup uses.
 */
#ifndef VCBOX_LIBSRTP3_COMPAT_SRTP_H
#define VCBOX_LIBSRTP3_COMPAT_SRTP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* libsrtp2 declares `typedef struct srtp_policy_t {...} srtp_policy_t;`; keep
 * it under another name so srtp_policy_t can be libsrtp3's opaque handle. */
#define srtp_policy_t vcbox_srtp2_policy_t
#include <srtp2/srtp.h>
#undef srtp_policy_t

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes added in libsrtp3 (same values as upstream libsrtp 3.0). */
#define srtp_err_status_buffer_small ((srtp_err_status_t)28)
#define srtp_err_status_cryptex_err ((srtp_err_status_t)29)

struct vcbox_srtp3_policy {
    vcbox_srtp2_policy_t policy;
    /* libsrtp2 wants master key || master salt in one buffer. */
    unsigned char key[SRTP_MAX_KEY_LEN > 64 ? SRTP_MAX_KEY_LEN : 64];
    bool has_key;
};

typedef struct vcbox_srtp3_policy *srtp_policy_t;

static inline srtp_err_status_t vcbox_srtp3_policy_create(srtp_policy_t *policy)
{
    if (policy == NULL) {
        return srtp_err_status_bad_param;
    }
    *policy = (srtp_policy_t)calloc(1, sizeof(struct vcbox_srtp3_policy));
    if (*policy == NULL) {
        return srtp_err_status_alloc_fail;
    }
    (*policy)->policy.next = NULL;
    return srtp_err_status_ok;
}

static inline void vcbox_srtp3_policy_destroy(srtp_policy_t policy)
{
    if (policy != NULL) {
        /* Do not leave key material behind in freed memory. */
        memset(policy->key, 0, sizeof(policy->key));
        free(policy);
    }
}

static inline srtp_err_status_t vcbox_srtp3_policy_set_ssrc(srtp_policy_t policy,
                                                            srtp_ssrc_t ssrc)
{
    if (policy == NULL) {
        return srtp_err_status_bad_param;
    }
    policy->policy.ssrc = ssrc;
    return srtp_err_status_ok;
}

static inline srtp_err_status_t vcbox_srtp3_policy_set_profile(srtp_policy_t policy,
                                                               srtp_profile_t profile)
{
    srtp_err_status_t err;

    if (policy == NULL) {
        return srtp_err_status_bad_param;
    }
    err = srtp_crypto_policy_set_from_profile_for_rtp(&policy->policy.rtp, profile);
    if (err != srtp_err_status_ok) {
        return err;
    }
    return srtp_crypto_policy_set_from_profile_for_rtcp(&policy->policy.rtcp, profile);
}

static inline srtp_err_status_t vcbox_srtp3_policy_add_key(srtp_policy_t policy,
                                                           const uint8_t *key,
                                                           size_t key_len,
                                                           const uint8_t *salt,
                                                           size_t salt_len,
                                                           const uint8_t *mki,
                                                           size_t mki_len)
{
    (void)mki;

    if (policy == NULL || key == NULL || (salt == NULL && salt_len != 0)) {
        return srtp_err_status_bad_param;
    }
    /* Single key without MKI only (libsrtp2 MKI handling is not mapped). */
    if (mki_len != 0 || policy->has_key) {
        return srtp_err_status_bad_param;
    }
    if (key_len + salt_len > sizeof(policy->key)) {
        return srtp_err_status_bad_param;
    }
    /* libsrtp2 reads cipher_key_len bytes (key + salt) from policy.key. */
    if ((int)(key_len + salt_len) != policy->policy.rtp.cipher_key_len ||
        (int)(key_len + salt_len) != policy->policy.rtcp.cipher_key_len) {
        return srtp_err_status_bad_param;
    }
    memcpy(policy->key, key, key_len);
    if (salt_len != 0) {
        memcpy(policy->key + key_len, salt, salt_len);
    }
    policy->policy.key = policy->key;
    policy->has_key = true;
    return srtp_err_status_ok;
}

static inline srtp_err_status_t vcbox_srtp3_policy_set_allow_repeat_tx(srtp_policy_t policy,
                                                                       bool allow)
{
    if (policy == NULL) {
        return srtp_err_status_bad_param;
    }
    policy->policy.allow_repeat_tx = allow ? 1 : 0;
    return srtp_err_status_ok;
}

static inline srtp_err_status_t vcbox_srtp3_policy_set_window_size(srtp_policy_t policy,
                                                                   size_t window_size)
{
    if (policy == NULL) {
        return srtp_err_status_bad_param;
    }
    policy->policy.window_size = (unsigned long)window_size;
    return srtp_err_status_ok;
}

static inline srtp_err_status_t vcbox_srtp3_create(srtp_t *session, const srtp_policy_t policy)
{
    if (policy == NULL || !policy->has_key) {
        return srtp_err_status_bad_param;
    }
    return srtp_create(session, &policy->policy);
}

/* Out-of-place protect: copy into the output buffer, protect it in place. */
static inline srtp_err_status_t vcbox_srtp3_protect_common(srtp_t ctx,
                                                           const uint8_t *in,
                                                           size_t in_len,
                                                           uint8_t *out,
                                                           size_t *out_len,
                                                           size_t trailer_room,
                                                           bool rtcp)
{
    srtp_err_status_t err;
    int len;

    if (in == NULL || out == NULL || out_len == NULL || in_len > (size_t)INT_MAX / 2) {
        return srtp_err_status_bad_param;
    }
    if (*out_len < in_len + trailer_room) {
        return srtp_err_status_buffer_small;
    }
    if (out != in) {
        memmove(out, in, in_len);
    }
    len = (int)in_len;
    err = rtcp ? srtp_protect_rtcp(ctx, out, &len) : srtp_protect(ctx, out, &len);
    if (err == srtp_err_status_ok) {
        *out_len = (size_t)len;
    }
    return err;
}

static inline srtp_err_status_t vcbox_srtp3_unprotect_common(srtp_t ctx,
                                                             const uint8_t *in,
                                                             size_t in_len,
                                                             uint8_t *out,
                                                             size_t *out_len,
                                                             bool rtcp)
{
    srtp_err_status_t err;
    int len;

    if (in == NULL || out == NULL || out_len == NULL || in_len > (size_t)INT_MAX / 2) {
        return srtp_err_status_bad_param;
    }
    if (*out_len < in_len) {
        return srtp_err_status_buffer_small;
    }
    if (out != in) {
        memmove(out, in, in_len);
    }
    len = (int)in_len;
    err = rtcp ? srtp_unprotect_rtcp(ctx, out, &len) : srtp_unprotect(ctx, out, &len);
    if (err == srtp_err_status_ok) {
        *out_len = (size_t)len;
    }
    return err;
}

static inline srtp_err_status_t vcbox_srtp3_protect(srtp_t ctx,
                                                    const uint8_t *rtp,
                                                    size_t rtp_len,
                                                    uint8_t *srtp,
                                                    size_t *srtp_len,
                                                    size_t mki_index)
{
    (void)mki_index; /* no MKI in use: libsrtp ignores the index */
    return vcbox_srtp3_protect_common(ctx, rtp, rtp_len, srtp, srtp_len,
                                      SRTP_MAX_TRAILER_LEN, false);
}

static inline srtp_err_status_t vcbox_srtp3_unprotect(srtp_t ctx,
                                                      const uint8_t *srtp,
                                                      size_t srtp_len,
                                                      uint8_t *rtp,
                                                      size_t *rtp_len)
{
    return vcbox_srtp3_unprotect_common(ctx, srtp, srtp_len, rtp, rtp_len, false);
}

static inline srtp_err_status_t vcbox_srtp3_protect_rtcp(srtp_t ctx,
                                                         const uint8_t *rtcp,
                                                         size_t rtcp_len,
                                                         uint8_t *srtcp,
                                                         size_t *srtcp_len,
                                                         size_t mki_index)
{
    (void)mki_index;
    /* libsrtp2 writes up to SRTP_MAX_TRAILER_LEN + 4 (SRTCP index) bytes. */
    return vcbox_srtp3_protect_common(ctx, rtcp, rtcp_len, srtcp, srtcp_len,
                                      SRTP_MAX_TRAILER_LEN + 4, true);
}

static inline srtp_err_status_t vcbox_srtp3_unprotect_rtcp(srtp_t ctx,
                                                           const uint8_t *srtcp,
                                                           size_t srtcp_len,
                                                           uint8_t *rtcp,
                                                           size_t *rtcp_len)
{
    return vcbox_srtp3_unprotect_common(ctx, srtcp, srtcp_len, rtcp, rtcp_len, true);
}

#ifdef __cplusplus
}
#endif

/* Route the libsrtp3 names used by mediasoup to the wrappers above. */
#define srtp_policy_create vcbox_srtp3_policy_create
#define srtp_policy_destroy vcbox_srtp3_policy_destroy
#define srtp_policy_set_ssrc vcbox_srtp3_policy_set_ssrc
#define srtp_policy_set_profile vcbox_srtp3_policy_set_profile
#define srtp_policy_add_key vcbox_srtp3_policy_add_key
#define srtp_policy_set_allow_repeat_tx vcbox_srtp3_policy_set_allow_repeat_tx
#define srtp_policy_set_window_size vcbox_srtp3_policy_set_window_size
#define srtp_create vcbox_srtp3_create
#define srtp_protect vcbox_srtp3_protect
#define srtp_unprotect vcbox_srtp3_unprotect
#define srtp_protect_rtcp vcbox_srtp3_protect_rtcp
#define srtp_unprotect_rtcp vcbox_srtp3_unprotect_rtcp
/* Renamed in libsrtp3; same arguments (SSRC in network byte order). */
#define srtp_stream_remove srtp_remove_stream

#endif /* VCBOX_LIBSRTP3_COMPAT_SRTP_H */
