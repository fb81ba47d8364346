/*
 * vcbox-codec: the audio codecs of the conference mixer as a Node-API addon. Every decoder
 * turns one RTP payload into 16 kHz mono PCM (the mixer's rate) and every encoder turns 20 ms
 * of it (320 samples) into one payload: Opus (libopus, resampling inside), G.722 (spandsp),
 * PCMU and PCMA (G.711 with a 2:1 resampler). Callers own the buffers, so a mixer tick
 * allocates nothing. Built by scripts/build-codec-addon.sh against Debian's libopus and
 * libspandsp.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <opus/opus.h>
#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>
#include <spandsp/g722.h>
#include <spandsp/logging.h>
#include <spandsp/complex.h>
#include <spandsp/tone_detect.h>
#include <spandsp/super_tone_rx.h>
#include <spandsp/dtmf.h>
#include <stdlib.h>
#include <string.h>

enum kind { OPUS, G722, PCMU, PCMA, DTMF };

typedef struct {
  enum kind kind;
  int encoder;
  OpusDecoder *opus_dec;
  OpusEncoder *opus_enc;
  g722_decode_state_t *g722_dec;
  g722_encode_state_t *g722_enc;
  dtmf_rx_state_t *dtmf;
  int16_t last; /* G.711 upsampler: previous 8 kHz sample */
} codec_t;

#define CHECK(call)                                                             \
  do {                                                                          \
    if ((call) != napi_ok) {                                                    \
      napi_throw_error(env, "VCBOX_ERR_CODEC", "vcbox-codec: Node-API call failed: " #call); \
      return NULL;                                                              \
    }                                                                           \
  } while (0)

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  codec_t *c = data;
  if (c->opus_dec) opus_decoder_destroy(c->opus_dec);
  if (c->opus_enc) opus_encoder_destroy(c->opus_enc);
  if (c->g722_dec) g722_decode_free(c->g722_dec);
  if (c->g722_enc) g722_encode_free(c->g722_enc);
  if (c->dtmf) dtmf_rx_free(c->dtmf);
  free(c);
}

/* create(codec: string, encoder: boolean, bitrate: number, complexity: number) */
static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[16] = {0};
  size_t len = 0;
  bool encoder = false;
  int32_t bitrate = 24000, complexity = 5;
  CHECK(napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len));
  CHECK(napi_get_value_bool(env, argv[1], &encoder));
  if (argc > 2) napi_get_value_int32(env, argv[2], &bitrate);
  if (argc > 3) napi_get_value_int32(env, argv[3], &complexity);
  codec_t *c = calloc(1, sizeof *c);
  if (!c) {
    napi_throw_error(env, "VCBOX_ERR_CODEC", "vcbox-codec: out of memory");
    return NULL;
  }
  c->encoder = encoder;
  int err = OPUS_OK;
  if (strcmp(name, "opus") == 0) {
    c->kind = OPUS;
    if (encoder) {
      c->opus_enc = opus_encoder_create(16000, 1, OPUS_APPLICATION_VOIP, &err);
      if (c->opus_enc) {
        opus_encoder_ctl(c->opus_enc, OPUS_SET_BITRATE(bitrate));
        opus_encoder_ctl(c->opus_enc, OPUS_SET_COMPLEXITY(complexity));
      }
    } else {
      c->opus_dec = opus_decoder_create(16000, 1, &err);
    }
  } else if (strcmp(name, "g722") == 0) {
    c->kind = G722;
    if (encoder) c->g722_enc = g722_encode_init(NULL, 64000, 0);
    else c->g722_dec = g722_decode_init(NULL, 64000, 0);
  } else if (strcmp(name, "dtmf") == 0) {
    c->kind = DTMF;
    c->dtmf = dtmf_rx_init(NULL, NULL, NULL);
    if (!c->dtmf) {
      free(c);
      napi_throw_error(env, "VCBOX_ERR_CODEC", "vcbox-codec: DTMF detector initialisation failed");
      return NULL;
    }
  } else if (strcmp(name, "pcmu") == 0) {
    c->kind = PCMU;
  } else if (strcmp(name, "pcma") == 0) {
    c->kind = PCMA;
  } else {
    free(c);
    napi_throw_error(env, "VCBOX_ERR_CODEC", "vcbox-codec: unknown codec (use opus, g722, pcmu or pcma)");
    return NULL;
  }
  if (err != OPUS_OK || (c->kind == OPUS && !c->opus_enc && !c->opus_dec) ||
      (c->kind == G722 && !c->g722_enc && !c->g722_dec)) {
    finalize(env, c, NULL);
    napi_throw_error(env, "VCBOX_ERR_CODEC", "vcbox-codec: codec initialisation failed");
    return NULL;
  }
  napi_value external;
  CHECK(napi_create_external(env, c, finalize, NULL, &external));
  return external;
}

static int typed(napi_env env, napi_value value, void **data, size_t *bytes) {
  bool is_typed = false;
  napi_is_typedarray(env, value, &is_typed);
  if (!is_typed) return 0;
  napi_typedarray_type type;
  size_t length;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, &length, data, &buffer, &offset) != napi_ok) return 0;
  *bytes = length * (type == napi_int16_array ? 2 : 1);
  return 1;
}

/* decode(handle, payload: Uint8Array | null, out: Int16Array) -> samples written (16 kHz);
 * a null payload asks for concealment of one 20 ms frame. */
static napi_value decode(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  codec_t *c;
  CHECK(napi_get_value_external(env, argv[0], (void **)&c));
  uint8_t *in = NULL;
  size_t in_len = 0;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t != napi_null && !typed(env, argv[1], (void **)&in, &in_len)) {
    napi_throw_type_error(env, "VCBOX_ERR_CODEC", "vcbox-codec: payload must be a Uint8Array or null");
    return NULL;
  }
  int16_t *out;
  size_t out_bytes;
  if (!typed(env, argv[2], (void **)&out, &out_bytes)) {
    napi_throw_type_error(env, "VCBOX_ERR_CODEC", "vcbox-codec: out must be an Int16Array");
    return NULL;
  }
  int capacity = (int)(out_bytes / 2);
  int n = 0;
  switch (c->kind) {
    case OPUS:
      n = opus_decode(c->opus_dec, in, (opus_int32)in_len, out, in ? capacity : (capacity < 320 ? capacity : 320), 0);
      if (n < 0) n = 0;
      break;
    case G722:
      if (!in) {
        n = capacity < 320 ? capacity : 320;
        memset(out, 0, (size_t)n * 2);
      } else {
        if (in_len * 2 > (size_t)capacity) in_len = (size_t)capacity / 2;
        n = g722_decode(c->g722_dec, out, in, (int)in_len);
      }
      break;
    case DTMF:
      break;
    case PCMU:
    case PCMA: {
      size_t samples = in ? in_len : 160;
      if (samples * 2 > (size_t)capacity) samples = (size_t)capacity / 2;
      int16_t prev = c->last;
      for (size_t i = 0; i < samples; i++) {
        int16_t s = in ? (c->kind == PCMU ? ulaw_to_linear(in[i]) : alaw_to_linear(in[i])) : (int16_t)(prev / 2);
        out[2 * i] = (int16_t)(((int32_t)prev + s) / 2);
        out[2 * i + 1] = s;
        prev = s;
      }
      c->last = prev;
      n = (int)samples * 2;
      break;
    }
  }
  napi_value result;
  CHECK(napi_create_int32(env, n, &result));
  return result;
}

/* encode(handle, pcm: Int16Array (16 kHz, 20 ms = 320 samples), out: Uint8Array) -> bytes */
static napi_value encode(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  codec_t *c;
  CHECK(napi_get_value_external(env, argv[0], (void **)&c));
  int16_t *pcm;
  size_t pcm_bytes;
  uint8_t *out;
  size_t out_len;
  if (!typed(env, argv[1], (void **)&pcm, &pcm_bytes) || !typed(env, argv[2], (void **)&out, &out_len)) {
    napi_throw_type_error(env, "VCBOX_ERR_CODEC", "vcbox-codec: encode(handle, Int16Array, Uint8Array)");
    return NULL;
  }
  int samples = (int)(pcm_bytes / 2);
  int n = 0;
  switch (c->kind) {
    case OPUS:
      n = opus_encode(c->opus_enc, pcm, samples, out, (opus_int32)out_len);
      if (n < 0) n = 0;
      break;
    case G722:
      if ((size_t)samples / 2 > out_len) samples = (int)out_len * 2;
      n = g722_encode(c->g722_enc, out, pcm, samples);
      break;
    case DTMF:
      break;
    case PCMU:
    case PCMA: {
      int half = samples / 2;
      if ((size_t)half > out_len) half = (int)out_len;
      for (int i = 0; i < half; i++) {
        int16_t s = (int16_t)(((int32_t)pcm[2 * i] + pcm[2 * i + 1]) / 2);
        out[i] = c->kind == PCMU ? linear_to_ulaw(s) : linear_to_alaw(s);
      }
      n = half;
      break;
    }
  }
  napi_value result;
  CHECK(napi_create_int32(env, n, &result));
  return result;
}

/* dtmf(handle, pcm: Int16Array (8 kHz)) -> the digits detected so far (string, often empty) */
static napi_value dtmf(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  codec_t *c;
  CHECK(napi_get_value_external(env, argv[0], (void **)&c));
  int16_t *pcm;
  size_t bytes;
  if (c->kind != DTMF || !typed(env, argv[1], (void **)&pcm, &bytes)) {
    napi_throw_type_error(env, "VCBOX_ERR_CODEC", "vcbox-codec: dtmf(dtmfHandle, Int16Array)");
    return NULL;
  }
  dtmf_rx(c->dtmf, pcm, (int)(bytes / 2));
  char digits[64] = {0};
  size_t n = dtmf_rx_get(c->dtmf, digits, (int)sizeof digits - 1);
  napi_value result;
  CHECK(napi_create_string_utf8(env, digits, n, &result));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"dtmf", NULL, dtmf, NULL, NULL, NULL, napi_default, NULL},
      {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
      {"decode", NULL, decode, NULL, NULL, NULL, napi_default, NULL},
      {"encode", NULL, encode, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
